"""Shared fixtures: a migrated and seeded merchant database on SQLite or PostgreSQL; the
session's one rasa stack (tests/stack.py); ``--reverse`` / ``--shuffle SEED`` to check that
no test depends on the order of the others.

Parallel workers (pytest-xdist, `make test-fast`) share nothing by name: every database,
Redis key prefix and port is made per test, and each worker has its own local secrets."""

from __future__ import annotations

import os
import random
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def new_postgres_database(admin_url: str, prefix: str = "msa_test",
                          template: str | None = None) -> Iterator[str]:
    """A database of its own (a uuid in the name: parallel workers never meet), empty or
    a copy of ``template``; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    with new_postgres_database(postgres_admin_url) as url:
        yield url


def migrated_and_seeded(url: str) -> str:
    upgrade(url)
    seed_demo_data(get_engine(url))
    get_engine(url).dispose()  # a template: nothing may stay connected to it
    return url


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrations and the demo data, run once per session (per worker) on SQLite."""
    path = tmp_path_factory.mktemp("seeded") / "merchant.db"
    migrated_and_seeded(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def seeded_postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """The migrations and the demo data, run once per session (per worker) on PostgreSQL;
    the database's name (a template for CREATE DATABASE)."""
    with new_postgres_database(postgres_admin_url, prefix="msa_template") as url:
        yield migrated_and_seeded(url).rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, seeded database of the test's own: every test runs once on each
    backend. It is a copy of the session's template (the same schema and rows that
    ``upgrade`` and ``seed_demo_data`` make, in a fraction of the time)."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
        template: Path = request.getfixturevalue("seeded_sqlite_template")
        path = Path(url.removeprefix("sqlite:///"))
        # 0600 from the start, as get_engine makes a new database file.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(template.read_bytes())
        yield url
        return
    template_name: str = request.getfixturevalue("seeded_postgres_template")
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    with new_postgres_database(admin_url, template=template_name) as url:
        yield url


@pytest.fixture(autouse=True, scope="session")
def worker_local_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Under pytest-xdist each worker generates its secrets (core.local_secrets: slot
    seal key, tokens) in a directory of its own: two workers making the same missing
    var/secrets file at once could read it before it is written. A single process
    keeps var/secrets as before; an explicit LOCAL_SECRETS_DIR is kept too."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get("LOCAL_SECRETS_DIR"):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCAL_SECRETS_DIR", str(tmp_path_factory.mktemp("secrets")))
        yield


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
