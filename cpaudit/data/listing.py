"""A CSV or JSONL listing of image files with a member column: the split a user keeps in a spreadsheet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.data.split import Split
from cpaudit.errors import InputError

FILE_KEYS = ("file_name", "file", "path", "id", "image")
TRUE, FALSE = {"1", "true", "yes", "y", "member", "train"}, {"0", "false", "no", "n", "holdout", "held-out", "test"}


def read_listing(path: Path, member_column: str = "member") -> list[tuple[str, bool]]:
    """(file, is_member) per row; the file column is the first of FILE_KEYS present."""
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)  # (line number, row)
    if not rows:
        raise InputError(path, "lists no images")
    first = rows[0][1]
    key = next((k for k in FILE_KEYS if k in first), None)
    if key is None:
        raise InputError(path, f"has no file column (one of {', '.join(FILE_KEYS)})")
    if member_column not in first:
        raise InputError(
            path,
            f"has no {member_column!r} column (true/false, 1/0 or yes/no per image); name another with --member-column",
        )
    return [(str(row[key]), _flag(row.get(member_column), path, n)) for n, row in rows]


def split_from_listing(path: Path, data: ImageSet, member_column: str = "member") -> Split:
    """Members and held-out rows of `data` as the listing marks them; images it does not list are left out."""
    index = {i: k for k, i in enumerate(data.ids)}
    members: list[int] = []
    holdout: list[int] = []
    for name, is_member in read_listing(path, member_column):
        k = index.get(Path(name).as_posix())
        if k is None:
            raise InputError(path, f"lists {name!r}, which is not an image in {data.source}")
        (members if is_member else holdout).append(k)
    if len(set(members + holdout)) != len(members) + len(holdout):
        raise InputError(path, "lists an image twice")
    return Split(None, np.array(sorted(members), dtype=np.int64), np.array(sorted(holdout), dtype=np.int64))


def _flag(value: object, path: Path, line: int) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise InputError(path, f"line {line}: member value {value!r} is not true/false, 1/0 or yes/no")


def _csv_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            return [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"not a readable CSV file ({e})") from None


def _jsonl_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(path, f"line {n}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise InputError(path, f"line {n}: expected a JSON object")
            rows.append((n, row))
    return rows
