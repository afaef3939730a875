"""``chatload history record``: one run's summary, with where and what it ran."""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from chatload import __version__
from chatload.analysis.csvfiles import csv_file, find_prefix
from chatload.errors import ChatloadError
from chatload.history.figures import run_figures
from chatload.history.store import RunSummary, summary_name
from chatload.history.stores import HistoryStore, open_store

log = logging.getLogger("chatload.history")

__all__ = ["RecordOptions", "git", "machine", "record_into_history", "record_run"]


@dataclass(frozen=True, slots=True)
class RecordOptions:
    commit: str | None = None  # default: git rev-parse HEAD in the working directory
    branch: str | None = None
    scenario: str | None = None  # default: the run's --csv prefix name (results/smoke: smoke)
    options: str | None = None  # the run's options, hashed so that runs of different ones differ
    yardstick: float | None = None  # chatload bench-generator's yardstick, messages/s
    time: str | None = None  # default: now


def record_run(results: Path, store: HistoryStore, options: RecordOptions) -> Path | str:
    """Add the run at ``results`` to ``store``; the summary's path."""
    prefix = find_prefix(results)
    figures = run_figures(prefix)
    commit = options.commit if options.commit is not None else git("rev-parse", "HEAD")
    branch = options.branch
    if branch is None:
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
    meta: dict[str, Any] = {
        "time": options.time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "commit": commit or None,
        "branch": branch or None,
        "scenario": options.scenario or prefix.name,
        "options_sha256": hashlib.sha256(options.options.encode()).hexdigest()[:16]
        if options.options is not None
        else None,
        "users": _most_users(prefix),
        "shape": "search" if "capacity.users" in figures else None,
        "results": str(prefix.resolve()),
        "versions": {
            "chatload": __version__,
            "locust": _version("locust"),
            "python": platform.python_version(),
        },
        "machine": machine(options.yardstick),
    }
    return store.add(RunSummary(summary_name(commit or ""), meta, figures))


# Options that differ between runs of one scenario without making them different runs.
_PER_RUN: Final = ("csv_prefix", "history_store", "html_file", "logfile", "host", "web_port")


def record_into_history(parsed: Any) -> None:
    """At a run's end (``--history-store DIR|URL``): add it to its history store, or say
    in one line why not; a run's own verdicts never depend on it."""
    store = getattr(parsed, "history_store", None)
    if not store:
        return
    prefix = getattr(parsed, "csv_prefix", None)
    if not prefix:
        log.error("--history-store needs --csv PREFIX: the run was not recorded")
        return
    options = " ".join(
        f"{name}={value}" for name, value in sorted(vars(parsed).items()) if name not in _PER_RUN
    )
    into = None
    try:
        into = open_store(str(store))
        path = record_run(Path(prefix), into, RecordOptions(options=options))
    except (ChatloadError, OSError) as exc:
        # named by its location once open: a URL's password left out
        where = into.location if into is not None else store
        log.error("the run was not recorded into %s: %s", where, exc)
        return
    log.info("recorded into the history store: %s", path)


def machine(yardstick: float | None = None) -> dict[str, Any]:
    """This machine: its CPU and cores, and a fingerprint of the two (runs of
    different machines are never one series)."""
    cpu = _cpu_model()
    cores = os.cpu_count() or 0
    fingerprint = hashlib.sha256(f"{cpu}|{cores}".encode()).hexdigest()[:12]
    return {"cpu": cpu, "cores": cores, "fingerprint": fingerprint, "yardstick_per_s": yardstick}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _most_users(prefix: Path) -> int | None:
    import csv

    path = csv_file(prefix, "stats_history")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            counts = [
                int(row["User Count"])
                for row in csv.DictReader(handle)
                if row.get("Name") == "Aggregated" and row.get("User Count", "").isdigit()
            ]
    except (OSError, KeyError, ValueError):
        return None
    return max(counts, default=None)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git(*args: str, repo: Path | None = None) -> str:
    """git's answer, stripped; "" where there is no git or no repository."""
    command = ["git", *(["-C", str(repo)] if repo else []), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
