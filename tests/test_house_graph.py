"""The shape of the house, read from the source: layering, no circles, curated packages, explicit parts.

Each rule is one test; each test's failure message names the module and line. The graph includes
function-level imports (``tests/_house_graph.py``).
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap

import pytest

from tests._house_graph import (
    MANAGER,
    ROOT,
    FFHouseGraphDTO,
    FFImportDTO,
    build_graph,
    library_files,
    package_of,
    strongly_connected,
)

U, C, P = "ff_utils.ff_analytics_", "ff_class_configs.ff_analytics_", "ff_protocols.ff_analytics_"
CORE, CONFIGS, PROTOCOLS, SKETCHES, STORE = U + "core", C + "configs", P + "protocols", U + "sketches", U + "store"
SYSTEM, PRIVACY, COMPLIANCE, ALERTS, ANALYSIS = U + "system", U + "privacy", U + "compliance", U + "alerts", U + "analysis"
BI, EXPOSITION, TESTING, CLI, BENCH = U + "bi", U + "exposition", U + "testing", U + "cli", U + "bench"
ASGI = U + "asgi"

FOUNDATION = {CORE, CONFIGS, PROTOCOLS, SKETCHES}
ENGINES_BELOW_BI = FOUNDATION | {STORE, SYSTEM, PRIVACY, COMPLIANCE, ALERTS, ANALYSIS}
# What each package may import (besides itself). The order is the layering of docs/CONVENTIONS.md.
ALLOWED: dict[str, set[str]] = {
    CORE: set(),
    PROTOCOLS: set(),
    CONFIGS: {CORE},  # the record DTOs only; the config modules import nothing of ff_utils
    SKETCHES: {CORE},
    STORE: FOUNDATION,
    SYSTEM: FOUNDATION | {STORE},
    PRIVACY: FOUNDATION | {STORE},
    COMPLIANCE: FOUNDATION | {STORE},
    ALERTS: FOUNDATION | {STORE, SYSTEM},
    ANALYSIS: FOUNDATION | {STORE, SYSTEM},
    BI: FOUNDATION | {STORE, SYSTEM, PRIVACY},
    EXPOSITION: ENGINES_BELOW_BI | {BI},
    TESTING: FOUNDATION | {STORE},
    ASGI: FOUNDATION,  # a bridge: the manager is handed in
    BENCH: ENGINES_BELOW_BI | {BI, EXPOSITION, TESTING, ASGI},
    CLI: ENGINES_BELOW_BI | {BI, EXPOSITION, BENCH},
    MANAGER: ENGINES_BELOW_BI | {BI, EXPOSITION, CLI, ASGI},
}
ENGINES = set(ALLOWED) - {CLI, BENCH, MANAGER}


@pytest.fixture(scope="module")
def graph() -> FFHouseGraphDTO:
    return build_graph()


def _where(imp: FFImportDTO) -> str:
    return f"{imp.source}:{imp.line} imports {imp.target}"


def test_every_package_is_in_the_layering_table(graph: FFHouseGraphDTO) -> None:
    packages = {package_of(m) for m in graph.modules}
    assert packages == set(ALLOWED), f"new or gone packages: {packages ^ set(ALLOWED)}"


def test_no_import_circles(graph: FFHouseGraphDTO) -> None:
    circles = strongly_connected(graph.runtime_edges())
    assert circles == [], f"import circles: {circles}"


def test_the_circle_check_can_fail() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_packages_import_only_what_the_layering_allows(graph: FFHouseGraphDTO) -> None:
    bad = [_where(i) for i in graph.imports
           if package_of(i.target) != package_of(i.source) and package_of(i.target) not in ALLOWED[package_of(i.source)]]
    assert bad == [], "\n".join(bad)


def test_engines_never_import_the_manager_the_cli_or_the_benches(graph: FFHouseGraphDTO) -> None:
    bad = [_where(i) for i in graph.imports
           if package_of(i.source) in ENGINES and package_of(i.target) in {MANAGER, CLI, BENCH}]
    assert bad == [], "\n".join(bad)


def test_no_private_name_is_imported_across_modules(graph: FFHouseGraphDTO) -> None:
    bad = [f"{_where(i)}: {n}" for i in graph.imports for n in i.names
           if n.startswith("_") and not n.startswith("__")]
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and node.module and f"{node.module}.{node.names[0].name}" in graph.modules for a in node.names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert bad == [], "\n".join(bad)


def test_each_subpackage_curates_its_public_names() -> None:
    inits = {n: p for n, p in library_files().items() if p.name == "__init__.py"}
    assert len(inits) >= 15
    script = textwrap.dedent("""
        import importlib, sys
        name = sys.argv[1]
        mod = importlib.import_module(name)
        assert isinstance(mod.__all__, list) and mod.__all__, name + ": no __all__"
        assert len(set(mod.__all__)) == len(mod.__all__), name + ": duplicates in __all__"
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert not missing, f"{name}: __all__ names not defined: {missing}"
        ns = {}
        exec(f"from {name} import *", ns)
        assert sorted(k for k in ns if k != "__builtins__") == sorted(mod.__all__), name
        assert mod.__doc__ and mod.__doc__.strip(), name + ": no docstring"
    """)
    for name in sorted(inits):
        r = subprocess.run([sys.executable, "-c", script, name], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{name}: {r.stderr[-800:]}"


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    """Import order never matters: each module, first in a clean ``sys.modules``, imports."""
    script = textwrap.dedent("""
        import importlib, sys
        failures = []
        for name in sys.argv[1:]:
            for key in [k for k in sys.modules if k.split(".")[0] in
                        ("ff_utils", "ff_class_configs", "ff_protocols", "ff_metrics_collection_manager")]:
                del sys.modules[key]
            try:
                importlib.import_module(name)
            except Exception as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
        print("\\n".join(failures))
        sys.exit(1 if failures else 0)
    """)
    r = subprocess.run([sys.executable, "-c", script, *sorted(library_files())], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_the_manager_module_and_the_configs_import_without_ff_utils() -> None:
    """A host's root config imports FFAnalyticsConfigDTO while the host's ff_utils is not importable yet."""
    script = ("import sys, ff_metrics_collection_manager, ff_class_configs.ff_analytics_configs, "
              "ff_protocols.ff_analytics_protocols\n"
              "loaded = sorted(k for k in sys.modules if k.startswith('ff_utils'))\n"
              "assert not loaded, loaded\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]


def _library_trees() -> list[tuple[str, ast.Module]]:
    return [(n, ast.parse(p.read_text(encoding="utf-8"))) for n, p in library_files().items()]


def test_no_type_ignore_attr_defined() -> None:
    bad = [f"{p}:{i}" for p in library_files().values()
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "type: ignore[attr-defined]" in line]
    assert bad == [], bad


def test_no_module_discovery_by_name() -> None:
    """Registries are explicit lists of imported modules: no import by computed name."""
    banned = {"import_module", "iter_modules", "walk_packages", "__import__", "find_spec"}
    bad = []
    for name, tree in _library_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                # the manager's portion finder asks PathFinder for the three shared packages only
                if called in banned and not (name == MANAGER and called == "find_spec"):
                    bad.append(f"{name}:{node.lineno} calls {called}")
    assert bad == [], bad


def test_no_method_is_replaced_on_an_instance_and_no_part_is_looked_up_by_name() -> None:
    bad = []
    for name, tree in _library_trees():
        for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            methods = {f.name for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
            for node in ast.walk(cls):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                    node, (ast.AnnAssign, ast.AugAssign)) else []
                for t in targets:
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                            and t.attr in methods):
                        bad.append(f"{name}:{node.lineno} assigns {t.value.id}.{t.attr} (a method)")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and len(node.args) == 3 and isinstance(node.args[0], ast.Name) and node.args[0].id == "self"
                    and isinstance(node.args[1], ast.Constant)):
                bad.append(f"{name}:{node.lineno} getattr(self, {node.args[1].value!r}, ...)")
    assert bad == [], bad


def _delegations() -> list[tuple[str, str, str]]:
    """(manager method, service attribute, service method) for each pass-through delegation: one call
    of ``self.<service>.<method>`` with the manager method's own parameters, unchanged."""
    tree = ast.parse((ROOT / f"{MANAGER}.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FFMetricsCollectionManager")
    out = []
    for fn in cls.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name.startswith("_"):
            continue
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], (ast.Return, ast.Expr)):
            continue
        call = body[0].value
        if isinstance(call, ast.Await):
            call = call.value
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Attribute) and isinstance(call.func.value.value, ast.Name)
                and call.func.value.value.id == "self"
                and all(isinstance(a, ast.Name) or (isinstance(a, ast.Starred) and isinstance(a.value, ast.Name))
                        for a in call.args)
                and all(isinstance(k.value, ast.Name) for k in call.keywords)):
            out.append((fn.name, call.func.value.attr, call.func.attr))
    return out


def test_manager_delegations_have_the_services_signatures(tmp_path) -> None:
    from ff_metrics_collection_manager import FFMetricsCollectionManager

    delegations = _delegations()
    assert len(delegations) >= 40, len(delegations)
    m = FFMetricsCollectionManager(_config(tmp_path))
    try:
        bad = []
        for method, attr, target in delegations:
            service = getattr(m, attr)
            if attr == "hub" or not hasattr(type(service), target):
                continue
            mine = inspect.signature(getattr(FFMetricsCollectionManager, method))
            theirs = inspect.signature(getattr(type(service), target))
            strip = lambda s: [(p.name, p.kind, p.default) for p in s.parameters.values() if p.name != "self"]  # noqa: E731
            if strip(mine) != strip(theirs):
                bad.append(f"{method}{mine} vs {attr}.{target}{theirs}")
        assert bad == [], "\n".join(bad)
    finally:
        m.close_sync()


def _config(tmp_path):
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO

    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    return cfg
