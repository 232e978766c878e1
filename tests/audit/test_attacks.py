"""The attack engine: planted leakage, null behaviour, threat-model routing, and gates that never pass on NaN."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cpaudit.audit.attacks import ATTACKS
from cpaudit.audit.attacks.base import AttackContext, summarise
from cpaudit.audit.attacks.sample_only import SampleOnlyAttack, nearest_sample_scores
from cpaudit.audit.policy import Policy, evaluate
from cpaudit.cli.app import app
from cpaudit.core.attack_stats import auc
from cpaudit.pipelines.sample import SampleOptions, sample
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.sampler import SamplerConfig

runner = CliRunner()


def _unit(rng, n, d=64):
    x = rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _ctx(members, holdout, samples):
    return AttackContext(seed=0, sample_emb=samples, member_emb=members, holdout_emb=holdout, threshold=0.97)


def test_every_registered_attack_has_a_name_title_and_target():
    names = [a.name for a in ATTACKS]
    assert len(set(names)) == len(names)
    assert {"sample_only", "loss", "secmi", "pia", "sima", "classifier_oracle"} <= set(names)
    assert all(a.target in ("samples", "denoiser", "classifier") and a.title for a in ATTACKS)


def test_nearest_sample_scores_match_brute_force():
    rng = np.random.default_rng(0)
    cand, samples = _unit(rng, 30), _unit(rng, 2500)
    near, mean_k, count, at = nearest_sample_scores(cand, samples, 0.2, k=5, checkpoints=(64, 2500))
    sims = cand @ samples.T
    assert np.allclose(near, sims.max(1), atol=1e-6)
    assert np.allclose(mean_k, np.sort(sims, 1)[:, -5:].mean(1), atol=1e-6)
    assert np.array_equal(count, (sims >= 0.2).sum(1))
    assert np.allclose(at[64], sims[:, :64].max(1), atol=1e-6)


def test_planted_copies_give_auc_half_plus_k_over_2n_and_tpr_k_over_n():
    """Samples copy k of n members, the rest are new: copied members sit at similarity 1, above every
    held-out image; the others are exchangeable with held-out images. AUC = k/n + (1 - k/n)/2."""
    rng = np.random.default_rng(1)
    n, k = 400, 100
    members, holdout = _unit(rng, n), _unit(rng, n)
    samples = np.concatenate([members[:k], _unit(rng, 300)])
    s = SampleOnlyAttack().scores(_ctx(members, holdout, samples))
    nearest = s.variants.index("nearest")
    assert auc(s.pos[nearest], s.neg[nearest]) == pytest.approx(0.5 + k / (2 * n), abs=0.06)
    at_zero_fp = np.mean(s.pos[nearest] > s.neg[nearest].max())
    assert k / n <= at_zero_fp <= k / n + 0.05
    summary, _ = summarise("sample_only", "sample-only", "samples", s, np.random.default_rng(2), 99)
    assert summary["auc"] == pytest.approx(0.625, abs=0.07) and summary["auc"] > summary["chance_band95"][1]
    assert k / n - 0.05 <= summary["tpr_at_lowest_fpr"]["tpr"] <= k / n + 0.05 and summary["epsilon_lb"] > 0
    assert summary["members_with_a_replica"] == k and summary["holdout_with_a_replica"] == 0
    assert [b["n_samples"] for b in summary["by_n_samples"]] == [64, 256, 400]


def test_samples_from_the_held_out_distribution_stay_in_the_chance_band():
    """20 seeded null data sets: samples are fresh draws, unrelated to the members. The selection-free AUC
    leaves its 95% band about once in 20; at most 3 of 20 here (binomial tail 1.6%)."""
    outside = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        s = SampleOnlyAttack().scores(_ctx(_unit(rng, 64), _unit(rng, 64), _unit(rng, 256)))
        summary, _ = summarise("sample_only", "sample-only", "samples", s, rng, 99)
        lo, hi = summary["chance_band95"]
        outside += not lo <= summary["auc"] <= hi
    assert outside <= 3, outside


def _attack_entry(threat_model, value):
    return {"title": f"{threat_model} attack", "threat_model": threat_model, "auc": value, "auc_ci95": [0.0, 1.0]}


def test_gates_read_the_strongest_attack_of_the_released_threat_model():
    attacks = {"sample_only": _attack_entry("samples", 0.7), "loss_protected": _attack_entry("sampler", 0.8),
               "loss": _attack_entry("weights", 1.0)}
    policy = Policy(max_mia_auc=0.9)
    assert evaluate(policy, release="samples", replica_rate=0.0, permutation_p=0.5, attacks=attacks) == []
    assert evaluate(policy, release="sampler", replica_rate=0.0, permutation_p=0.5, attacks=attacks) == []
    [why] = evaluate(policy, release="weights", replica_rate=0.0, permutation_p=0.5, attacks=attacks)
    assert why.startswith("if the model weights are released, the weights attack reaches AUC 1.000")
    assert "unprotected denoiser" in why and "by 0.100" in why


def test_a_nan_or_missing_figure_never_passes_a_gate():
    nan = {"sample_only": _attack_entry("samples", float("nan"))}
    policy = Policy(max_replica_rate=0.5, max_mia_auc=0.9, min_permutation_p=0.01)
    failures = evaluate(policy, release="samples", replica_rate=float("nan"), permutation_p=None, attacks=nan)
    assert len(failures) == 3 and all("could not be measured" in f for f in failures)
    # No attack of the released threat model ran (weights without --model): a failure, not a pass.
    [why] = evaluate(Policy(max_mia_auc=0.9), release="weights", replica_rate=0.0, permutation_p=0.5, attacks={})
    assert "no membership attack" in why and "--model" in why


@pytest.fixture(scope="module")
def protected_samples(tiny_model, tiny_classifier, tmp_path_factory):
    out = tmp_path_factory.mktemp("protected")
    sample(SampleOptions(model=tiny_model, out=out, n=16, sampler=SamplerConfig(steps=5), write_png=False,
                         protection=Protection(str(tiny_classifier), alpha=0.5, scale=10.0)))
    return out


def _audit(tiny_model, samples, out, *extra):
    return runner.invoke(app, ["--quiet", "audit", "--samples", str(samples), "--data", "digits", "--split",
                               str(tiny_model / "split.json"), "--out", str(out), "--model", str(tiny_model),
                               "--permutations", "19", "--mia-t", "100,300", "--mia-draws", "1", "--attack-nulls", "19", *extra])


def test_protected_run_routes_attacks_by_threat_model_and_replays_the_run(tiny_model, protected_samples, tmp_path):
    r = _audit(tiny_model, protected_samples, tmp_path / "a", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    # The classifier came from run.json, as did alpha, scale and rule: the attack replays the sampling run.
    assert res["setup"]["classifier_from_run_json"] is True
    assert {k: (a["threat_model"], a["deployed"]) for k, a in res["attacks"].items()} == {
        "sample_only": ("samples", True),
        **{f"{n}_protected": ("sampler", False) for n in ("loss", "secmi", "pia", "sima")},
        **{n: ("weights", False) for n in ("loss", "secmi", "pia", "sima", "classifier_oracle")}}
    assert {k: a["queries_per_image"] for k, a in res["attacks"].items() if "protected" not in k} == {
        "sample_only": 0, "loss": 2, "secmi": 11, "pia": 6, "sima": 2, "classifier_oracle": 2}
    assert res["threat_models"]["weights"]["strongest_attack"] in ("loss", "loss_protected", "sample_only")


def test_release_decides_which_attack_a_gate_reads(tiny_model, protected_samples, tmp_path):
    weights = _audit(tiny_model, protected_samples, tmp_path / "w", "--release", "weights", "--max-mia-auc", "0")
    assert weights.exit_code == 1
    assert "if the model weights are released" in weights.output.lower()
    res = json.loads((tmp_path / "w" / "results.json").read_text())
    assert res["policy"]["mia_gate_reads"] in res["attacks"] and res["verdict"].startswith("If the model weights are released: FAILED")
    samples = _audit(tiny_model, protected_samples, tmp_path / "s", "--max-mia-auc", "0")
    assert samples.exit_code == 1 and "sample-only attack" in samples.output
    bad = _audit(tiny_model, protected_samples, tmp_path / "bad", "--release", "everything")
    assert bad.exit_code == 2 and "--release" in bad.output and not (tmp_path / "bad").exists()


def test_an_internal_error_exits_3_with_one_line_naming_the_saved_traceback(tiny_model, protected_samples, tmp_path,
                                                                           monkeypatch):
    import cpaudit.pipelines.audit as pipeline

    def broken(*a, **k):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(pipeline, "replication", broken)
    r = _audit(tiny_model, protected_samples, tmp_path / "a")
    assert r.exit_code == 3, r.output
    [line] = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert "internal error (ZeroDivisionError: injected)" in line and "not a verdict" in line
    path = line.rsplit("traceback saved to ", 1)[1]
    assert "ZeroDivisionError" in open(path).read()


def test_held_out_images_submitted_as_samples_pass_the_replica_excess_gate(tiny_model, tmp_path):
    """A sampler that never copies, at its most faithful: samples that are unseen images themselves."""
    from cpaudit.data.imageio import save_samples_npz
    from cpaudit.data.load import load_data
    from cpaudit.data.split import read_split

    data = load_data("digits")
    split = read_split(tiny_model / "split.json", data)
    held = data.pixels[np.asarray(split.holdout_idx)[:256]]
    save_samples_npz(tmp_path / "s" / "samples.npz", held, np.arange(len(held)))
    r = runner.invoke(app, ["--quiet", "audit", "--samples", str(tmp_path / "s"), "--data", "digits", "--split",
                            str(tiny_model / "split.json"), "--out", str(tmp_path / "a"), "--permutations", "19",
                            "--attack-nulls", "19", "--replica-excess-level", "0.05", "--json"])
    assert r.exit_code == 0, r.output
    nn = json.loads(r.stdout)["nn"]
    assert nn["replica_excess_p"] >= 0.05


def test_diverged_samples_fail_every_gated_audit():
    failures = evaluate(Policy(max_replica_rate=1.0), release="samples", replica_rate=0.0, permutation_p=0.5, attacks={},
                        n_diverged=3)
    assert failures == ["3 samples diverged (NaN/inf) and could not be audited: the gates cannot vouch for them"]
    assert evaluate(Policy(), release="samples", replica_rate=0.0, permutation_p=0.5, attacks={}, n_diverged=3) == []


def test_junit_lists_one_case_per_gate_and_parses(tiny_model, protected_samples, tmp_path):
    from xml.etree import ElementTree as ET

    r = _audit(tiny_model, protected_samples, tmp_path / "a", "--junit", str(tmp_path / "gates.xml"),
               "--max-mia-auc", "0", "--replica-excess-level", "0.05", "--min-permutation-p", "0")
    assert r.exit_code == 1, r.output
    suite = ET.parse(tmp_path / "gates.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"max_mia_auc", "replica_excess_level", "min_permutation_p"}
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    assert cases["max_mia_auc"].find("failure").get("message").startswith("if only samples are published")
    assert cases["replica_excess_level"].find("failure") is None and cases["min_permutation_p"].find("failure") is None
    res = json.loads((tmp_path / "a" / "results.json").read_text())
    assert res["policy"]["gates"]["max_mia_auc"] == cases["max_mia_auc"].find("failure").get("message")


def test_reports_withhold_or_blur_member_images(tiny_model, protected_samples, tmp_path):
    from cpaudit.pipelines.audit import resolve_member_images

    assert resolve_member_images("auto", "digits") == "show"
    assert resolve_member_images("auto", "photos/") == "hide" and resolve_member_images("blur", "x.npz") == "blur"
    hidden = _audit(tiny_model, protected_samples, tmp_path / "h", "--member-images", "hide")
    assert hidden.exit_code == 0, hidden.output
    with np.load(tmp_path / "h" / "audit_data.npz") as f:
        assert "pair_members" not in f.files and "pair_samples" in f.files
    assert "withheld from this report" in (tmp_path / "h" / "report.html").read_text()
    assert json.loads((tmp_path / "h" / "results.json").read_text())["setup"]["member_images"] == "hide"
    blurred = _audit(tiny_model, protected_samples, tmp_path / "b", "--member-images", "blur")
    assert blurred.exit_code == 0, blurred.output
    with np.load(tmp_path / "b" / "audit_data.npz") as f:
        b = f["pair_members"]
    with np.load(tmp_path / "h" / "audit_data.npz") as f:
        n = len(f["pair_samples"])
    assert len(b) == n and all(len(np.unique(img[:4, :4])) == 1 for img in b)  # constant over each 4x4 block
    bad = _audit(tiny_model, protected_samples, tmp_path / "x", "--member-images", "some")
    assert bad.exit_code == 2 and "--member-images" in bad.output


def test_baseline_fails_only_beyond_the_stored_runs_interval(tiny_model, protected_samples, tmp_path):
    first = _audit(tiny_model, protected_samples, tmp_path / "a")
    assert first.exit_code == 0, first.output
    same = _audit(tiny_model, protected_samples, tmp_path / "b", "--baseline", str(tmp_path / "a" / "results.json"))
    assert same.exit_code == 0, same.output  # a run is within its own interval
    stored = json.loads((tmp_path / "a" / "results.json").read_text())
    stored["nn"]["replica_rate_ci95"] = [0.0, -0.01]  # a baseline better than anything: every figure now regresses
    for a in stored["attacks"].values():
        a["auc_ci95"] = [0.0, 0.0]
    (tmp_path / "strict.json").write_text(json.dumps(stored))
    worse = _audit(tiny_model, protected_samples, tmp_path / "c", "--baseline", str(tmp_path / "strict.json"),
                   "--junit", str(tmp_path / "j.xml"))
    assert worse.exit_code == 1
    assert "above the baseline's 95% interval" in worse.output and "membership AUC (sample-only attack" in worse.output
    res = json.loads((tmp_path / "c" / "results.json").read_text())
    assert set(res["policy"]["gates"]) == {"baseline_replica_rate", "baseline_mia_auc"}
    other = json.loads((tmp_path / "a" / "results.json").read_text())
    other["nn"]["threshold"] = 0.5
    (tmp_path / "other.json").write_text(json.dumps(other))
    bad = _audit(tiny_model, protected_samples, tmp_path / "d", "--baseline", str(tmp_path / "other.json"))
    assert bad.exit_code == 2 and "other.json" in bad.output and "do not compare" in bad.output
