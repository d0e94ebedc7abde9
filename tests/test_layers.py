"""The import graph, read from the source: no circles, no import that runs back up a floor, `db/` free of `app/`,
and `Settings()` built without the database layer. Each import counts, also one inside a function."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from app.settings import REPO_ROOT

# Floors, lowest first: a room (a package, or a module at the top of `app/`) may import its own floor's rooms
# only where the room is the same, and any room of a lower floor.
FLOORS: list[tuple[str, ...]] = [
    ("domains", "app", "app.settings"),
    ("db",),
    ("app.dialogue",),
    ("app.backends", "app.tools"),
    ("app.agent",),
    ("app.assembly",),
    ("app.evaluation", "app.workbench"),
    ("app.simulation",),
    ("app.ui", "app.chat", "app.evaluate", "app.simulate", "app.review"),
    ("app.py",),
]
PACKAGES = ("app", "db", "domains")


def modules() -> dict[str, Path]:
    """Every module of the three packages (a package is named by its `__init__`), and `app.py`."""
    found = {"app.py": REPO_ROOT / "app.py"}
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a `from package import module` names the module)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def room(module: str) -> str:
    """The room a module lives in: its package under `app/` (or `app/` top-level module), `db`, `domains`."""
    if module == "app.py":
        return module
    parts = module.split(".")
    if parts[0] in ("db", "domains"):
        return parts[0]
    return ".".join(parts[:2]) if len(parts) > 1 else "app"


def floor(module: str) -> int:
    place = room(module)
    for number, rooms in enumerate(FLOORS):
        if place in rooms:
            return number
    raise AssertionError(f"{module} lives in {place}, which is on no floor: add it to FLOORS")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(modules()):
        if node not in index:
            visit(node)
    return found


def test_every_module_lives_on_a_floor():
    for module in modules():
        floor(module)


def test_the_import_graph_has_no_circles():
    assert circles(import_graph()) == []


def test_no_import_runs_back_up_and_db_imports_nothing_from_app():
    upward = sorted(f"{source} -> {target}" for source, targets in import_graph().items() for target in targets
                    if room(source) != room(target) and floor(target) >= floor(source))
    assert upward == []
    assert not [t for s, ts in import_graph().items() if room(s) == "db" for t in ts if t.startswith("app")]


def test_settings_build_without_the_database_layer_or_the_model_code():
    probe = ("import sys; from app.settings import Settings; Settings(); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'db', 'torch', 'gradio') "
             "or m.startswith(('app.tools', 'app.agent', 'app.backends'))))")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


if __name__ == "__main__":  # the figures of the closing note: rooms, floors, arrows, circles, arrows back up
    graph = import_graph()
    arrows = {(room(s), room(t)) for s, ts in graph.items() for t in ts if room(s) != room(t)}
    print(f"modules {len(modules())}, module arrows {sum(map(len, graph.values()))}, "
          f"rooms {len({room(m) for m in modules()})}, floors {len(FLOORS)}, room arrows {len(arrows)}, "
          f"circles {len(circles(graph))}, "
          f"back up {sum(floor(t) >= floor(s) for s, t in arrows)}")
