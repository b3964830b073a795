"""A database that is down or slow: a polite answer with 95017, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from actions.account import ActionAfterVerification
from actions.appeal import ActionSubmitAppeal
from actions.verification import ValidateVerifyForm
from core.db.models import Appeal
from core.db.session import get_engine
from tests.actions.conftest import RunAction, make_tracker

DEAD_URL = "postgresql+psycopg2://nobody@127.0.0.1:9/none"  # port 9: nothing listens


@pytest.fixture()
def dead_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERCHANT_DB_URL", DEAD_URL)


@pytest.mark.usefixtures("dead_db")
async def test_lookup_answers_system_busy(run_action: RunAction, domain: dict) -> None:
    turn = await run_action(ActionAfterVerification(),
                            make_tracker({"lookup_purpose": "status"}))
    assert turn.responses == ["utter_system_busy"]
    assert "95017" in turn.rendered(domain)


@pytest.mark.usefixtures("dead_db")
async def test_identity_check_does_not_crash(run_action: RunAction) -> None:
    tracker = make_tracker({"requested_slot": "phone_last4", "merchant_id": "1900000002"},
                           extracted={"phone_last4": "0002"}, text="0002",
                           active_loop="verify_form")
    turn = await run_action(ValidateVerifyForm(), tracker)
    assert "verified_merchant" not in turn.slots
    assert turn.slots["requested_slot"] is None  # ends; the next action says "busy"


@pytest.mark.usefixtures("dead_db")
async def test_appeal_with_the_database_down_says_busy(run_action: RunAction) -> None:
    slots = {"appeal_category": "other", "appeal_description": "说明一下情况",
             "appeal_contact": "13800000002", "appeal_confirm": True}
    turn = await run_action(ActionSubmitAppeal(), make_tracker(slots))
    assert turn.responses == ["utter_system_busy"]


async def test_database_failing_after_the_insert_leaves_no_appeal(
    run_action: RunAction, merchant_db: str
) -> None:
    """The appeal row is written, then the transaction fails when it commits (the
    connection is lost): the merchant hears "busy" and nothing of the appeal stays."""
    engine = get_engine(merchant_db)
    bind = make_tracker({"requested_slot": "phone_last4", "merchant_id": "1900000002"},
                        extracted={"phone_last4": "0002"}, text="0002", sender_id="half",
                        active_loop="verify_form")
    await run_action(ValidateVerifyForm(), bind)
    seen_insert = []

    def note_insert(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO APPEALS"):
            seen_insert.append(statement)

    def fail_commit(conn):  # type: ignore[no-untyped-def]
        if seen_insert:
            raise OperationalError("COMMIT", {}, Exception("connection lost"))

    slots = {"appeal_category": "other", "appeal_description": "说明一下情况",
             "appeal_contact": "13800000002", "appeal_confirm": True}
    event.listen(engine, "before_cursor_execute", note_insert)
    event.listen(engine, "commit", fail_commit)
    try:
        turn = await run_action(ActionSubmitAppeal(), make_tracker(slots, sender_id="half"))
    finally:
        event.remove(engine, "before_cursor_execute", note_insert)
        event.remove(engine, "commit", fail_commit)
    assert seen_insert, "the insert was never reached: the test proves nothing"
    assert turn.responses == ["utter_system_busy"]
    with Session(engine) as session:
        assert session.execute(select(func.count(Appeal.id)).where(
            Appeal.merchant_id == "1900000002")).scalar_one() == 0
    # The next try works: nothing half-written blocks it.
    again = await run_action(ActionSubmitAppeal(), make_tracker(slots, sender_id="half"))
    assert again.responses[0] == "utter_appeal_filed"  # then the checklist


@pytest.mark.postgres
async def test_slow_postgres_answers_busy_within_the_statement_timeout(
    run_action: RunAction, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look-up blocked by a lock longer than MERCHANT_DB_TIMEOUT_S: PostgreSQL's
    statement_timeout ends it and the merchant hears "busy"."""
    from core.db import session as db_session
    from core.db.migrate import upgrade
    from core.db.seed import seed_demo_data

    upgrade(postgres_url)
    seed_demo_data(db_session.get_engine(postgres_url))
    monkeypatch.setenv("MERCHANT_DB_URL", postgres_url)
    monkeypatch.setattr(db_session, "DB_TIMEOUT_S", 0.5)
    db_session._engine_for.cache_clear()
    blocker = create_engine(postgres_url).connect()
    transaction = blocker.begin()
    blocker.execute(text("LOCK TABLE identity_bindings IN ACCESS EXCLUSIVE MODE"))
    try:
        turn = await run_action(ActionAfterVerification(),
                                make_tracker({"lookup_purpose": "status"}))
        assert turn.responses == ["utter_system_busy"]
    finally:
        transaction.rollback()
        blocker.close()
        db_session._engine_for.cache_clear()


async def test_locked_sqlite_database_times_out_politely(
    run_action: RunAction, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holding the lock longer than the timeout makes the look-up "busy"."""
    from sqlalchemy.orm import Session

    from core.db import session as db_session
    from core.db.migrate import upgrade
    from core.db.seed import seed_demo_data

    upgrade(sqlite_url)
    seed_demo_data(db_session.get_engine(sqlite_url))
    monkeypatch.setenv("MERCHANT_DB_URL", sqlite_url)
    monkeypatch.setattr(db_session, "DB_TIMEOUT_S", 0.2)
    db_session._engine_for.cache_clear()
    blocker = Session(db_session.get_engine(sqlite_url))
    blocker.begin()
    blocker.connection()  # BEGIN IMMEDIATE: holds the write lock
    try:
        turn = await run_action(ActionAfterVerification(),
                                make_tracker({"lookup_purpose": "status"}))
        assert turn.responses == ["utter_system_busy"]
    finally:
        blocker.rollback()
        blocker.close()
        db_session._engine_for.cache_clear()
