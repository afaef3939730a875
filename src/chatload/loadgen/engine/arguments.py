"""chatload's options registered on Locust's parser, from the option table.

Registered on the parser itself, not in groups: only there does Locust take
``include_in_web_ui`` and ``env_var``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from chatload.loadgen.engine.options import ChatOptions, flag_of

__all__ = ["add_arguments"]


def add_arguments(parser: Any) -> None:
    """Register chatload's options on Locust's parser (``init_command_line_parser``)."""
    for field in dataclasses.fields(ChatOptions):
        meta = field.metadata
        flag = flag_of(field)
        common: dict[str, Any] = {
            "env_var": "CHATLOAD_" + field.name.upper(),
            "help": meta["help"],
        }
        if not meta["web_ui"]:
            common["include_in_web_ui"] = False
        if meta["metavar"]:
            common["metavar"] = meta["metavar"]
        kind = field.type
        if field.name == "markers":
            parser.add_argument(flag, default="on", choices=meta["choices"], **common)
        elif kind == "bool":
            parser.add_argument(flag, action="store_true", default=field.default, **common)
        elif field.name == "slo":
            # None, not []: the web UI form keeps a None-valued option as its text
            parser.add_argument(flag, action="append", default=None, **common)
        elif kind in ("int", "float"):
            parser.add_argument(
                flag, type=int if kind == "int" else float, default=field.default, **common
            )
        else:
            default = field.default if isinstance(field.default, str) else ""
            parser.add_argument(flag, default=default, choices=meta["choices"], **common)
