"""cpaudit.sample does what `cpaudit sample` does (issue 37): for a text-to-image model (prompts from the
extraction captions, a prompt defence) and a class-conditional model (class labels, CPSample on the exact
posterior), the API and the CLI write the same samples and run.json, and their audits the same results.json."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cpaudit
from cpaudit.cli.app import app
from cpaudit.options import flag, flat
from cpaudit.pipelines.sample_request import SampleRequest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()
AUDIT = {"permutations": 20, "attack_nulls": 40, "report_only": True}
# The samples' folder and the time sampling took differ between the two runs; nothing else may.
VARYING = {"seconds", "samples"}


def cli(*args: str) -> None:
    r = runner.invoke(app, ["--quiet", *args])
    assert r.exit_code in (0, 1), r.output  # 1: a gate failed (report-only audits pass)


def train(out: Path, *args: str) -> Path:
    cli("train-diffusion", *args, "--out", str(out), "--steps", "3")
    return out


@pytest.fixture(scope="module")
def text_model(tmp_path_factory) -> Path:
    return train(
        tmp_path_factory.mktemp("text") / "m", "captioned-digits", "--text", "--n-members", "8", "--vae-steps", "3"
    )


@pytest.fixture(scope="module")
def class_model(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("cls") / "m", "digits", "--classes", "--n-members", "12")


def without(d: object, keys: set[str]) -> object:
    if isinstance(d, dict):
        return {k: without(v, keys) for k, v in d.items() if k not in keys}
    if isinstance(d, list):
        return [without(v, keys) for v in d]
    return d


def same_samples_and_audit(tmp_path: Path, model: Path, api: dict, flags: list[str]) -> dict:
    """Sample through both doors, audit both outputs through both doors; returns the CLI's run.json."""
    result = cpaudit.sample(model=model, out=tmp_path / "api", **api)
    cli("sample", "--model", str(model), "--out", str(tmp_path / "cli"), *flags)
    with np.load(tmp_path / "api" / "samples.npz") as a, np.load(tmp_path / "cli" / "samples.npz") as c:
        assert a.files == c.files and all(np.array_equal(a[k], c[k]) for k in a.files)
    runs = [json.loads((tmp_path / d / "run.json").read_text()) for d in ("api", "cli")]
    assert without(runs[0], VARYING) == without(runs[1], VARYING) and result.run == runs[0]

    split = model / "split.json"
    cpaudit.audit(tmp_path / "api", split=split, out=tmp_path / "audit-api", **AUDIT)
    cli("audit", "--samples", str(tmp_path / "cli"), "--split", str(split), "--out", str(tmp_path / "audit-cli"),
        "--permutations", "20", "--attack-nulls", "40", "--report-only")  # fmt: skip
    results = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("audit-api", "audit-cli")]
    assert without(results[0], VARYING) == without(results[1], VARYING)
    return runs[1]


def test_a_text_to_image_model_samples_alike_through_the_api_and_the_cli(text_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no cpaudit.toml here: the audits take the defaults both ways
    api = {"extraction": True, "per_caption": 1, "steps": 2, "prompt_defence": "embedding-noise", "sigma": 0.5}
    flags = ["--extraction", "--per-caption", "1", "--steps", "2", "--prompt-defence", "embedding-noise",
             "--sigma", "0.5"]  # fmt: skip
    run = same_samples_and_audit(tmp_path, text_model, api, flags)
    assert run["n"] == 16 and len(set(run["conditions"]["prompt_of_seed"].values())) == 16
    assert run["conditions"]["prompt_defence"] == {"kind": "embedding-noise", "sigma": 0.5}


def test_a_class_conditional_model_samples_alike_through_the_api_and_the_cli(class_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    api = {"n": 6, "steps": 3, "class_label": [3, 7], "protect": True, "alpha": 0.5, "guide_when": "every-step"}
    flags = ["--n", "6", "--steps", "3", "--class-label", "3", "--class-label", "7", "--protect", "--alpha", "0.5",
             "--guide-when", "every-step"]  # fmt: skip
    run = same_samples_and_audit(tmp_path, class_model, api, flags)
    assert run["conditions"]["class_of_seed"] == {"0": 3, "1": 7, "2": 3, "3": 7, "4": 3, "5": 7}
    assert run["protection"]["classifier"] == "exact" and run["fired_fraction"] == 1.0


def test_prompts_in_memory_are_the_prompts_file(text_model, tmp_path):
    """The API takes the prompts themselves where the CLI reads a file of them."""
    (tmp_path / "p.txt").write_text("a photo of a fox\na photo of a cat\n")
    listed = cpaudit.sample(model=text_model, prompts=["a photo of a fox", "a photo of a cat"], steps=2)
    filed = cpaudit.sample(model=text_model, prompts=tmp_path / "p.txt", steps=2)
    assert len(listed.images) == 2 and np.array_equal(listed.images, filed.images)
    with pytest.raises(cpaudit.CpauditError, match="give one of --prompt, --prompts and --extraction"):
        cpaudit.sample(model=text_model, prompt="a fox", extraction=True)
    with pytest.raises(cpaudit.CpauditError, match="protect=True, not both"):
        cpaudit.sample(model=text_model, prompt="a fox", n=1, protect=True, protection=cpaudit.protect(text_model))


def test_every_sample_option_is_a_flag_and_a_keyword_named_alike():
    keywords = inspect.signature(cpaudit.sample).parameters
    shown = runner.invoke(app, ["sample", "--help"], env={"COLUMNS": "200"}).output
    for name, (f, how, _) in flat(SampleRequest).items():
        assert name in keywords and keywords[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert flag(f, how) == "--" + name.replace("_", "-"), name
        assert re.search(rf"^  {flag(f, how)}[ ,]", shown, re.MULTILINE), name
    assert not re.search(
        r"^  --guide ", shown, re.MULTILINE
    )  # the old name works (tests/sampling/test_guide_when.py) but is not offered
