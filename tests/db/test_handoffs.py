"""Conversation ownership and the handoff's life, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.models import Agent, AgentPresence, Handoff, HandoffStatus, utcnow
from core.db.session import get_engine
from core.service_hours import ServiceHours


def add_agent(url: str, name: str, max_open: int = 3,
              presence: AgentPresence = AgentPresence.online) -> int:
    with Session(get_engine(url)) as session, session.begin():
        agent = Agent(username=name, display_name=name, password_hash="x",
                      presence=presence, max_open=max_open, failed_logins=0)
        session.add(agent)
        session.flush()
        return agent.id


def queue(url: str, sender: str, **kwargs: object) -> int:
    with Session(get_engine(url)) as session, session.begin():
        return handoffs.queue(session, "widget", sender, "merchant_asked", "钱冻结了",
                              **kwargs).id  # type: ignore[arg-type]


def test_ownership_moves_from_bot_to_queue_to_agent_and_back(db_url: str) -> None:
    agent = add_agent(db_url, "wang")
    engine = get_engine(db_url)
    with Session(engine) as session:
        assert handoffs.owner(session, "widget", "m1") is None
    handoff_id = queue(db_url, "m1")
    with Session(engine) as session, session.begin():
        assert handoffs.owner(session, "widget", "m1") == HandoffStatus.waiting
        assert handoffs.owner(session, "wechat", "m1") is None  # per channel
        handoffs.claim(session, handoff_id, agent)
    with Session(engine) as session, session.begin():
        assert handoffs.owner(session, "widget", "m1") == HandoffStatus.agent
        assert handoffs.cancel(session, "widget", "m1") is None  # an agent holds it
        closed = handoffs.close(session, handoff_id, agent, "已解释申诉流程")
        assert closed.status == HandoffStatus.closed and closed.closed_at is not None
    with Session(engine) as session, session.begin():
        assert handoffs.owner(session, "widget", "m1") is None
        scored = handoffs.record_satisfaction(session, "widget", "m1", 5)
        assert scored is not None and scored.satisfaction == 5
        assert handoffs.record_satisfaction(session, "widget", "m1", 1) is None  # once


def test_a_waiting_merchant_can_stop_waiting(db_url: str) -> None:
    queue(db_url, "m2")
    with Session(get_engine(db_url)) as session, session.begin():
        cancelled = handoffs.cancel(session, "widget", "m2")
        assert cancelled is not None and cancelled.status == HandoffStatus.cancelled
        assert handoffs.owner(session, "widget", "m2") is None


def test_one_open_handoff_per_conversation_even_when_requests_race(db_url: str) -> None:
    barrier = threading.Barrier(2, timeout=10)
    real_open = handoffs.open_handoff_for
    checked: set[int] = set()

    def racing_check(session: Session, channel: str, sender_id: str) -> Handoff | None:
        found = real_open(session, channel, sender_id)
        if threading.get_ident() not in checked and db_url.startswith("postgresql"):
            checked.add(threading.get_ident())
            barrier.wait()  # both pass the check before either inserts
        return found

    results: list[str] = []

    def attempt(_: int) -> None:
        try:
            queue(db_url, "m3")
            results.append("queued")
        except handoffs.AlreadyOpen:
            results.append("already")

    handoffs.open_handoff_for = racing_check  # type: ignore[assignment]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(attempt, range(2)))
    finally:
        handoffs.open_handoff_for = real_open  # type: ignore[assignment]
    assert sorted(results) == ["already", "queued"]


def test_two_agents_claiming_at_once_one_wins(db_url: str) -> None:
    first, second = add_agent(db_url, "a1"), add_agent(db_url, "a2")
    handoff_id = queue(db_url, "m4")
    barrier = threading.Barrier(2, timeout=10)

    def claim(agent: int) -> str:
        with Session(get_engine(db_url)) as session, session.begin():
            if db_url.startswith("postgresql"):
                barrier.wait()
            try:
                handoffs.claim(session, handoff_id, agent)
                return f"won:{agent}"
            except handoffs.ClaimRefused:
                return "refused"

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(claim, [first, second]))
    assert sorted(r.split(":")[0] for r in results) == ["refused", "won"]
    winner = int(next(r for r in results if r.startswith("won")).split(":")[1])
    with Session(get_engine(db_url)) as session:
        assert session.get(Handoff, handoff_id).agent_id == winner


def test_an_agent_cannot_hold_more_than_the_limit(db_url: str) -> None:
    agent = add_agent(db_url, "busy", max_open=1)
    one, two = queue(db_url, "m5"), queue(db_url, "m6")
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.claim(session, one, agent)
    with pytest.raises(handoffs.ClaimRefused), Session(get_engine(db_url)) as session, \
            session.begin():
        handoffs.claim(session, two, agent)


def test_only_the_holder_transfers_or_closes(db_url: str) -> None:
    holder, other = add_agent(db_url, "h1"), add_agent(db_url, "h2")
    handoff_id = queue(db_url, "m7")
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.claim(session, handoff_id, holder)
    with pytest.raises(handoffs.ClaimRefused), Session(get_engine(db_url)) as session, \
            session.begin():
        handoffs.close(session, handoff_id, other, "不是我的")
    with Session(get_engine(db_url)) as session, session.begin():
        assert handoffs.transfer(session, handoff_id, holder, other).agent_id == other
        assert handoffs.close(session, handoff_id, other, "已处理").status == \
            HandoffStatus.closed


def test_queue_position_and_wait_estimate(db_url: str) -> None:
    start = utcnow() - dt.timedelta(minutes=10)
    ids = [queue(db_url, f"q{n}", now=start + dt.timedelta(minutes=n)) for n in range(3)]
    with Session(get_engine(db_url)) as session:
        positions = [handoffs.position(session, session.get(Handoff, i)) for i in ids]
        assert positions == [1, 2, 3]
        assert handoffs.median_handling(session) == handoffs.DEFAULT_HANDLING
    # Three ahead-or-including with one agent at 6 minutes each: 18 minutes.
    assert handoffs.estimate_wait(3, 1, dt.timedelta(minutes=6)).minutes == 18
    assert handoffs.estimate_wait(3, 2, dt.timedelta(minutes=6)).minutes == 9
    assert handoffs.estimate_wait(1, 0, dt.timedelta(seconds=10)).minutes == 1


def test_the_handling_time_learns_from_closed_handoffs(db_url: str) -> None:
    agent = add_agent(db_url, "avg", max_open=handoffs.MIN_HANDLED)
    for n in range(handoffs.MIN_HANDLED):
        handoff_id = queue(db_url, f"m8-{n}")
        with Session(get_engine(db_url)) as session, session.begin():
            handoff = handoffs.claim(session, handoff_id, agent)
            handoff.claimed_at = utcnow() - dt.timedelta(minutes=20)
        with Session(get_engine(db_url)) as session, session.begin():
            handoffs.close(session, handoff_id, agent, "done")
    with Session(get_engine(db_url)) as session:
        handling = handoffs.median_handling(session)
    assert dt.timedelta(minutes=19) < handling < dt.timedelta(minutes=21)


@pytest.mark.parametrize(
    ("env", "utc", "open_"),
    [
        ({}, dt.datetime(2026, 11, 26, 2, 0), True),  # 10:00 in Shanghai
        ({}, dt.datetime(2026, 11, 26, 13, 30), False),  # 21:30
        ({"HANDOFF_DAYS": "1-5"}, dt.datetime(2026, 11, 28, 2, 0), False),  # Saturday
        ({"HANDOFF_HOURS": "22:00-06:00"}, dt.datetime(2026, 11, 26, 15, 0), True),  # 23:00
        ({"HANDOFF_HOURS": "22:00-06:00"}, dt.datetime(2026, 11, 26, 2, 0), False),
    ],
)
def test_working_hours(env: dict[str, str], utc: dt.datetime, open_: bool) -> None:
    assert ServiceHours.from_env(env).is_open(utc) is open_


def test_bad_working_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="HANDOFF_HOURS"):
        ServiceHours.from_env({"HANDOFF_HOURS": "9-21"})
    with pytest.raises(ValueError, match="HANDOFF_DAYS"):
        ServiceHours.from_env({"HANDOFF_DAYS": "0-8"})


def test_forgetting_a_merchant_deletes_what_was_said_in_their_handoffs(db_url: str) -> None:
    """"删除我的记录" also removes agents' notes about that merchant and the text of their
    replies (the rows stay for the report's figures: tests/security/test_deletion_copies.py);
    other merchants' handoffs keep theirs."""
    from core.db.forget import REMOVED, forget
    from core.db.models import AgentMessage, HandoffNote

    agent = add_agent(db_url, "li")
    mine, other = queue(db_url, "forget-me"), queue(db_url, "someone-else")
    with Session(get_engine(db_url)) as session, session.begin():
        for handoff_id in (mine, other):
            session.add(AgentMessage(handoff_id=handoff_id, agent_id=agent, text="您好"))
            session.add(HandoffNote(handoff_id=handoff_id, agent_id=agent, text="商户很着急"))
    with Session(get_engine(db_url)) as session, session.begin():
        forget(session, "widget", "forget-me")
    with Session(get_engine(db_url)) as session:
        left = {(row.handoff_id, type(row).__name__, row.text)
                for table in (AgentMessage, HandoffNote)
                for row in session.query(table).all()}
        assert left == {(mine, "AgentMessage", REMOVED), (other, "AgentMessage", "您好"),
                        (other, "HandoffNote", "商户很着急")}
        forgotten = session.get(Handoff, mine)
        assert forgotten is not None and forgotten.problem is None  # statistics stay


def test_forgetting_a_merchant_deletes_their_inbox_triage_marks(db_url: str) -> None:
    """The inbox's triage rows keep a sender id: they go with "删除我的记录" too."""
    from core.db.forget import forget
    from core.db.inbox import ActionKind, InboxTriaged, record

    agent = add_agent(db_url, "li")
    with Session(get_engine(db_url)) as session, session.begin():
        record(session, ActionKind.ignore, agent, "li", [(1, "forget-me"), (2, "someone-else")])
    with Session(get_engine(db_url)) as session, session.begin():
        forget(session, "widget", "forget-me")
    with Session(get_engine(db_url)) as session:
        assert {row.sender_id for row in session.query(InboxTriaged).all()} == {"someone-else"}


def test_a_message_left_in_working_hours_is_not_told_to_wait_for_opening() -> None:
    hours = ServiceHours.from_env({})
    assert "上班后" not in hours.when_answered(dt.datetime(2026, 11, 26, 6, 30))  # 14:30
    assert "9:00-21:00" in hours.when_answered(dt.datetime(2026, 11, 26, 13, 30))  # 21:30
