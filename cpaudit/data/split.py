"""Member/holdout split, deterministic from a seed, and its split.json manifest.

split.json names exactly which images were members (id + sha256), so a later audit can check it is
looking at the same data and the same members.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.seeding import derive_seed


@dataclass(frozen=True)
class Split:
    seed: int
    member_idx: np.ndarray
    holdout_idx: np.ndarray


def make_split(data: ImageSet, *, members: int | None, seed: int, holdout: int | None = None) -> Split:
    """Members: `members` images drawn by the seed (all images if None); holdout: the rest (or `holdout` of them)."""
    n = len(data)
    m = n if members is None else members
    if not 1 <= m <= n:
        raise InputError("--members", f"must be between 1 and {n} (the number of images in {data.source}), got {m}")
    order = np.random.default_rng(derive_seed(seed, "split")).permutation(n)
    rest = order[m:]
    if holdout is not None:
        if not 0 <= holdout <= len(rest):
            raise InputError("--holdout", f"must be between 0 and {len(rest)}, got {holdout}")
        rest = rest[:holdout]
    return Split(seed, np.sort(order[:m]), np.sort(rest))


def split_manifest(data: ImageSet, split: Split) -> dict:
    def row(i: int) -> dict:
        r = {"id": data.ids[i], "sha256": data.hashes[i]}
        if data.captions is not None:  # captions and classes travel with the split (prompted extraction reads them)
            r["caption"] = data.captions[i]
        if data.labels is not None:
            r["label"] = int(data.labels[i])
        return r

    def rows(idx: np.ndarray) -> list[dict]:
        return [row(int(i)) for i in idx]

    return {
        "data": data.source,
        "fingerprint": data.fingerprint(),
        "image_shape": list(data.shape),
        "seed": split.seed,
        "members": rows(split.member_idx),
        "holdout": rows(split.holdout_idx),
    }


def write_split(path: Path, data: ImageSet, split: Split) -> None:
    write_json(path, split_manifest(data, split))


def read_split(path: Path, data: ImageSet) -> Split:
    """Re-create a split from split.json against `data`, checking every id and image hash."""
    try:
        manifest = json.loads(Path(path).read_text())
        members, holdout, seed = manifest["members"], manifest["holdout"], int(manifest["seed"])
        member_ids = [(r["id"], r["sha256"]) for r in members]
        holdout_ids = [(r["id"], r["sha256"]) for r in holdout]
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON ({e})") from None
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(path, f"not a cpaudit split.json (missing or wrong field: {e})") from None
    index = {i: k for k, i in enumerate(data.ids)}

    def resolve(rows: list[tuple[str, str]], role: str) -> np.ndarray:
        out = []
        for image_id, digest in rows:
            k = index.get(image_id)
            if k is None:
                raise InputError(path, f"{role} image {image_id!r} is not in {data.source}")
            if data.hashes[k] != digest:
                raise InputError(path, f"{role} image {image_id!r} differs from the one in {data.source} (sha256 mismatch)")
            out.append(k)
        return np.array(out, dtype=np.int64)

    if not member_ids:
        raise InputError(path, "has no members")
    return Split(seed, resolve(member_ids, "member"), resolve(holdout_ids, "holdout"))
