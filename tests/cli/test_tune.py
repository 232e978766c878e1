import json

from typer.testing import CliRunner

from cpaudit.cli.app import app

runner = CliRunner()


def test_tune_sweeps_audits_and_plots(tiny_model, tmp_path):
    r = runner.invoke(app, ["--quiet", "tune", "--model", str(tiny_model), "--classifier", "exact", "--out", str(tmp_path),
                            "--alphas", "0.5", "--scales", "1,1000", "--n", "4"])
    assert r.exit_code == 0, r.output
    t = json.loads((tmp_path / "tune.json").read_text())
    assert [(p["alpha"], p["scale"]) for p in t["points"]] == [(0.0, 0.0), (0.5, 1.0), (0.5, 1000.0)]
    assert t["points"][1]["fired_fraction"] == 1.0
    assert t["best"] is None or t["best"]["replicas"] == 0
    assert (tmp_path / "figures" / "frontier.png").is_file() and "frontier" in (tmp_path / "report.md").read_text()


def test_tune_rejects_bad_grid(tiny_model, tmp_path):
    r = runner.invoke(app, ["tune", "--model", str(tiny_model), "--classifier", "exact", "--out", str(tmp_path / "o"),
                            "--alphas", "0.9"])
    assert r.exit_code == 2 and "alphas" in r.output
    r = runner.invoke(app, ["tune", "--model", str(tiny_model), "--classifier", "exact", "--out", str(tmp_path / "o"),
                            "--scales", "ten"])
    assert r.exit_code == 2 and "--scales" in r.output and len(r.output.strip().splitlines()) == 1
