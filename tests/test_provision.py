from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from chatload.errors import ConfigError
from chatload.protocol import is_uuid
from chatload.provision import ProvisionPlan, provision
from chatload.users_file import read_users

PLAN = ProvisionPlan(
    owners=2, requesters=6, events_per_owner=3, chats_per_requester=2, history=15, seed=3
)


def _dump(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as connection:
        return list(connection.iterdump())


def test_same_seed_same_data(tmp_path: Path) -> None:
    provision(tmp_path / "a.db", tmp_path / "a.csv", PLAN)
    provision(tmp_path / "b.db", tmp_path / "b.csv", PLAN)
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    provision(tmp_path / "c.db", tmp_path / "c.csv", replace(PLAN, seed=4))
    assert _dump(tmp_path / "c.db") != _dump(tmp_path / "a.db")


def test_counts_roles_and_contents(tmp_path: Path) -> None:
    summary = provision(tmp_path / "x.db", tmp_path / "users.csv", PLAN)
    assert (summary.users, summary.events, summary.chats, summary.messages) == (8, 6, 12, 180)
    users = read_users(tmp_path / "users.csv")
    assert [u.role for u in users] == ["owner"] * 2 + ["requester"] * 6
    assert all(u.extra["name"] for u in users)
    assert len({u.token for u in users}) == 8
    with closing(sqlite3.connect(tmp_path / "x.db")) as db:
        for icons, location, date_from, date_to in db.execute(
            "SELECT icons, location, date_from_s, date_to_s FROM events"
        ):
            assert all(is_uuid(icon) for icon in icons.split(","))
            assert location
            assert date_from < date_to
        chats = db.execute(
            "SELECT is_request_sended, is_access_granted, event_id, requester_id FROM chats"
        ).fetchall()
        assert {bool(c[0]) for c in chats} == {True, False}
        assert any(c[0] and c[1] for c in chats) and any(c[0] and not c[1] for c in chats)
        assert all(c[0] or not c[1] for c in chats), "access is granted only on requests"
        for text, photos, date in db.execute("SELECT text, photos, date FROM messages"):
            assert text
            if photos:
                assert all(is_uuid(p) for p in photos.split(","))
            datetime.fromisoformat(date)
        assert db.execute("SELECT COUNT(*) FROM messages WHERE photos != ''").fetchone()[0] > 0


def test_russian_by_default_english_by_option(tmp_path: Path) -> None:
    provision(tmp_path / "ru.db", tmp_path / "ru.csv", PLAN)
    provision(tmp_path / "en.db", tmp_path / "en.csv", replace(PLAN, locale="en_US"))
    cyrillic = lambda s: any("\u0430" <= ch.lower() <= "\u044f" for ch in s)  # noqa: E731
    with closing(sqlite3.connect(tmp_path / "ru.db")) as db:
        assert cyrillic(db.execute("SELECT text FROM messages LIMIT 1").fetchone()[0])
    with closing(sqlite3.connect(tmp_path / "en.db")) as db:
        assert not cyrillic(db.execute("SELECT group_concat(text) FROM messages").fetchone()[0])


def test_pairs_layout_gives_one_chat_per_event(tmp_path: Path) -> None:
    plan = ProvisionPlan(
        owners=4, requesters=4, events_per_owner=1, chats_per_requester=1, history=0, layout="pairs"
    )
    provision(tmp_path / "p.db", tmp_path / "p.csv", plan)
    with closing(sqlite3.connect(tmp_path / "p.db")) as db:
        rows = db.execute("SELECT event_id, requester_id FROM chats ORDER BY event_id").fetchall()
    assert rows == [(1, 5), (2, 6), (3, 7), (4, 8)]


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (ProvisionPlan(owners=0), "--owners and --requesters"),
        (
            ProvisionPlan(owners=1, events_per_owner=1, chats_per_requester=2),
            "--chats-per-requester must be within 1..1",
        ),
        (ProvisionPlan(history=-1), "--history cannot be negative"),
        (ProvisionPlan(layout="pairs"), "--layout pairs needs exactly one requester per event"),
    ],
)
def test_bad_plans(tmp_path: Path, plan: ProvisionPlan, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        provision(tmp_path / "x.db", tmp_path / "x.csv", plan)


def test_existing_database_needs_force(tmp_path: Path) -> None:
    provision(tmp_path / "x.db", tmp_path / "x.csv", PLAN)
    with pytest.raises(ConfigError, match="already exists: pass --force"):
        provision(tmp_path / "x.db", tmp_path / "x.csv", PLAN)
    provision(tmp_path / "x.db", tmp_path / "x.csv", PLAN, force=True)


def test_local_layout_puts_the_first_owners_and_requesters_together(tmp_path: Path) -> None:
    plan = ProvisionPlan(
        owners=10,
        requesters=100,
        events_per_owner=2,
        chats_per_requester=2,
        history=0,
        layout="local",
    )
    provision(tmp_path / "l.db", tmp_path / "l.csv", plan)
    with closing(sqlite3.connect(tmp_path / "l.db")) as db:
        owners_of = dict(
            db.execute(
                "SELECT c.requester_id, GROUP_CONCAT(e.owner_id) FROM chats c "
                "JOIN events e ON e.id = c.event_id GROUP BY c.requester_id"
            ).fetchall()
        )
    # The first 30 requesters (ids 11..40) only talk to the first 4 owners.
    first = {int(owner) for rid in range(11, 41) for owner in owners_of[rid].split(",")}
    assert first <= {1, 2, 3, 4}
    assert len(owners_of) == 100


def test_the_history_is_whole_ordered_and_varied(tmp_path: Path) -> None:
    plan = replace(PLAN, requesters=60, history=40)
    summary = provision(tmp_path / "h.db", tmp_path / "h.csv", plan)
    with closing(sqlite3.connect(tmp_path / "h.db")) as db:
        participants = {
            key: (owner, requester)
            for key, owner, requester in db.execute(
                "SELECT c.chat_key, e.owner_id, c.requester_id FROM chats c "
                "JOIN events e ON e.id = c.event_id"
            )
        }
        rows = db.execute(
            "SELECT chat_key, message_id, from_user_id, text, photos, date FROM messages "
            "ORDER BY chat_key, message_id"
        ).fetchall()
    assert len(rows) == summary.messages == len(participants) * 40
    by_chat: dict[int, list[tuple[int, int, str, str, str]]] = {}
    for key, *rest in rows:
        by_chat.setdefault(key, []).append(tuple(rest))  # type: ignore[arg-type]
    for key, messages in by_chat.items():
        assert [m[0] for m in messages] == list(range(1, 41))
        assert {m[1] for m in messages} == set(participants[key]), "both sides write"
        dates = [datetime.fromisoformat(m[4]) for m in messages]
        assert all(a < b for a, b in pairwise(dates))
    texts = {m[3] for m in rows}
    assert len(texts) > 300, "texts are drawn from the whole pool"
    with_photos = sum(1 for m in rows if m[4]) / len(rows)
    assert 0.10 < with_photos < 0.20, f"{with_photos:.1%} of messages have photos, not ~15%"


def test_sent_messages_follow_the_history(tmp_path: Path) -> None:
    provision(tmp_path / "s.db", tmp_path / "s.csv", PLAN)
    with closing(sqlite3.connect(tmp_path / "s.db")) as db:
        db.execute(
            "INSERT INTO sent_messages VALUES (1, 16, 2, 'after', '', '2026-12-02T10:00:00.000Z')"
        )
        db.commit()
        last = db.execute(
            "SELECT message_id, text FROM messages WHERE chat_key = 1 AND message_id > 14"
        ).fetchall()
    assert last[-1] == (16, "after")
    assert [m for m, _ in last] == [15, 16]
