"""`cpaudit tune --reference DIR`: the reference model on the frontier (issue 39).

The reference is the audited model's architecture trained the same way on disjoint images of the same source
(`train-diffusion --reference-for`), so its samples are private for the audited members by construction: its
FID is what quality costs without memorising them, and its sample-only AUC and replica rate are what chance
looks like at these sizes. It is drawn with the unprotected settings on the tuning and the evaluation seeds.

Its members must be none of the audited members, and they leave the held-out set of every point: a held-out
image the reference trained on would look like a member to an attack on the reference's samples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.data.members import require_model_shape
from cpaudit.data.reference import rows_trained_by_reference
from cpaudit.data.split import Split, read_manifest
from cpaudit.errors import InputError
from cpaudit.models.load import LoadedModel, load_model, require_pixel_unconditional
from cpaudit.sampling.defences import Setting

REFERENCE = "reference model (trained on disjoint images)"
REFERENCE_MODEL_KEY = "reference"  # the key of the reference in the sweep's models


@dataclass(frozen=True)
class ReferenceModel:
    model: LoadedModel
    info: dict  # what tune.json records of it under settings.reference


def reference_setting() -> Setting:
    """The reference model drawn as the unprotected point is: no guidance, no rejection."""
    return Setting(REFERENCE, "unprotected settings", model=REFERENCE_MODEL_KEY)


def load_reference(folder: Path, data: ImageSet, split: Split) -> tuple[ReferenceModel, Split]:
    """The reference model, and the audited split with the reference's members taken out of its held-out set;
    one line of bad input where the reference trained on any audited member."""
    ref = load_model(folder)
    require_pixel_unconditional(ref, "tune --reference")
    require_model_shape(data, ref.image_shape, folder)
    if not (Path(folder) / "split.json").is_file():  # whether it is disjoint can only be read from its record
        raise InputError(
            "--reference",
            f"{folder} records no training images (no split.json): train it with `cpaudit train-diffusion "
            "--reference-for MODEL`, or write its split.json with `cpaudit split --members DIR --holdout DIR`",
        )
    manifest = read_manifest(Path(folder) / "split.json")
    trained = rows_trained_by_reference(folder, data, same_source=manifest.get("fingerprint") == data.fingerprint())
    overlap = int(trained[split.member_idx].sum())
    if overlap:
        raise InputError(
            "--reference",
            f"{folder} trained on {overlap} of the audited members; a reference must train on disjoint images "
            "(train-diffusion --reference-for MODEL draws them)",
        )
    keep = ~trained[split.holdout_idx]
    info = {
        "model": str(folder),
        "n_members": len(manifest["members"]),
        "members_disjoint": True,
        "holdout_removed": int((~keep).sum()),
        "n_holdout_before": len(split.holdout_idx),
        "reference_for": manifest.get("reference_for"),
    }
    return ReferenceModel(ref, info), replace(split, holdout_idx=np.asarray(split.holdout_idx)[keep])


def with_reference_ratios(record: dict) -> dict:
    """Every point's FID as a multiple of the reference's on the same seeds (`fid_x_reference`), where the sweep
    drew a reference; the record is returned, its points updated in place."""
    ref = record.get("reference")
    if not ref:
        return record
    for part in ("tuning", "evaluation"):
        base = ref[part]["fid"]
        for p in [*record[part], ref[part]]:
            p["fid_x_reference"] = p["fid"] / base if base > 0 else None
    return record
