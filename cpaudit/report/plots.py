"""Figures for the audit report (matplotlib, Agg backend), each returned as PNG bytes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cpaudit.core.stats import roc_curve  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "figure.figsize": (6.0, 3.6),
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 9,
}
COLOURS = {"samples": "#c0392b", "holdout": "#2c7fb8", "plain": "#c0392b", "protected": "#1b9e77", "null": "#7f7f7f"}


def _png(fig: plt.Figure, rect: tuple[float, float, float, float] | None = None) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout(rect=rect)
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def similarity_histogram(sample_sim: np.ndarray, holdout_sim: np.ndarray, threshold: float, features: str) -> bytes:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        bins = np.linspace(min(sample_sim.min(initial=1), holdout_sim.min()), 1.0, 50).tolist()
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
        ax.fill_between(
            grid,
            np.clip(grid - half, 0, 1),
            np.clip(grid + half, 0, 1),
            color=COLOURS["null"],
            alpha=0.25,
            linewidth=0,
            label="chance (95% band)",
        )
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
        ax.errorbar(
            n, a, yerr=[a - lo, hi - a], marker="o", color=COLOURS["samples"], capsize=3, label="nearest-sample AUC"
        )
        ax.axhspan(band[0], band[1], color=COLOURS["null"], alpha=0.25, label="chance (95% band)")
        ax.set_xscale("log")
        ax.set_xlabel("samples published (first n by seed)")
        ax.set_ylabel("AUC, members vs held-out")
        ax.legend(loc="lower right")
        return _png(fig)


def auc_by_seeds(points: list[dict]) -> bytes:
    """Prompted-extraction AUC (descriptive) against the samples drawn per caption."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        ax.plot([p["per_caption"] for p in points], [p["auc"] for p in points], marker="o", color=COLOURS["samples"])
        ax.axhline(0.5, color="black", linestyle=":", linewidth=1)
        ax.set_xlabel("samples per caption")
        ax.set_ylabel("AUC, training vs held-out captions")
        ax.set_ylim(0, 1.02)
        return _png(fig)


def pair_grid(
    samples_u8: np.ndarray,
    members_u8: np.ndarray | None,
    similarity: list[float],
    member_note: str = "",
    right: str = "nearest member",
) -> bytes:
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
            pair = (
                samples_u8[k]
                if members_u8 is None
                else np.concatenate([samples_u8[k], np.full_like(samples_u8[k][:, :1], 255), members_u8[k]], axis=1)
            )
            ax.imshow(
                pair[..., 0] if pair.shape[-1] == 1 else pair, cmap="gray", vmin=0, vmax=255, interpolation="nearest"
            )
            ax.set_title(f"{similarity[k]:.3f}", fontsize=7)
        fig.suptitle(
            f"sample, similarity to its {right} above (member images withheld)"
            if members_u8 is None
            else f"sample (left) | {right} (right){member_note}, similarity above",
            fontsize=8,
        )
        return _png(fig)


