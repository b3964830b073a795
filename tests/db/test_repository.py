"""The data layer on SQLite and on PostgreSQL (every test runs on both)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from core.db import repository
from core.db.migrate import upgrade
from core.db.models import AccountStatus, Appeal, AppealStatus, Merchant, utcnow
from core.db.seed import seed_demo_data
from core.db.session import get_engine


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

    from core.db.migrate import alembic_config

    command.downgrade(alembic_config(db_url), "0001")
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("verification_attempts")}
    assert "merchant_id" not in columns
    upgrade(db_url)
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("verification_attempts")}
    assert "merchant_id" in columns


def _file(engine, merchant_id: str, now: dt.datetime) -> str:  # type: ignore[no-untyped-def]
    """Files an appeal in its own transaction: the id, or "duplicate"."""
    with Session(engine) as session, session.begin():
        try:
            return repository.file_appeal(session, merchant_id, "other", "说明情况",
                                          "13800000000", now=now).id
        except repository.DuplicateAppeal:
            return "duplicate"


def test_concurrent_filings_for_one_merchant_leave_one_open_appeal(db_url: str) -> None:
    engine = get_engine(db_url)
    now = dt.datetime(2026, 11, 26, 11, 0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _file(engine, "1900000002", now), range(4)))
    assert sorted(results) == ["AP20261126001"] + ["duplicate"] * 3
    with Session(engine) as session:
        open_count = session.execute(
            select(func.count(Appeal.id)).where(
                Appeal.merchant_id == "1900000002",
                Appeal.status.in_([AppealStatus.submitted, AppealStatus.reviewing]),
            )
        ).scalar_one()
    assert open_count == 1


def test_database_refuses_a_second_open_appeal_the_python_check_missed(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race made visible: both filings pass the check in Python (as two concurrent
    transactions do on PostgreSQL); the unique index still refuses the second."""
    engine = get_engine(db_url)
    now = dt.datetime(2026, 11, 26, 12, 0)
    assert _file(engine, "1900000002", now) == "AP20261126001"
    real_open_appeal = repository.open_appeal
    calls = []

    def check_that_misses(session: Session, merchant_id: str) -> Appeal | None:
        calls.append(merchant_id)
        # The first call is the pre-check, made before the other filing committed.
        return None if len(calls) == 1 else real_open_appeal(session, merchant_id)

    monkeypatch.setattr(repository, "open_appeal", check_that_misses)
    assert _file(engine, "1900000002", now) == "duplicate"
    assert len(calls) == 2  # refused by the database, then identified


def test_concurrent_filings_pass_the_python_check_together_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four transactions all pass the pre-check before any inserts (a barrier holds them)
    and propose different ids, so only the one-open-appeal index can stop them: exactly
    one appeal is filed. SQLite cannot interleave like this (BEGIN IMMEDIATE)."""
    import itertools
    import threading

    upgrade(postgres_url)
    seed_demo_data(get_engine(postgres_url))
    engine = get_engine(postgres_url)
    barrier = threading.Barrier(4, timeout=10)
    real_open_appeal = repository.open_appeal
    seen: set[int] = set()

    def open_appeal_then_wait(session: Session, merchant_id: str) -> Appeal | None:
        found = real_open_appeal(session, merchant_id)
        if threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            barrier.wait()
        return found

    numbers = itertools.count(1)
    monkeypatch.setattr(repository, "open_appeal", open_appeal_then_wait)
    monkeypatch.setattr(repository, "next_appeal_id",
                        lambda session, today: f"AP{today:%Y%m%d}{next(numbers):03d}")
    now = dt.datetime(2026, 11, 26, 13, 0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _file(engine, "1900000002", now), range(4)))
    assert results.count("duplicate") == 3


def test_taken_appeal_id_is_retried_with_the_next_number(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine(db_url)
    now = dt.datetime(2026, 11, 26, 14, 0)
    assert _file(engine, "1900000001", now) == "AP20261126001"
    real_next = repository.next_appeal_id
    proposals = []

    def stale_first(session: Session, today: dt.date) -> str:
        # The first proposal is one another filing already took (a lost race).
        proposal = "AP20261126001" if not proposals else real_next(session, today)
        proposals.append(proposal)
        return proposal

    monkeypatch.setattr(repository, "next_appeal_id", stale_first)
    assert _file(engine, "1900000002", now) == "AP20261126002"
    assert proposals == ["AP20261126001", "AP20261126002"]


def test_migration_closes_open_duplicates_before_the_index(db_url: str) -> None:
    from alembic import command

    from core.db.migrate import alembic_config

    command.downgrade(alembic_config(db_url), "0002")
    engine = get_engine(db_url)
    now = dt.datetime(2026, 11, 26, 15, 0)
    with Session(engine) as session, session.begin():
        for number in (1, 2):
            session.add(Appeal(id=f"AP2026112600{number}", merchant_id="1900000002",
                               category="other", description="说明", contact_phone="13800000002",
                               status=AppealStatus.submitted,
                               created_at=now + dt.timedelta(minutes=number), updated_at=now))
    upgrade(db_url)
    with Session(engine) as session:
        first = repository.get_appeal(session, "AP20261126001")
        second = repository.get_appeal(session, "AP20261126002")
        assert first.status == AppealStatus.submitted
        assert second.status == AppealStatus.rejected
        assert "AP20261126001" in second.decision_note


def test_guessing_one_merchant_id_is_also_limited_per_day(db_url: str) -> None:
    engine = get_engine(db_url)
    start = utcnow() - dt.timedelta(hours=20)
    with Session(engine) as session, session.begin():
        for n in range(repository.MAX_FAILED_PER_MERCHANT_DAY):
            # Spread over the day: never 10 within one hour.
            session.add(repository.VerificationAttempt(
                channel="rest", sender_id=f"slow-{n}", merchant_id="1900000004", success=False,
                attempted_at=start + dt.timedelta(hours=n * 0.9)))
    with Session(engine) as session:
        assert repository.merchant_id_locked(session, "1900000004")
        assert not repository.merchant_id_locked(session, "1900000004",
                                                 now=utcnow() + dt.timedelta(days=1))
        assert repository.failures_last_hour(session) == 0  # none within the last hour
    with Session(engine) as session, session.begin():
        repository.check_identity(session, "rest", "now", "1999999999", "0000")
    with Session(engine) as session:
        assert repository.failures_last_hour(session) == 1


def test_a_binding_expires(db_url: str) -> None:
    from core.db.models import IdentityBinding

    engine = get_engine(db_url)
    with Session(engine) as session, session.begin():
        assert repository.check_identity(session, "wechat", "old-friend", "1900000001", "0001")
    with Session(engine) as session, session.begin():
        assert repository.bound_merchant_id(session, "wechat", "old-friend") == "1900000001"
        session.get(IdentityBinding, ("wechat", "old-friend")).verified_at = \
            utcnow() - repository.BINDING_TTL - dt.timedelta(minutes=1)
    with Session(engine) as session:
        assert repository.bound_merchant_id(session, "wechat", "old-friend") is None
