"""Retention: conversations older than N days are deleted, nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from addons.stores.purge import purge


def make_events(url: str, rows: list[tuple[str, float]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), "
            "type_name VARCHAR(255), timestamp FLOAT, data TEXT)"))
        for sender, stamp in rows:
            connection.execute(sa.text(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES (:s, 'user', :t, '{}')"), {"s": sender, "t": stamp})
    engine.dispose()


def senders(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = sorted({row[0] for row in connection.execute(
            sa.text("SELECT sender_id FROM events"))})
    engine.dispose()
    return found


def test_old_conversations_go_recent_ones_stay_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    now = time.time()
    day = 86400
    make_events(url, [
        ("old", now - 100 * day), ("old", now - 95 * day),
        # Started long ago but active yesterday: kept with its old events.
        ("active", now - 200 * day), ("active", now - 1 * day),
        ("new", now - 3600),
    ])
    assert purge(url, days=90, dry_run=True, now=now) == 1
    assert senders(url) == ["active", "new", "old"]
    assert purge(url, days=90, now=now) == 1
    assert senders(url) == ["active", "new"]
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        kept = connection.execute(sa.text(
            "SELECT COUNT(*) FROM events WHERE sender_id = 'active'")).scalar_one()
    assert kept == 2


def test_a_missing_table_is_nothing_to_purge(tmp_path: Path) -> None:
    assert purge(f"sqlite:///{tmp_path / 'empty.db'}", days=1) == 0
