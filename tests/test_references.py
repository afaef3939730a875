"""Docstrings and comments name modules that exist: a module that moved leaves no
stale path behind (``loadgen.dispatch`` after it went to ``loadgen.wiring``)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
_PATHS = {
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
    for p in SRC.rglob("*.py")
}
# A dotted name under one of chatload's packages, not part of a longer name or an
# f-string's expression ({server.url}).
_REFERENCE = re.compile(
    r"(?<![{\w.])(?:chatload\.)?"
    r"((?:loadgen|records|tracking|protocol|analysis|bench)\.[a-z_]+(?:\.[A-Za-z_]+)*)"
)


def stale(reference: str, paths: dict[str, Path] = _PATHS) -> bool:
    """No module of that name, or the module defines nothing of the name after it."""
    parts = ["chatload", *reference.split(".")]
    for k in range(len(parts), 1, -1):
        module = ".".join(parts[:k])
        if module not in paths:
            continue
        rest = parts[k:]
        if not rest:
            return False
        source = paths[module].read_text(encoding="utf-8")
        if paths[module].name == "__init__.py":  # a package: only what it exports
            return f'"{rest[0]}"' not in source
        return re.search(rf"\b{re.escape(rest[0])}\b", source) is None
    return True


_FILES = ("db", "csv", "json", "png", "html", "md", "py", "txt", "xml", "conf")  # bench.db


def _references(path: Path) -> list[tuple[int, str]]:
    found = []
    for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            found += [
                (token.start[0], m.group(1))
                for m in _REFERENCE.finditer(token.string)
                if m.group(1).rsplit(".", 1)[-1] not in _FILES
            ]
    return found


def test_every_module_named_in_a_docstring_or_comment_exists() -> None:
    missing = [
        f"{path.relative_to(SRC)}:{line}: {reference}"
        for path in sorted(SRC.rglob("*.py"))
        for line, reference in _references(path)
        if stale(reference)
    ]
    assert missing == []


def test_the_checker_finds_a_moved_module() -> None:
    assert stale("loadgen.dispatch") and stale("loadgen.gc_policy")
    assert not stale("loadgen.wiring.dispatch") and not stale(
        "loadgen.wiring.dispatch.ChatDispatcher"
    )
    assert stale("loadgen.wiring.dispatch.NoSuchThing") and not stale("loadgen.install")
