"""The package has no import loops: every import, at module level or inside a function, is walked."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tracker"


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``, which never run."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skip


def imported(path: Path, name: str, modules: set[str]) -> set[str]:
    """The package's modules that importing ``path`` runs: what it imports anywhere in its code (an import of
    ``a.b.c`` also runs the packages ``a.b`` and ``a``, except those ``path`` is inside, which run before it)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_only(tree)
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:  # a submodule, or a name defined in the module ``base``
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    runs = set()
    for target in targets & modules:
        runs.add(target)
        parts = target.split(".")
        runs.update(p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p not in ancestors)
    runs.discard(name)
    return runs


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules importing it runs."""
    names = {path: module_name(path, package) for path in sorted(package.rglob("*.py"))}
    modules = set(names.values())
    return {name: imported(path, name, modules) for path, name in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40 and graph["tracker.pipeline"] >= {"tracker.io.sinks", "tracker.tracking"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_walk_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "tracker"
    (package / "x").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "x" / "__init__.py").write_text("")
    (package / "x" / "a.py").write_text("from .b import f\n")
    (package / "x" / "b.py").write_text("def f():\n    from . import a  # not at module level\n    return a\n")
    assert find_cycle(import_graph(package)) == ["tracker.x.a", "tracker.x.b", "tracker.x.a"]


def test_no_module_shadows_a_public_name_of_the_package():
    """``import tracker.X`` sets the attribute ``tracker.X`` to the module: a subpackage named like a
    public function (``tracker.track``) would replace that function once anything imports it."""
    import tracker

    modules = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert not modules & set(tracker.__all__)
