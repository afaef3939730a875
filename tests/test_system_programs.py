"""Tests that drive a system program skip without it, except in CI, where they fail."""

from __future__ import annotations

import pytest

from tests.support import system_program


def test_a_missing_program_skips_with_the_reason_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs a unicorn; not installed here"):
        system_program(("unicorn",), "this needs a unicorn")


def test_a_missing_program_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="this needs a unicorn"):
        system_program(("unicorn",), "this needs a unicorn")


def test_a_present_program_is_found() -> None:
    assert system_program(("sh",), "a shell").endswith("/sh")
