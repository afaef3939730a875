"""docs/personas.md's two example locustfiles, run as a reader would run them:
headless against the embedded server, every metric measured, nothing failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loadgen.support import ROOT, assert_every_metric_clean, headless, read_stats

EXAMPLES = ROOT / "locustfiles" / "examples"


def _start(locustfile: Path, prefix: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            *headless(20, "20s"),
            "--think-min",
            "0.3",
            "--think-max",
            "1.2",
            "--csv",
            str(prefix),
            "--only-summary",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.slow
def test_the_example_personas_run_clean(tmp_path: Path) -> None:
    # Both at once: each is a light 20-user run.
    runs = {
        name: (_start(EXAMPLES / f"{name}.py", tmp_path / name), tmp_path / name)
        for name in ("photo_requester", "history_first")
    }
    for name, (process, prefix) in runs.items():
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, (name, err[-3000:])
        assert "Traceback" not in err, (name, err[-3000:])
        assert_every_metric_clean(read_stats(prefix), prefix)


def test_a_persona_keeps_its_own_weight_and_fixed_count() -> None:
    code = """
import locust, json
from chatload.loadgen.engine.options import ChatOptions
import importlib.util, sys
spec = importlib.util.spec_from_file_location("example", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
options = ChatOptions(owner_weight=2, requester_weight=5)
print(json.dumps({name: list(getattr(module, name).share(options)) for name in module.__all__}))
"""
    shares = {}
    for example in ("photo_requester", "history_first"):
        done = subprocess.run(
            [sys.executable, "-c", code, str(EXAMPLES / f"{example}.py")],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        shares.update(json.loads(done.stdout.strip().splitlines()[-1]))
    assert shares == {
        "PhotoRequester": ["requester", 3, 0],  # its own weight, not --requester-weight
        "OwnerUser": ["owner", 2, 0],  # the built-in persona follows --owner-weight
        "HistoryFirstOwner": ["owner", 1.0, 4],  # its own fixed count
        "RequesterUser": ["requester", 5, 0],
    }


def test_a_persona_cannot_assign_to_its_chats(tmp_path: Path) -> None:
    from mypy import api

    persona = tmp_path / "persona.py"
    persona.write_text(
        "from chatload.tracking import Chat\n\n"
        "def mark(view: Chat) -> int:\n"
        "    view.my_unread = 0\n"
        "    return view.last_id\n"
    )
    out, _, status = api.run(
        [str(persona), "--no-incremental", "--follow-imports=silent", "--cache-dir=/dev/null"]
    )
    assert status == 1, out
    assert 'Property "my_unread" defined in "Chat" is read-only' in out, out
    assert out.count("error:") == 1, out
