"""results.json of every version cpaudit reads (2 to 5) renders, each as its version wrote it: a schema-2 file's
figures are its largest single attack's and say so, a schema-3/4 replica gate is the per-sample Fisher test, a
schema-5 one the training images reached."""

import json

import pytest

from cpaudit.errors import InputError
from cpaudit.pipelines.report import read_results
from cpaudit.report.content import READABLE_SCHEMAS
from tests.report.reports import FILES, html_text, markdown, results

BY_VERSION = {2: "schema2", 3: "schema3", 4: "schema4", 5: "pixel"}


def test_there_is_a_file_of_every_readable_version():
    assert sorted(BY_VERSION) == list(READABLE_SCHEMAS)
    assert {v: results(k)["schema_version"] for v, k in BY_VERSION.items()} == {v: v for v in BY_VERSION}


@pytest.mark.parametrize("version", sorted(BY_VERSION))
def test_each_version_validates_reads_and_renders_its_verdict(version, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from cpaudit.schemas import results_schema

    r = results(BY_VERSION[version])
    assert not list(jsonschema.Draft202012Validator(results_schema()).iter_errors(r))
    assert read_results(FILES[BY_VERSION[version]])[0] == r
    md = markdown(r)
    assert md.startswith("# cpaudit privacy audit\n\n**Do not publish these samples: ")
    assert "\n| Samples published (this release) | ✗ FAILED | Do not publish these samples: " in md
    recorded = f"The verdict as the audit recorded it: {r['verdict']}"
    assert recorded in md and recorded in html_text(r)
    assert "None" not in md.split("## Setup", 1)[1].split("##", 1)[0]


def test_a_schema_2_file_reads_its_largest_single_attack_and_says_so():
    md = markdown(results("schema2"))
    assert (
        "| Someone who sees only the published images | find 245 near-copies of training images among 256 published "
        "images (95.7%, 95% interval 92.5%-97.6%); unseen images come as close 9 times in 1733; tell training images "
        "from unseen ones 99.6% of the time, where guessing gives 50% (AUC 1.00, 95% interval 0.99-1.00, the "
        "largest single attack's, not selection-adjusted; guessing scores 0.39-0.62 at these sizes) | yes (released) |"
    ) in md
    assert "not measured" not in md  # its attacks ran: schema 2 only lacked the selection-adjusted headline
    assert "| replica excess over held-out images, Fisher p (samples) | 9.4e-287 | at least 0.05 | FAIL |" in md
    assert (
        "Epsilon lower bound at delta 0.0156: Clopper-Pearson over thresholds, treating each member as its own "
        "training run (the many-runs setting), not a bound for one training run." in md
    )


def test_schema_3_and_4_gate_the_per_sample_rate_and_5_the_images_reached():
    for kind, p in (("schema3", "9.4e-287"), ("schema4", "1.1e-83")):
        md = markdown(results(kind))
        assert f"| replica excess over held-out images, Fisher p (samples) | {p} | at least 0.05 | FAIL |" in md
        assert "Training images with a sample at the threshold" not in md and "The strongest attack tried" not in md
    md = markdown(results("pixel"))
    assert "training images reached above held-out images, Fisher p (samples) | 1.5e-100" in md
    assert "replica excess over held-out images" not in md and "The strongest attack tried reaches AUC" in md


def test_a_schema_4_text_audit_renders_its_text_section():
    md = markdown(results("schema4"))
    assert "| prompted extraction over held-out captions, Fisher p (samples) | 5e-28 | at least 0.05 | FAIL |" in md
    assert "## Text-to-image: prompted extraction and the memorisation detector" in md
    assert "Memorisation detector (Wen et al. 2024; threat model 'sampler')" in md


@pytest.mark.parametrize("version", [1, 6, "5"])
def test_an_unreadable_version_is_refused_in_one_line(version, tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({**results("pixel"), "schema_version": version}))
    with pytest.raises(InputError) as e:
        read_results(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_report_command_writes_markdown_and_html_for_each_kind(kind, tmp_path):
    from cpaudit.pipelines.report import report

    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(FILES[kind].read_text())
    written = report([run / "results.json"], tmp_path / "out")
    r = results(kind)
    figures = {p.stem for p in written.figures}
    assert written.markdown.read_text() == markdown(r, figures)
    assert r["verdict"] in html_text(r) and written.html.read_text().count("<h2>") >= 5
