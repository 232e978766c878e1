"""`cpaudit report`: render one audit, or compare several, as report.md + report.html (+ figures/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cpaudit.errors import InputError
from cpaudit.io_utils import read_json
from cpaudit.options import as_path, option
from cpaudit.pipelines.tune import rerender_tune  # tune writes through report/write.py: no import circle
from cpaudit.report.compare import compare_document
from cpaudit.report.compare_figure import compare_figures
from cpaudit.report.content import READABLE_SCHEMAS, build_document
from cpaudit.report.figures import audit_figures
from cpaudit.report.write import ReportResult, write_report


def _paths(value: Any) -> tuple[Path, ...]:
    return tuple(as_path(p) for p in ([value] if isinstance(value, str | Path) else value))


def _labels(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in ([value] if isinstance(value, str) else value))


@dataclass(frozen=True)
class ReportOptions:
    """`cpaudit report`'s options, declared once (cpaudit/options.py): the command's arguments and flags."""

    results: tuple[Path, ...] = option(
        help="One results.json to re-render, or several to compare.",
        cli=False,
        config=False,
        cli_type=list[Path],
        parse=_paths,
    )
    out: Path = option(help="Folder for report.md, report.html and figures/.", parse=as_path)
    label: tuple[str, ...] | None = option(
        None, cli_type=list[str] | None, parse=_labels, help="A name per run, in order (default: its folder name)."
    )


def render_audit_report(results: dict, arrays: dict[str, np.ndarray], out: Path) -> ReportResult:
    return write_report(out, build_document(results), audit_figures(results, arrays))


def read_results(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    results = read_json(path)
    if isinstance(results, dict) and results.get("schema_version") == 1:
        raise InputError(
            path,
            "schema_version 1 (cpaudit before threat models): run `cpaudit audit` again, with the options that wrote it, to get the current version",
        )
    if (
        not isinstance(results, dict)
        or results.get("schema_version") not in READABLE_SCHEMAS
        or not isinstance(results.get("nn"), dict)
    ):
        raise InputError(path, f"not a cpaudit results.json (schema_version {' or '.join(map(str, READABLE_SCHEMAS))})")
    arrays: dict[str, np.ndarray] = {}
    data = path.parent / "audit_data.npz"
    if data.is_file():
        with np.load(data, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    return results, arrays


def report(
    paths: list[Path], out: Path, labels: list[str] | None = None, notes: list[str] | None = None
) -> ReportResult:
    if not paths:
        raise InputError("RESULTS.json", "give at least one results.json")
    if len(paths) == 1 and Path(paths[0]).name == "tune.json":  # a sweep: its choices and report, redone
        html = rerender_tune(Path(paths[0]), Path(out))
        return ReportResult(html.with_name("report.md"), html, [html.parent / "figures" / "frontier.png"])
    loaded = [read_results(p) for p in paths]
    if len(loaded) == 1:
        return render_audit_report(loaded[0][0], loaded[0][1], Path(out))
    names = labels or [Path(p).parent.name or str(p) for p in paths]
    if len(names) != len(paths):
        raise InputError("--label", f"give one label per results.json ({len(paths)}), got {len(names)}")
    links = []
    for p in paths:  # each run's own report, relative to the comparison when it lies below it
        html = Path(p).parent / "report.html"
        try:
            links.append(str(html.resolve().relative_to(Path(out).resolve())))
        except ValueError:
            links.append(str(html))
    runs = list(zip(names, (r for r, _ in loaded)))
    return write_report(Path(out), compare_document(runs, links, notes), compare_figures(runs))
