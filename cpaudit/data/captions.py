"""Captions and class labels beside the images: `metadata.jsonl` in an image folder (the layout diffusers'
examples/text_to_image/train_text_to_image.py reads through the `imagefolder` loader: one JSON object a
line with `file_name` and `text`), and class-per-subfolder folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cpaudit.errors import InputError

METADATA = "metadata.jsonl"
CAPTION_KEYS = ("text", "caption")


def read_metadata_jsonl(path: Path) -> dict[str, str]:
    """file_name -> caption; a bad line is bad input naming the file and the line."""
    captions: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(path, f"line {n}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
            raise InputError(path, f"line {n}: expected an object with a 'file_name' string")
        text = next((row[k] for k in CAPTION_KEYS if k in row), None)
        if not isinstance(text, str):
            raise InputError(path, f"line {n}: expected a 'text' string (the caption)")
        if row["file_name"] in captions:
            raise InputError(path, f"line {n}: {row['file_name']!r} is listed twice")
        captions[row["file_name"]] = text
    return captions


def folder_captions(folder: Path, ids: list[str]) -> list[str] | None:
    """The captions of a folder's images in `ids` order, from FOLDER/metadata.jsonl; None without one."""
    path = folder / METADATA
    if not path.is_file():
        return None
    try:
        by_name = read_metadata_jsonl(path)
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text") from None
    missing = [i for i in ids if i not in by_name]
    if missing:
        raise InputError(path, f"has no line for {len(missing)} image(s), e.g. {missing[0]!r}")
    extra = sorted(set(by_name) - set(ids))
    if extra:
        raise InputError(path, f"names {len(extra)} file(s) that are not images in the folder, e.g. {extra[0]!r}")
    return [by_name[i] for i in ids]


def subfolder_labels(ids: list[str]) -> tuple[np.ndarray, list[str]] | None:
    """Class ids from the first path component when every image sits in a class subfolder, else None."""
    parts = [i.split("/", 1) for i in ids]
    if not ids or any(len(p) < 2 for p in parts):
        return None
    names = sorted({p[0] for p in parts})
    index = {c: k for k, c in enumerate(names)}
    return np.array([index[p[0]] for p in parts], dtype=np.int64), names


def read_prompts_file(path: Path) -> list[str]:
    """Prompts, one per line, or the `text` of each line of a metadata.jsonl."""
    if not path.is_file():
        raise InputError(path, "no such file")
    if path.suffix == ".jsonl":
        return list(read_metadata_jsonl(path).values())
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text") from None
    prompts = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            raise InputError(path, f"line {n}: empty prompt (one prompt per line; the empty prompt is --prompt '')")
        if "\x00" in line:
            raise InputError(path, f"line {n}: contains a NUL character")
        prompts.append(line.strip())
    if not prompts:
        raise InputError(path, "holds no prompts")
    return prompts
