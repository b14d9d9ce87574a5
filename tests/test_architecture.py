"""The import rules of docs/ARCHITECTURE.md, read from the source: no import cycle between the modules of
`sqms/`, and the mechanism packages (reminder engine, report renderer) import no domain.

Every `import` and `from … import` counts, also those inside functions (a lazy import hides a cycle from
Python at start-up, not from the reader) and those under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sqms"

# The one allowed circle: `sqms.models` imports every domain's models (so that Alembic and the
# foreign keys see every table), every model imports `sqms.db` for `Base`, and `sqms.db` imports
# `sqms.models` inside `UnitOfWork` and `migrate` so that a unit of work never flushes before all
# tables are registered. It is a registration, not a dependency of `db` on any domain.
ALLOWED_EDGES = {("sqms.db", "sqms.models")}

DOMAINS = ("actions", "audits", "complaints", "improvement", "meetings", "monitoring", "org", "records",
           "reviews", "standards", "suggestions", "surveys")



def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name → file, for every .py below `package` (a package is its __init__)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """The modules of `known` that module `name` imports, each with the line of its first import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x`, `from ..pkg import y`
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import name`: a submodule when `pkg.name` is one, else a name in `pkg`
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                found.setdefault(target, node.lineno)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    files = module_files(package)
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def knots(graph: dict[str, dict[str, int]], allowed: set[tuple[str, str]] = frozenset()) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan): modules that import each
    other, directly or round about."""
    edges = _edges(graph, allowed)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in edges.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def cycles(graph: dict[str, dict[str, int]], allowed: set[tuple[str, str]] = frozenset()) -> list[list[str]]:
    """One cycle (`[a, b, …, a]`) per knot."""
    return [_a_cycle_in(knot, _edges(graph, allowed)) for knot in knots(graph, allowed)]


def _edges(graph: dict[str, dict[str, int]], allowed: set[tuple[str, str]]) -> dict[str, list[str]]:
    return {a: sorted(b for b in targets if (a, b) not in allowed) for a, targets in graph.items()}


def _a_cycle_in(component: set[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest way from the component's first module back to itself (breadth first)."""
    start = min(component)
    came_from = {start: start}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for succ in edges[node]:
            if succ == start:
                walk = [node]
                while walk[-1] != start:
                    walk.append(came_from[walk[-1]])
                return walk[::-1] + [start]
            if succ in component and succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"no cycle through {start}")  # a component of more than one module has one


def _describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    """`a (line 3) → b (line 9) → a`: each module with the line where it imports the next."""
    return " → ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" → {cycle[-1]}"


def test_the_walk_finds_cycles_through_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The detector itself: a cycle made of a function-level relative import and a plain one is found,
    and an allowed edge breaks it."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import pkg.sub.b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import x\n")
    (pkg / "c.py").write_text("from pkg import a\nx = 1\n")
    (pkg / "d.py").write_text("from pkg.a import nothing\n")  # only into the cycle, not part of it
    graph = import_graph(pkg)
    assert graph["pkg.sub.b"] == {"pkg.c": 2}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    assert cycles(graph, {("pkg.c", "pkg.a")}) == []


def test_the_model_registration_is_the_only_allowed_edge() -> None:
    graph = import_graph()
    for a, b in ALLOWED_EDGES:
        assert b in graph[a], f"{a} no longer imports {b}: drop it from ALLOWED_EDGES"


def test_no_import_cycle_in_sqms() -> None:
    graph = import_graph()
    found = knots(graph, ALLOWED_EDGES)
    edges = _edges(graph, ALLOWED_EDGES)
    assert not found, "import cycles in sqms/ (break them: a cross-domain read goes through the other " \
        "domain's service functions; a mechanism package imports no domain):\n" + "\n".join(
            f"{_describe(_a_cycle_in(knot, edges), graph)}\n    ({len(knot)} modules tied: {', '.join(sorted(knot))})"
            for knot in found)


def _domain_imports(package: str) -> list[str]:
    graph = import_graph()
    return [f"{name} imports {target} (line {line})" for name, targets in sorted(graph.items())
            if name == package or name.startswith(package + ".")
            for target, line in sorted(targets.items())
            if any(target == f"sqms.{d}" or target.startswith(f"sqms.{d}.") for d in DOMAINS)]


def test_the_reminder_engine_imports_no_domain() -> None:
    """Domains declare their due items and register them at the composition point; the engine knows none."""
    assert _domain_imports("sqms.reminders") == []


def test_the_report_mechanism_imports_no_domain() -> None:
    """`sqms/reporting/` renders, charts, versions and mails any report; each domain builds its own."""
    assert _domain_imports("sqms.reporting") == []
