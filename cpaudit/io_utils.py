"""Atomic file writes (a temporary name in the same folder, then rename), and reading the user's JSON and
TOML files with every failure as one line of bad input naming the file."""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cpaudit.errors import InputError


def read_json(path: str | Path) -> Any:
    return _read_parsed(path, json.loads, "JSON", json.JSONDecodeError)


def read_toml(path: str | Path) -> dict:
    return _read_parsed(path, tomllib.loads, "TOML", tomllib.TOMLDecodeError)


def _read_parsed(path: str | Path, loads: Callable[[str], Any], kind: str, error: type[Exception]) -> Any:
    try:
        return loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, f"is a folder; expected a {kind} file") from None
    except (error, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid {kind} ({e})") from None


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
