"""`cpaudit report` and `cpaudit fid`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cpaudit.cli.common import info, state, user_errors
from cpaudit.cli.options import Device, Quiet
from cpaudit.pipelines.fid import FidOptions, fid
from cpaudit.pipelines.report import report


def report_cmd(
    results: list[Path] = typer.Argument(..., help="One results.json to re-render, or several to compare."),
    out: Path = typer.Option(..., "--out", help="Folder for report.md, report.html and figures/."),
    label: list[str] | None = typer.Option(
        None, "--label", help="A name per run, in order (default: its folder name)."
    ),
    quiet: bool = Quiet,
) -> None:
    """Render an audit report, or compare several audits side by side.

    Example: cpaudit report runs/audit-plain/results.json runs/audit-protected/results.json --out runs/compare
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        r = report(results, out, labels=label or None)
    info(f"-> {r.html} and {r.markdown}")


def fid_cmd(
    a: str = typer.Argument(..., help="First image source: a folder, an .npz or digits."),
    b: str = typer.Argument(..., help="Second image source."),
    features: str = typer.Option(
        "inception", "--features", help="inception[:WEIGHTS], inception-legacy[:WEIGHTS], pixel, ..."
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=2**62, help="Seed of KID's random subsets."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    device: str = Device,
) -> None:
    """FID and KID between two image sources, on FID's TF-Inception by default (clean-fid's `clean` resize).

    Example: cpaudit fid runs/samples real_images/ --features inception
    """
    with user_errors():
        r = fid(FidOptions(a=a, b=b, features=features, seed=seed, device=device))
    if as_json:
        print(json.dumps(r))
        return
    info(f"FID {r['fid']:.4f}  KID {r['kid']:.5f}  ({r['features']}; {r['n_a']} vs {r['n_b']} images)")
    if r["warning"]:
        info("warning: " + r["warning"])
