"""The floors of the house: an import walk over the source that fails when the layering rots.

Units are packages at the depth of ``sw.quant``, ``hwsim.compiler`` and ``hwsim.app.sweep``
(a module directly inside ``sw``, ``hwsim``, ``rtl`` or ``hwsim.app`` is a unit of its own). For
the direction rules every import counts, including those inside functions; imports under
``if TYPE_CHECKING:`` do not (they never execute). For cycles, a deferred (function-level) import
inside the same top package does not count: it is the facade pattern of a parameters object that
builds its own hardware (``rtl.arch.ArrayArch.create``), not a dependency of the module's import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("sw", "hwsim", "rtl", "benchmarks", "oracles")
PROJECT = (*SOURCES, "tests")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """The layering unit of a dotted module name."""
    parts = module.split(".")
    depth = 3 if parts[:2] == ["hwsim", "app"] else 2
    return ".".join(parts[:depth])


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _deferred_nodes(tree: ast.AST) -> set[int]:
    return {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported name, deferred)`` of every import that executes (deferred: inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    deferred = _deferred_nodes(tree)
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
                names += [f"{node.module}.{a.name}" for a in node.names]
        out += [(name, id(node) in deferred) for name in names if name.split(".")[0] in PROJECT]
    return out


def _edges(*, cycles: bool = False) -> dict[str, set[tuple[str, str]]]:
    """``unit -> {(imported unit, importing file)}`` over the source folders.

    ``cycles``: leave out deferred imports within the same top package (see the module docstring).
    """
    modules = {_module_name(p) for top in PROJECT for p in (ROOT / top).rglob("*.py")}
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            src = unit(_module_name(path))
            for name, deferred in _imports(path):
                # ``from pkg import name``: keep ``pkg.name`` only if it is a module
                while name not in modules and "." in name:
                    name = name.rsplit(".", 1)[0]
                dst = unit(name)
                if cycles and deferred and dst.split(".")[0] == src.split(".")[0]:
                    continue
                if dst != src:
                    edges[src].add((dst, str(path.relative_to(ROOT))))
    return edges


EDGES = _edges()


def _violations(rule) -> list[str]:
    return sorted(f"{src} -> {dst} ({where})" for src, targets in EDGES.items()
                  for dst, where in targets if rule(src, dst))


def test_walk_sees_the_source():
    assert {"sw.quant", "sw.golden", "hwsim.compiler", "hwsim.app.commands", "rtl.timing"} <= set(EDGES) | {
        d for t in EDGES.values() for d, _ in t}
    assert ("sw.quant", "sw/golden/requant.py") in EDGES["sw.golden"]


def test_no_cycles_between_units():
    graph = {src: {dst for dst, _ in targets} for src, targets in _edges(cycles=True).items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [node, nxt]) if nxt in stack
                              else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


SW_FLOORS = ("sw.quant", "sw.golden", "sw.graph", "sw.runtime", "sw.train")


@pytest.mark.parametrize("name, rule", [
    ("sw never imports hwsim or rtl", lambda s, d: s.startswith("sw.") and d.split(".")[0] in ("hwsim", "rtl")),
    ("rtl never imports hwsim", lambda s, d: s.startswith("rtl.") and d.startswith("hwsim")),
    ("nothing below the application imports it",
     lambda s, d: not s.startswith(("hwsim.app", "benchmarks")) and d.startswith("hwsim.app")),
    ("the simulator imports only rtl.timing and rtl.arch of the RTL",
     lambda s, d: s.startswith("hwsim.") and not s.startswith("hwsim.app") and d.startswith("rtl.")
     and d not in ("rtl.timing", "rtl.arch")),
    ("nothing under sources imports tests", lambda s, d: d.startswith("tests")),
    ("the sw floors only import downwards: quant -> golden -> graph -> runtime -> train",
     lambda s, d: s in SW_FLOORS and d in SW_FLOORS and SW_FLOORS.index(d) > SW_FLOORS.index(s)),
])
def test_layer_rule(name, rule):
    assert _violations(rule) == [], name


def test_modules_are_small():
    big = [f"{p.relative_to(ROOT)}: {n} lines" for top in SOURCES for p in sorted((ROOT / top).rglob("*.py"))
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500]
    assert big == []
