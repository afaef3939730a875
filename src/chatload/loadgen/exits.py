"""What a run's exit code means, and the only places chatload sets it.

``EXIT_CODES`` is the table (``docs/slo.md`` shows it). A code once set to 2 (the
run could not start or go on) is never lowered to 1: the first problem is the one
to fix. Locust's own rule adds to code 1: it exits 1 when any request failed
(``--exit-code-on-error``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final, NoReturn

import gevent

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = ["EXIT_CODES", "fail_at_start", "fail_run", "fail_verdict", "is_headless"]

COMPLETED: Final = 0
FAILED: Final = 1
NOT_RUN: Final = 2
EXIT_CODES: Final = (
    (
        COMPLETED,
        "the run completed: every SLO held (or none was given), no guarantee broken; a "
        "capacity search answered (its failing levels' timeouts are its means, not a "
        "failure), also when cut short without --capacity-at-least",
    ),
    (
        FAILED,
        "an SLO was breached (at the end, or during the run with --slo-abort); a capacity "
        "search found a breach of the guarantees, or a capacity below --capacity-at-least "
        "(cut short: what held so far was below it); and Locust's own rule, outside a "
        "search: a request failed (--exit-code-on-error)",
    ),
    (
        NOT_RUN,
        "the run (or a capacity search) could not start or go on: bad options or users "
        "file, an unreachable server, a refused token, too few identities or open files "
        "(one line says which)",
    ),
)


def is_headless(environment: Environment) -> bool:
    parsed = getattr(environment, "parsed_options", None)
    return bool(parsed is not None and parsed.headless)


def fail_at_start(message: str) -> NoReturn:
    """A problem found before any user starts: one line, exit code 2."""
    sys.stderr.write(f"Error: {message}\n")
    sys.exit(NOT_RUN)


def fail_run(environment: Environment, message: str) -> None:
    """On the master or a local runner, once a run is on: one line, exit code 2, and
    the run ends (the web UI's run stops; a headless one quits)."""
    if environment.process_exit_code == NOT_RUN:
        return  # said once is enough
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    environment.process_exit_code = NOT_RUN
    _end(environment)


def fail_verdict(environment: Environment, *, end_now: bool = False) -> None:
    """A verdict failed (an SLO, a capacity): exit code 1, unless the run already
    failed to run; ``end_now`` ends the run here (--slo-abort)."""
    if environment.process_exit_code != NOT_RUN:
        environment.process_exit_code = FAILED
    if end_now:
        _end(environment)


def _end(environment: Environment) -> None:
    runner = environment.runner
    assert runner is not None, "no runner yet: a run ends once Locust made its runner"
    gevent.spawn(runner.quit if is_headless(environment) else runner.stop)
