import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.pipelines.sample import SampleOptions, sample
from cpaudit.sampling.sampler import SamplerConfig

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_samples(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    sample(SampleOptions(model=tiny_model, out=out, n=12, sampler=SamplerConfig(steps=5), write_png=False))
    return out


def _audit(tiny_model, samples, out, *extra):
    return runner.invoke(
        app,
        [
            "--quiet",
            "audit",
            "--samples",
            str(samples),
            "--data",
            "digits",
            "--split",
            str(tiny_model / "split.json"),
            "--out",
            str(out),
            "--permutations",
            "99",
            "--mia-t",
            "100,350",
            "--mia-draws",
            "1",
            *extra,
        ],
    )


def test_audit_writes_results_schema(tiny_model, tiny_classifier, tiny_samples, tmp_path):
    r = _audit(
        tiny_model,
        tiny_samples,
        tmp_path / "a",
        "--model",
        str(tiny_model),
        "--classifier",
        str(tiny_classifier),
        "--alpha",
        "0.4",
        "--scale",
        "10",
        "--json",
        "--report-only",
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res == json.loads((tmp_path / "a" / "results.json").read_text())
    assert res["schema_version"] == 5 and res["release"] == "samples"
    assert set(res["nn"]) >= {
        "features",
        "threshold",
        "n_samples",
        "replicas",
        "replica_rate",
        "replica_rate_ci95",
        "data_threshold",
    }
    assert set(res["permutation"]) >= {"statistic", "p_value", "n_permutations"}
    # The samples were not protected, so the plain denoiser is what the sampler exposes.
    tm = {k: a["threat_model"] for k, a in res["attacks"].items()}
    assert tm["sample_only"] == "samples" and tm["classifier_oracle"] == "weights"
    assert {tm[f"{n}{p}"] for n in ("loss", "secmi", "pia", "sima") for p in ("", "_protected")} == {"sampler"}
    for a in res["attacks"].values():
        assert set(a) >= {
            "auc",
            "auc_ci95",
            "auc_se",
            "chance_band95",
            "p_value",
            "tpr_at_fpr",
            "tpr_at_lowest_fpr",
            "epsilon_lb",
            "epsilon_lb_max_provable",
            "epsilon_lb_many_runs",
            "delta",
            "queries_per_image",
            "threat_model",
            "deployed",
            "measures",
            "chosen",
            "by_variant",
        }
        assert a["delta"] <= 1e-5 < a["delta_many_runs"] == 1 / 16 and a["epsilon_lb"] <= a["epsilon_lb_max_provable"]
        assert a["tpr_at_fpr"] == {"0.1": None, "0.01": None, "0.001": None}  # 6 held-out images per half
    assert [b["variant"] for b in res["attacks"]["loss"]["by_variant"]] == ["t=100", "t=350"]
    assert res["attacks"]["loss"]["queries_per_image"] == 2 and res["attacks"]["sample_only"]["queries_per_image"] == 0
    samples_tm = res["threat_models"]["samples"]
    assert (samples_tm["deployed"], samples_tm["attacks"], samples_tm["measured_by"]) == (
        True,
        ["sample_only"],
        ["sample_only"],
    )
    assert samples_tm["strongest"]["attacks"] == ["sample_only"] and samples_tm["strongest"]["n_variants"] >= 1
    assert set(res["quality"]) >= {"features", "fid", "kid"} and res["quality"]["features"] == "pixel"
    assert res["policy"]["passed"] is True and res["policy"]["failures"] == [] and res["policy"]["report_only"] is True
    assert res["policy"]["thresholds"] == {
        "max_replica_rate": None,
        "max_mia_auc": None,
        "min_permutation_p": None,
        "replica_excess_level": None,
        "mia_excess_level": None,
    }
    assert {"holdout_replica_rate", "holdout_replica_rate_ci95", "replica_excess_p"} <= set(res["nn"])
    assert res["verdict"].startswith(
        "If only samples are published: report only, no gate applied (--report-only); the sample-only attack"
    )
    assert res["nn"]["n_samples"] == 12 and 0 <= res["permutation"]["p_value"] <= 1


def test_audit_is_reproducible(tiny_model, tiny_classifier, tiny_samples, tmp_path):
    extra = (
        "--model",
        str(tiny_model),
        "--classifier",
        str(tiny_classifier),
        "--alpha",
        "0.4",
        "--scale",
        "10",
        "--report-only",
    )
    a = _audit(tiny_model, tiny_samples, tmp_path / "a", *extra)
    b = _audit(tiny_model, tiny_samples, tmp_path / "b", *extra)
    assert a.exit_code == b.exit_code == 0
    # Same inputs and seeds: byte-identical results (results.json carries no timestamps) and reports.
    for name in ("results.json", "report.md", "report.html", "figures/roc_sampler.png", "figures/roc_samples.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_failing_gate_exits_1_and_says_by_how_much(tiny_model, tiny_samples, tmp_path):
    r = _audit(tiny_model, tiny_samples, tmp_path / "a", "--max-replica-rate", "0", "--threshold", "-1")
    assert r.exit_code == 1, r.output
    assert "replica rate 100.00% exceeds the maximum 0.00% by 100.00%" in r.output
    res = json.loads((tmp_path / "a" / "results.json").read_text())
    assert res["policy"]["passed"] is False and len(res["policy"]["failures"]) == 1


def test_policy_from_toml(tiny_model, tiny_samples, tmp_path):
    (tmp_path / "cpaudit.toml").write_text("[policy]\nmin_permutation_p = 1.0\n")
    r = _audit(tiny_model, tiny_samples, tmp_path / "a", "--config", str(tmp_path / "cpaudit.toml"))
    # p < 1 always with 99 permutations unless every null statistic ties: the gate fails.
    assert r.exit_code == 1 and "permutation-test p-value" in r.output
    (tmp_path / "bad.toml").write_text("[policy]\nmax_replica = 0.1\n")
    r = _audit(tiny_model, tiny_samples, tmp_path / "b", "--config", str(tmp_path / "bad.toml"))
    assert r.exit_code == 2 and "unknown key 'max_replica'" in r.output and "max_replica_rate" in r.output


def test_audit_bad_inputs_exit_2(tiny_model, tiny_samples, tmp_path):
    r = _audit(tiny_model, tmp_path / "missing", tmp_path / "a")
    assert r.exit_code == 2 and "samples folder not found" in r.output and not (tmp_path / "a").exists()
    other = tmp_path / "other"
    other.mkdir()
    np.savez(other / "samples.npz", images=np.zeros((4, 16, 16), np.uint8))
    r = _audit(tiny_model, other, tmp_path / "b")
    assert r.exit_code == 2 and "samples are 16x16 but the images are 8x8: pass --resize 16x16" in r.output
    assert not (tmp_path / "b").exists()
    assert len(r.output.strip().splitlines()) == 1


def test_streamed_members_and_ivf_search_agree_with_exact(tiny_model, tiny_samples, tmp_path, monkeypatch):
    """Members streamed to a memmap and searched by IVF with every list probed give the exact audit."""
    import cpaudit.auditing.engine.stages as audit_pipeline
    import cpaudit.similarity.neighbours as neighbours

    exact = _audit(tiny_model, tiny_samples, tmp_path / "exact", "--search", "exact", "--json", "--report-only")
    monkeypatch.setattr(audit_pipeline, "STREAM_MIN_REFERENCES", 1)
    monkeypatch.setattr(neighbours, "CHUNK_ROWS", 5)
    ivf = _audit(tiny_model, tiny_samples, tmp_path / "ivf", "--search", "ivf", "--json", "--report-only")
    assert exact.exit_code == ivf.exit_code == 0, ivf.output
    a, b = json.loads(exact.stdout), json.loads(ivf.stdout)
    assert a["nn"]["search"] == {"method": "exact", "n_references": 16}
    s = b["nn"]["search"]
    assert s["method"] == "ivf" and s["nlist"] == 4 and s["nprobe"] == 4 and s["recall_at_1"] == 1.0
    for key in ("replicas", "data_threshold", "median_nearest_member_similarity"):
        assert a["nn"][key] == pytest.approx(b["nn"][key], abs=1e-6), key
    # IVF and exact search sum the inner products in another order: equal up to float32 rounding.
    assert [(p["sample"], p["member"]) for p in a["top_pairs"]] == [(p["sample"], p["member"]) for p in b["top_pairs"]]
    assert [p["similarity"] for p in a["top_pairs"]] == pytest.approx(
        [p["similarity"] for p in b["top_pairs"]], abs=1e-6
    )
    assert a["permutation"] == b["permutation"]
    # Held-out images streamed too: quality features then come from the sampled rows alone, the same ones.
    for key in ("fid", "kid", "n_reference"):
        assert a["quality"][key] == pytest.approx(b["quality"][key], rel=1e-9), key
    assert "IVF index over 16 members" in (tmp_path / "ivf" / "report.md").read_text()
    r = _audit(tiny_model, tiny_samples, tmp_path / "bad", "--search", "fast")
    assert r.exit_code == 2 and "--search" in r.output


def test_mia_scores_a_seeded_subset_of_many_members(tiny_model, tiny_samples, tmp_path):
    """--mia-members caps the attacked members (16 here); the held-out side matches their number."""
    r = _audit(
        tiny_model,
        tiny_samples,
        tmp_path / "cap",
        "--model",
        str(tiny_model),
        "--mia-members",
        "6",
        "--json",
        "--report-only",
    )
    assert r.exit_code == 0, r.output
    mia = json.loads(r.stdout)["attacks"]
    assert {(a["n_members"], a["n_holdout"]) for a in mia.values()} == {(6, 6)}
    # Unprotected samples: the plain denoiser is both the sampler and the weights, one attack set, one figure.
    tms = json.loads(r.stdout)["threat_models"]
    assert (
        tms["sampler"]["strongest"] == tms["weights"]["strongest"]
        and tms["sampler"]["measured_by"] == tms["weights"]["measured_by"]
    )
    again = _audit(
        tiny_model, tiny_samples, tmp_path / "again", "--model", str(tiny_model), "--mia-members", "6", "--json"
    )
    assert json.loads(again.stdout)["attacks"] == mia  # the subset is seeded
    whole = json.loads(_audit(tiny_model, tiny_samples, tmp_path / "all", "--model", str(tiny_model), "--json").stdout)[
        "attacks"
    ]
    assert (whole["loss"]["n_members"], whole["loss"]["n_holdout"]) == (16, 16)
    bad = _audit(tiny_model, tiny_samples, tmp_path / "bad", "--model", str(tiny_model), "--mia-members", "3")
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()
