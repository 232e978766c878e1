"""The package's layers import one way (issue 37): no import circle among modules or first-level packages; core/
is pure; the audit engine never reaches the per-command drivers or the CLI; nothing below pipelines/ reaches it.

Every import counts: at the top, under TYPE_CHECKING and inside functions (benchmarks/code_structure.py reads
them from the source, without importing anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.code_structure import circles, import_graph, modules, package_graph

ROOT = Path(__file__).resolve().parents[1]
# cpaudit.extras imports one optional dependency or names the extra that installs it; like cpaudit.errors it is a
# leaf that imports nothing of cpaudit but errors, so pure math may use it for its optional accountant.
CORE_MAY_IMPORT = ("cpaudit.core", "cpaudit.errors", "cpaudit.extras")
BELOW_PIPELINES = ("auditing", "sampling", "models", "data", "train", "core", "report", "similarity")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(modules(ROOT))


def reachable(graph: dict[str, set[str]], start: list[str]) -> dict[str, str]:
    """Every module imported, directly or not, from `start`: module -> the module that imports it (for the message)."""
    seen: dict[str, str] = {}
    todo = list(start)
    while todo:
        here = todo.pop()
        for there in graph.get(here, ()):
            if there not in seen and there not in start:
                seen[there] = here
                todo.append(there)
    return seen


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_import_circle_among_modules(graph):
    assert circles(graph) == []


def test_no_import_circle_among_packages(graph):
    assert circles(package_graph(graph)) == []


def test_core_imports_nothing_of_cpaudit_above_it(graph):
    core = [m for m in graph if _in(m, "cpaudit.core")]
    above = {
        f"{m} imports {t}"
        for m in core
        for t in graph[m]
        if t.startswith("cpaudit") and not any(_in(t, ok) for ok in CORE_MAY_IMPORT)
    }
    assert above == set()


def test_the_audit_engine_never_reaches_pipelines_or_the_cli(graph):
    engine = [m for m in graph if _in(m, "cpaudit.auditing.engine")]
    assert "cpaudit.auditing.engine.run" in engine
    found = reachable(graph, engine)
    bad = {f"{found[m]} imports {m}" for m in found if _in(m, "cpaudit.pipelines") or _in(m, "cpaudit.cli")}
    assert bad == set()


@pytest.mark.parametrize("package", BELOW_PIPELINES)
def test_nothing_below_pipelines_reaches_them(graph, package):
    below = [m for m in graph if _in(m, f"cpaudit.{package}")]
    assert below, f"cpaudit.{package} has no module"
    found = reachable(graph, below)
    bad = {f"{found[m]} imports {m}" for m in found if _in(m, "cpaudit.pipelines") or _in(m, "cpaudit.cli")}
    assert bad == set()


def test_the_graph_counts_imports_inside_functions_and_type_checking(tmp_path):
    """The checks above would pass vacuously if the graph missed the imports that make circles unnoticed."""
    pkg = tmp_path / "cpaudit"
    (pkg / "low").mkdir(parents=True)
    (pkg / "high").mkdir()
    for init in (pkg, pkg / "low", pkg / "high"):
        (init / "__init__.py").write_text("")
    (pkg / "high" / "driver.py").write_text("from cpaudit.low.stage import run\n")
    (pkg / "low" / "stage.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cpaudit.low.options import Options\n"
        "def run():\n    from ..high import driver\n"
    )
    (pkg / "low" / "options.py").write_text("from . import stage\n")
    g = import_graph(modules(tmp_path))
    # driver -> stage (top); stage -> driver (in a function, relative); stage -> options -> stage (TYPE_CHECKING)
    assert circles(g) == [["cpaudit.high.driver", "cpaudit.low.options", "cpaudit.low.stage"]]
    assert circles(package_graph(g)) == [["cpaudit.high", "cpaudit.low"]]
    assert "cpaudit.high.driver" in reachable(g, ["cpaudit.low.stage"])
