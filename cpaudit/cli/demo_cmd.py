"""`cpaudit demo` and `cpaudit tune`: the options DemoRequest and TuneRequest declare (pipelines/demo_request.py,
tune_request.py), run by the library; this module wires them to the command line and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cpaudit.cli.common import info, progress_bar, state, user_errors
from cpaudit.cli.options import QUIET
from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.options import command, resolve
from cpaudit.pipelines.demo import DemoResult
from cpaudit.pipelines.demo_request import DemoRequest, run_demo
from cpaudit.pipelines.demo_text import TextDemoResult
from cpaudit.pipelines.tune import TuneResult
from cpaudit.pipelines.tune_request import TuneRequest, run_tune
from cpaudit.report.tune_text_md import tune_text_markdown

DEMO_DOC = """Train, protect, sample and audit on the built-in digits, then write one comparison report.

Example: cpaudit demo --quick

Example: cpaudit demo --text --out cpaudit-demo-text

Example: cpaudit demo --text --arch flux --out cpaudit-demo-flux
"""

TUNE_DOC = """Put every defence on one privacy/quality frontier: sweep on tuning seeds, evaluate on others.

Example: cpaudit tune --model runs/model --classifier runs/classifier --out reports/tune

Example: cpaudit tune --model sd-finetune --split split.json --out reports/tune
"""


def _demo(given: dict[str, Any], quiet: bool) -> None:
    state.quiet = state.quiet or quiet
    with user_errors():
        req = resolve(DemoRequest, given)
        with progress_bar("demo") as advance:
            current = {"stage": ""}  # metrics of the previous stage are cleared when a new one starts

            def stage(name: str, step: int, total: int, metrics: dict | None) -> None:
                if name != current["stage"]:
                    current["stage"] = name
                    metrics = metrics or {}
                advance(step, total, metrics, description=name)

            result = run_demo(req, stage=stage)
    if isinstance(result, TextDemoResult):
        print_text_demo(result)
    else:
        print_demo(result)


def print_demo(result: DemoResult) -> None:
    for label, r in result.runs.items():
        aucs = "  ".join(
            f"{tm} {h['auc']:.3f}" if h else f"{tm} -"
            for tm in THREAT_MODELS
            for h in [r["threat_models"][tm]["strongest"]]
        )
        rej = ((r["setup"].get("sample_run") or {}).get("rejection") or {}).get("extra_samples")
        info(
            f"{label:12s} replicas {r['nn']['replicas']:3d}/{r['nn']['n_samples']} ({r['nn']['replica_rate']:.1%})  "
            f"{r['quality']['features']} FID {r['quality']['fid']:6.2f}  membership AUC by threat model: {aucs}"
            + (f"  extra samples {rej}" if rej is not None else "")
        )
    info("time by stage: " + ", ".join(f"{name} {sec:.0f} s" for name, sec in result.stage_seconds.items()))
    for label, r in result.runs.items():
        info(f"{label:12s} {r['verdict']}")
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'} (timings: {result.out / 'timings.json'})")


def print_text_demo(result: TextDemoResult) -> None:
    for row in result.table:
        c = row["captions"]
        info(
            f"{row['defence']:30s} extraction AUC {row['extraction_auc']:.3f}  member captions extracted "
            f"{c['member_captions_extracted']}/{c['n_member_captions']} vs held-out {c['holdout_captions_extracted']}/"
            f"{c['n_holdout_captions']} (Fisher p {c['fisher_p']:.2g})  pixel FID ratio {row['fid_ratio']:.2f}"
        )
    info("time by stage: " + ", ".join(f"{name} {sec:.0f} s" for name, sec in result.stage_seconds.items()))
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'} (figures: {result.out / 'text_demo.json'})")


def _tune(given: dict[str, Any], quiet: bool) -> None:
    state.quiet = state.quiet or quiet
    with user_errors():
        req = resolve(TuneRequest, given)
        with progress_bar("tune points") as advance:
            result = run_tune(req, progress=lambda what, k, total: advance(k, total, description=what))
    if isinstance(result, TuneResult):
        print_tune(result)
        return
    info(tune_text_markdown(result))
    info(f"-> {Path(req.out) / 'tune.json'}, {Path(req.out) / 'report.md'}")


def print_tune(result: TuneResult) -> None:
    for kind, d in result.defaults.items():
        c = d["chosen"]
        if c is None:
            info(f"{kind}: {d['why']}")
            continue
        e = d["evaluation"]
        info(
            f"{kind} classifier, chosen on tuning seeds: --alpha {c['alpha']:g} --scale {c['scale']:g} ({c['rule']}, {c['space']}); "
            + (
                ""
                if e is None
                else f"evaluation seeds: sample-only AUC {e['sample_only_auc']:.3f}, FID {e['fid']:.2f}, "
                f"replicas {e['replicas']}/{e['n_samples']}"
            )
        )
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'}")


demo_cmd = command(DemoRequest, _demo, extra=QUIET, doc=DEMO_DOC)
tune_cmd = command(TuneRequest, _tune, extra=QUIET, doc=TUNE_DOC)
