"""The package picture holds: layering bench -> rl -> agents -> envs (nothing imports upward),
no import circle between modules, the library never imports its recipes (`rl/recipes`), and
`envs/core` imports no suite (suites register themselves). Static: every `import` statement,
top-level or inside a function (not those under `if TYPE_CHECKING:`), of the library's own
modules (task data excluded)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "rl", "bench")
LAYER = {"envs": 0, "agents": 1, "rl": 2, "bench": 3}
EXCLUDED = ("envs/suites/tb_mini/tasks", "envs/suites/swe_mini/build/trees")


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = [
        p
        for pkg in PACKAGES
        for p in (REPO / pkg).rglob("*.py")
        if not any(str(p.relative_to(REPO)).startswith(x) for x in EXCLUDED)
    ]
    modules = {_module(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for stmt in block.body
            for n in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only: not imported at run time
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                subs = [f"{base}.{a.name}" for a in node.names]
                # `from pkg import submodule` depends on the submodule, not on pkg's __init__
                targets = subs if all(t in modules for t in subs) else [*subs, base]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):  # own packages: implicit
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

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
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


def _is_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_layers_only_import_downwards() -> None:
    upward = [
        (m, d)
        for m, deps in _graph().items()
        for d in deps
        if LAYER[d.split(".")[0]] > LAYER[m.split(".")[0]]
    ]
    assert upward == []


def test_the_library_never_imports_its_recipes() -> None:
    graph = _graph()
    users = sorted(
        m
        for m, deps in graph.items()
        if not _is_package(m, "rl.recipes") and any(_is_package(d, "rl.recipes") for d in deps)
    )
    assert users == []


def test_envs_core_imports_no_suite() -> None:
    graph = _graph()
    found = sorted(
        (m, d)
        for m, deps in graph.items()
        if _is_package(m, "envs.core")
        for d in deps
        if _is_package(d, "envs.suites") or _is_package(d, "envs.toy")
    )
    assert found == []


def test_the_checker_sees_a_circle() -> None:
    """The checks above can fail: a made-up circle and a made-up upward import are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = _graph()
    assert "envs.core.env" in graph and "envs.core.config" in graph["agents.config"]
