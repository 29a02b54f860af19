"""Imports run one way, down the layers of ARCHITECTURE.md, and never in a circle.

The import graph of ``hwsim/`` is built from the source with :mod:`ast` (nothing is imported):
module-level and function-level ``import x`` / ``from x import y``, relative imports resolved,
``importlib.import_module("literal")`` calls, and ``if TYPE_CHECKING:`` imports (a type-only
import of an upper layer is still a dependency on its API). Layer order (imports only go down):

    errors, schema < numerics < catalog < arch, synth < bridge, train < study < hwsim/__init__ < cli

Modules of one layer may import each other (a subpackage's modules, or peers such as arch and
synth), but the whole graph has no cycle. Every failure names the offending edges with file:line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: layer of each top-level part of the package, lowest first (ARCHITECTURE.md, "Layer order")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "schema", "_schema", "files"),
    ("numerics",),
    ("catalog",),
    ("arch", "synth"),
    ("bridge", "train"),
    ("study",),
    ("",),  # the package facade, hwsim/__init__.py
    ("cli", "__main__"),
)
LAYER_NAMES = ("errors", "numerics", "catalog", "arch/synth", "bridge/train", "study", "hwsim/__init__", "cli")


@dataclass(frozen=True)
class Edge:
    """``src`` imports ``dst`` at ``file:line`` (``kind``: import, from, dynamic, type-only)."""

    src: str
    dst: str
    file: str
    line: int
    kind: str

    def __str__(self) -> str:
        note = "" if self.kind in ("import", "from") else f" ({self.kind})"
        return f"{self.file}:{self.line}: {self.src} -> {self.dst}{note}"


def module_names(pkg_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file for every ``.py`` under ``pkg_dir`` (a package ``__init__``
    is named after its package)."""
    base = pkg_dir.parent
    out = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported dotted name lands in: itself, or its longest known prefix."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the statements inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    lines.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return lines


