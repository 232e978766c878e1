"""Find the data and the member split a model (or classifier) folder was trained on."""

from __future__ import annotations

from pathlib import Path

from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.split import Split, read_split
from cpaudit.errors import InputError


def data_and_split_of(folder: Path, config: dict, data: str | None = None) -> tuple[ImageSet, Split]:
    """Load DATA (default: the source recorded in config.json) and the folder's split.json against it."""
    source = data if data is not None else config.get("data")
    if not isinstance(source, str):
        raise InputError(folder / "config.json", "does not record its data source; pass DATA explicitly")
    images = load_data(source)
    if images.fingerprint() != config.get("data_fingerprint"):
        raise InputError(folder / "config.json", f"was trained on other data than {source} (data fingerprint differs)")
    return images, read_split(folder / "split.json", images)
