"""Typer CLI: parses options, calls one library function per command, prints with rich."""
