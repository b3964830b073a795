"""Shared fixtures: a migrated and seeded merchant database on SQLite or PostgreSQL."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The local PostgreSQL server; started when it is down, skipped when it cannot be."""
    if not _postgres_available():
        subprocess.run(
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            shell=True, check=False, capture_output=True,
        )
    if not _postgres_available():
        pytest.skip(
            "!!! PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started: "
            "PostgreSQL tests SKIPPED !!!"
        )
    return POSTGRES_ADMIN_URL


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'merchant.db'}"


@pytest.fixture()
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"msa_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, seeded database: every test runs once on each backend."""
    url = request.getfixturevalue(f"{request.param}_url")
    upgrade(url)
    seed_demo_data(get_engine(url))
    return url


@pytest.fixture()
def merchant_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points the actions at the test database."""
    monkeypatch.setenv("MERCHANT_DB_URL", db_url)
    return db_url
