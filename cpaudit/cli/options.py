"""Flags every command shares that are no option of the library (cpaudit/options.py declares those)."""

from __future__ import annotations

import inspect

import typer

Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars.")
# --quiet as an extra parameter of a command built by cpaudit.options.command.
QUIET = [inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=Quiet, annotation=bool)]
