"""Modules stay small and single-purpose; functions stay readable; the README stays
the short way in (the detail lives in docs/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "chatload"
MODULE_LINES = 450
FUNCTION_LINES = 60  # outside bench/, whose drivers are scripts
README_LINES = 160


def long_functions(path: Path, limit: int = FUNCTION_LINES) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno} {node.name} ({lines} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (lines := (node.end_lineno or node.lineno) - node.lineno + 1) > limit
    ]


def test_no_module_over_450_lines() -> None:
    big = [
        f"{path.relative_to(ROOT)} ({n} lines)"
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    ]
    assert big == []


def test_no_function_over_60_lines_outside_bench() -> None:
    found = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        if "bench" not in path.relative_to(PACKAGE).parts
        for line in long_functions(path)
    ]
    assert found == []


def test_the_readme_is_at_most_160_lines() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= README_LINES


def test_the_function_check_counts_lines(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def short():\n    pass\n\n\ndef long():\n" + "    x = 1\n" * 60)
    assert [line.split()[1] for line in long_functions(source)] == ["long"]
