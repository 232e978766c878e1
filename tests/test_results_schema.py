"""results.json has a documented JSON Schema, shipped in the package: every committed results.json and a
fresh audit's validate, and a previous version's file still serves as a --baseline."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.report.content import READABLE_SCHEMAS, SCHEMA_VERSION
from cpaudit.schemas import results_schema

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(p for p in ROOT.rglob("results.json") if ".venv" not in p.parts and "runs" not in p.parts[:1])


def validator():
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_names_every_version_cpaudit_reads():
    assert results_schema()["properties"]["schema_version"]["enum"] == list(READABLE_SCHEMAS)
    assert SCHEMA_VERSION == max(READABLE_SCHEMAS)


def test_audit_writes_the_version_that_requires_provenance():
    """Schema 5 requires provenance (issue 36); an audit writing an older version would skip the check."""
    needs = results_schema()["allOf"][0]
    assert (
        needs["then"]["required"] == ["provenance"]
        and SCHEMA_VERSION >= needs["if"]["properties"]["schema_version"]["minimum"]
    )
    assert needs["then"]["properties"]["policy"] == {"required": ["family"]}  # the gates' family levels, also version 5


@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.relative_to(ROOT)) for p in COMMITTED])
def test_every_committed_results_json_validates(path):
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator().iter_errors(json.loads(path.read_text()))
    ]
    assert not errors, errors[:3]


def test_committed_results_exist():
    assert len(COMMITTED) >= 5  # the demo's five audits at least


def test_schema_rejects_what_is_not_a_results_json():
    v = validator()
    good = json.loads(COMMITTED[0].read_text())
    assert not list(v.iter_errors(good))
    for broken in (
        {**good, "release": "everything"},
        {k: x for k, x in good.items() if k != "nn"},
        {**good, "nn": {**good["nn"], "replica_rate": 1.5}},
    ):
        assert list(v.iter_errors(broken))


def test_a_fresh_audit_validates_and_reads_a_previous_version_baseline(tiny_model, tmp_path):
    """A results.json of an earlier version (the demo's as committed at schema 3, before provenance): --baseline
    reads it, and the fresh audit's own file is the current version, with its provenance."""
    from cpaudit.pipelines.sample import SampleOptions, sample
    from cpaudit.sampling.sampler import SamplerConfig

    sample(SampleOptions(model=tiny_model, out=tmp_path / "s", n=8, sampler=SamplerConfig(steps=3), write_png=False))
    old = ROOT / "tests" / "fixtures" / "results_schema3_demo_unprotected.json"
    assert json.loads(old.read_text())["schema_version"] < SCHEMA_VERSION
    shutil.copy(old, tmp_path / "baseline.json")
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
            "--baseline",
            str(tmp_path / "baseline.json"),
            "--mia-excess-level",
            "0",
        ],
    )
    assert r.exit_code in (0, 1), r.output  # a verdict, not bad input
    res = json.loads((tmp_path / "a" / "results.json").read_text())
    assert res["schema_version"] == SCHEMA_VERSION and "baseline_replica_rate" in res["policy"]["gates"]
    assert res["provenance"]["libraries"]["numpy"] is not None
    assert not list(validator().iter_errors(res))
    r = CliRunner().invoke(app, ["--quiet", "report", str(old), "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output


def test_a_text_to_image_audit_validates(tmp_path):
    """Prompted extraction and the detector, as the text audit writes them (auditing/engine/text_stages.py)."""
    pytest.importorskip("diffusers")
    model = tmp_path / "m"
    for args in (
        [
            "train-diffusion",
            "captioned-digits",
            "--text",
            "--out",
            str(model),
            "--members",
            "8",
            "--steps",
            "2",
            "--vae-steps",
            "2",
        ],
        [
            "sample",
            "--model",
            str(model),
            "--extraction",
            "--per-caption",
            "2",
            "--steps",
            "2",
            "--out",
            str(tmp_path / "s"),
        ],
        [
            "audit",
            "--samples",
            str(tmp_path / "s"),
            "--split",
            str(model / "split.json"),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "a"),
            "--permutations",
            "20",
            "--mia-t",
            "100",
            "--mia-draws",
            "1",
            "--attack-nulls",
            "40",
            "--report-only",
        ],
    ):
        r = CliRunner().invoke(app, [*args, "--quiet"])
        assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert {"prompted_extraction", "detector"} <= set(results)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(results)]
    assert not errors, errors[:3]
