"""The parts of docs/ that code defines are written from it (chatload.docgen)."""

from __future__ import annotations

from pathlib import Path

from chatload import docgen
from chatload.loadgen.engine.options import ChatOptions
from chatload.records.files import CHAT_METRICS_COLUMNS


def test_the_docs_are_up_to_date_with_the_code() -> None:
    assert docgen.stale_files() == [], "run python -m chatload.docgen (make docs)"


def test_a_generated_part_follows_the_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("before\n<!-- generated: exports -->\nold\n<!-- end generated -->\nafter\n")
    assert docgen.stale_files(tmp_path) == [page]
    written = docgen.render(page.read_text())
    assert written.startswith("before\n<!-- generated: exports -->\n| file |")
    assert ",".join(CHAT_METRICS_COLUMNS) in written and written.endswith("after\n")
    options = docgen.render("<!-- generated: options -->\n<!-- end generated -->\n")
    for name in ("transport", "source_addresses", "think_min"):
        assert f"`--{name.replace('_', '-')}`" in options
        assert name in ChatOptions.__dataclass_fields__
