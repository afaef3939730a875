"""The pieces the report and the comparison pages share: style, cells, tables."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

__all__ = ["cell", "page", "rows_table"]

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.left, th.left { text-align: left; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
.note { color: #555; } img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
.verdict { padding: 0.6em 1em; background: #f6f8fa; border-left: 4px solid #888; }
"""


def cell(value: object, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{escape(str(value))}</td>"


def rows_table(
    rows: list[dict[str, str]], columns: Sequence[str], empty: str, limit: int = 50
) -> str:
    """Up to ``limit`` rows as a left-aligned table; ``empty`` when there are none."""
    if not rows:
        return f"<p class='note'>{escape(empty)}</p>"
    head = "".join(f"<th class='left'>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(cell(row.get(c, ""), "left") for c in columns) + "</tr>"
        for row in rows[:limit]
    )
    more = f"<p class='note'>{len(rows) - limit} more not shown.</p>" if len(rows) > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def page(title: str, body: str) -> str:
    """A whole page: no scripts, no network, images beside it."""
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
