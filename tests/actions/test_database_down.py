"""A database that is down or slow: a polite answer with 95017, nothing half-written."""

from __future__ import annotations

import pytest

from actions.account import ActionAfterVerification
from actions.appeal import ActionSubmitAppeal
from actions.verification import ValidateVerifyForm
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
async def test_appeal_is_not_half_written(run_action: RunAction) -> None:
    slots = {"appeal_category": "other", "appeal_description": "说明一下情况",
             "appeal_contact": "13800000002", "appeal_confirm": True}
    turn = await run_action(ActionSubmitAppeal(), make_tracker(slots))
    assert turn.responses == ["utter_system_busy"]


async def test_locked_sqlite_database_times_out_politely(
    run_action: RunAction, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holding the lock longer than the timeout makes the look-up "busy"."""
    from sqlalchemy.orm import Session

    from actions.db import session as db_session
    from actions.db.migrate import upgrade
    from actions.db.seed import seed_demo_data

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
