"""The house's rules, checked on the source: no import cycles between mmon's modules, the library never
imports the CLI, and no module grows past ~500 lines without a reason written in the exceptions below."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "mmon"

# Modules allowed over the line limit, each with its reason.
LONG_MODULES: dict[str, str] = {
    "mmon.stats.measure": "one batch's measurement: the polars expressions and the Measured fold of their outputs "
    "name the same columns and are read side by side; split, each half reads only against the other",
}
# Cycles still to break, each with who breaks it; the list may only shrink (a new cycle fails the test).
KNOWN_CYCLES: dict[tuple[str, ...], str] = {
}
MAX_LINES = 520  # issue 12: no module over ~500 lines without a reason (LONG_MODULES)


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """mmon module -> the mmon modules it imports anywhere (a function-level import that breaks a
    cycle at run time still ties the two modules together), ``if TYPE_CHECKING:`` blocks aside."""
    modules = {_module(p): p for p in PKG.rglob("*.py") if "schema_files" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: set[str] = set()
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        skip = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for n in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t.startswith("mmon") and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    # A package's __init__ re-exporting its submodules is not a cycle worth naming.
    trimmed = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    return _cycles(trimmed)


def test_no_import_cycles() -> None:
    cycles = [c for c in _package_cycles(_imports()) if tuple(c) not in KNOWN_CYCLES]
    assert cycles == []


def test_the_library_never_imports_the_cli() -> None:
    graph = _imports()
    upward = {m: sorted(d for d in deps if d.startswith("mmon.cli")) for m, deps in graph.items() if not m.startswith("mmon.cli")}
    assert {m: d for m, d in upward.items() if d and m not in ("mmon.__main__",)} == {}


def test_modules_stay_small() -> None:
    long = {
        _module(p): n
        for p in PKG.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES and _module(p) not in LONG_MODULES
    }
    assert long == {}, f"split these modules or give a reason in LONG_MODULES: {long}"


# Tests mirror the package: a folder per mmon package, plus the two homes of top-level modules.
TEST_FOLDERS_FOR_MODULES = {
    "data_quality": "mmon/baseline.py, mmon/run.py, mmon/metrics.py (the data-quality monitor's modules)",
    "store": "mmon/store.py, mmon/publish.py, mmon/own_files.py",
}


def test_tests_mirror_the_package() -> None:
    tests = ROOT / "tests"
    packages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    for folder in sorted(p for p in tests.iterdir() if p.is_dir() and p.name not in ("golden", "golden_report", "__pycache__")):
        assert folder.name in packages or folder.name in TEST_FOLDERS_FOR_MODULES, f"tests/{folder.name}/ mirrors no mmon package"
        assert any(folder.glob("test_*.py")), folder
    # a package's tests live in its folder: no top-level test file is named after a package with a folder
    for p in tests.glob("test_*.py"):
        stem = p.stem.removeprefix("test_")
        assert not any(stem == pkg or stem.startswith(pkg + "_") for pkg in packages if (tests / pkg).is_dir()), p.name