def _imported_names(module: str, is_package: bool, node: ast.AST) -> Iterator[tuple[str, str]]:
    """(dotted target, kind) for one import node, relative imports resolved against ``module``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, "import"
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            base = package[: len(package) - (node.level - 1)]
            if node.level - 1 > len(package):
                raise ValueError(f"{module}: relative import beyond the top-level package")
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        for alias in node.names:  # `from p import m` imports the submodule p.m when there is one
            yield f"{prefix}.{alias.name}" if alias.name != "*" else prefix, "from"
    elif isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if fname in ("import_module", "__import__") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield arg.value, "dynamic"


def import_graph(pkg_dir: Path) -> list[Edge]:
    """Every import edge between modules of the package at ``pkg_dir`` (self-imports dropped)."""
    modules = module_names(pkg_dir)
    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        guarded = _type_checking_lines(tree)
        rel = path.relative_to(pkg_dir.parent).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom | ast.Call):
                continue
            for name, kind in _imported_names(module, path.name == "__init__.py", node):
                target = _resolve(name, modules)
                if target is None or target == module:
                    continue
                edges.append(Edge(module, target, rel, node.lineno,
                                  "type-only" if node.lineno in guarded else kind))
    return edges


def layer_of(module: str) -> int:
    """Index into :data:`LAYERS` of a dotted ``hwsim...`` module name (ValueError if unplaced)."""
    part = module.split(".")[1] if "." in module else ""
    for index, parts in enumerate(LAYERS):
        if part in parts:
            return index
    raise ValueError(f"module {module} has no layer: add hwsim.{part} to LAYERS in tests/test_layering.py")


def upward_edges(edges: list[Edge]) -> list[Edge]:
    """Edges from a lower layer to a higher one."""
    return [e for e in edges if layer_of(e.dst) > layer_of(e.src)]


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One cycle (as its edges) through each strongly connected component with more than one
    module (Tarjan's algorithm, iterative)."""
    graph: dict[str, list[Edge]] = {}
    for e in edges:
        graph.setdefault(e.src, []).append(e)
        graph.setdefault(e.dst, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            out = graph[node]
            if i < len(out):
                work.append((node, i + 1))
                nxt = out[i].dst
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    components.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return [_cycle_in(comp, graph) for comp in components]


def _cycle_in(comp: set[str], graph: dict[str, list[Edge]]) -> list[Edge]:
    """A shortest cycle through the smallest-named module of a strongly connected component."""
    start = min(comp)
    paths: dict[str, list[Edge]] = {start: []}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for e in graph[node]:
                if e.dst == start:
                    return [*paths[node], e]
                if e.dst in comp and e.dst not in paths:
                    paths[e.dst] = [*paths[node], e]
                    nxt_frontier.append(e.dst)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected component


def describe_cycle(cycle: list[Edge]) -> str:
    """``a -> b -> a:`` then each edge with its file:line."""
    return " -> ".join([cycle[0].src, *(e.dst for e in cycle)]) + ":\n" + "\n".join(f"    {e}" for e in cycle)


# --- the package itself ----------------------------------------------------------------------

HWSIM_EDGES = import_graph(ROOT / "hwsim")


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in module_names(ROOT / "hwsim"):
        try:
            layer_of(module)
        except ValueError as exc:
            unplaced.append(str(exc))
    assert not unplaced, "\n".join(unplaced)


def test_no_upward_imports() -> None:
    bad = upward_edges(HWSIM_EDGES)
    assert not bad, "imports must only go down " + " < ".join(LAYER_NAMES) + "; upward:\n" + "\n".join(
        f"  {e}   [{LAYER_NAMES[layer_of(e.src)]} imports {LAYER_NAMES[layer_of(e.dst)]}]" for e in bad)


def test_no_import_cycles() -> None:
    found = cycles(HWSIM_EDGES)
    assert not found, f"{len(found)} import cycle(s):\n" + "\n".join(f"  {describe_cycle(c)}" for c in found)


# --- the graph builder, on small synthetic packages: it can pass and it can fail ---------------

def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "hwsim" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "hwsim"


GOOD = {
    "__init__.py": "from hwsim.catalog import get\nfrom hwsim import study\n",
    "errors.py": "import difflib\n",
    "numerics/__init__.py": "from .format import Format\n",
    "numerics/format.py": "from .. import errors\nfrom . import codec\n",
    "numerics/codec.py": "from hwsim.errors import FormatError\n\ndef f():\n    import torch\n",
    "catalog.py": "import importlib\n\ndef get():\n    importlib.import_module('hwsim.numerics.codec')\n",
    "arch/__init__.py": "",
    "arch/energy.py": "from ..numerics.format import Format\n",
    "study/__init__.py": "def run():\n    from hwsim.arch import energy\n",
    "cli.py": "import hwsim\nfrom hwsim.study import run\n",
}


def test_builder_resolves_every_import_form(tmp_path: Path) -> None:
    edges = {(e.src, e.dst, e.kind) for e in import_graph(_package(tmp_path, GOOD))}
    assert edges == {
        ("hwsim", "hwsim.catalog", "from"), ("hwsim", "hwsim.study", "from"),
        ("hwsim.numerics", "hwsim.numerics.format", "from"),
        ("hwsim.numerics.format", "hwsim.errors", "from"), ("hwsim.numerics.format", "hwsim.numerics.codec", "from"),
        ("hwsim.numerics.codec", "hwsim.errors", "from"),
        ("hwsim.catalog", "hwsim.numerics.codec", "dynamic"),
        ("hwsim.arch.energy", "hwsim.numerics.format", "from"),
        ("hwsim.study", "hwsim.arch.energy", "from"),  # function-level
        ("hwsim.cli", "hwsim", "import"), ("hwsim.cli", "hwsim.study", "from"),
    }


def test_builder_passes_a_layered_package(tmp_path: Path) -> None:
    edges = import_graph(_package(tmp_path, GOOD))
    assert upward_edges(edges) == [] and cycles(edges) == []


def test_builder_finds_a_cycle_inside_a_subpackage(tmp_path: Path) -> None:
    files = {**GOOD, "numerics/codec.py": "def f():\n    from hwsim.numerics.format import Format\n"}
    edges = import_graph(_package(tmp_path, files))
    assert upward_edges(edges) == []
    (cycle,) = cycles(edges)
    assert [(e.src, e.dst) for e in cycle] == [("hwsim.numerics.codec", "hwsim.numerics.format"),
                                               ("hwsim.numerics.format", "hwsim.numerics.codec")]
    assert "hwsim/numerics/codec.py:2: hwsim.numerics.codec -> hwsim.numerics.format" in describe_cycle(cycle)


def test_builder_finds_upward_imports(tmp_path: Path) -> None:
    files = {**GOOD,
             "numerics/codec.py": "def f():\n    import hwsim\n    from ..arch import energy\n",
             "catalog.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hwsim.study import run\n"}
    edges = import_graph(_package(tmp_path, files))
    found = sorted(str(e) for e in upward_edges(edges))
    assert found == ["hwsim/catalog.py:3: hwsim.catalog -> hwsim.study (type-only)",
                     "hwsim/numerics/codec.py:2: hwsim.numerics.codec -> hwsim",
                     "hwsim/numerics/codec.py:3: hwsim.numerics.codec -> hwsim.arch.energy"]
    # the upward edges close cycles through the facade and through arch -> numerics
    assert len(cycles(edges)) == 1


def test_builder_places_every_layer() -> None:
    order = ["hwsim.errors", "hwsim.schema", "hwsim.numerics.codec", "hwsim.catalog", "hwsim.arch.energy",
             "hwsim.synth.params", "hwsim.bridge.datapath", "hwsim.train.loop", "hwsim.study.tour", "hwsim",
             "hwsim.cli"]
    layers = [layer_of(m) for m in order]
    assert layers == sorted(layers) and layers[0] == 0 and layers[-1] == len(LAYERS) - 1
    with pytest.raises(ValueError, match=r"hwsim\.newthing\.x has no layer"):
        layer_of("hwsim.newthing.x")
