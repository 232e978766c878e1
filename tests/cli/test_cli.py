import json

import numpy as np
from typer.testing import CliRunner

from cpaudit.cli.app import app
from tests.conftest import write_png

runner = CliRunner()


def _one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_version_and_help():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("cpaudit ")
    r = runner.invoke(app, ["sample", "--help"])
    assert r.exit_code == 0 and "--protect" in r.output


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    write_png(tmp_path / "mixed" / "a.png", np.zeros((6, 6), np.uint8))
    write_png(tmp_path / "mixed" / "b.png", np.zeros((7, 7), np.uint8))
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    np.savez(tmp_path / "no_images.npz", pixels=np.zeros((2, 4, 4), np.uint8))
    cases = {
        "mixed": ("b.png", "--resize"),
        "empty": ("empty", "no images found"),
        "corrupt": ("x.png", "cannot decode"),
        "no_images.npz": ("no_images.npz", "no 'images'"),
    }
    for name, needles in cases.items():
        out = tmp_path / f"out_{name}"
        r = runner.invoke(app, ["--quiet", "train-diffusion", str(tmp_path / name), "--out", str(out), "--steps", "1"])
        _one_line_error(r, *needles)
        assert not out.exists(), f"{name}: output folder written despite the error"


def test_option_out_of_range_and_missing_model(tmp_path):
    _one_line_error(
        runner.invoke(app, ["sample", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--n", "0"]), "--n"
    )
    _one_line_error(
        runner.invoke(app, ["sample", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]), "nope"
    )
    _one_line_error(
        runner.invoke(app, ["sample", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--alpha", "0.7"]),
        "--alpha",
    )
    _one_line_error(
        runner.invoke(app, ["sample", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--method", "euler"]),
        "method",
    )


def test_train_sample_end_to_end(tmp_path):
    model = tmp_path / "model"
    r = runner.invoke(
        app,
        [
            "--quiet",
            "train-diffusion",
            "digits",
            "--out",
            str(model),
            "--n-members",
            "8",
            "--steps",
            "3",
            "--channels",
            "16",
            "--res-blocks",
            "1",
            "--batch-size",
            "8",
        ],
    )
    assert r.exit_code == 0, r.output
    assert {p.name for p in model.iterdir()} >= {"model.safetensors", "config.json", "split.json"}
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["seed"] == 0 and cfg["n_members"] == 8 and cfg["image_shape"] == [1, 8, 8]
    split = json.loads((model / "split.json").read_text())
    assert len(split["members"]) == 8 and len(split["members"][0]["sha256"]) == 64

    samples = tmp_path / "samples"
    r = runner.invoke(
        app,
        [
            "--quiet",
            "sample",
            "--model",
            str(model),
            "--out",
            str(samples),
            "--n",
            "3",
            "--steps",
            "4",
            "--seed",
            "7",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["seed_range"] == [7, 9] and run["protection"] is None
    with np.load(samples / "samples.npz") as f:
        assert f["images"].shape == (3, 8, 8, 1) and f["images"].dtype == np.uint8
        assert f["seeds"].tolist() == [7, 8, 9]
    assert (samples / "000007.png").is_file()

    r = runner.invoke(
        app,
        [
            "--quiet",
            "sample",
            "--model",
            str(model),
            "--out",
            str(tmp_path / "prot"),
            "--n",
            "2",
            "--steps",
            "4",
            "--protect",
            "--classifier",
            "exact",
            "--alpha",
            "0.5",
            "--scale",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "prot" / "run.json").read_text())
    assert run["protection"]["alpha"] == 0.5 and run["fired_fraction"] == 1.0


def test_skip_bad_skips_with_one_line_warning(tmp_path):
    for i in range(4):
        write_png(tmp_path / "imgs" / f"{i}.png", np.full((8, 8), 40 * i, np.uint8))
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not a png")
    args = [
        "train-diffusion",
        str(tmp_path / "imgs"),
        "--n-members",
        "2",
        "--steps",
        "1",
        "--channels",
        "8",
        "--res-blocks",
        "1",
        "--batch-size",
        "2",
    ]
    r = runner.invoke(app, ["--quiet", *args, "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and "broken.png" in r.output
    r = runner.invoke(app, ["--quiet", *args, "--out", str(tmp_path / "b"), "--skip-bad"])
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.output.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "broken.png" in warnings[0]
    assert json.loads((tmp_path / "b" / "split.json").read_text())["holdout"][0]["id"].endswith(".png")


def test_plain_progress_lines_for_a_log_every_few_seconds(capsys):
    """Not a terminal (a CI log): one plain line per stage change and at most one every PLAIN_EVERY_S."""
    from cpaudit.cli import common

    now = [0.0]
    advance = common.plain_progress("demo", None, every_s=5.0, clock=lambda: now[0])
    advance(0, 4000, None, description="train model")
    for step, t in ((100, 1.0), (200, 4.9), (300, 5.1), (400, 6.0)):
        now[0] = t
        advance(step, 4000, {"loss": 0.5})
    now[0] = 7.0
    advance(0, 1, {}, description="sample")
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert lines == [
        "train model: 0/4000 (0%), 0 s",
        "train model: 300/4000 (8%) loss 0.5, 5 s",
        "sample: 0/1 (0%), 7 s",
    ]


def test_plain_progress_without_a_total_names_the_stage_not_a_count(capsys):
    from cpaudit.cli import common

    now = [0.0]
    advance = common.plain_progress("audit", None, every_s=5.0, clock=lambda: now[0])
    advance(description="audit: embed")
    now[0] = 10.0
    advance(description="audit: quality")
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert lines == ["audit: embed, 0 s", "audit: quality, 10 s"]


def test_info_lines_print_brackets_as_written(capsys, monkeypatch):
    from cpaudit.cli import common

    monkeypatch.setattr(common.state, "quiet", False)
    common.info("sampler  SimA: AUC 0.541  [not deployed]")
    assert "[not deployed]" in capsys.readouterr().err


def test_demo_arch_is_passed_to_the_text_demo_and_refused_without_it(tmp_path, monkeypatch):
    """`demo --text --arch` reaches TextDemoOptions; without --text, with an unknown name, or against a --model of
    another architecture it is refused in one line, before anything is trained or written."""
    from cpaudit.pipelines import demo_request
    from cpaudit.pipelines.demo_text import TextDemoResult, resolve_options

    seen = []
    monkeypatch.setattr(
        demo_request,
        "demo_text",
        lambda opts, stage: seen.append(resolve_options(opts)) or TextDemoResult(opts.out, {}, [], 0.0),
    )
    r = runner.invoke(app, ["--quiet", "demo", "--text", "--arch", "flux", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert (seen[0].arch, seen[0].steps, seen[0].guidance_scale) == ("flux", 28, 4.0)
    monkeypatch.undo()
    _one_line_error(
        runner.invoke(app, ["--quiet", "demo", "--arch", "flux", "--out", str(tmp_path / "a")]), "--arch", "--text"
    )
    _one_line_error(
        runner.invoke(app, ["--quiet", "demo", "--text", "--arch", "sd4", "--out", str(tmp_path / "b")]),
        "'sd4' is not one of sd, sdxl, sd3, flux",
    )
    model = tmp_path / "m"
    model.mkdir()
    (model / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    _one_line_error(
        runner.invoke(
            app, ["--quiet", "demo", "--text", "--arch", "sd3", "--model", str(model), "--out", str(tmp_path / "c")]
        ),
        "--arch",
        "'flux'",
    )
    assert not any((tmp_path / d).exists() for d in "abc")


def test_sample_progress_counts_samples_with_the_batch_and_step_under_way():
    """Issue 37: 512 samples in batches of 256 at 50 steps read '256/512' after the first batch, not '50/100 (50%)'."""
    from cpaudit.cli.sample_cmd import samples_progress

    calls = []
    on_step = samples_progress(lambda **kw: calls.append(kw), n=500, batch_size=256, steps=50)
    for _ in range(100):
        on_step()
    assert calls[0] == {"step": 0, "total_": 500, "metrics": {"batch": 1, "step": 1}}
    assert calls[49] == {"step": 256, "total_": 500, "metrics": {"batch": 1, "step": 50}}
    assert calls[-1] == {"step": 500, "total_": 500, "metrics": {"batch": 2, "step": 50}}
