"""The data layer on SQLite and on PostgreSQL (every test runs on both)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from actions.db import repository
from actions.db.migrate import upgrade
from actions.db.models import AccountStatus, Appeal, AppealStatus, Merchant, utcnow
from actions.db.seed import seed_demo_data
from actions.db.session import get_engine


def test_migration_creates_every_table(db_url: str) -> None:
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {"merchants", "account_states", "appeals", "identity_bindings",
            "verification_attempts", "alembic_version"} <= tables


def test_migrate_and_seed_are_idempotent(db_url: str) -> None:
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    with Session(get_engine(db_url)) as session:
        assert session.execute(select(func.count(Merchant.id))).scalar_one() == 4
        assert session.execute(select(func.count(Appeal.id))).scalar_one() == 2


@pytest.mark.parametrize(
    ("merchant_id", "status", "reason", "collect", "withdraw"),
    [
        ("1900000001", AccountStatus.normal, None, True, True),
        ("1900000002", AccountStatus.restricted, "remote_qr_collection", False, True),
        ("1900000003", AccountStatus.frozen, "instant_withdrawal", False, False),
        ("1900000004", AccountStatus.risk_controlled, "high_frequency", True, False),
    ],
)
def test_demo_states(db_url: str, merchant_id: str, status: AccountStatus, reason: str | None,
                     collect: bool, withdraw: bool) -> None:
    with Session(get_engine(db_url)) as session:
        state = repository.current_state(session, merchant_id)
        assert (state.status, state.reason_code, state.can_collect, state.can_withdraw) == (
            status, reason, collect, withdraw)


def test_identity_check_binds_only_on_success(db_url: str) -> None:
    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        assert not repository.check_identity(session, "rest", "u1", "1900000002", "9999")
        assert not repository.check_identity(session, "rest", "u1", "1999999999", "0002")
        assert repository.bound_merchant_id(session, "rest", "u1") is None
        assert repository.check_identity(session, "rest", "u1", "1900000002", "0002")
    with Session(engine) as session, session.begin():
        assert repository.bound_merchant_id(session, "rest", "u1") == "1900000002"
        assert repository.bound_merchant_id(session, "wechat", "u1") is None
        repository.unbind(session, "rest", "u1")
    with Session(engine) as session:
        assert repository.bound_merchant_id(session, "rest", "u1") is None


def test_lockout_after_five_failures_within_an_hour(db_url: str) -> None:
    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        for _ in range(4):
            repository.check_identity(session, "rest", "u2", "1900000002", "1111")
        assert not repository.is_locked(session, "rest", "u2")
        repository.check_identity(session, "rest", "u2", "1900000002", "1111")
        assert repository.is_locked(session, "rest", "u2")
        assert not repository.is_locked(session, "rest", "someone-else")
        later = utcnow() + dt.timedelta(hours=1, minutes=1)
        assert not repository.is_locked(session, "rest", "u2", now=later)


def test_file_appeal_ids_and_duplicates(db_url: str) -> None:
    engine = get_engine(db_url)
    now = dt.datetime(2026, 11, 25, 9, 30)
    with Session(engine) as session, session.begin():
        first = repository.file_appeal(session, "1900000002", "remote_qr_collection",
                                       "外地客户扫码", "13800000002", now=now)
        assert first.id == "AP20261125001"
        assert first.status == AppealStatus.submitted
    with Session(engine) as session, session.begin():
        with pytest.raises(repository.DuplicateAppeal) as duplicate:
            repository.file_appeal(session, "1900000002", "other", "再来一次", "13800000002",
                                   now=now)
        assert duplicate.value.appeal.id == "AP20261125001"
        # Rejected appeals can be filed again; the sequence continues for the day.
        second = repository.file_appeal(session, "1900000004", "high_frequency",
                                        "补充订单和物流记录", "13800000004", now=now)
        assert second.id == "AP20261125002"


def test_failed_transaction_writes_nothing(db_url: str) -> None:
    engine = get_engine(db_url)
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        repository.file_appeal(session, "1900000002", "other", "说明", "13800000002")
        raise RuntimeError("crash after the insert")
    with Session(engine) as session:
        assert repository.open_appeal(session, "1900000002") is None


def test_concurrent_filings_get_distinct_ids(db_url: str) -> None:
    engine = get_engine(db_url)
    now = dt.datetime(2026, 11, 26, 10, 0)

    def file(merchant_id: str) -> str:
        with Session(engine) as session, session.begin():
            return repository.file_appeal(session, merchant_id, "other", "说明情况",
                                          "13800000000", now=now).id

    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = list(pool.map(file, ["1900000001", "1900000002"]))
    assert sorted(ids) == ["AP20261126001", "AP20261126002"]


def test_get_appeal_is_case_insensitive(db_url: str) -> None:
    with Session(get_engine(db_url)) as session:
        assert repository.get_appeal(session, "ap20261120001").merchant_id == "1900000003"


def test_guessing_one_merchant_id_from_many_senders_is_limited(db_url: str) -> None:
    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        for n in range(repository.MAX_FAILED_PER_MERCHANT):
            repository.check_identity(session, "rest", f"rotating-{n}", "1900000002",
                                      f"{n + 10:04d}")
        assert repository.merchant_id_locked(session, "1900000002")
        assert not repository.merchant_id_locked(session, "1900000003")
        # Ids that do not exist are limited the same way: the lock reveals nothing.
        for n in range(repository.MAX_FAILED_PER_MERCHANT):
            repository.check_identity(session, "rest", f"other-{n}", "1999999999", "0000")
        assert repository.merchant_id_locked(session, "1999999999")
        later = utcnow() + dt.timedelta(hours=1, minutes=1)
        assert not repository.merchant_id_locked(session, "1900000002", now=later)


def test_downgrade_and_upgrade_round_trip(db_url: str) -> None:
    from alembic import command

    from actions.db.migrate import alembic_config

    command.downgrade(alembic_config(db_url), "0001")
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("verification_attempts")}
    assert "merchant_id" not in columns
    upgrade(db_url)
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("verification_attempts")}
    assert "merchant_id" in columns
