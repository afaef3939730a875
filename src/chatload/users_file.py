"""The users file: who the load tool may connect as, for any server.

Contract (CSV, UTF-8, comma-separated, one header row):

- ``user_id``: the user's integer id, as the server's payloads carry it;
- ``token``: what authenticates the user in the WebSocket handshake;
- ``role``: ``owner`` (owns events) or ``requester`` (asks to join events).

Optional:

- ``group``: identities with the same group talk to each other (an owner and the
  requesters of its events). In a distributed run the master lends a group's
  identities to one worker, so that both ends of its chats run in one process
  and are timed on one clock. Empty or absent: no grouping.

Other columns are allowed and kept (``chatload provision`` adds ``name`` and
``group``). Column order is free; ids and tokens are unique.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast

from chatload.errors import UsersFileError

__all__ = [
    "REQUIRED_COLUMNS",
    "ROLES",
    "Identity",
    "Role",
    "parse_role",
    "read_users",
    "write_users",
]

REQUIRED_COLUMNS: Final = ("user_id", "token", "role")
Role = Literal["owner", "requester"]
ROLES: Final[tuple[Role, ...]] = ("owner", "requester")


def parse_role(text: str) -> Role:
    """``text`` as a role; ValueError when it is neither."""
    for role in ROLES:
        if text == role:
            return role
    raise ValueError(f"role must be owner or requester, got {text!r}")


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: int
    token: str
    role: Role
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def group(self) -> str:
        """Who this identity talks to, as the optional ``group`` column says ("": none)."""
        return self.extra.get("group", "")


def read_users(path: Path) -> list[Identity]:
    """Every identity in ``path``; a :class:`UsersFileError` says what is wrong and where."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return _parse(path, csv.DictReader(handle))
    except FileNotFoundError:
        raise UsersFileError(
            f"users file {path} does not exist: create one with "
            f"'chatload provision --users-out {path}' or pass --users-file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsersFileError(f"users file {path} cannot be read: {exc}") from None
    except csv.Error as exc:
        raise UsersFileError(f"users file {path} is not valid CSV: {exc}") from None


def _parse(path: Path, reader: csv.DictReader[str]) -> list[Identity]:
    columns = reader.fieldnames
    if not columns:
        raise UsersFileError(
            f"users file {path} is empty: it needs a header row {','.join(REQUIRED_COLUMNS)}"
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise UsersFileError(
            f"users file {path} lacks the column(s) {', '.join(missing)}: "
            f"the header must name {','.join(REQUIRED_COLUMNS)}"
        )
    identities: list[Identity] = []
    seen_ids: set[int] = set()
    seen_tokens: set[str] = set()
    for row in reader:
        line = reader.line_num
        if None in row or any(row.get(name) is None for name in REQUIRED_COLUMNS):
            raise UsersFileError(f"users file {path}, line {line}: expected {len(columns)} fields")
        raw_id, token, role = (row[name].strip() for name in REQUIRED_COLUMNS)
        try:
            user_id = int(raw_id)
        except ValueError:
            raise UsersFileError(
                f"users file {path}, line {line}: user_id must be an integer, got {raw_id!r}"
            ) from None
        if not token:
            raise UsersFileError(f"users file {path}, line {line}: token is empty")
        if role not in ROLES:
            raise UsersFileError(
                f"users file {path}, line {line}: role must be owner or requester, got {role!r}"
            )
        if user_id in seen_ids:
            raise UsersFileError(f"users file {path}, line {line}: user_id {user_id} appears twice")
        if token in seen_tokens:
            raise UsersFileError(f"users file {path}, line {line}: a token appears twice")
        seen_ids.add(user_id)
        seen_tokens.add(token)
        extra = {key: value for key, value in row.items() if key not in REQUIRED_COLUMNS}
        identities.append(Identity(user_id, token, cast(Role, role), extra))
    if not identities:
        raise UsersFileError(f"users file {path} has a header but no users")
    return identities


def write_users(
    path: Path, identities: Iterable[Identity], extra_columns: tuple[str, ...] = ()
) -> None:
    """Write ``identities`` following the contract."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((*REQUIRED_COLUMNS, *extra_columns))
        for identity in identities:
            writer.writerow(
                (
                    identity.user_id,
                    identity.token,
                    identity.role,
                    *(identity.extra.get(name, "") for name in extra_columns),
                )
            )
