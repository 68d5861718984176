"""The library's import graph, read from the source (``ast``; function-level imports included).

Used by ``tests/test_house_graph.py``; runnable as ``python -m tests._house_graph`` to print the
package-level edges.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("ff_utils", "ff_class_configs", "ff_protocols")
MANAGER = "ff_metrics_collection_manager"


@dataclass(slots=True)
class FFImportDTO:
    source: str
    target: str
    names: tuple[str, ...]
    line: int
    function_level: bool


@dataclass(slots=True)
class FFHouseGraphDTO:
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[FFImportDTO] = field(default_factory=list)

    def edges(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for imp in self.imports:
            out[imp.source].add(imp.target)
        return out

    def runtime_edges(self) -> dict[str, set[str]]:
        """Edges plus the implicit one to each package ``__init__`` a cross-package import executes."""
        out = self.edges()
        for imp in self.imports:
            src_pkg = package_of(imp.source)
            parts = imp.target.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if parent in self.modules and parent != src_pkg and not src_pkg.startswith(parent + "."):
                    out[imp.source].add(parent)
        return out


def package_of(module: str) -> str:
    """``ff_utils.ff_analytics_store.ff_stream_store`` -> ``ff_utils.ff_analytics_store``."""
    if module == MANAGER:
        return MANAGER
    return ".".join(module.split(".")[:2])


def library_files(root: Path = ROOT) -> dict[str, Path]:
    files = {MANAGER: root / f"{MANAGER}.py"}
    for shared in SHARED:
        for path in sorted((root / shared).glob("ff_analytics_*/**/*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            files[".".join(parts)] = path
    return files


def _resolve(graph: FFHouseGraphDTO, module: str, names: tuple[str, ...]) -> list[str]:
    """Targets for ``from module import names`` (a name may itself be a submodule)."""
    found = [f"{module}.{n}" for n in names if f"{module}.{n}" in graph.modules]
    rest = [n for n in names if f"{module}.{n}" not in graph.modules]
    if rest and module in graph.modules:
        found.append(module)
    return found


def build_graph(root: Path = ROOT) -> FFHouseGraphDTO:
    graph = FFHouseGraphDTO(modules=library_files(root))
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        funcs = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f)}
        for node in ast.walk(tree):
            in_func = id(node) in funcs
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = tuple(a.name for a in node.names)
                for target in _resolve(graph, node.module, names):
                    if target != name:
                        graph.imports.append(FFImportDTO(name, target, names, node.lineno, in_func))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in graph.modules and alias.name != name:
                        graph.imports.append(FFImportDTO(name, alias.name, (), node.lineno, in_func))
    return graph


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's SCCs of size > 1 (the import circles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    nodes = set(edges) | {t for ts in edges.values() for t in ts}

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def package_edges(graph: FFHouseGraphDTO) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for imp in graph.imports:
        a, b = package_of(imp.source), package_of(imp.target)
        if a != b:
            out[a].add(b)
    return out


if __name__ == "__main__":
    g = build_graph()
    for pkg, targets in sorted(package_edges(g).items()):
        print(pkg, "->", ", ".join(sorted(t.split(".")[-1] for t in targets)))
    print("module circles:", strongly_connected(g.runtime_edges()))
