"""The audit's terminal summary (cli/audit_cmd.print_summary) for each kind of audit: the figures it prints are
results.json's, an attack of an undeployed threat model is marked, and a failed gate exits 1 naming it."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import typer

from cpaudit.cli.audit_cmd import print_summary
from cpaudit.cli.common import state
from tests.report.reports import results


def _printed(r: dict, capsys, monkeypatch) -> tuple[list[str], int]:
    monkeypatch.setattr(state, "quiet", False)
    code = 0
    try:
        print_summary(SimpleNamespace(results=r, out=Path("runs/a"), passed=bool(r["policy"]["passed"])))
    except typer.Exit as e:
        code = e.exit_code
    captured = capsys.readouterr()
    return (captured.out + captured.err).splitlines(), code


def test_a_failed_pixel_audit(capsys, monkeypatch):
    lines, code = _printed(results("pixel"), capsys, monkeypatch)
    assert code == 1
    # The release's verdict first, in the report's words (report/first_screen.py), then the figures, every number
    # formatted by report/numbers.py as the report prints it.
    assert lines[0] == (
        "Do not publish these samples: 63 of 64 training images have a near-copy among the samples (15 of 1733 "
        "unseen images do)."
    )
    assert lines[1] == (
        "replicas: 245 of 256 samples = 95.7% (95% CI 92.5-97.6%) at similarity >= 0.97; training images reached "
        "63 of 64, held-out images 15 of 1733 (excess p = 1.5e-100)"
    )
    assert lines[2] == "permutation test: p = ≤ 1/1001; pixel FID 2.768"
    assert (
        "sampler  loss attack (Matsumoto et al. 2023): AUC 1.000 (95% CI 1.000-1.000, chance 0.378-0.610), one-run "
        "epsilon >= 2.26  [not deployed]" in lines
    )
    assert (
        "samples  strongest attack, selection-adjusted: AUC 0.995, tells members apart 99.5% of the time, where "
        "guessing gives 50% (95% CI 0.984-1.000, chance 0.384-0.604, p = ≤ 1/201)" in lines
    )
    assert "-> runs/a/results.json" in lines
    assert sum(line.startswith("FAILED ") for line in lines) == len(results("pixel")["policy"]["failures"]) == 2


def test_a_text_audit_lists_clid_the_detector_and_flagged_prompts(capsys, monkeypatch):
    r = results("text")
    r["detector"]["prompts"] = [
        {"prompt": "a photo of a brave cyan frog", "score": 1.234, "flagged": True},
        {"prompt": "a cat", "score": 0.5, "flagged": False},
    ]
    lines, code = _printed(r, capsys, monkeypatch)
    assert code == 1
    assert (
        "sampler  CLiD (Zhai et al. 2024): AUC 1.000 (95% CI 1.000-1.000, chance 0.390-0.612), one-run epsilon >= "
        "2.26  [not deployed]" in lines
    )
    assert (
        "samples  prompted extraction (Carlini et al. 2023): AUC 0.951 (95% CI 0.905-0.998, chance 0.377-0.612), "
        "one-run epsilon >= 1.37" in lines
    )
    assert [line for line in lines if "flags the prompt" in line] == [
        "memorisation detector flags the prompt: a photo of a brave cyan frog (score 1.234)"
    ]


@pytest.mark.parametrize("kind", ["class", "diffusers"])
def test_report_only_audits_of_diffusers_models_exit_0(kind, capsys, monkeypatch):
    r = results(kind)
    lines, code = _printed(r, capsys, monkeypatch)
    nn = r["nn"]
    assert code == 0 and not any(line.startswith("FAILED") for line in lines)
    assert lines[1].startswith(f"replicas: {nn['replicas']} of {nn['n_samples']} samples = 0.0% ")
    assert lines[-2] == r["verdict"] and r["verdict"].startswith("If only samples are published: report only")
    titles = [a["title"] for a in r["attacks"].values()]
    assert all(any(t in line for line in lines) for t in titles)
    if kind == "class":
        assert "loss attack (Matsumoto et al. 2023) (true class)" in titles
