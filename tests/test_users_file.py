from __future__ import annotations

from pathlib import Path

import pytest

from chatload.errors import UsersFileError
from chatload.users_file import Identity, read_users, write_users


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "users.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_contract_with_extra_columns_in_any_order(tmp_path: Path) -> None:
    path = _file(tmp_path, "role,name,token,user_id\nowner,Анна,t1,1\nrequester,Bob,t2, 2\n")
    assert read_users(path) == [Identity(1, "t1", "owner"), Identity(2, "t2", "requester")]
    assert read_users(path)[0].extra == {"name": "Анна"}


def test_round_trip(tmp_path: Path) -> None:
    identities = [
        Identity(5, "abc", "owner", {"name": "x"}),
        Identity(6, "def", "requester", {"name": "y"}),
    ]
    write_users(tmp_path / "u.csv", identities, extra_columns=("name",))
    assert read_users(tmp_path / "u.csv") == identities
    assert (tmp_path / "u.csv").read_text().splitlines()[0] == "user_id,token,role,name"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "is empty: it needs a header row user_id,token,role"),
        ("user_id,token\n1,a\n", "lacks the column(s) role"),
        ("user_id,token,role\n", "has a header but no users"),
        ("user_id,token,role\nx,a,owner\n", "line 2: user_id must be an integer, got 'x'"),
        ("user_id,token,role\n1,a,admin\n", "line 2: role must be owner or requester, got 'admin'"),
        ("user_id,token,role\n1,,owner\n", "line 2: token is empty"),
        ("user_id,token,role\n1,a,owner\n1,b,owner\n", "line 3: user_id 1 appears twice"),
        ("user_id,token,role\n1,a,owner\n2,a,owner\n", "line 3: a token appears twice"),
        ("user_id,token,role\n1,a\n", "line 2: expected 3 fields"),
        ("user_id,token,role\n1,a,owner,extra\n", "line 2: expected 3 fields"),
    ],
)
def test_malformed_files_say_what_and_where(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(UsersFileError) as caught:
        read_users(_file(tmp_path, text))
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError, match="does not exist: create one with 'chatload provision"):
        read_users(tmp_path / "nope.csv")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UsersFileError, match="cannot be read"):
        read_users(path)
