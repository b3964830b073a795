"""Account enumeration: a wrong answer for an existing merchant id and for an id that
does not exist do the same database work (the same statements, in the same order), so
neither the answer nor its cost tells them apart. The timing itself is measured in
bench/identity_timing.py (docs/security.md), not asserted here."""

from __future__ import annotations

import re

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import repository
from core.db.session import get_engine


def statements(db_url: str, merchant_id: str, last4: str, sender: str) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(re.sub(r"\s+", " ", statement).strip())

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session, session.begin():
            assert not repository.is_locked(session, "rest", sender)
            assert not repository.merchant_id_locked(session, merchant_id)
            assert not repository.check_identity(session, "rest", sender, merchant_id, last4)
            repository.is_locked(session, "rest", sender)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_wrong_digits_and_unknown_id_run_the_same_statements(db_url: str) -> None:
    existing = statements(db_url, "1900000002", "9999", "probe-1")
    unknown = statements(db_url, "1999999999", "0002", "probe-2")
    assert existing, "nothing was recorded: the test would prove nothing"
    assert existing == unknown
