"""Member/holdout split, deterministic from a seed, and its split.json manifest.

split.json names exactly which images were members (id + sha256), so a later audit can check it is
looking at the same data and the same members. A row's sha256 is that of the decoded pixels (what cpaudit
writes) or that of the file (what `sha256sum` prints); a row may leave it out. A split of two sources
(`cpaudit split --members A --holdout B`) records them, so `audit --split split.json` needs no --data.

Its `design` says how membership was drawn, which the one-run epsilon bound's guarantee depends on
(core/one_run.py): "poisson", each image of a seeded pool a member by its own fair coin (Steinke, Nasr &
Jagielski's assumption); "fixed", exactly `members` images drawn without replacement; "user", the user's own
record (folders, a listing), drawn by no coin cpaudit knows. A split.json without the key: "fixed" where cpaudit
drew it (it has a seed), else "user".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.errors import InputError
from cpaudit.io_utils import read_json, write_json
from cpaudit.seeding import derive_seed

SplitDesign = Literal["poisson", "fixed", "user"]
DESIGNS: tuple[str, ...] = ("poisson", "fixed", "user")
DRAWN_DESIGNS: tuple[str, ...] = ("poisson", "fixed")  # what cpaudit draws (train-diffusion, `cpaudit split --design`)


@dataclass(frozen=True)
class Split:
    seed: int | None  # None: the user's own split (a folder pair or a listing), not drawn by cpaudit
    member_idx: np.ndarray
    holdout_idx: np.ndarray
    # The two sources of a folder pair, and the --resize they were read with: enough to load the data again.
    sources: dict | None = None
    design: SplitDesign | None = None  # None: "user" without a seed, else "fixed" (what cpaudit drew before the key)

    def __post_init__(self) -> None:
        design = self.design if self.design is not None else ("user" if self.seed is None else "fixed")
        if design not in DESIGNS:
            raise ValueError(f"split design must be one of {', '.join(DESIGNS)}, got {design!r}")
        object.__setattr__(self, "design", design)


def make_split(
    data: ImageSet, *, members: int | None, seed: int, holdout: int | None = None, design: SplitDesign = "fixed"
) -> Split:
    """design "fixed": members, `members` images drawn by the seed (all images if None); holdout, the rest (or
    `holdout` of them). design "poisson": a pool of 2 * `members` images drawn by the seed (all if None), each
    a member by an independent fair coin, the others held out; `members` is then the expected count."""
    if design == "poisson":
        return _poisson_split(data, members, seed, holdout)
    if design != "fixed":
        raise InputError("--split-design", f"must be poisson or fixed, got {design!r}")
    n = len(data)
    m = n if members is None else members
    if not 1 <= m <= n:
        raise InputError("--n-members", f"must be between 1 and {n} (the number of images in {data.source}), got {m}")
    order = np.random.default_rng(derive_seed(seed, "split")).permutation(n)
    rest = order[m:]
    if holdout is not None:
        if not 0 <= holdout <= len(rest):
            raise InputError("--n-holdout", f"must be between 0 and {len(rest)}, got {holdout}")
        rest = rest[:holdout]
    return Split(seed, np.sort(order[:m]), np.sort(rest), design="fixed")


def _poisson_split(data: ImageSet, members: int | None, seed: int, holdout: int | None) -> Split:
    """Independent fair coins over a seeded pool (the pool is drawn before, and apart from, the coins)."""
    n = len(data)
    pool = n if members is None else 2 * members
    if holdout is not None:
        raise InputError("--n-holdout", "a poisson split holds out its pool's non-members: give no --n-holdout")
    if not 2 <= pool <= n:
        raise InputError(
            "--n-members",
            f"a poisson split draws a pool of 2 x --n-members images: need 1 to {n // 2} "
            f"(half the {n} images in {data.source}), got {members}",
        )
    order = np.random.default_rng(derive_seed(seed, "split")).permutation(n)[:pool]
    coins = np.random.default_rng(derive_seed(seed, "split-coins")).random(pool) < 0.5
    if coins.all() or not coins.any():
        raise InputError(
            "--n-members", f"the {pool} coins made {int(coins.sum())} members: draw again with another --seed"
        )
    return Split(seed, np.sort(order[coins]), np.sort(order[~coins]), design="poisson")


def split_manifest(data: ImageSet, split: Split) -> dict:
    def row(i: int) -> dict:
        r: dict = {"id": data.ids[i], "sha256": data.hashes[i]}
        if data.captions is not None:  # captions and classes travel with the split (prompted extraction reads them)
            r["caption"] = data.captions[i]
        if data.labels is not None:
            r["label"] = int(data.labels[i])
        return r

    def rows(idx: np.ndarray) -> list[dict]:
        return [row(int(i)) for i in idx]

    manifest: dict = {
        "data": data.source,
        "fingerprint": data.fingerprint(),
        "image_shape": list(data.shape),
        "seed": split.seed,
        "design": split.design,
        "members": rows(split.member_idx),
        "holdout": rows(split.holdout_idx),
    }
    if split.sources is not None:
        manifest["sources"] = split.sources
    return manifest


def write_split(path: Path, data: ImageSet, split: Split) -> None:
    write_json(path, split_manifest(data, split))


def read_manifest(path: Path) -> dict:
    """split.json as a dict, or one line of bad input naming the file."""
    manifest = read_json(path)
    if (
        not isinstance(manifest, dict)
        or not isinstance(manifest.get("members"), list)
        or not isinstance(manifest.get("holdout"), list)
    ):
        raise InputError(path, "not a split.json (expected an object with 'members' and 'holdout' lists)")
    return manifest


def read_split(path: Path, data: ImageSet, manifest: dict | None = None) -> Split:
    """Re-create a split from split.json (`manifest`, where it was read already) against `data`, checking
    every id and, where given, image hash."""
    manifest = manifest if manifest is not None else read_manifest(path)
    try:
        seed = None if manifest.get("seed") is None else int(manifest["seed"])
        design = manifest.get("design")
        if design is not None and design not in DESIGNS:
            raise ValueError(f"design {design!r} is not one of {', '.join(DESIGNS)}")
        member_rows = [_row(r) for r in manifest["members"]]
        holdout_rows = [_row(r) for r in manifest["holdout"]]
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(path, f"not a cpaudit split.json (missing or wrong field: {e})") from None
    index = {i: k for k, i in enumerate(data.ids)}

    def resolve(rows: list[tuple[str, str | None]], role: str) -> np.ndarray:
        out = []
        for image_id, digest in rows:
            k = index.get(image_id)
            if k is None:
                raise InputError(path, f"{role} image {image_id!r} is not in {data.source}")
            # The file is read only where the pixels' hash is not the one given.
            if digest is not None and digest.lower() != data.hashes[k] and digest.lower() != data.file_sha256(k):
                raise InputError(
                    path,
                    f"{role} image {image_id!r} differs from the one in {data.source} (its sha256 is "
                    "neither that of the file nor that of its pixels)",
                )
            out.append(k)
        return np.array(out, dtype=np.int64)

    if not member_rows:
        raise InputError(path, "has no members")
    members, holdout = resolve(member_rows, "member"), resolve(holdout_rows, "holdout")
    both = np.intersect1d(members, holdout)
    if len(both):
        raise InputError(path, f"names {data.ids[int(both[0])]!r} both as a member and as held out")
    return Split(seed, members, holdout, manifest.get("sources"), design)


def _row(r: dict | str) -> tuple[str, str | None]:
    """A split.json row: {"id": ..., "sha256": ...} (sha256 optional), or just the id."""
    if isinstance(r, str):
        return r, None
    digest = r.get("sha256")
    if digest is not None and not isinstance(digest, str):
        raise TypeError(f"sha256 of {r['id']!r} is not a string")
    return str(r["id"]), digest
