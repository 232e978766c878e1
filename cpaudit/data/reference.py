"""The reference model's training images: as many as the audited model's members, drawn from the same source,
none of them its members (issue 39).

A model trained the same way on disjoint images of the same source is private for the audited members by
construction, so its samples are the yardstick a defence is read against: quality as a ratio to its FID, leakage
against its chance-level figures (the "reference model" of Carlini et al. 2023, "Extracting training data from
diffusion models", Sec. 5, and of the sample-only audits that compare against a model not trained on the target).

The draw prefers images the audited model neither trained on nor held out; where its held-out set leaves too few
(a pixel model holds out every other image), the reference's members come from its held-out images, and
split.json's `reference_for` says which, so the audit can remove them from the held-out set it compares against.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.data.split import Split, read_manifest, read_split, split_manifest
from cpaudit.errors import InputError
from cpaudit.io_utils import read_json, write_json
from cpaudit.seeding import derive_seed

UNRECORDED = "train the reference yourself on images disjoint from the members and give its folder to --reference"
RECORDS = {"config.json": "pixel", "cpaudit.json": "text"}  # the file a cpaudit model records its training in
OUTSIDE = "images neither members nor held-out"
FROM_HOLDOUT = "the model's held-out images (its held-out set leaves no others)"


@dataclass(frozen=True)
class ReferenceDraw:
    """The reference's split, the audited model's members (never the reference's training images, not even its
    autoencoder's) and split.json's `reference_for` record."""

    split: Split
    model_members: np.ndarray
    reference_for: dict


def training_record(model: Path) -> tuple[str, dict]:
    """('pixel' or 'text', the recorded training config) of a cpaudit-trained model folder, or one line of bad
    input: a folder without one (a user's own fine-tune) cannot be retrained here."""
    folder = Path(model)
    for name, kind in RECORDS.items():
        path = folder / name
        if path.is_file():
            record = read_json(path)
            wanted = "cpaudit-diffusion" if kind == "pixel" else "cpaudit-text-diffusion"
            if not isinstance(record, dict):
                continue
            if record.get("kind") == wanted and record.get("data"):
                if not (folder / "split.json").is_file():
                    raise InputError(folder / "split.json", "no such file: the reference needs the model's members")
                return kind, record
            if str(record.get("kind", "")).startswith("cpaudit-"):
                raise InputError(path, f"a {record['kind']} folder: --reference-for trains pixel and --text models")
    raise InputError(folder, f"records no cpaudit training config; {UNRECORDED}")


def check_same_data(model: Path, record: dict, data: ImageSet) -> None:
    """The data the model's record names must still be the images it was trained on."""
    if record.get("data_fingerprint") not in (None, data.fingerprint()):
        raise InputError(record["data"], f"differs from the data {model} was trained on (fingerprint changed)")


def draw_reference(model: Path, data: ImageSet, seed: int) -> ReferenceDraw:
    """The reference's members (as many as the model's), drawn by `seed` from the images that are neither the
    model's members nor its held-out ones, or from its held-out ones where those are too few.

    Held-out images of the reference: the model's (those outside the reference's members), so both models are
    compared against the same images wherever the source allows."""
    split_path = Path(model) / "split.json"
    model_split = read_split(split_path, data, read_manifest(split_path))
    m = len(model_split.member_idx)
    used = np.zeros(len(data), dtype=bool)
    used[model_split.member_idx] = used[model_split.holdout_idx] = True
    outside = np.flatnonzero(~used)
    pool, source = (outside, OUTSIDE) if len(outside) >= m else (model_split.holdout_idx, FROM_HOLDOUT)
    if len(pool) < m:
        raise InputError(data.source, f"has {len(pool)} images outside {model}'s members; the reference needs {m}")
    members = np.sort(np.random.default_rng(derive_seed(seed, "reference-split")).choice(pool, m, replace=False))
    holdout = np.setdiff1d(model_split.holdout_idx, members)
    record = {
        "model": str(model),
        "split_sha256": hashlib.sha256(split_path.read_bytes()).hexdigest(),
        "drawn_from": source,
        "n_model_members": m,
    }
    return ReferenceDraw(Split(seed, members, holdout, design="fixed"), model_split.member_idx, record)


def write_reference_split(path: Path, data: ImageSet, draw: ReferenceDraw) -> None:
    """split.json of a reference model: its members and held-out images, and which model it is the reference for."""
    write_json(path, {**split_manifest(data, draw.split), "reference_for": draw.reference_for})


def reference_member_hashes(folder: Path) -> tuple[set[str], set[str]]:
    """(ids, sha256s) of the members a reference model folder's split.json names."""
    path = Path(folder) / "split.json"
    rows = read_manifest(path)["members"]
    ids = {str(r["id"]) if isinstance(r, dict) else str(r) for r in rows}
    digests = {str(r["sha256"]).lower() for r in rows if isinstance(r, dict) and r.get("sha256")}
    return ids, digests


def rows_trained_by_reference(folder: Path, data: ImageSet, same_source: bool) -> np.ndarray:
    """Boolean mask over `data`: the images the reference trained on, matched by pixel hash (and by id where the
    reference was drawn from the same source), so an image it saw is known whatever it is called."""
    ids, digests = reference_member_hashes(folder)
    by_hash = np.array([h in digests for h in data.hashes], dtype=bool)
    if not same_source:
        return by_hash
    return by_hash | np.array([i in ids for i in data.ids], dtype=bool)
