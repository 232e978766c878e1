"""JSON Schemas of what cpaudit writes."""

from __future__ import annotations

import json
from importlib import resources


def results_schema() -> dict:
    """The JSON Schema of results.json (every version `cpaudit report` and `--baseline` read)."""
    return json.loads(resources.files(__package__).joinpath("results.schema.json").read_text())
