"""Shared fixtures: a migrated and seeded merchant database on SQLite or PostgreSQL; the
session's one rasa stack (tests/stack.py); ``--reverse`` / ``--shuffle SEED`` to check that
no test depends on the order of the others."""

from __future__ import annotations

import random
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.orm import Session

from core.db.migrate import upgrade
from core.db.models import Appeal, VerificationAttempt
from core.db.seed import seed_demo_data
from core.db.session import get_engine

if TYPE_CHECKING:
    from tests.stack import SharedStack

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


# --- the session's rasa stack -------------------------------------------------------------
@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedStack]:
    """The action server, the rasa server (every channel), the fake WeChat API and a shop
    website, started on first use and shared by the whole session (tests/stack.py)."""
    from tests.stack import running_shared_stack  # rasa is imported only when needed

    with running_shared_stack(Path(tmp_path_factory.mktemp("stack"))) as stack:
        yield stack


@pytest.fixture(autouse=True)
def merchant_state_restored(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test on the shared stack leaves no state that belongs to a merchant rather than
    to its own sender: appeals it filed (one open appeal per merchant; the latest appeal
    is part of the status answer) and failed identity checks (10 per merchant id from any
    senders pause the checks) are removed after it."""
    if "shared_stack" not in request.fixturenames:
        yield
        return
    stack: SharedStack = request.getfixturevalue("shared_stack")
    engine = get_engine(stack.servers.db_url)
    with Session(engine) as session:
        appeals = set(session.execute(select(Appeal.id)).scalars())
        last_attempt = session.execute(select(func.max(VerificationAttempt.id))).scalar() or 0
    yield
    with Session(engine) as session, session.begin():
        session.execute(delete(Appeal).where(Appeal.id.not_in(appeals)))
        session.execute(delete(VerificationAttempt).where(VerificationAttempt.id > last_attempt))


# --- test order -----------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("order", "test order (no test may depend on another's order)")
    group.addoption("--reverse", action="store_true",
                    help="run the modules, and the tests in each, in reverse order")
    group.addoption("--shuffle", type=int, metavar="SEED",
                    help="shuffle the modules, and the tests in each (module fixtures "
                         "still start once)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("--shuffle")
    if not config.getoption("--reverse") and seed is None:
        return
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    groups = list(modules.values())
    if seed is not None:
        shuffler = random.Random(seed)
        shuffler.shuffle(groups)
        for group in groups:
            shuffler.shuffle(group)
    if config.getoption("--reverse"):
        groups = [list(reversed(group)) for group in reversed(groups)]
    items[:] = [item for group in groups for item in group]
