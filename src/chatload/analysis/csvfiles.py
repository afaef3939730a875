"""Reading a run's CSV files with checks: each problem is one line naming the
file, the line and what is wrong (a :class:`~chatload.errors.ConfigError`)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from chatload.errors import ConfigError

__all__ = ["csv_file", "find_prefix", "number", "read_rows", "timestamp"]


def find_prefix(results: Path) -> Path:
    """The ``--csv`` prefix of the run at ``results`` (a prefix or a directory)."""
    if results.is_dir():
        runs = sorted(results.glob("*_chat_metrics.csv"))
        if len(runs) != 1:
            found = "no run" if not runs else f"{len(runs)} runs"
            raise ConfigError(
                f"{results} holds {found}: give the --csv prefix of one run, e.g. results/smoke"
            )
        return Path(str(runs[0])[: -len("_chat_metrics.csv")])
    if (
        not Path(f"{results}_chat_metrics.csv").exists()
        and not Path(f"{results}_stats.csv").exists()
    ):
        raise ConfigError(
            f"no run at {results}: give the --csv prefix the run used (results/smoke for "
            "results/smoke_stats.csv) or its directory"
        )
    return results


def csv_file(prefix: Path, name: str) -> Path:
    return Path(f"{prefix}_{name}.csv")


def read_rows(
    prefix: Path, name: str, columns: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each data row of the run's ``name`` file with its line number, after
    checking the header."""
    path = csv_file(prefix, name)
    if not path.exists():
        raise ConfigError(
            f"{path} is missing: a run with --csv {prefix} through chatload's locustfile writes it"
        )
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ConfigError(f"{path} is empty: expected a header row") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid CSV: {exc}") from None
        missing = [name for name in columns if name not in header]
        if missing:
            raise ConfigError(
                f"{path} lacks the column(s) {', '.join(missing)}: is it the right file?"
            )
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise ConfigError(
                        f"{path}, line {reader.line_num}: expected {len(header)} fields, got "
                        f"{len(row)} (a truncated or malformed file?)"
                    )
                yield reader.line_num, dict(zip(header, row, strict=True))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from None


def number(
    path: Path, line: int, row: dict[str, str], column: str, kind: Callable[[str], float] = float
) -> float:
    value = row[column]
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(
            f"{path}, line {line}: {column} must be a number, got {value!r}"
        ) from None


def timestamp(path: Path, line: int, value: str) -> float:
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ConfigError(
            f"{path}, line {line}: expected an ISO 8601 time, got {value!r}"
        ) from None