def frontier(
    points: list[dict], fid_limit: float, goal_auc: float | None = None, reference: dict | None = None
) -> bytes:
    """Every defence on one privacy/quality frontier: replica rate, sample-only AUC (with the chance band)
    and epsilon lower bound against FID; one colour a defence, its points joined in order of FID; the
    reference model (trained on disjoint images), where given, as a labelled star."""
    panels = (
        ("replica_rate", "replica rate"),
        ("sample_only_auc", "sample-only AUC"),
        ("epsilon_lb", "epsilon lower bound"),
    )
    families = list(dict.fromkeys(p["defence"] for p in points))
    cmap = plt.get_cmap("tab20")
    markers = "osD^v<>pXh*P8"
    with plt.rc_context({**STYLE, "figure.figsize": (12.0, 4.2)}):
        fig, axes = plt.subplots(1, 3)
        for k, fam in enumerate(families):
            pts = sorted((p for p in points if p["defence"] == fam), key=lambda p: p["fid"])
            colour = "black" if fam == "none" else cmap(k % 20)
            for ax, (key, _) in zip(axes, panels):
                ax.plot(
                    [p["fid"] for p in pts],
                    [p[key] for p in pts],
                    marker=markers[k % len(markers)],
                    color=colour,
                    linewidth=1,
                    markersize=5,
                    label=fam if ax is axes[0] else None,
                )
                chosen = [p for p in pts if p.get("budget_choice")]
                ax.scatter(
                    [p["fid"] for p in chosen],
                    [p[key] for p in chosen],
                    s=110,
                    facecolors="none",
                    edgecolors=colour,
                    linewidths=1.5,
                )
        if reference is not None:
            _reference_star(axes, [key for key, _ in panels], reference)
        band = points[0].get("sample_only_chance_band95")
        if band:
            axes[1].axhspan(band[0], band[1], color=COLOURS["null"], alpha=0.15, label="chance band (95%)")
        if goal_auc is not None:
            axes[1].axhline(goal_auc, color="black", linestyle=":", linewidth=1, label=f"goal AUC {goal_auc:g}")
        for ax, (_, label) in zip(axes, panels):
            ax.axvline(fid_limit, color="black", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            top = max(p["fid"] for p in points + ([reference] if reference else []))
            ax.set_xticks([t for t in (1, 2, 5, 10, 20, 50, 100, 200) if t <= 2 * top])
            ax.set_xlabel("pixel FID (log; dashed: the budget)")
            ax.set_ylabel(label)
        axes[1].legend(fontsize=6, loc="upper right")
        fig.legend(fontsize=6, loc="lower center", ncol=min(len(families), 5), bbox_to_anchor=(0.5, 0.0))
        return _png(fig, rect=(0, 0.12, 1, 1))


def _reference_star(axes, keys: list[str], reference: dict) -> None:
    """The reference model's point on each panel: a large star, labelled, so no defence's colour is mistaken for it."""
    for ax, key in zip(axes, keys):
        ax.scatter(
            [reference["fid"]],
            [reference[key]],
            marker="*",
            s=160,
            color="#b8860b",
            edgecolors="black",
            linewidths=0.6,
            zorder=5,
            label="reference model (trained on disjoint images)" if ax is axes[0] else None,
        )
        ax.annotate(
            "reference", (reference["fid"], reference[key]), textcoords="offset points", xytext=(6, 4), fontsize=6
        )


# How a run's result is drawn in the comparison picture: marker shape and colour both say it, and the legend names it.
RESULT_MARKERS = {
    "passed": ("o", "#1b7a5c", "passed its gates"),
    "failed": ("X", "#c0392b", "failed a gate"),
    "not gated": ("s", "#777777", "no gate set"),
}


def privacy_quality(points: list[dict], ylabel: str) -> bytes:
    """Each run as a labelled point: quality across (FID as a ratio to the first run's, log scale) against privacy
    up (its release's strongest attack); points: {"label", "result", "fid_ratio", "auc"}, where the label may
    carry a second privacy figure. Labels of nearby points are stacked so that none covers another."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 4.4))
        placed: list[tuple[float, float]] = []
        ratios = [p["fid_ratio"] for p in points if p["auc"] is not None and p["fid_ratio"]]
        # A label reads leftwards from points in the right half of the axis, so that none runs off the figure.
        middle = float(np.sqrt(min(ratios) * max(ratios))) if ratios else 1.0
        for result, (marker, colour, words) in RESULT_MARKERS.items():
            drawn = [p for p in points if p["result"] == result and p["auc"] is not None and p["fid_ratio"]]
            if drawn:
                xs, ys = [p["fid_ratio"] for p in drawn], [p["auc"] for p in drawn]
                ax.scatter(xs, ys, marker=marker, s=70, color=colour, label=words, zorder=3)
            for p in drawn:
                near = sum(abs(np.log(x / p["fid_ratio"])) < 0.25 and abs(y - p["auc"]) < 0.04 for x, y in placed)
                placed.append((p["fid_ratio"], p["auc"]))
                left = p["fid_ratio"] > middle
                ax.annotate(
                    p["label"],
                    (p["fid_ratio"], p["auc"]),
                    textcoords="offset points",
                    xytext=(-6 if left else 6, 3 - 10 * near),
                    ha="right" if left else "left",
                    fontsize=8,
                )
        ax.set_xscale("log")
        ratio = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x")
        ax.xaxis.set_major_formatter(ratio)
        ax.xaxis.set_minor_formatter(  # 2x, 3x, 5x between the decades: enough to read a ratio, never crowded
            matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x" if f"{v:g}".lstrip("0.")[:1] in "235" else "")
        )
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel("quality: FID / first run's FID (log scale; lower is better)")
        ax.set_ylabel(ylabel)
        ax.axhline(0.5, color="black", linestyle=":", linewidth=1)
        # Below the axes, where it covers no point or label.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
        return _png(fig)
