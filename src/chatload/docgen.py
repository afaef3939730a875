"""The parts of ``docs/`` that code defines, written from that code.

A generated part sits between two markers in a Markdown file::

    <!-- generated: options -->
    ...
    <!-- end generated -->

``python -m chatload.docgen`` rewrites every such part; ``--check`` exits 1 when
one is stale (the test suite runs the check, so a changed option or CSV column
cannot leave the docs behind).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

__all__ = ["GENERATORS", "main", "render", "stale_files"]

DOCS: Final = Path(__file__).resolve().parents[2] / "docs"
_BLOCK: Final = re.compile(
    r"(<!-- generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)


def _options() -> str:
    """The options reference, one table per section (``docs/options.md`` embeds it)."""
    from chatload.loadgen.engine.options import SECTIONS, ChatOptions, flag_of

    lines: list[str] = []
    fields = dataclasses.fields(ChatOptions)
    for section, title in SECTIONS.items():
        lines += [f"### {title}", "", "| option | default | what it does |", "|---|---|---|"]
        for field in fields:
            meta = field.metadata
            if meta["section"] != section:
                continue
            what = meta["help"]
            if meta["choices"]:
                what += " (" + ", ".join(f"`{c}`" for c in meta["choices"]) + ")"
            if not meta["web_ui"]:
                what += "; command line and config files only"
            lines.append(f"| `{flag_of(field)}` | {_shown_default(field)} | {what} |")
        lines.append("")
    return "\n".join(lines)


def _shown_default(field: dataclasses.Field[Any]) -> str:
    default = field.default
    if field.name == "markers":
        return "`on`"
    if default is None or default in ("", ()):
        return "off" if field.type != "bool" else "`false`"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def _exports() -> str:
    from chatload import drift, slo
    from chatload.records import files as contracts
    from chatload.records.traffic_feed import TRAFFIC_INTERVAL_COLUMNS
    from chatload.traffic.compare import TRAFFIC_COLUMNS

    files = (
        ("PREFIX_chat_metrics.csv", "interval and metric", contracts.CHAT_METRICS_COLUMNS),
        ("PREFIX_chat_summary.csv", "metric, whole run", contracts.SUMMARY_COLUMNS),
        ("PREFIX_generator_health.csv", "interval and process", contracts.HEALTH_COLUMNS),
        ("PREFIX_invariants.csv", "breach", contracts.INVARIANT_COLUMNS),
        ("PREFIX_chat_hdr.csv", "interval and metric", contracts.HDR_COLUMNS),
        (
            "PREFIX_chat_failures.csv",
            "interval, metric and failure kind",
            contracts.FAILURE_COLUMNS,
        ),
        ("PREFIX_drift.csv", "series (subject)", drift.DRIFT_COLUMNS),
        (
            "PREFIX_server_metrics.csv (--server-metrics)",
            "scrape and series",
            contracts.SERVER_METRICS_COLUMNS,
        ),
        ("PREFIX_slo.csv (--slo)", "threshold", slo.VERDICT_COLUMNS),
        ("PATH.<process>.csv (--chat-samples)", "sample", contracts.SAMPLE_COLUMNS),
        ("PREFIX_traffic.csv (--traffic-model)", "role and quantity", TRAFFIC_COLUMNS),
        (
            "PREFIX_traffic_intervals.csv (--traffic-model)",
            "interval and role",
            TRAFFIC_INTERVAL_COLUMNS,
        ),
    )
    lines = ["| file | one row per | columns |", "|---|---|---|"]
    lines += [f"| `{name}` | {row} | `{','.join(columns)}` |" for name, row, columns in files]
    return "\n".join(lines) + "\n"


def _failure_kinds() -> str:
    from chatload.tracking.metrics import FAILURE_KINDS

    return ", ".join(f"`{kind}`" for kind in FAILURE_KINDS) + "\n"


def _modules() -> str:
    """Every module of the package with the first sentence of its docstring, read
    without importing anything (``docs/architecture.md``'s code layout)."""
    import ast

    package = Path(__file__).resolve().parent
    lines = ["| module | what it is |", "|---|---|"]
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent)
        if path.name == "__init__.py" and path.parent == package:
            continue
        shown = relative.parent if path.name == "__init__.py" else relative
        text = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if not text:
            raise ValueError(f"{relative} has no docstring: say in one line what it is")
        first = " ".join(text.split("\n\n")[0].split())
        sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0].rstrip(".")
        lines.append(f"| `{shown}{'/' if path.name == '__init__.py' else ''}` | {sentence} |")
    return "\n".join(lines) + "\n"


def _exit_codes() -> str:
    from chatload.loadgen.exits import EXIT_CODES

    lines = ["| exit code | means |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES]
    return "\n".join(lines) + "\n"


def _history_figures() -> str:
    from chatload.history.figures import KINDS

    lines = ["| statistic | what it is | analyzed | worse when |", "|---|---|---|---|"]
    for kind in KINDS.values():
        analyzed = ("in log space" if kind.log else "as is") if kind.analyzed else "kept only"
        worse = ("higher" if kind.worse_when_higher else "lower") if kind.analyzed else ""
        lines.append(f"| `{kind.statistic}` | {kind.meaning} | {analyzed} | {worse} |")
    return "\n".join(lines) + "\n"


GENERATORS: Final[dict[str, Callable[[], str]]] = {
    "options": _options,
    "exports": _exports,
    "failure_kinds": _failure_kinds,
    "modules": _modules,
    "exit_codes": _exit_codes,
    "history_figures": _history_figures,
}


def render(text: str) -> str:
    """``text`` with every generated part written anew."""

    def fill(match: re.Match[str]) -> str:
        body = GENERATORS[match["name"]]()
        return f"{match[1]}{body.rstrip()}\n{match[4]}"

    return _BLOCK.sub(fill, text)


def stale_files(docs: Path = DOCS) -> list[Path]:
    return [path for path in sorted(docs.glob("*.md")) if render(t := path.read_text()) != t]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    stale = stale_files()
    if "--check" in args:
        for path in stale:
            print(f"{path} is stale: run python -m chatload.docgen", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(render(path.read_text()))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
