"""The import graph of `pipeline` and `reports` has no cycle, counting the imports made inside functions and
under TYPE_CHECKING too (which import-linter's layers cannot see as cycles), and every module sits in a layer
of the import-linter contract in pyproject.toml. An import inside a function in `pipeline` is there only to defer
a heavy library (TensorFlow, Ray, MLflow, SciPy, ...), and says so."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("pipeline", "reports")


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the packages (a package is its `__init__`)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _names(node: ast.Import | ast.ImportFrom, name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """What one import statement of module `name` names, absolute: `from a import b` is `a.b` when that is a
    module of the packages, else `a`."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = node.module or ""
    if node.level:  # relative: from the package, up `level - 1` packages
        up = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*up, base] if base else up)
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}


def _internal(found: set[str], name: str, modules: dict[str, Path]) -> set[str]:
    out = set()
    for target in found:
        while target and target not in modules:  # `pipeline.core.config.SpecError` -> `pipeline.core.config`
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the packages that `name` imports anywhere in its file (module level, inside functions,
    under TYPE_CHECKING)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _names(node, name, path, modules)
    return _internal(found, name, modules)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path `[a, b, ..., a]`, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_finds_one_and_only_one_that_exists() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) is None


def test_no_import_cycle_between_modules_even_through_imports_inside_functions() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "reports.render" in graph["reports.build"]  # the walk sees the real modules
    assert "pipeline.verdict.sequential" in graph["pipeline.app.sweep"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_module_is_in_a_layer_of_the_contract() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in contracts["contracts"] if c["type"] == "layers"]
    named = [m.strip() for layer in layers for m in layer.split("|")]
    outside = [m for m in _modules() if m not in PACKAGES and not any(m == n or m.startswith(n + ".") for n in named)]
    assert outside == [], f"modules in no layer of the contract: {outside}"


# what an import inside a function may defer without saying so (TensorFlow's own `keras` and the optional
# `psycopg`, `playwright` and `PIL` included)
HEAVY = ("tensorflow", "keras", "ray", "matplotlib", "statsforecast", "statsmodels", "mlflow", "optuna", "scipy",
         "baycomp", "psycopg", "playwright", "PIL")


def _in_functions(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of a module that run only when a function is called."""
    out = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            out += [n for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]
    return list({id(n): n for n in out}.values())  # a nested function's imports once


def _at_import(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The import statements a module runs when it is imported: not those inside functions, nor under
    `if TYPE_CHECKING:`."""
    out, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo += [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
    return out


def _loads_heavy() -> set[str]:
    """The modules of the packages whose import loads a heavy library (read from the source: each module's
    import-time imports, followed through the packages)."""
    modules = _modules()
    direct, heavy = {}, set()
    for name, path in modules.items():
        found = set().union(*(_names(n, name, path, modules) for n in _at_import(ast.parse(path.read_text()))))
        direct[name] = _internal(found, name, modules) | {m for m in found if m.split(".")[0] in PACKAGES} - {name}
        if any(m.split(".")[0] in HEAVY for m in found):
            heavy.add(name)
    for name in modules:  # a package's import runs its `__init__` first
        direct[name] |= {p for p in (name.rpartition(".")[0],) if p in modules}
    changed = True
    while changed:
        grown = {n for n, deps in direct.items() if n not in heavy and deps & heavy}
        heavy |= grown
        changed = bool(grown)
    return heavy


def test_the_source_walk_knows_which_modules_load_a_heavy_library() -> None:
    heavy = _loads_heavy()
    assert {"pipeline.engine.tuning", "pipeline.tracking.mlflow_io", "pipeline.app.sweep", "reports"} <= heavy
    assert not {"pipeline.main", "pipeline.app.cli", "pipeline.core.models", "pipeline.core.training"} & heavy


def test_an_import_inside_a_function_defers_a_heavy_library_and_says_so() -> None:
    """Inside a function, an import of a heavy library, or of a module of ours that loads one at import time,
    with `# lazy: <why>` on its line; anything else belongs at the top of the module (where a cycle or a slow
    start shows)."""
    modules, heavy = _modules(), _loads_heavy()
    bad = []
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in _in_functions(ast.parse(text)):
            targets = _names(node, name, path, modules)
            said = any("# lazy:" in line for line in lines[node.lineno - 1:node.end_lineno])
            if all(t.split(".")[0] in HEAVY for t in targets):
                continue
            if not said or not _internal(targets, name, modules) & heavy:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}"
                           + ("" if said else "  (no `# lazy:` comment)"))
    assert bad == [], "imports inside functions that defer no heavy library:\n" + "\n".join(bad)
