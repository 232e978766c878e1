"""Which figures a report has, drawn from results.json and the arrays saved beside it."""

from __future__ import annotations

import numpy as np

from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.report import plots


def audit_figures(results: dict, arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    figs: dict[str, bytes] = {}
    nn = results["nn"]
    if "sample_sim" in arrays and "holdout_sim" in arrays and len(arrays["sample_sim"]):
        figs["similarity_histogram"] = plots.similarity_histogram(
            arrays["sample_sim"], arrays["holdout_sim"], nn["threshold"], nn["features"]
        )
    if "pair_samples" in arrays and len(arrays["pair_samples"]):
        sims = [p["similarity"] for p in results.get("top_pairs", [])]
        blurred = (results.get("setup") or {}).get("member_images") == "blur"
        figs["pairs"] = plots.pair_grid(
            arrays["pair_samples"], arrays.get("pair_members"), sims, " (blurred)" if blurred else ""
        )
    perm = results.get("permutation")
    if perm and "permutation_null" in arrays:
        figs["permutation"] = plots.permutation_null(arrays["permutation_null"], perm["statistic"], perm["p_value"])
    for tm in THREAT_MODELS:
        curves = {}
        for key, a in (results.get("attacks") or {}).items():
            if a["threat_model"] == tm and f"attack_{key}_pos" in arrays:
                curves[f"{a['title']} (AUC {a['auc']:.2f})"] = (
                    arrays[f"attack_{key}_pos"],
                    arrays[f"attack_{key}_neg"],
                )
        if curves:
            figs[f"roc_{tm}"] = plots.roc_curves(curves)
    ext = results.get("prompted_extraction")
    if ext and "extraction_pair_samples" in arrays and len(arrays["extraction_pair_samples"]):
        sims = [t["best_similarity"] for t in ext.get("top_captions", [])]
        figs["extraction_pairs"] = plots.pair_grid(
            arrays["extraction_pair_samples"],
            arrays.get("extraction_pair_members"),
            sims,
            right="caption's training image",
        )
    if ext and ext.get("auc_by_samples_per_caption"):
        figs["extraction_by_seeds"] = plots.auc_by_seeds(ext["auc_by_samples_per_caption"])
    det = (results.get("attacks") or {}).get("detector")
    if det and "attack_detector_pos" in arrays:
        figs["detector_roc"] = plots.roc_curves(
            {f"{det['title']} (AUC {det['auc']:.2f})": (arrays["attack_detector_pos"], arrays["attack_detector_neg"])}
        )
    so = (results.get("attacks") or {}).get("sample_only")
    if so and so.get("by_n_samples"):
        figs["auc_by_samples"] = plots.auc_by_samples(so["by_n_samples"], so["by_n_samples_chance_band95"])
    return figs
