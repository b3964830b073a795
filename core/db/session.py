"""One engine per process, one short session per action call."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from core.local_secrets import private_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'merchant.db'}"
# A look-up that takes longer than this is answered with "system busy".
DB_TIMEOUT_S = float(os.environ.get("MERCHANT_DB_TIMEOUT_S", "3"))


def database_url() -> str:
    return os.environ.get("MERCHANT_DB_URL") or DEFAULT_DB_URL


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: ``MERCHANT_DB_URL``)."""
    return _engine_for(url or database_url())


@cache
def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # Bound phones live here: 0600 in a 0700 directory whatever the umask
            # (SQLite gives its journal the database's mode).
            private_file(Path(parsed.database))
        engine = create_engine(
            url, future=True, connect_args={"timeout": DB_TIMEOUT_S, "check_same_thread": False}
        )

        # pysqlite opens transactions lazily and lets SAVEPOINT release commit; take
        # over transaction control so rollbacks and savepoints really work. IMMEDIATE
        # takes the write lock up front: two read-then-write transactions wait for each
        # other (up to the timeout) instead of failing with "database is locked".
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _on_begin(connection):  # type: ignore[no-untyped-def]
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    timeout_ms = int(DB_TIMEOUT_S * 1000)
    return create_engine(
        url,
        future=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=DB_TIMEOUT_S,
        connect_args={
            "connect_timeout": max(1, int(DB_TIMEOUT_S)),
            "options": f"-c statement_timeout={timeout_ms}",
        },
    )
