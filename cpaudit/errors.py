"""Errors the CLI turns into one-line messages with exit code 2."""

from __future__ import annotations

from pathlib import Path


class CpauditError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class InputError(CpauditError):
    """Bad input: names the offending file (or option) and what is wrong with it."""

    def __init__(self, where: str | Path, problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")


class ConfigError(CpauditError, ValueError):
    """An option or configuration value out of range (raised by the config dataclasses): bad input, exit 2.

    Any other ValueError inside a command is a bug in cpaudit and exits 3."""
