"""Re-audit the committed pixel demo's runs with the options their results.json records and rewrite their
reports and the comparison report: what an audit adds (issue 39's precision, recall and authenticity) reaches
the committed demo without retraining or resampling. Needs the demo's models and samples (reports/demo/runs,
made by `cpaudit demo --out reports/demo`). Run from the repository root: `python -m benchmarks.reaudit_demo`."""

from __future__ import annotations

import json
from pathlib import Path

from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.pipelines.demo import FRONTIER_NOTE
from cpaudit.pipelines.report import report

DEMO = Path("reports/demo")
RUNS = {
    "unprotected": "unprotected",
    "CPSample": "cpsample",
    "rejection": "rejection",
    "DP-SGD": "dp-sgd",
    "DP control": "dp-control",
}


def recorded_options(setup: dict, out: Path | None, root: Path = Path(".")) -> AuditOptions:
    """The audit's options as its results.json records them, its paths (recorded relative to the repository root)
    under `root` (tests/audit/test_reaudit_demo.py replays the same)."""
    o = setup["options"]
    return AuditOptions(
        samples=root / setup["samples"],
        out=out,
        data=setup["data"],
        split=root / setup["split"],
        model=root / setup["model"],
        classifier=None if setup["classifier"] is None else str(root / setup["classifier"]),
        features=setup["features"],
        k=o["k"],
        permutations=o["permutations"],
        mia_t=tuple(o["mia_t"]),
        mia_draws=o["mia_draws"],
        mia_members=o["mia_members"],
        seed=setup["seed"],
        release=o["release"],
        attack_nulls=o["attack_nulls"],
        member_images=setup["member_images"],
        device="cpu",
    )


def main() -> None:
    for folder in RUNS.values():
        setup = json.loads((DEMO / folder / "results.json").read_text())["setup"]
        audit(recorded_options(setup, DEMO / folder))
        print(f"re-audited {folder}", flush=True)
    report([DEMO / f / "results.json" for f in RUNS.values()], DEMO, labels=list(RUNS), notes=[FRONTIER_NOTE])


if __name__ == "__main__":
    main()
