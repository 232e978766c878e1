"""Option declarations shared by several commands."""

from __future__ import annotations

import typer

Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars.")
Seed = typer.Option(0, "--seed", min=0, max=2**63 - 1, help="Seed for the split, initial weights and training draws.")
Members = typer.Option(64, "--members", min=1, help="Number of member (training) images drawn from DATA.")
