"""Which images were trained on: the user's word, from a split.json or a pair of sources, or what a cpaudit model
records; never guessed. `model_members` is the one resolver every command asks about a model's members."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.pair import HOLDOUT, MEMBERS, load_pair
from cpaudit.data.split import Split, read_manifest, read_split
from cpaudit.errors import InputError

NO_MEMBERSHIP = (
    "which images were trained on? give --split split.json, or --members DIR|FILE --holdout DIR|FILE "
    "(cpaudit never guesses membership)"
)
# How to write a split.json from the user's folders: the command every refusal for want of members prints.
SPLIT_HINT = "`cpaudit split --members DIR --holdout DIR --out split.json` writes one from your folders"

# What each way of naming the members means, as every command's --help says it (declared once, here).
MEMBERSHIP_HELP = {
    "split": "The split.json naming the members and held-out images (`cpaudit split` writes "
    "one), for a model trained elsewhere [default: the members a cpaudit model records].",
    "data": "With --split: the images it names, where it names no data.",
    "members": "Instead of --split: the training images (a folder, an .npz or a metadata.jsonl listing); give "
    "--holdout too.",
    "holdout": "With --members: images of the same kind the model never saw.",
    "resize": "With --members/--holdout: read the images at this size (the model's), e.g. 512x512.",
}


def no_members(folder: Path | str) -> str:
    """The refusal for a model that records no members and was given none (one line, with what to give)."""
    return (
        f"{folder} records no training data (a model trained elsewhere): name the images it was trained on with "
        f"--split split.json, or --members DIR --holdout DIR (cpaudit never guesses membership; {SPLIT_HINT})"
    )


@dataclass(frozen=True)
class MemberSource:
    """Which images a model was trained on, as the commands take it: a split.json (with DATA where the split
    names none), or the members and held-out images as two sources (folders, .npz files, metadata.jsonl
    listings). Neither given: the members the model folder records (cpaudit's own models)."""

    data: str | None = None
    split: Path | None = None
    members: str | Path | ImageSet | None = None  # ImageSet: images in memory (the Python API)
    holdout: str | Path | ImageSet | None = None
    resize: tuple[int, int] | None = None

    @property
    def given(self) -> bool:
        return self.split is not None or self.members is not None or self.holdout is not None

    def to_dict(self) -> dict:
        """What run.json records of it (the given ones)."""
        named = {k: getattr(self, k) for k in ("data", "split", "members", "holdout") if getattr(self, k) is not None}
        out = {k: v.source if isinstance(v, ImageSet) else str(v) for k, v in named.items()}
        return {**out, **({"resize": list(self.resize)} if self.resize is not None else {})}


# Or a split.json's path, or the images and split already loaded (the audit has them).
Membership = MemberSource | str | Path | tuple[ImageSet, Split] | None


def as_member_source(source: Membership) -> MemberSource | tuple[ImageSet, Split]:
    """Every form a caller may hold membership in, as the one form `model_members` reads: a split.json's path
    becomes MemberSource(split=path), nothing becomes "the model's own" (MemberSource())."""
    if isinstance(source, (str, Path)):
        return MemberSource(split=Path(source))
    return source if source is not None else MemberSource()


def membership_names(source: Membership, fallback: str | Path) -> str:
    """What a refusal about the members names: the user's split.json or members source, else `fallback` (the
    data, or the model folder's split.json)."""
    source = as_member_source(source)
    if isinstance(source, MemberSource) and source.given:
        return str(source.split or source.members or source.holdout)
    return str(fallback)


def membership_given(source: Membership) -> bool:
    """The user named the members (a split or a pair of sources), rather than leaving the model's own."""
    source = as_member_source(source)
    return isinstance(source, MemberSource) and source.given


def model_members(
    folder: Path | str | None, config: dict | None = None, source: Membership = None
) -> tuple[ImageSet, Split]:
    """The one answer to "which images was this model trained on", for every command: the user's word where
    given (`source`: a split.json or its path, a pair of sources, or images already loaded); else the members a
    cpaudit model records (its config's data, checked by fingerprint, and the folder's split.json); else a
    split.json in the model folder, with the data it names (no config at hand, or one put there beside a model
    trained elsewhere). A model trained elsewhere given none, or no model (`folder` None) and no members, is
    refused in one line."""
    source = as_member_source(source)
    if isinstance(source, tuple):
        return source
    if source.given:
        return resolve_membership(
            data=source.data, split=source.split, members=source.members, holdout=source.holdout, resize=source.resize
        )
    if folder is None:
        raise InputError("--split", NO_MEMBERSHIP)
    folder = Path(folder)
    if config is not None and config.get("data_fingerprint") is not None:
        return data_and_split_of(folder, config, source.data)
    if (folder / "split.json").is_file():
        return resolve_membership(data=source.data, split=folder / "split.json", resize=source.resize)
    raise InputError("--split", no_members(folder))


def require_model_shape(data: ImageSet, image_shape: tuple[int, int, int], where: str | Path) -> None:
    """The members must be images of the model's shape (C, H, W); one line naming --resize where it helps."""
    shape = tuple(int(x) for x in image_shape)
    if tuple(data.shape) == shape:
        return
    fix = f": pass --resize {shape[1]}x{shape[2]}" if data.shape[0] == shape[0] else ""
    raise InputError(where, f"images are {tuple(data.shape)} (C, H, W) but the model makes {shape}{fix}")


def model_member_ids(folder: Path | str, source: Membership = None) -> set[str] | None:
    """The member ids `model_members` would give, read without loading images where a split.json names them
    (a pair of sources is read); None where nothing names them (a model trained elsewhere, given no split)."""
    source = as_member_source(source)
    if isinstance(source, tuple):
        data, split = source
        return {data.ids[int(i)] for i in split.member_idx}
    if source.split is not None:
        return _manifest_member_ids(Path(source.split))
    if source.given:
        data, split = model_members(folder, None, source)
        return {data.ids[int(i)] for i in split.member_idx}
    split_json = Path(folder) / "split.json"
    if not split_json.is_file():
        return None  # a model trained elsewhere, given no split: nothing to check against
    return _manifest_member_ids(split_json)  # unreadable: refused in one line naming it, never read as "no members"


def _manifest_member_ids(path: Path) -> set[str]:
    rows = read_manifest(path)["members"]
    try:
        return {str(r["id"]) if isinstance(r, dict) else str(r) for r in rows}
    except KeyError as e:
        raise InputError(path, f"not a cpaudit split.json (a member row lacks {e})") from None


def data_and_split_of(folder: Path, config: dict, data: str | None = None) -> tuple[ImageSet, Split]:
    """Load DATA (default: the source recorded in config.json) and the folder's split.json against it."""
    source = data if data is not None else config.get("data")
    if not isinstance(source, str):
        raise InputError(folder / "config.json", "does not record its data source; pass DATA explicitly")
    images = load_data(source)
    if images.fingerprint() != config.get("data_fingerprint"):
        raise InputError(folder / "config.json", f"was trained on other data than {source} (data fingerprint differs)")
    return images, read_split(folder / "split.json", images)


def resolve_membership(
    *,
    data: str | None,
    split: Path | None,
    members: str | Path | ImageSet | None = None,
    holdout: str | Path | ImageSet | None = None,
    resize: tuple[int, int] | None = None,
) -> tuple[ImageSet, Split]:
    """The user's word on membership, read: the images and the split from DATA + split.json, from split.json
    alone (it names its sources), or from --members and --holdout. Callers ask `model_members`, which reads it
    where the user gave one."""
    if members is not None or holdout is not None:
        if members is None or holdout is None:
            raise InputError(
                "--members" if members is None else "--holdout",
                "give both --members and --holdout: the "
                "images the model was trained on, and images of the same kind it never saw",
            )
        for given, name in ((split, "--split"), (data, "--data")):
            if given is not None:
                raise InputError(name, "give either --members/--holdout or --data with --split, not both")
        return load_pair(members, holdout, resize=resize)
    if split is None:
        raise InputError("--split", NO_MEMBERSHIP)
    manifest = read_manifest(Path(split))
    images = load_data(data, resize=resize) if data is not None else _recorded_data(Path(split), manifest, resize)
    return images, read_split(Path(split), images, manifest)


def _recorded_data(split: Path, manifest: dict, resize: tuple[int, int] | None) -> ImageSet:
    """The data a split.json names: its pair of sources, or its `data`; relative paths are tried from the
    working folder, then from the split.json's folder (so a committed split travels with its data)."""
    sources = manifest.get("sources")
    if isinstance(sources, dict) and MEMBERS in sources and HOLDOUT in sources:
        size = resize if resize is not None else (tuple(sources["resize"]) if sources.get("resize") else None)
        return load_pair(_near(sources[MEMBERS], split), _near(sources[HOLDOUT], split), resize=size)[0]
    if not isinstance(manifest.get("data"), str):
        raise InputError(split, "does not name its data: give --data")
    return load_data(_near(manifest["data"], split), resize=resize)


def _near(source: str, split: Path) -> str:
    if source in ("digits", "captioned-digits") or Path(source).exists():
        return source
    beside = split.parent / source
    return str(beside) if beside.exists() else source
