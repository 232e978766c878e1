"""Option declarations shared by several commands."""

from __future__ import annotations

import typer

from cpaudit.device import DEVICE_HELP

Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars.")
Seed = typer.Option(0, "--seed", min=0, max=2**63 - 1, help="Seed for the split, initial weights and training draws.")
Device = typer.Option("auto", "--device", help=DEVICE_HELP)
Members = typer.Option(64, "--members", min=1, help="Number of member (training) images drawn from DATA.")


def number_list(text: str, option: str, kind: type = int) -> tuple:
    """'1,2,3' -> (1, 2, 3), with a usage error naming the option on a bad value."""
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated {kind.__name__}s such as 1,2, got {text!r}", param_hint=option) from None
