"""The package's import graph has no circle: the frame path stays one-way
(client → codec → tracker → samples → records → CSV → report); and a generator
process imports none of the analysis."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LOCUSTFILE = SRC.parent / "locustfiles" / "chat.py"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package ``path`` imports, at module level or in functions;
    imports only for type checking do not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in SRC.rglob("*.py")}
    modules = set(paths)
    graph = {}
    for name, path in paths.items():
        # A package's __init__ is not an edge: importing a.b runs a/__init__ first
        # anyway, and the lazy __init__s import nothing at module level.
        graph[name] = {m for m in _imports(path, modules) if m != name and "." in m}
        graph[name] -= {m for m in graph[name] if paths[m].name == "__init__.py"}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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


def test_no_import_circles() -> None:
    assert _cycles(_graph()) == []


def test_no_circles_between_the_parts() -> None:
    """Nor between the parts (protocol, tracking, records, slo, analysis, loadgen,
    server, ...): records do not reach back into the SLO gate, for example."""
    parts: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        part = ".".join(module.split(".")[:2])
        parts.setdefault(part, set()).update(".".join(t.split(".")[:2]) for t in targets)
    for part, targets in parts.items():
        targets.discard(part)
    assert _cycles(parts) == []


def test_the_checker_finds_a_circle() -> None:
    assert _cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": set()}) == [
        ["a.x", "a.y", "a.z"]
    ]


# loadgen's rooms, lowest first: a module may import its own room's modules and
# the rooms below, never one above. The modules at loadgen's top (the side-job
# base, the wire, the exit codes) are below every room and import none.
ROOMS = ("connection", "engine", "people", "watching", "wiring")


def _room(module: str) -> int | None:
    """Its room's rank; -1 for loadgen's top-level modules; None outside loadgen."""
    parts = module.split(".")
    if parts[:2] != ["chatload", "loadgen"] or len(parts) < 3:
        return None
    return ROOMS.index(parts[2]) if parts[2] in ROOMS else -1


def _upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    found = []
    for module, targets in sorted(graph.items()):
        rank = _room(module)
        if rank is None:
            continue
        for target in sorted(targets):
            target_rank = _room(target)
            if target_rank is not None and target_rank > rank:
                found.append((module, target))
    return found


def test_loadgens_rooms_are_layers() -> None:
    rooms = {path.name for path in (SRC / "chatload" / "loadgen").iterdir() if path.is_dir()}
    assert rooms - {"__pycache__"} == set(ROOMS)
    assert _upward(_graph()) == []


def test_the_layer_checker_finds_an_upward_import() -> None:
    graph = {
        "chatload.loadgen.people.user": {"chatload.loadgen.wiring.embedded"},
        "chatload.loadgen.wiring.plugin": {"chatload.loadgen.people.user"},
        "chatload.loadgen.messages": {"chatload.loadgen.connection.client"},
    }
    assert _upward(graph) == [
        ("chatload.loadgen.messages", "chatload.loadgen.connection.client"),
        ("chatload.loadgen.people.user", "chatload.loadgen.wiring.embedded"),
    ]


def test_a_generator_process_imports_no_analysis() -> None:
    # Every worker imports the locustfile: SciPy, matplotlib and a database driver
    # there cost each generator process 60 MiB before its first user (measured when
    # the history's recording was imported at module level).
    probe = (
        "import runpy, sys; sys.argv = ['locust']; "
        f"runpy.run_path({str(LOCUSTFILE)!r}); "
        "print(sorted(m for m in ('scipy', 'matplotlib', 'psycopg', 'chatload.analysis') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
