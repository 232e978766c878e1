"""Figures for the audit report (matplotlib, Agg backend), each returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cpaudit.core.stats import roc_curve  # noqa: E402

STYLE = {"figure.figsize": (6.0, 3.6), "figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
         "axes.spines.top": False, "axes.spines.right": False, "font.size": 9}
COLOURS = {"samples": "#c0392b", "holdout": "#2c7fb8", "plain": "#c0392b", "protected": "#1b9e77", "null": "#7f7f7f"}


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def similarity_histogram(sample_sim: np.ndarray, holdout_sim: np.ndarray, threshold: float, features: str) -> bytes:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        bins = np.linspace(min(sample_sim.min(initial=1), holdout_sim.min()), 1.0, 50)
        ax.hist(holdout_sim, bins=bins, density=True, alpha=0.6, color=COLOURS["holdout"], label="held-out images")
        ax.hist(sample_sim, bins=bins, density=True, alpha=0.6, color=COLOURS["samples"], label="samples")
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"replica threshold {threshold:g}")
        ax.set_xlabel(f"similarity to nearest member ({features}, cosine)")
        ax.set_ylabel("density")
        ax.legend(loc="upper left")
        return _png(fig)


def permutation_null(null: np.ndarray, observed: float, p_value: float) -> bytes:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        ax.hist(null, bins=40, color=COLOURS["null"], alpha=0.8, label=f"null ({len(null)} relabellings)")
        ax.axvline(observed, color=COLOURS["samples"], linewidth=2, label=f"observed (p = {p_value:.3g})")
        ax.set_xlabel("mean nearest-member minus nearest-held-out similarity")
        ax.set_ylabel("count")
        ax.legend(loc="upper left")
        return _png(fig)


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """curves: label -> (member scores, held-out scores), higher = member. Log-scale FPR as in the MIA
    literature. Shaded: where a score that knows nothing lands 95% of the time at each FPR (pointwise
    normal band of a null ROC with these sample sizes: f +- 1.96 sqrt(f (1 - f) (1/m + 1/n)))."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        floor, m, n = 1.0, 1, 1
        palette = [COLOURS["plain"], COLOURS["protected"], COLOURS["holdout"], "#984ea3", "#ff7f00"]
        for i, (label, (pos, neg)) in enumerate(curves.items()):
            fpr, tpr = roc_curve(pos, neg)
            floor = min(floor, 1 / max(len(neg), 1))
            m, n = max(m, len(pos)), max(n, len(neg))
            ax.step(np.maximum(fpr, floor / 2), tpr, where="post", label=label, color=palette[i % len(palette)])
        grid = np.logspace(np.log10(floor / 2), 0, 200)
        half = 1.96 * np.sqrt(grid * (1 - grid) * (1 / m + 1 / n))
        ax.fill_between(grid, np.clip(grid - half, 0, 1), np.clip(grid + half, 0, 1), color=COLOURS["null"], alpha=0.25,
                        linewidth=0, label="chance (95% band)")
        ax.plot(grid, grid, color="black", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel("false positive rate (log scale)")
        ax.set_ylabel("true positive rate")
        ax.legend(loc="lower right", fontsize=7)
        return _png(fig)


def auc_by_samples(points: list[dict], band: list[float]) -> bytes:
    """Sample-only AUC against the number of samples published, with its 95% intervals and chance band."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        n = [p["n_samples"] for p in points]
        a = np.array([p["auc"] for p in points])
        lo = np.array([p["auc_ci95"][0] for p in points])
        hi = np.array([p["auc_ci95"][1] for p in points])
        ax.errorbar(n, a, yerr=[a - lo, hi - a], marker="o", color=COLOURS["samples"], capsize=3, label="nearest-sample AUC")
        ax.axhspan(band[0], band[1], color=COLOURS["null"], alpha=0.25, label="chance (95% band)")
        ax.set_xscale("log")
        ax.set_xlabel("samples published (first n by seed)")
        ax.set_ylabel("AUC, members vs held-out")
        ax.legend(loc="lower right")
        return _png(fig)


def pair_grid(samples_u8: np.ndarray, members_u8: np.ndarray | None, similarity: list[float], member_note: str = "") -> bytes:
    """Most similar sample/member pairs side by side, similarity under each pair; members_u8 None: samples only."""
    n = len(samples_u8)
    cols = min(8, max(n, 1))
    rows = max(1, -(-n // cols))
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols, 0.9 * rows + 0.3), squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.axis("off")
            if k >= n:
                continue
            pair = samples_u8[k] if members_u8 is None else np.concatenate(
                [samples_u8[k], np.full_like(samples_u8[k][:, :1], 255), members_u8[k]], axis=1)
            ax.imshow(pair[..., 0] if pair.shape[-1] == 1 else pair, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"{similarity[k]:.3f}", fontsize=7)
        fig.suptitle("sample, similarity to its nearest member above (member images withheld)" if members_u8 is None
                     else f"sample (left) | nearest member (right){member_note}, similarity above", fontsize=8)
        return _png(fig)


def frontier(points: list[dict], best: dict | None) -> bytes:
    """Privacy/quality frontier of a protection sweep: replica rate and MIA AUC against FID."""
    with plt.rc_context({**STYLE, "figure.figsize": (8.0, 3.4)}):
        fig, (a, b) = plt.subplots(1, 2)
        for ax, key, label in ((a, "replica_rate", "replica rate"), (b, "mia_auc", "MIA AUC (attacker's best)")):
            for p in points:
                unprot = p["scale"] == 0
                ax.scatter(p["fid"], p[key] if p[key] is not None else np.nan, s=30,
                           color="black" if unprot else plt.cm.viridis(min(p["alpha"] / 0.5, 1.0)),
                           marker="s" if unprot else "o")
                ax.annotate("none" if unprot else f"{p['alpha']:g}/{p['scale']:g}", (p["fid"], p[key] or 0), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
            if best is not None:
                ax.scatter(best["fid"], best[key], s=120, facecolors="none", edgecolors=COLOURS["protected"], linewidths=2)
            ax.set_xlabel("FID (lower is better)")
            ax.set_ylabel(label)
        a.set_title("labels: alpha/scale; circled: chosen", fontsize=8)
        return _png(fig)
