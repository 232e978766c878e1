"""The report's quality section: FID and KID, and beside them the figures FID cannot give (a model that copies
its training images gets a good FID): k-NN precision and recall, and authenticity (auditing/fidelity.py), on
the audit's embedding and on images average-pooled to 8x8 (the pixel FID of the README's tables)."""

from __future__ import annotations

import math

from cpaudit.report.document import Item, Para, Section, Table
from cpaudit.report.numbers import num

# What each figure answers, in one line (Kynkaanniemi et al. 2019; Alaa et al. 2022).
FIDELITY_MEANINGS = {
    "precision": "share of samples inside the held-out images' manifold (each image's ball reaches its k-th "
    "nearest other image): are the samples realistic?",
    "recall": "share of held-out images inside the samples' manifold: do the samples cover the population?",
    "authenticity": "share of samples not closer to a training image than that image's nearest other training "
    "image; copying lowers it",
}


def share(value: float | None, ci95: list | None) -> str:
    """'91.2% (95% Wilson 89.0-93.1%)'; n/a where the figure could not be computed (too few images)."""
    if value is None or math.isnan(value):
        return "n/a (too few images)"
    text = f"{100 * value:.1f}%"
    return text if not ci95 else f"{text} (95% Wilson {100 * ci95[0]:.1f}-{100 * ci95[1]:.1f}%)"


def fidelity_rows(block: dict) -> list[list[str]]:
    """precision, recall and authenticity of one block, each with its interval and what it answers."""
    return [
        [name, share(block.get(name), block.get(name + "_ci95")), FIDELITY_MEANINGS[name]] for name in FIDELITY_MEANINGS
    ]


def fidelity_items(quality: dict) -> list[Item]:
    """The audit's own precision, recall and authenticity, with the sets each compares."""
    if "precision" not in quality:
        return []  # a results.json from before issue 39
    return [
        Table(["figure", "value", "what it answers"], fidelity_rows(quality)),
        Para(
            f"Precision and recall (Kynkaanniemi et al. 2019, k = {quality.get('k')}) compare the samples with "
            f"{quality.get('n_reference')} held-out images, authenticity (Alaa et al. 2022) with "
            f"{quality.get('n_members')} {quality.get('authenticity_reference') or 'members'}, on the "
            f"{quality['features']} embedding. FID against held-out images rewards a model that returns its "
            "training images; authenticity does not."
        ),
    ]


def pooled_items(block: dict | None) -> list[Item]:
    """The same figures on images average-pooled to 8x8: the pixel FID the README's text-to-image tables use."""
    if not block:
        return []
    rows = [["FID", num(block.get("fid")), "Frechet distance of Gaussians fitted to the pooled pixels"]]
    items: list[Item] = [
        Para(
            f"On {block['features']} ({block['feature_dim']} dimensions), the pixel FID of the README's "
            "text-to-image tables:"
        ),
        Table(["figure", "value", "what it answers"], rows + fidelity_rows(block)),
    ]
    if block.get("warning"):
        items.append(Para("Warning: " + block["warning"] + "."))
    return items


def quality_section(quality: dict) -> Section:
    """FID and KID, with the embedding and reference they hold only for; then precision, recall and
    authenticity on that embedding, and the pooled-pixel block where the audit recorded one."""
    items: list[Item] = [
        Table(
            ["embedding", "FID", "KID", "samples", "held-out reference"],
            [
                [
                    quality["features"],
                    num(quality["fid"]),
                    f"{quality['kid']:.4f}",
                    str(quality.get("n_samples")),
                    str(quality.get("n_reference")),
                ]
            ],
        ),
        Para(
            f"FID and KID are computed on the {quality['features']} embedding against "
            f"{quality.get('reference') or 'held-out images'}, so they compare only with figures on the same embedding "
            "and reference size."
        ),
    ]
    if quality.get("warning"):
        items.append(Para("Warning: " + quality["warning"] + "."))
    items += fidelity_items(quality)
    items += pooled_items(quality.get("pooled_pixels_8x8"))
    return Section("Quality", items)
