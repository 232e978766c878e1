"""`cpaudit split`: the options SplitOptions declares (pipelines/split.py), written by the library; this module
wires them to the command line and prints."""

from __future__ import annotations

import inspect
from typing import Any

import typer

from cpaudit.cli.common import info, print_json, user_errors
from cpaudit.options import command, resolve
from cpaudit.pipelines.split import SplitOptions, write_split_file

SPLIT_DOC = """Write a split.json (which images were trained on, which were held out) from your own folders or listing,
or draw one (--design) before training elsewhere.

Example: cpaudit split --members data/train --holdout data/holdout --out split.json

Example: cpaudit split --data data/images --design poisson --seed 0 --out split.json
"""

JSON = [
    inspect.Parameter(
        "json_out",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(False, "--json", help="Print the counts as JSON."),
        annotation=bool,
    )
]


def _split(given: dict[str, Any], json_out: bool) -> None:
    with user_errors():
        result = write_split_file(resolve(SplitOptions, given))
    if json_out:
        print_json({"split": str(result.path), "n_members": result.n_members, "n_holdout": result.n_holdout})
    info(f"{result.n_members} members, {result.n_holdout} held-out images ({result.design} design) -> {result.path}")


split_cmd = command(SplitOptions, _split, extra=JSON, doc=SPLIT_DOC)
