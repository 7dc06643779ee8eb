"""The layers of payments import one way: no import circles among its modules (tasks call services, services
send messages by task name), and no service or selector speaks HTTP through DRF.

Read from the source with ast, so a circle hidden behind a function-level import counts too.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_PARTS = {"tests", "migrations", "management"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(package: str) -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / package).rglob("*.py"))
            if not SKIPPED_PARTS & set(path.relative_to(ROOT).parts)}


def imported_names(path: Path, name: str) -> set[str]:
    """Every module an import statement of the file names (anywhere in it), with `from x import y` giving
    both x and x.y (y may be a submodule); relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    modules = modules_of(package)
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path, name):
            # `import a.b.c` runs a/__init__ and a/b/__init__ too, but those are parents, not edges we follow:
            # a package's __init__ importing nothing of its children cannot close a circle through them.
            if imported in modules and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_function_level_and_relative_imports():
    graph = import_graph("payments")

    assert "payments.services.ledger" in graph["payments.services.assignment"]  # `from . import ledger`
    assert "payments.services.execution" in graph["payments.services.intake"]  # `from .execution import …`
    assert "payments.services.assignment" in graph["payments.tasks"]  # tasks call services
    assert "payments.tasks" not in graph["payments.services.assignment"]  # services send by task name


def test_no_import_circles_in_payments():
    assert cycles(import_graph("payments")) == []


def test_no_service_or_selector_imports_drf():
    offenders = []
    for package in ("accounts", "tenancy", "audit", "payments", "trading", "core"):
        for name, path in modules_of(package).items():
            if not {"services", "selectors"} & set(name.split(".")):
                continue
            # DRF itself, or the API layer's mapping of domain errors to HTTP (core.api_errors imports DRF)
            drf = sorted(imported for imported in imported_names(path, name)
                         if imported.split(".")[0] == "rest_framework" or imported.startswith("core.api_errors"))
            if drf:
                offenders.append((name, drf))
    assert offenders == []
