"""Files that hold data or secrets are the owner's only, whatever the umask
(penetration test 2, Medium 8: the databases under var/ were world-readable)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import local_secrets
from core.db.migrate import upgrade
from core.db.session import get_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o000])
def loose_umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_a_new_sqlite_database_and_its_directories_are_private(tmp_path: Path,
                                                               loose_umask: int) -> None:
    database = tmp_path / "var" / "data" / "merchant.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    get_engine(url).dispose()
    assert mode(database) == 0o600
    assert mode(database.parent) == mode(database.parent.parent) == 0o700
    # Nothing else SQLite left behind (journals take the database's mode) is readable.
    assert all(mode(path) == 0o600 for path in database.parent.iterdir())


def test_generated_secrets_and_their_directories_are_private(
        tmp_path: Path, loose_umask: int, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "var" / "secrets"
    monkeypatch.setenv("LOCAL_SECRETS_DIR", str(directory))
    monkeypatch.delenv("ACTIONS_SECRET", raising=False)
    secret = local_secrets.local_secret("actions_secret", "ACTIONS_SECRET")
    assert len(secret) >= 32
    assert mode(directory / "actions_secret") == 0o600
    assert mode(directory) == mode(directory.parent) == 0o700


def test_an_older_tree_is_narrowed_and_nginx_keeps_its_way_in(tmp_path: Path) -> None:
    var = tmp_path / "var"
    for path in ("merchant.db", "tracker.db", "events.db-journal", "actions.log",
                 "secrets/rasa_token", "cache/knowledge-vectors.sqlite", "cluster/env",
                 "cluster/rasa1.log", "cluster/nginx/nginx.conf"):
        (var / path).parent.mkdir(parents=True, exist_ok=True)
        (var / path).write_text("x", encoding="utf-8")
        os.chmod(var / path, 0o644)
    for directory in (var, var / "secrets", var / "cache", var / "cluster",
                      var / "cluster" / "nginx"):
        os.chmod(directory, 0o755)
    local_secrets.tighten(var)
    for path in ("merchant.db", "tracker.db", "events.db-journal", "actions.log",
                 "secrets/rasa_token", "cache/knowledge-vectors.sqlite", "cluster/env",
                 "cluster/rasa1.log"):
        assert mode(var / path) == 0o600, path
    assert mode(var / "secrets") == mode(var / "cache") == 0o700
    # nginx's workers (nobody) pass through to their temporary directories.
    assert mode(var) == mode(var / "cluster") == 0o711
    assert mode(var / "cluster" / "nginx") == 0o755


def test_a_secret_made_by_two_processes_at_once_is_never_read_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two action servers of the scaled setup start together: each reads the whole
    secret, and both read the same one."""
    import multiprocessing

    monkeypatch.setenv("LOCAL_SECRETS_DIR", str(tmp_path / "secrets"))
    context = multiprocessing.get_context("fork")
    with context.Pool(8) as pool:
        values = pool.map(_read_race_secret, range(32))
    assert all(values) and len(set(values)) == 1, values
    assert not [p for p in (tmp_path / "secrets").iterdir() if p.name.startswith(".")]


def _read_race_secret(_: int) -> str:
    from core.local_secrets import local_secret

    return local_secret("race_token", "RACE_TOKEN_NOT_SET")
