"""`cpaudit audit`, the driver: read the inputs (samples, images and split, a baseline results.json), run the
audit engine (auditing/engine/run.py), write results.json, audit_data.npz, the JUnit file and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.engine.run import AuditInputs, AuditResult, Progress, plan_audit, run_audit
from cpaudit.auditing.samples import SampleSet, load_samples
from cpaudit.data.members import MemberSource, model_members
from cpaudit.distributed import world
from cpaudit.io_utils import atomic_path, write_bytes, write_json
from cpaudit.pipelines.report import read_results, render_audit_report
from cpaudit.report.junit import junit_xml

__all__ = ["AuditOptions", "AuditResult", "audit"]


def audit(opts: AuditOptions, progress: Progress | None = None) -> AuditResult:
    """The audit of `opts` and, unless opts.out is None, results.json, audit_data.npz and the report in opts.out."""
    plan = plan_audit(opts)  # bad options and a missing GPU are refused before any file is read
    result = run_audit(opts, plan, read_inputs(opts), progress)
    if opts.out is None:
        return result
    result.out = Path(opts.out)
    if world().is_main:  # rank 0 under torchrun
        write_outputs(opts, result, progress or (lambda _msg: None))
    return result


def read_inputs(opts: AuditOptions) -> AuditInputs:
    """The images and which are members, the samples (unless given in memory), and the baseline results.json."""
    source = MemberSource(opts.data, opts.split, opts.members, opts.holdout, opts.resize)
    data, split = model_members(None, None, source)
    samples = opts.samples if isinstance(opts.samples, SampleSet) else load_samples(opts.samples)
    baseline = None if opts.baseline is None else read_results(opts.baseline)[0]
    return AuditInputs(samples, data, split, baseline)


def write_outputs(opts: AuditOptions, result: AuditResult, progress: Progress) -> None:
    """audit_data.npz, results.json, the JUnit file if asked, and the report."""
    assert opts.out is not None  # audit() writes nothing without a folder
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "audit_data.npz") as tmp:
        with open(tmp, "wb") as f:
            # numpy's stub reads a ** dict as possibly allow_pickle (a bool); the keys are array names
            np.savez(f, **cast(dict[str, Any], result.arrays))
    write_json(out / "results.json", result.results)
    if opts.junit is not None:
        write_bytes(opts.junit, junit_xml(result.results).encode())
    progress("report")
    render_audit_report(result.results, result.arrays, out)
