"""`cpaudit report` and `cpaudit fid`: the options ReportOptions and FidOptions declare (pipelines/report.py,
fid.py), computed by the library; this module wires them to the command line and prints."""

from __future__ import annotations

import inspect
import json
from typing import Any

import typer

from cpaudit.cli.common import info, state, user_errors
from cpaudit.cli.options import QUIET
from cpaudit.options import command_with_arguments, resolve
from cpaudit.pipelines.fid import FidOptions, fid
from cpaudit.pipelines.report import ReportOptions, report

REPORT_DOC = """Render an audit report, or compare several audits side by side.

Example: cpaudit report runs/audit-plain/results.json runs/audit-protected/results.json --out runs/compare
"""

FID_DOC = """FID and KID between two image sources, on FID's TF-Inception by default (clean-fid's `clean` resize).

Example: cpaudit fid runs/samples real_images/ --features inception
"""


def _report(given: dict[str, Any], quiet: bool) -> None:
    state.quiet = state.quiet or quiet
    with user_errors():
        opts = resolve(ReportOptions, given)
        r = report(list(opts.results), opts.out, labels=list(opts.label) if opts.label else None)
    info(f"-> {r.html} and {r.markdown}")


def _fid(given: dict[str, Any], as_json: bool) -> None:
    with user_errors():
        r = fid(resolve(FidOptions, given))
    if as_json:
        print(json.dumps(r))
        return
    info(f"FID {r['fid']:.4f}  KID {r['kid']:.5f}  ({r['features']}; {r['n_a']} vs {r['n_b']} images)")
    if r["warning"]:
        info("warning: " + r["warning"])


JSON = [
    inspect.Parameter(
        "as_json",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(False, "--json", help="Print the figures as JSON."),
        annotation=bool,
    )
]
report_cmd = command_with_arguments(ReportOptions, _report, arguments=("results",), extra=QUIET, doc=REPORT_DOC)
fid_cmd = command_with_arguments(
    FidOptions, _fid, arguments=("a", "b"), extra=JSON, doc=FID_DOC, after={"as_json": "seed"}
)
