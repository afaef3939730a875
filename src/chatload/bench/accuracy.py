"""``chatload bench-accuracy``: does chatload measure a known delay exactly?

The reference server delays every frame to half of the users (requesters of a
``--layout pairs`` dataset) by ``--delay-ms``; the other half is the baseline,
measured side by side in the same run. The delivery p50 and p99 of the delayed
users must be the baseline's plus the delay, within max(0.3 ms, 2 %). Samples of the
seconds the generator marked saturated are left out of both halves, as the trust
line asks of any run: a stall of a shared machine lifts a tail by its own length.
The server says how often its delay line let a frame go a millisecond or more late
(``--test-delay-late-log``): a delayed frame is in flight 100 ms longer than a
baseline one, and a stall of the server in that time lifts the delayed half's tail
alone, which is the server's doing, not the measurement's; the result shows it.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chatload.analysis.csvfiles import timestamp
from chatload.errors import ChatloadError
from chatload.provision import ProvisionPlan, provision
from chatload.server.launcher import LaunchedServer

__all__ = ["AccuracyResult", "measure_accuracy", "run_accuracy_benchmark"]

_LOCUSTFILE = Path(__file__).resolve().parents[3] / "locustfiles" / "chat.py"


@dataclass(frozen=True, slots=True)
class AccuracyResult:
    delay_ms: float
    tolerance_ms: float
    samples: tuple[int, int]  # (delayed, baseline)
    delayed_ms: dict[float, float]
    baseline_ms: dict[float, float]
    # How late the server let delayed frames go, those 1 ms or more late (sorted).
    late_ms: tuple[float, ...] = field(default=(), repr=False)

    def error_ms(self, share: float) -> float:
        return self.delayed_ms[share] - self.baseline_ms[share] - self.delay_ms

    @property
    def within(self) -> bool:
        return all(abs(self.error_ms(share)) <= self.tolerance_ms for share in self.delayed_ms)


def _at(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def measure_accuracy(
    delay_ms: float = 100.0, pairs: int = 15, duration: float = 30.0, locustfile: Path = _LOCUSTFILE
) -> AccuracyResult:
    with tempfile.TemporaryDirectory(prefix="chatload-accuracy-") as directory:
        root = Path(directory)
        provision(
            root / "chat.db",
            root / "users.csv",
            ProvisionPlan(
                owners=pairs,
                requesters=pairs,
                events_per_owner=1,
                chats_per_requester=1,
                history=60,
                layout="pairs",
            ),
        )
        with LaunchedServer(
            root / "chat.db",
            "--test-delay-ms",
            str(delay_ms),
            "--test-delay-from-user",
            str(pairs + 1),
            "--test-delay-late-log",
            str(root / "late.csv"),
            # No fsync per commit: a slow disk's stall (hundreds of ms, seen on this
            # machine under I/O pressure) is no part of the tool's accuracy.
            "--synchronous",
            "normal",
        ) as server:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(locustfile),
                    "--headless",
                    "-u",
                    str(2 * pairs),
                    "-r",
                    str(2 * pairs),
                    "-t",
                    f"{round(duration)}s",
                    "--host",
                    server.url,
                    "--users-file",
                    str(root / "users.csv"),
                    "--owner-weight",
                    "1",
                    "--requester-weight",
                    "1",
                    "--think-min",
                    "0.05",
                    "--think-max",
                    "0.2",
                    "--chat-samples",
                    str(root / "samples"),
                    "--csv",
                    str(root / "run"),
                    "--chat-interval",
                    "1",
                    "--only-summary",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=duration + 120,
            )
        if done.returncode != 0:
            raise ChatloadError(f"the load run failed: {done.stderr.strip().splitlines()[-1:]}")
        late = _late(root / "late.csv")
        stalled = _saturated(root / "run_generator_health.csv")
        samples = root / "samples.local.csv"
        with samples.open(newline="") as handle:
            rows = [
                r
                for line, r in enumerate(csv.DictReader(handle), start=2)
                if r["metric"] == "delivery"
                and not r["failure_kind"]
                and not _within(timestamp(samples, line, r["time"]), stalled)
            ]
    delayed = sorted(float(r["response_time_ms"]) for r in rows if int(r["user_id"]) > pairs)
    baseline = sorted(float(r["response_time_ms"]) for r in rows if int(r["user_id"]) <= pairs)
    if not delayed or not baseline:
        raise ChatloadError("no deliveries were measured")
    shares = (0.5, 0.99)
    return AccuracyResult(
        delay_ms,
        max(0.3, 0.02 * delay_ms),
        (len(delayed), len(baseline)),
        {s: _at(delayed, s) for s in shares},
        {s: _at(baseline, s) for s in shares},
        tuple(late),
    )


def _saturated(health: Path) -> list[tuple[float, float]]:
    """The seconds the generator marked saturated (its loop late by 10 ms or more:
    a stall of the machine, whose delay the server's frames did not all share)."""
    with health.open(newline="") as handle:
        return [
            (
                timestamp(health, line, r["interval_start"]),
                timestamp(health, line, r["interval_end"]),
            )
            for line, r in enumerate(csv.DictReader(handle), start=2)
            if r["saturated"] == "true"
        ]


def _late(log: Path) -> list[float]:
    """How late (ms) the server's delay line let frames go, those 1 ms or more late."""
    if not log.exists():
        return []
    with log.open(encoding="utf-8") as handle:
        return sorted(float(line.split(",")[1]) for line in handle if line.strip())


def _within(time: float, spans: list[tuple[float, float]]) -> bool:
    return any(start <= time < end for start, end in spans)


def run_accuracy_benchmark(delay_ms: float, pairs: int, duration: float) -> int:
    result = measure_accuracy(delay_ms, pairs, duration)
    print(
        f"delivery, {result.samples[0]} delayed by {delay_ms} ms and {result.samples[1]} "
        f"baseline samples, side by side:"
    )
    for share in sorted(result.delayed_ms):
        print(
            f"  p{share * 100:g}: delayed {result.delayed_ms[share]:.3f} ms, baseline "
            f"{result.baseline_ms[share]:.3f} ms, error {result.error_ms(share):+.3f} ms "
            f"(tolerance {result.tolerance_ms:.3f} ms)"
        )
    late = result.late_ms
    if late:  # the server's own imprecision, in the delayed half alone
        print(
            f"  the server let {len(late)} delayed frames go 1 ms or more late (median "
            f"{_at(list(late), 0.5):.1f} ms, largest {late[-1]:.1f} ms)"
        )
    print("within tolerance" if result.within else "OUTSIDE tolerance")
    return 0 if result.within else 1
