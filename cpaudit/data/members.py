"""Which images were trained on: the user's word, from a split.json or a pair of sources; never guessed."""

from __future__ import annotations

from pathlib import Path

from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.pair import HOLDOUT, MEMBERS, load_pair
from cpaudit.data.split import Split, read_manifest, read_split
from cpaudit.errors import InputError

NO_MEMBERSHIP = ("which images were trained on? give --split split.json, or --members DIR|FILE --holdout DIR|FILE "
                 "(cpaudit never guesses membership)")


def data_and_split_of(folder: Path, config: dict, data: str | None = None) -> tuple[ImageSet, Split]:
    """Load DATA (default: the source recorded in config.json) and the folder's split.json against it."""
    source = data if data is not None else config.get("data")
    if not isinstance(source, str):
        raise InputError(folder / "config.json", "does not record its data source; pass DATA explicitly")
    images = load_data(source)
    if images.fingerprint() != config.get("data_fingerprint"):
        raise InputError(folder / "config.json", f"was trained on other data than {source} (data fingerprint differs)")
    return images, read_split(folder / "split.json", images)


def resolve_membership(*, data: str | None, split: Path | None, members: str | Path | None = None,
                       holdout: str | Path | None = None,
                       resize: tuple[int, int] | None = None) -> tuple[ImageSet, Split]:
    """The images and the split, from DATA + split.json, from split.json alone (it names its sources), or
    from --members and --holdout."""
    if members is not None or holdout is not None:
        if members is None or holdout is None:
            raise InputError("--members" if members is None else "--holdout", "give both --members and --holdout: the "
                             "images the model was trained on, and images of the same kind it never saw")
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
