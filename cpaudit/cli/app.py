"""The `cpaudit` command."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a hub: cpaudit loads weights from local paths only

import typer

from cpaudit.cli import audit_cmd, demo_cmd, report_cmd, sample_cmd, split_cmd, train_cmd
from cpaudit.cli.common import show_warning, state
from cpaudit.cli.errors_group import OneLineErrorGroup
from cpaudit.version import __version__

app = typer.Typer(
    name="cpaudit",
    cls=OneLineErrorGroup,
    help="Audit image diffusion models for training-data leakage, and protect sampling with CPSample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cpaudit {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or chatter; results and errors only."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    # Under torchrun only rank 0 talks; the others compute their shard silently.
    state.quiet = quiet or os.environ.get("RANK", "0") != "0"
    warnings.showwarning = show_warning  # library warnings (e.g. a skipped file) as one line each


app.command("train-diffusion")(train_cmd.train_diffusion_cmd)
app.command("train-classifier")(train_cmd.train_classifier_cmd)
app.command("sample")(sample_cmd.sample_cmd)
app.command("split")(split_cmd.split_cmd)
app.command("audit")(audit_cmd.audit_cmd)
app.command("report")(report_cmd.report_cmd)
app.command("fid")(report_cmd.fid_cmd)
app.command("demo")(demo_cmd.demo_cmd)
app.command("tune")(demo_cmd.tune_cmd)
