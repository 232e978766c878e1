import json

from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.pipelines.tune import choose_for_evaluation

runner = CliRunner()


def test_tune_chooses_on_tuning_seeds_and_reports_evaluation_seeds(tiny_model, tiny_classifier, tmp_path):
    r = runner.invoke(
        app,
        [
            "--quiet",
            "tune",
            "--model",
            str(tiny_model),
            "--classifier",
            str(tiny_classifier),
            "--out",
            str(tmp_path),
            "--small",
            "--n-tune",
            "8",
            "--n-eval",
            "12",
            "--dp-epsilons",
            "",
            "--defences",
            "learned,exact,x0,rejection,repulsion",
            "--eval-seed",
            "5000",
            "--steps",
            "5",
        ],
    )
    assert r.exit_code == 0, r.output
    t = json.loads((tmp_path / "tune.json").read_text())
    assert t["threat_model"] == "samples"
    assert {p["defence"] for p in t["tuning"]} == {
        "none",
        "CPSample, learned classifier",
        "CPSample, exact posterior",
        "CPSample, learned, guidance on x0",
        "rejection",
        "nearest-member repulsion",
    }
    # Tuning and evaluation draw disjoint seeds; every evaluated point is one of the tuning points, drawn anew.
    assert all(p["seeds"][0] == 2_000_000 and p["n_samples"] == 8 for p in t["tuning"])
    assert all(p["seeds"][0] == 5000 and p["n_samples"] == 12 for p in t["evaluation"])
    for p in t["evaluation"]:
        tuned = t["tuning"][p["tuning_index"]]
        assert (tuned["defence"], tuned["label"]) == (p["defence"], p["label"])
    assert t["evaluation"][0]["defence"] == "none"
    # FID against the whole held-out set, whatever the number of samples.
    assert {p["fid_reference"] for p in t["tuning"] + t["evaluation"]} == {t["settings"]["n_holdout"]}
    for d in t["defaults"].values():
        assert d["chosen"] is None or d["tuning"]["fid"] <= t["fid_limit"]["tuning"]
    assert (tmp_path / "figures" / "frontier.png").is_file()
    md = (tmp_path / "report.md").read_text()
    assert "Threat model: samples" in md and "evaluation seeds" in md


def test_tune_rejects_bad_options(tiny_model, tmp_path):
    r = runner.invoke(app, ["tune", "--model", str(tiny_model), "--out", str(tmp_path / "o"), "--defences", "magic"])
    assert r.exit_code == 2 and "--defences" in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["tune", "--model", str(tiny_model), "--out", str(tmp_path / "o"), "--defences", "learned"])
    assert r.exit_code == 2 and "classifier" in r.output
    r = runner.invoke(app, ["tune", "--model", str(tiny_model), "--out", str(tmp_path / "o"), "--eval-seed", "2000000"])
    assert r.exit_code == 2 and "--eval-seed" in r.output
    r = runner.invoke(app, ["tune", "--model", str(tiny_model), "--out", str(tmp_path / "o"), "--dp-epsilons", "ten"])
    assert r.exit_code == 2 and "--dp-epsilons" in r.output
    assert not (tmp_path / "o").exists()


def _pt(defence, fid, auc, p=1.0):
    return {"defence": defence, "fid": fid, "sample_only_auc": auc, "replica_excess_p": p}


def test_choose_for_evaluation_keeps_the_frontier_and_the_budget_choice():
    tuning = [
        _pt("none", 3.0, 1.0, 0.0),
        _pt("A", 3.5, 0.99, 0.0),
        _pt("A", 4.0, 0.9),
        _pt("A", 5.0, 0.95),
        _pt("A", 5.5, 0.8),
        _pt("A", 9.0, 0.7),
        _pt("A", 20.0, 0.6),
        _pt("A", 40.0, 0.55),
        _pt("DP-SGD", 60.0, 0.5),
        _pt("DP-SGD", 40.0, 0.6),
    ]
    chosen = choose_for_evaluation(tuning, fid_limit=6.0, excess_level=0.05, k=3)
    assert chosen["none"] == [0] and chosen["DP-SGD"] == [8, 9]  # nothing to choose for a trained model
    assert 3 not in chosen["A"]  # dominated by (4.0, 0.9)
    assert 4 in chosen["A"]  # the lowest AUC within FID 6 with replicas at the base rate
    assert len(chosen["A"]) == 3


def _record(tuning, evaluation):
    return {"settings": {"fid_budget": 2.0, "excess_level": 0.05}, "tuning": tuning, "evaluation": evaluation}


def _cp(defence, fid, auc, p=1.0, scale=1.0):
    return {
        **_pt(defence, fid, auc, p),
        "protection": {
            "alpha": 0.4,
            "scale": scale,
            "rule": "opposite-label",
            "space": "x_t",
            "t_min": 0,
            "t_max": None,
        },
    }


def test_summarise_tune_chooses_on_tuning_points_only():
    from cpaudit.pipelines.tune import summarise_tune

    learned, exact = "CPSample, learned classifier", "CPSample, exact posterior"
    tuning = [
        _pt("none", 3.0, 1.0, 0.0),
        _cp(learned, 5.0, 0.8, scale=30),
        _cp(learned, 9.0, 0.6, scale=100),
        _cp(exact, 7.0, 0.7, scale=3),
        _cp(exact, 12.0, 0.6, 0.5, scale=10),
    ]
    # On the evaluation seeds the learned scale-100 point looks better within the budget: it must not be chosen.
    evaluation = [
        {**tuning[0], "tuning_index": 0},
        {**tuning[1], "fid": 7.0, "tuning_index": 1},
        {**tuning[2], "fid": 5.5, "sample_only_auc": 0.55, "tuning_index": 2},
        {**tuning[3], "tuning_index": 3},
    ]
    r = summarise_tune(_record(tuning, evaluation))
    assert r["fid_limit"] == {"tuning": 6.0, "evaluation": 6.0}
    assert [p["budget_choice"] for p in r["evaluation"]] == [False, True, False, False]
    assert r["defaults"]["learned"]["chosen"]["scale"] == 30 and not r["defaults"]["learned"]["over_budget"]
    assert r["evaluation"][1]["within_fid_budget"] is False  # the evaluation says so, and the report shows it
    # No exact setting fits FID 6: the budget widens to 9 (x1.5), where scale 3 fits; flagged as such.
    assert r["defaults"]["exact"]["chosen"]["scale"] == 3 and r["defaults"]["exact"]["over_budget"]
    assert r["defaults"]["exact"]["fid_budget_used"] == 3.0


def test_report_on_a_missing_empty_or_foreign_tune_json_is_bad_input(tmp_path):
    """Before: `cpaudit report tune.json` on a missing or empty file exited 3."""
    cases = {
        "missing": None,
        "empty": "",
        "list": "[]",
        "no points": '{"settings": {"fid_budget": 2, "excess_level": 0.05}}',
        "bad point": '{"settings": {"fid_budget": 2, "excess_level": 0.05}, "tuning": [{"fid": 1}], "evaluation": [{}]}',
    }
    for name, content in cases.items():
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        if content is not None:
            (folder / "tune.json").write_text(content)
        r = runner.invoke(app, ["report", str(folder / "tune.json"), "--out", str(folder / "out")])
        assert r.exit_code == 2, (name, r.output)
        assert "tune.json" in r.output and len(r.output.strip().splitlines()) == 1, (name, r.output)
        assert not (folder / "out").exists(), name
