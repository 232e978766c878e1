"""Which figures a report has, drawn from results.json and the arrays saved beside it."""

from __future__ import annotations

import numpy as np

from cpaudit.report import plots


def audit_figures(results: dict, arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    figs: dict[str, bytes] = {}
    nn = results["nn"]
    if "sample_sim" in arrays and "holdout_sim" in arrays and len(arrays["sample_sim"]):
        figs["similarity_histogram"] = plots.similarity_histogram(arrays["sample_sim"], arrays["holdout_sim"], nn["threshold"], nn["features"])
    if "pair_samples" in arrays and len(arrays["pair_samples"]):
        sims = [p["similarity"] for p in results.get("top_pairs", [])]
        figs["pairs"] = plots.pair_grid(arrays["pair_samples"], arrays["pair_members"], sims)
    perm = results.get("permutation")
    if perm and "permutation_null" in arrays:
        figs["permutation"] = plots.permutation_null(arrays["permutation_null"], perm["statistic"], perm["p_value"])
    mia = results.get("mia")
    if mia and "mia_loss_members" in arrays:
        curves = {f"denoiser, t = {mia['t']} (AUC {mia['auc']:.2f})": (arrays["mia_loss_members"], arrays["mia_loss_holdout"])}
        if mia.get("protected") and "mia_protected_loss_members" in arrays:
            p = mia["protected"]
            curves[f"protected denoiser, t = {p['t']} (AUC {p['auc']:.2f})"] = (
                arrays["mia_protected_loss_members"], arrays["mia_protected_loss_holdout"])
        figs["roc"] = plots.roc_curves(curves)
        figs["loss_histogram"] = plots.loss_histograms(arrays["mia_loss_members"], arrays["mia_loss_holdout"],
                                                       f"denoiser, t = {mia['t']}")
    return figs
