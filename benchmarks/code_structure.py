"""Counts of the package's structure (issue 37): long functions, import circles, option declarations, pipelines/.

    python benchmarks/code_structure.py [ROOT]       # ROOT: a checkout (default: this one); prints JSON

- functions over 60 lines: every def in cpaudit/, decorators excluded;
- import circles: strongly connected components of more than one node, among modules (every import, at the top,
  under TYPE_CHECKING or inside a function) and among the first-level packages (cpaudit.core, cpaudit.auditing, ...;
  the top-level modules count as their own nodes);
- option declaration places: for every option name, the places declaring it: a parameter of a CLI function whose
  default is a typer.Option, a field of a dataclass named *Options or declared with option(...), a key of a
  module-level *_KEYS table, a keyword parameter of a public function of cpaudit/api.py; the mean and the maximum over option names, and how many names
  are declared in more than one place;
- lines in cpaudit/pipelines/.
"""

from __future__ import annotations

import ast
import json
import sys
from collections import defaultdict
from pathlib import Path


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted((root / "cpaudit").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def long_functions(mods: dict[str, Path], limit: int = 60) -> list[tuple[str, int]]:
    found = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append((f"{name}.{node.name}", length))
    return sorted(found, key=lambda f: -f[1])


def _imported(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets.add(base)
            targets |= {f"{base}.{a.name}" for a in node.names}
    resolved = set()
    for t in targets:
        while t and t not in mods:
            t = t.rsplit(".", 1)[0] if "." in t else ""
        if t and t != name:
            resolved.add(t)
    return resolved


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    return {name: _imported(name, path, mods) for name, path in mods.items()}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in graph.items():
        packages[package_of(a)] |= {package_of(b) for b in targets if package_of(b) != package_of(a)}
    packages.pop("cpaudit", None)  # the package root's lazy re-exports are not a layer
    return {p: t - {"cpaudit"} for p, t in packages.items()}


def _typer_option_names(tree: ast.Module) -> set[str]:
    def is_option(call: ast.AST) -> bool:
        return isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "Option"

    aliases = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign) and is_option(n.value)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            args = node.args
            for arg, default in zip(args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True):
                if is_option(default) or isinstance(default, ast.Name) and default.id in aliases:
                    names.add(arg.arg)
    return names


def _is_option_call(value: ast.AST | None) -> bool:
    """A field declared with cpaudit.options.option(...)."""
    return isinstance(value, ast.Call) and getattr(value.func, "id", None) == "option"


def option_declarations(mods: dict[str, Path]) -> dict[str, dict[str, int]]:
    """kind of place -> option name -> how many places of that kind declare it."""
    places: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        if ".cli." in name:
            for option in _typer_option_names(tree):
                places["typer parameter"][option] += 1
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.decorator_list:
                for item in node.body:
                    if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                        continue
                    if _is_option_call(item.value):
                        places["option() field"][item.target.id] += 1
                    elif node.name.endswith("Options"):
                        places["plain *Options field"][item.target.id] += 1
            target = (
                node.target
                if isinstance(node, ast.AnnAssign)
                else (node.targets[0] if isinstance(node, ast.Assign) else None)
            )
            if isinstance(target, ast.Name) and target.id.endswith("_KEYS") and isinstance(node.value, ast.Dict):
                for key in node.value.keys:
                    if isinstance(key, ast.Constant):
                        places["*_KEYS table key"][key.value] += 1
            if name == "cpaudit.api" and isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                for arg in node.args.args + node.args.kwonlyargs:
                    places["API keyword"][arg.arg] += 1
    return {kind: dict(v) for kind, v in places.items()}


def measure(root: Path) -> dict:
    mods = modules(root)
    graph = import_graph(mods)
    long = long_functions(mods)
    by_kind = option_declarations(mods)
    places: dict[str, int] = defaultdict(int)
    for counts in by_kind.values():
        for option, n in counts.items():
            places[option] += n
    pipelines = [p for n, p in mods.items() if n.startswith("cpaudit.pipelines")]
    return {
        "functions_over_60_lines": len(long),
        "longest_functions": long[:5],
        "module_import_circles": len(circles(graph)),
        "module_circles": circles(graph),
        "package_import_circles": len(circles(package_graph(graph))),
        "package_circles": circles(package_graph(graph)),
        "options": len(places),
        "option_places_mean": round(sum(places.values()) / max(len(places), 1), 2),
        "option_places_max": max(places.values(), default=0),
        "options_declared_more_than_once": sum(v > 1 for v in places.values()),
        "declaration_places_by_kind": {kind: sum(v.values()) for kind, v in sorted(by_kind.items())},
        "pipelines_files": len(pipelines),
        "pipelines_lines": sum(len(p.read_text().splitlines()) for p in pipelines),
        "package_lines": sum(len(p.read_text().splitlines()) for p in mods.values()),
    }


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")), indent=1))
