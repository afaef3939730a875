"""Locust's CSV writer must not outlive the files Locust closes at shutdown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.loadgen.support import LOCUSTFILE, headless, read_stats, run_locust

SLOW_QUIT = Path(__file__).with_name("slow_quit_locustfile.py")


@pytest.mark.slow
def test_a_shutdown_that_yields_after_the_csv_files_close_stays_clean(tmp_path: Path) -> None:
    result = run_locust(
        "-f",
        f"{LOCUSTFILE},{SLOW_QUIT}",
        *headless(2, "3s"),
        "--csv",
        str(tmp_path / "run"),
        "--only-summary",
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_stats(tmp_path / "run")["connect"]["Request Count"] != "0"


# In a child: importing Locust patches the standard library with gevent.
_CHECKED = """
import locust
from locust.stats import StatsCSVFileWriter
from chatload.errors import ConfigError
from chatload.loadgen.wiring.locust_csv import check_csv_writer
check_csv_writer()  # this Locust's writer is as expected
del StatsCSVFileWriter.stats_writer
try:
    check_csv_writer()
except ConfigError as exc:
    print(locust.__version__)
    print(exc)
"""


def test_the_writer_chatload_ends_is_checked_at_start() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHECKED], capture_output=True, text=True, timeout=60, check=True
    )
    version, message = done.stdout.strip().split("\n")
    assert f"Locust {version}'s CSV writer has no stats_writer" in message


_LATE_WRITE = """
import csv, sys
from pathlib import Path
import chatload.loadgen.wiring.locust_csv  # noqa: F401 (patches the close)
from locust.stats import StatsCSVFileWriter

root = Path(sys.argv[1])
writer = object.__new__(StatsCSVFileWriter)
handles = {}
for name in ("requests", "stats_history", "failures", "exceptions"):
    handle = (root / f"{name}.csv").open("w", newline="")
    handles[name] = handle
    setattr(writer, f"{name}_csv_filehandle", handle)
    setattr(writer, f"{name}_csv_writer", csv.writer(handle))
writer.requests_csv_writer.writerow(["kept"])
writer.close_files()
assert all(handle.closed for handle in handles.values())
# A writer that wakes after the close: its seek, rows and truncate go nowhere.
writer.requests_csv_filehandle.seek(0)
writer.requests_csv_writer.writerow(["late"])
writer.requests_csv_filehandle.truncate()
print((root / "requests.csv").read_text().strip())
"""


def test_a_write_after_locust_closed_its_files_goes_nowhere(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LATE_WRITE, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "kept"
