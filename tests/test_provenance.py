"""Provenance (issue 36): every results.json, run.json and trained model's config records cpaudit's version and
commit, the libraries' versions and the device; DP-SGD prints its delta wherever it prints its epsilon."""

import json
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cpaudit import provenance as prov
from cpaudit.cli.app import app
from cpaudit.schemas import results_schema

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parent.parent
# The demo's unprotected results.json as committed at schema 3, before provenance (reports/demo is re-audited since).
OLD_RESULTS = ROOT / "tests" / "fixtures" / "results_schema3_demo_unprotected.json"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def provenance_errors(record: dict) -> list[str]:
    """What $defs/provenance of the shipped schema finds wrong in `record` (run.json and configs use it too)."""
    schema = results_schema()
    sub = {"$defs": schema["$defs"], "$ref": "#/$defs/provenance"}
    return [e.message for e in jsonschema.Draft202012Validator(sub).iter_errors(record)]


def results_errors(results: dict) -> list[str]:
    v = jsonschema.Draft202012Validator(results_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(results)]


def test_the_record_has_every_field_with_its_type():
    p = prov.provenance("cpu")
    assert set(p) == {"cpaudit_version", "git_commit", "git_dirty", "libraries", "python", "platform", "device"}
    assert isinstance(p["cpaudit_version"], str) and p["python"] == platform.python_version()
    assert set(p["libraries"]) == {"torch", "diffusers", "transformers", "faiss", "numpy"}
    assert p["libraries"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert p["device"]["type"] == "cpu" and platform.machine() in p["device"]["name"]
    assert not provenance_errors(p)
    json.dumps(p)  # JSON as it is


def test_a_library_not_installed_reads_none(monkeypatch):
    monkeypatch.setattr(prov, "LIBRARIES", {**prov.LIBRARIES, "faiss": ("no-such-faiss-distribution",)})
    assert prov.library_versions()["faiss"] is None
    assert not provenance_errors({**prov.provenance("cpu"), "libraries": prov.library_versions()})


def test_faiss_is_read_under_any_of_its_distribution_names(monkeypatch):
    installed = {"faiss-gpu-cu12": "1.9.0"}

    def version(dist):
        if dist in installed:
            return installed[dist]
        raise prov.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(prov.metadata, "version", version)
    assert prov.library_versions() == {
        "torch": None,
        "diffusers": None,
        "transformers": None,
        "faiss": "1.9.0",
        "numpy": None,
    }


def test_a_cuda_device_is_named_by_its_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    assert prov.device_record(torch.device("cuda", 0)) == {"type": "cuda", "name": "NVIDIA H100 80GB HBM3"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@needs_git
def test_a_checkout_records_its_commit_and_whether_it_is_dirty(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "pkg/__init__.py")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert prov.checkout_state(pkg) == (head, False)
    (pkg / "__init__.py").write_text("x = 2\n")
    assert prov.checkout_state(pkg) == (head, True)


@needs_git
def test_a_package_untracked_inside_a_checkout_is_not_from_it(tmp_path):
    """A virtual environment inside a checkout: its site-packages are not that checkout's code."""
    _git(tmp_path, "init", "-q")
    site = tmp_path / ".venv" / "site-packages" / "pkg"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    assert prov.checkout_state(site) == (None, None)


def test_no_checkout_no_git_or_a_hung_git_reads_none(tmp_path, monkeypatch):
    assert prov.checkout_state(tmp_path) == (None, None)
    for failure in (FileNotFoundError("git"), subprocess.TimeoutExpired("git", prov.GIT_TIMEOUT_S)):

        def run(*_a, failure=failure, **_k):
            raise failure

        monkeypatch.setattr(prov.subprocess, "run", run)
        assert prov.checkout_state(Path(prov.__file__).parent) == (None, None)


@needs_git
def test_this_checkout_records_its_head():
    package_dir = Path(prov.__file__).resolve().parent
    commit, dirty = prov.checkout_state(package_dir)  # not git_state(): cached, and HEAD may move while tests run
    if commit is None:  # cpaudit installed from a wheel, not imported from this checkout
        pytest.skip("cpaudit is not imported from a git checkout")
    assert commit == _git(package_dir, "rev-parse", "HEAD") and isinstance(dirty, bool)


def test_schema_5_requires_provenance_and_older_versions_still_validate():
    old = json.loads(OLD_RESULTS.read_text())
    assert old["schema_version"] < 5 and "provenance" not in old
    assert not results_errors(old)
    assert any("provenance" in e for e in results_errors({**old, "schema_version": 5}))
    # Version 5 also requires the replica gate's reach figures and the gates' family (issue 36).
    reach = {
        "members_reached": 3,
        "n_members_reached_of": 64,
        "holdout_reached": 1,
        "n_holdout_reached_of": 64,
        "reach_excess_p": 0.3,
    }
    new = {
        **old,
        "schema_version": 5,
        "nn": {**old["nn"], **reach},
        "policy": {
            **old["policy"],
            "family": {"levels": {"mia_excess_level": 0.025}, "total": 0.025, "design": "Bonferroni"},
        },
    }
    assert not results_errors({**new, "provenance": prov.provenance("cpu")})
    assert results_errors({**new, "provenance": {**prov.provenance("cpu"), "git_commit": "HEAD"}})


def test_an_old_results_json_still_reads(tmp_path):
    r = CliRunner().invoke(app, ["--quiet", "report", str(OLD_RESULTS), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output


def test_a_trained_models_config_and_a_sample_runs_run_json_record_provenance(tiny_model, tmp_path):
    from cpaudit.pipelines.sample import SampleOptions, sample
    from cpaudit.sampling.sampler import SamplerConfig

    config = json.loads((tiny_model / "config.json").read_text())
    assert not provenance_errors(config["provenance"]) and config["provenance"]["device"]["type"] == "cpu"
    sample(SampleOptions(model=tiny_model, out=tmp_path, n=2, sampler=SamplerConfig(steps=2), write_png=False))
    run = json.loads((tmp_path / "run.json").read_text())
    assert not provenance_errors(run["provenance"])


def test_a_trained_classifiers_config_records_provenance(tiny_classifier):
    config = json.loads((tiny_classifier / "config.json").read_text())
    assert not provenance_errors(config["provenance"])


def test_a_fresh_audit_records_provenance_and_validates(tiny_model, tmp_path):
    from cpaudit.pipelines.sample import SampleOptions, sample
    from cpaudit.sampling.sampler import SamplerConfig

    sample(SampleOptions(model=tiny_model, out=tmp_path / "s", n=8, sampler=SamplerConfig(steps=2), write_png=False))
    r = CliRunner().invoke(
        app,
        [
            "--quiet",
            "audit",
            "--samples",
            str(tmp_path / "s"),
            "--split",
            str(tiny_model / "split.json"),
            "--out",
            str(tmp_path / "a"),
            "--permutations",
            "20",
            "--report-only",
        ],
    )
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    same_process = {k: v for k, v in prov.provenance("cpu").items() if k != "device"}  # the audit's device is auto
    assert not provenance_errors(results["provenance"]) and same_process.items() <= results["provenance"].items()
    assert not results_errors(results)


def test_dp_prints_its_delta_beside_its_epsilon():
    from cpaudit.train.dp import dp_budget, dp_summary

    info = {
        "epsilon": 9.998083,
        "target_epsilon": 10.0,
        "delta": 1e-5,
        "noise_multiplier": 2.312,
        "sample_rate": 0.25,
        "noise_multiplicity": 4,
    }
    assert dp_budget(info) == "epsilon 9.998 at delta 1e-05"
    assert dp_summary(info) == (
        "differential privacy: epsilon 9.998 at delta 1e-05 spent (target epsilon 10), noise multiplier "
        "2.312, sample rate 0.250, K = 4"
    )


def test_dp_training_prints_the_accountants_delta(tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "train-diffusion",
            "digits",
            "--out",
            str(tmp_path),
            "--n-members",
            "16",
            "--dp",
            "--epsilon",
            "5",
            "--delta",
            "0.002",
            "--steps",
            "3",
            "--batch-size",
            "4",
            "--noise-multiplicity",
            "1",
            "--channels",
            "8",
            "--channel-mult",
            "1",
            "--res-blocks",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    recorded = json.loads((tmp_path / "config.json").read_text())
    assert recorded["dp"]["delta"] == 0.002 and "at delta 0.002 spent" in r.output
    assert not provenance_errors(recorded["provenance"])


def _words(*paths: Path) -> str:
    """The words of README.md and the docs pages given (all of them by default), one space apart."""
    paths = paths or (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
    return " ".join(" ".join(p.read_text().split()) for p in paths)


def test_every_dp_epsilon_in_the_docs_comes_with_its_delta():
    """Before: 'DP-SGD at epsilon 10 (accounted)' named no delta, and an epsilon alone bounds nothing."""
    text = _words()
    budgets = re.findall(r"DP-SGD(?:,| at| with) epsilon [\d.]+(?:(?:,| and) [\d.]+)*(.{0,20})", text)
    assert len(budgets) >= 3
    assert all(tail.startswith((" at delta ", ", each at delta ")) for tail in budgets), budgets


def test_the_docs_dp_deltas_are_the_ones_the_accountant_used():
    from cpaudit.train.dp import DPConfig

    demo = json.loads((ROOT / "reports" / "demo" / "dp-sgd" / "results.json").read_text())["setup"]["model_config"][
        "dp"
    ]
    demo_page = _words(ROOT / "docs" / "demo.md")
    assert f"DP-SGD with epsilon {demo['target_epsilon']:g} at delta {demo['delta']:g} (accounted)" in demo_page
    # The committed tune (reports/tune/tune.json) trained its DP models with DPConfig's default delta.
    frontier = ROOT / "docs" / "frontier.md"
    assert f"DP-SGD at epsilon 1, 10 and 100, each at delta {DPConfig().delta:g}," in _words(frontier)
    assert f"| DP-SGD, epsilon 10 at delta {DPConfig().delta:g} |" in frontier.read_text()


def test_the_python_api_reads_provenance_and_none_from_an_older_results_json():
    from cpaudit.results import AuditReport

    record = prov.provenance("cpu")
    assert AuditReport({"provenance": record}, {}, []).provenance == record
    assert AuditReport(json.loads(OLD_RESULTS.read_text()), {}, []).provenance is None


@pytest.mark.slow  # 30-50 s here: training a diffusers model, however few its steps
@pytest.mark.parametrize(
    "kind",
    [
        ["digits", "--classes", "--n-members", "16"],
        ["captioned-digits", "--text", "--n-members", "8", "--vae-steps", "2"],
    ],
    ids=["classes", "text"],
)
def test_a_conditional_models_cpaudit_json_records_provenance(kind, tmp_path):
    """train-diffusion --classes and --text write cpaudit.json (pipelines/train_classes.py, train_text.py)."""
    pytest.importorskip("diffusers")
    r = CliRunner().invoke(app, ["--quiet", "train-diffusion", *kind, "--out", str(tmp_path), "--steps", "2"])
    assert r.exit_code == 0, r.output
    assert not provenance_errors(json.loads((tmp_path / "cpaudit.json").read_text())["provenance"])
