"""An honest queue (issue 20, item 3), in the database: wait estimates from measured
handling times and agents online; waiting handoffs let go (a ticket, or closed when a
widget visitor left and cannot be reached) exactly once, also by two consoles at once;
the notice to the merchant claimed once and retried after a failure."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.models import Agent, AgentPresence, Handoff, HandoffStatus, QueueEnd, utcnow
from core.db.session import get_engine


@contextmanager
def tx(url: str) -> Iterator[Session]:
    """One transaction on the test database, committed at the end of the block."""
    with Session(get_engine(url)) as session, session.begin():
        yield session


def add_agent(url: str, name: str, presence: AgentPresence = AgentPresence.online) -> int:
    with tx(url) as session:
        agent = Agent(username=name, display_name=name, password_hash="x",
                      presence=presence, max_open=3, failed_logins=0)
        session.add(agent)
        session.flush()
        return agent.id


def queue(url: str, sender: str, channel: str = "widget", phone: str | None = None,
          now: dt.datetime | None = None) -> int:
    with tx(url) as session:
        return handoffs.queue(session, channel, sender, "merchant_asked", "钱冻结了，提不出来",
                              merchant_id="1900000002", contact_phone=phone, now=now).id


def get(url: str, handoff_id: int) -> Handoff:
    with Session(get_engine(url), expire_on_commit=False) as session:
        handoff = session.get(Handoff, handoff_id)
        session.expunge(handoff)
        return handoff


def handled(url: str, agent: int, minutes: list[float], days_ago: float = 0) -> None:
    """Closed handoffs that took ``minutes`` each from claim to close."""
    closed_at = utcnow() - dt.timedelta(days=days_ago)
    for n, length in enumerate(minutes):
        handoff_id = queue(url, f"done-{days_ago}-{n}")
        with tx(url) as session:
            handoffs.claim(session, handoff_id, agent)
            handoffs.close(session, handoff_id, agent, "已处理")
        with tx(url) as session:
            handoff = session.get(Handoff, handoff_id)
            handoff.closed_at = closed_at
            handoff.claimed_at = closed_at - dt.timedelta(minutes=length)


# --- wait estimates -------------------------------------------------------------------------


def test_the_handling_time_is_the_median_of_the_last_week_with_a_default_below_five(
        db_url: str) -> None:
    agent = add_agent(db_url, "wang")
    handled(db_url, agent, [2, 3, 4, 30])
    handled(db_url, agent, [90, 90, 90], days_ago=8)  # older than a week: not counted
    with Session(get_engine(db_url)) as session:
        assert handoffs.median_handling(session) == handoffs.DEFAULT_HANDLING  # 4 < 5
    handled(db_url, agent, [60])
    with Session(get_engine(db_url)) as session:
        # 2, 3, 4, 30, 60: the median (the mean would be almost 20 minutes).
        assert handoffs.median_handling(session) == dt.timedelta(minutes=4)


def test_with_nobody_online_the_wait_is_unknown_not_a_minute() -> None:
    nobody = handoffs.estimate_wait(1, 0, dt.timedelta(seconds=10))
    assert nobody.nobody_online and nobody.position == 1
    two = handoffs.estimate_wait(3, 2, dt.timedelta(minutes=6))
    assert not two.nobody_online and two.minutes == 9


def test_the_wait_of_a_waiting_handoff_counts_the_agents_online(db_url: str) -> None:
    handoff_id = queue(db_url, "w1")
    with Session(get_engine(db_url)) as session:
        assert handoffs.wait_for(session, session.get(Handoff, handoff_id)).nobody_online
    add_agent(db_url, "away", AgentPresence.away)  # signed in but not answering
    with Session(get_engine(db_url)) as session:
        assert handoffs.wait_for(session, session.get(Handoff, handoff_id)).nobody_online
    add_agent(db_url, "li")
    with Session(get_engine(db_url)) as session:
        wait = handoffs.wait_for(session, session.get(Handoff, handoff_id))
    assert not wait.nobody_online and wait.minutes == 6


# --- what the queue lets go -----------------------------------------------------------------


def test_what_the_queue_lets_go_and_why(db_url: str) -> None:
    now = utcnow()
    here, gone, just_gone = queue(db_url, "here"), queue(db_url, "gone"), queue(db_url, "blip")
    with tx(db_url) as session:
        handoffs.mark_left(session, "widget", "gone", now - dt.timedelta(seconds=200))
        handoffs.mark_left(session, "widget", "blip", now - dt.timedelta(seconds=30))
    cutoff = now - dt.timedelta(seconds=120)
    with Session(get_engine(db_url)) as session:
        closed = dict(handoffs.to_let_go(session, open_now=False, left_before=cutoff))
        nobody = dict(handoffs.to_let_go(session, open_now=True, left_before=cutoff))
    assert closed == {here: QueueEnd.hours_ended, gone: QueueEnd.left,
                      just_gone: QueueEnd.hours_ended}
    assert nobody == {here: QueueEnd.no_agent, gone: QueueEnd.left,
                      just_gone: QueueEnd.no_agent}
    add_agent(db_url, "zhao")
    with Session(get_engine(db_url)) as session:
        served = dict(handoffs.to_let_go(session, open_now=True, left_before=cutoff))
    assert served == {gone: QueueEnd.left}  # someone answers: only who left goes


def test_a_waiting_handoff_becomes_a_ticket_that_keeps_everything(db_url: str) -> None:
    handoff_id = queue(db_url, "keep", channel="wechat")
    now = utcnow()
    with tx(db_url) as session:
        ended = handoffs.let_go(session, handoff_id, QueueEnd.no_agent, now)
    assert ended is not None
    row = get(db_url, handoff_id)
    assert row.status == HandoffStatus.ticket and row.contact_method == "chat"
    assert (row.problem, row.merchant_id, row.channel, row.sender_id) == (
        "钱冻结了，提不出来", "1900000002", "wechat", "keep")
    assert row.queue_end == QueueEnd.no_agent and row.queue_ended_at == now
    assert row.queue_notified_at == now  # the winner tells the merchant
    assert row.closed_at is None
    with tx(db_url) as session:
        assert handoffs.let_go(session, handoff_id, QueueEnd.no_agent, now) is None  # once


def test_of_two_consoles_letting_go_at_once_exactly_one_wins(db_url: str) -> None:
    handoff_id = queue(db_url, "race")
    barrier = threading.Barrier(2, timeout=10)

    def attempt(_: int) -> bool:
        with tx(db_url) as session:
            if db_url.startswith("postgresql"):
                session.get(Handoff, handoff_id)  # both read it waiting first
                barrier.wait()
            return handoffs.let_go(session, handoff_id, QueueEnd.no_agent, utcnow()) is not None

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sorted(pool.map(attempt, range(2))) == [False, True]
    assert get(db_url, handoff_id).status == HandoffStatus.ticket


def test_a_claim_and_letting_go_never_both_win(db_url: str) -> None:
    agent = add_agent(db_url, "fast")
    handoff_id = queue(db_url, "claimed")
    with tx(db_url) as session:
        handoffs.claim(session, handoff_id, agent)
    with tx(db_url) as session:
        assert handoffs.let_go(session, handoff_id, QueueEnd.no_agent, utcnow()) is None
    assert get(db_url, handoff_id).status == HandoffStatus.agent


@pytest.mark.parametrize(("channel", "phone", "status", "contact"), [
    ("widget", None, HandoffStatus.cancelled, None),  # no way to reach them: closed
    ("widget", "13812345678", HandoffStatus.ticket, "phone"),
    ("wechat", None, HandoffStatus.ticket, "chat"),  # WeChat reaches them later
])
def test_a_visitor_who_left_is_a_ticket_only_when_reachable(
        db_url: str, channel: str, phone: str | None, status: HandoffStatus,
        contact: str | None) -> None:
    handoff_id = queue(db_url, "left", channel=channel, phone=phone)
    now = utcnow()
    with tx(db_url) as session:
        handoffs.mark_left(session, channel, "left", now - dt.timedelta(seconds=300))
    with tx(db_url) as session:
        assert handoffs.let_go(session, handoff_id, QueueEnd.left, now,
                               left_before=now - dt.timedelta(seconds=120)) is not None
    row = get(db_url, handoff_id)
    assert row.status == status and row.contact_method == contact
    assert row.queue_end == QueueEnd.left and row.agent_id is None
    assert (row.closed_at is not None) is (status == HandoffStatus.cancelled)
    assert row.problem == "钱冻结了，提不出来"


def test_a_visitor_back_before_the_grace_period_ends_keeps_the_place(db_url: str) -> None:
    handoff_id = queue(db_url, "back")
    now = utcnow()
    with tx(db_url) as session:
        assert handoffs.mark_left(session, "widget", "back", now - dt.timedelta(seconds=300))
        assert not handoffs.mark_left(session, "widget", "nobody")  # nothing queued
    assert get(db_url, handoff_id).left_at is not None
    with tx(db_url) as session:
        assert handoffs.mark_back(session, "widget", "back")
        assert not handoffs.mark_back(session, "widget", "back")  # no mark any more
    assert get(db_url, handoff_id).left_at is None
    with tx(db_url) as session:
        # Read as gone a moment before: the visitor came back since, so it stays.
        assert handoffs.let_go(session, handoff_id, QueueEnd.left, now,
                               left_before=now - dt.timedelta(seconds=120)) is None
    assert get(db_url, handoff_id).status == HandoffStatus.waiting


def test_only_a_waiting_visitor_is_marked_as_left(db_url: str) -> None:
    agent = add_agent(db_url, "holder")
    handoff_id = queue(db_url, "held")
    with tx(db_url) as session:
        handoffs.claim(session, handoff_id, agent)
    with tx(db_url) as session:
        assert not handoffs.mark_left(session, "widget", "held")
    assert get(db_url, handoff_id).left_at is None


# --- the notice ----------------------------------------------------------------------------


def test_a_notice_not_sent_is_due_again_until_it_is(db_url: str) -> None:
    sent, failed, withdrawn = queue(db_url, "n1"), queue(db_url, "n2"), queue(db_url, "n3")
    now = utcnow()
    with tx(db_url) as session:
        for handoff_id in (sent, failed, withdrawn):
            handoffs.let_go(session, handoff_id, QueueEnd.no_agent, now)
    with tx(db_url) as session:
        assert handoffs.notices_due(session, now - dt.timedelta(hours=1)) == []  # claimed
        handoffs.release_notice(session, failed)
        handoffs.release_notice(session, withdrawn)
        session.get(Handoff, withdrawn).status = HandoffStatus.cancelled  # "不用了"
    with tx(db_url) as session:
        assert handoffs.notices_due(session, now - dt.timedelta(hours=1)) == [failed]
        assert handoffs.claim_notice(session, failed, now)
        assert not handoffs.claim_notice(session, failed, now)  # one sender only
    with Session(get_engine(db_url)) as session:
        assert handoffs.notices_due(session, now - dt.timedelta(hours=1)) == []
