"""An honest queue (issue 20, item 3), in the console: its watcher lets the queue go when
nobody serves it (the last agent offline, the service hours over, a widget visitor gone)
and tells each merchant once, on their own channel, also with two consoles running."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.orm import Session

from console import service
from console.delivery import Delivery
from console.live import Hub, QueueKeeper, Snapshot, Watcher, changes
from console.rasa_client import RasaClient
from console.transcript import transcript
from core.db import handoffs
from core.db.models import AgentPresence, Handoff, HandoffStatus, QueueEnd, utcnow
from core.db.session import get_engine
from core.service_hours import ServiceHours
from tests.console.conftest import add_agent, queue_handoff, set_presence
from tests.console.fake_rasa import TOKEN, FakeRasa

ALL_DAY = ServiceHours.from_env({"HANDOFF_HOURS": "00:00-24:00"})
GRACE = dt.timedelta(seconds=120)


class Clock:
    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def make_keeper(db_url: str, fake_rasa: FakeRasa, clock: Clock) -> Callable[..., QueueKeeper]:
    """A console's queue keeper (each call: another console process on the database)."""

    def build(hours: ServiceHours = ALL_DAY) -> QueueKeeper:
        engine = get_engine(db_url)
        rasa = RasaClient("http://rasa.test", TOKEN, 5.0, transport=fake_rasa.transport())
        return QueueKeeper(engine, Delivery(engine, rasa), hours, GRACE, clock=clock)

    return build


def row(db_url: str, handoff_id: int) -> Handoff:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        handoff = session.get(Handoff, handoff_id)
        session.expunge(handoff)
        return handoff


def waiting(db_url: str, fake_rasa: FakeRasa, sender: str, channel: str = "wechat",
            problem: str = "收款码被限制了，钱能提出来吗", phone: str | None = None) -> int:
    fake_rasa.user_says(sender, "转人工", channel=channel)  # WeChat's window is open
    return queue_handoff(db_url, sender, channel=channel, problem=problem, contact_phone=phone)


def online_agent(db_url: str, username: str, name: str) -> int:
    agent = add_agent(db_url, username, name)
    set_presence(db_url, agent, AgentPresence.online)
    return agent


def queue_shown(db_url: str, agent: int) -> dict[str, Any]:
    """The queue as this agent's console shows it."""
    with Session(get_engine(db_url)) as session:
        return service.queue_snapshot(session, agent)


def notices(fake_rasa: FakeRasa, sender: str) -> list[dict[str, Any]]:
    return [e for e in fake_rasa.bot_events(sender)
            if (e.get("metadata") or {}).get("handoff_notice") == "queue_ended"]


def test_the_last_agent_going_offline_turns_the_queue_into_tickets_told_once(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper]) -> None:
    agent = online_agent(db_url, "wang", "小王")
    first, second = waiting(db_url, fake_rasa, "m1"), waiting(db_url, fake_rasa, "m2",
                                                              problem="提现三天没到账")
    keeper = make_keeper()
    assert keeper.settle() == []  # somebody answers: the queue stays
    set_presence(db_url, agent, AgentPresence.offline)
    assert sorted(keeper.settle()) == [first, second]
    for handoff_id, sender, problem in ((first, "m1", "收款码被限制了"),
                                        (second, "m2", "提现三天没到账")):
        ticket = row(db_url, handoff_id)
        assert ticket.status == HandoffStatus.ticket and ticket.queue_end == QueueEnd.no_agent
        assert ticket.merchant_id == "1900000002" and problem in ticket.problem
        [notice] = notices(fake_rasa, sender)
        text = notice["text"]
        # Plain words: nobody now, recorded (with the problem), when and how, and how
        # to call it off; never a wait in minutes.
        assert "没有客服在线" in text and "留言" in text and problem in text, text
        assert "有客服上线后" in text and "在这里回复你" in text and "不用了" in text, text
        assert "分钟" not in text
        assert notice["metadata"].get("handoff_answer")  # a bare "不用了" withdraws it
        # The transcript shows it as a system line, not as the bot or the merchant.
        lines = transcript({"events": fake_rasa.trackers[sender]})
        assert [line["role"] for line in lines if line["text"] == text] == ["system"]
    # Idempotent: again, and from another console process, nothing more is said.
    assert keeper.settle() == [] and make_keeper().settle() == []
    assert len(notices(fake_rasa, "m1")) == 1 and len(notices(fake_rasa, "m2")) == 1


def test_two_consoles_letting_go_at_the_same_moment_tell_each_merchant_once(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper]) -> None:
    senders = [f"r{n}" for n in range(4)]
    ids = [waiting(db_url, fake_rasa, sender) for sender in senders]
    keepers = [make_keeper(), make_keeper()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        ended = [set(found) for found in pool.map(lambda k: k.settle(), keepers)]
    assert ended[0] | ended[1] == set(ids) and not ended[0] & ended[1]
    assert [len(notices(fake_rasa, sender)) for sender in senders] == [1, 1, 1, 1]


def test_the_end_of_the_service_hours_turns_the_queue_into_tickets(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper],
        clock: Clock) -> None:
    online_agent(db_url, "li", "小李")  # still online at 21:00
    handoff_id = waiting(db_url, fake_rasa, "late")
    clock.now = dt.datetime(2026, 11, 26, 13, 0, 30)  # 21:00:30 in Shanghai
    hours = ServiceHours.from_env({"HANDOFF_HOURS": "09:00-21:00"})
    assert make_keeper(hours).settle() == [handoff_id]
    assert row(db_url, handoff_id).queue_end == QueueEnd.hours_ended
    [notice] = notices(fake_rasa, "late")
    assert "人工服务时间" in notice["text"] and "9:00-21:00" in notice["text"], notice["text"]
    assert "没有客服在线" not in notice["text"]


def test_a_call_back_number_given_before_is_how_the_ticket_reaches_them(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper]) -> None:
    handoff_id = waiting(db_url, fake_rasa, "caller", phone="13812345678")
    make_keeper().settle()
    assert row(db_url, handoff_id).contact_method == "phone"
    [notice] = notices(fake_rasa, "caller")
    assert "电话联系你" in notice["text"] and "138****5678" in notice["text"]
    assert "13812345678" not in notice["text"]


def test_a_notice_that_could_not_be_sent_is_sent_later_and_nothing_is_lost(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper],
        clock: Clock) -> None:
    handoff_id = waiting(db_url, fake_rasa, "retry")
    fake_rasa.next_appends = ["down"]
    keeper = make_keeper()
    assert keeper.settle() == [handoff_id]
    assert notices(fake_rasa, "retry") == []
    assert row(db_url, handoff_id).status == HandoffStatus.ticket  # the ticket stays
    keeper.settle()
    assert notices(fake_rasa, "retry") == []  # not hammered every round
    clock.advance(60)
    keeper.settle()
    assert len(notices(fake_rasa, "retry")) == 1
    clock.advance(60)
    keeper.settle()
    assert len(notices(fake_rasa, "retry")) == 1


def test_a_widget_visitor_who_left_is_marked_then_let_go_after_the_grace_period(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper],
        clock: Clock) -> None:
    agent = online_agent(db_url, "zhao", "小赵")
    gone = waiting(db_url, fake_rasa, "gone", channel="widget")
    caller = waiting(db_url, fake_rasa, "caller", channel="widget", phone="13912345678")
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.mark_left(session, "widget", "gone", clock.now)
        handoffs.mark_left(session, "widget", "caller", clock.now)
    queue = queue_shown(db_url, agent)
    shown = {h["id"]: h for h in queue["waiting"]}
    assert shown[gone]["left"] and shown[gone]["left_label"] == "访客已离开"
    keeper = make_keeper()
    clock.advance(60)
    assert keeper.settle() == []  # within the grace period: they may come back
    clock.advance(61)
    assert sorted(keeper.settle()) == sorted([gone, caller])
    closed = row(db_url, gone)
    assert closed.status == HandoffStatus.cancelled and closed.queue_end == QueueEnd.left
    assert closed.agent_id is None  # nobody's miss
    assert row(db_url, caller).status == HandoffStatus.ticket
    assert row(db_url, caller).contact_method == "phone"
    # What they find if they open the widget again, kept in the transcript.
    [left_line] = notices(fake_rasa, "gone")
    assert "离开" in left_line["text"] and "转人工" in left_line["text"]
    assert not left_line["metadata"].get("handoff_answer")
    queue = queue_shown(db_url, agent)
    assert [h["id"] for h in queue["tickets"]] == [caller]
    assert queue["tickets"][0]["left_label"] == "访客已离开"


def test_a_visitor_back_within_the_grace_period_keeps_their_place(
        db_url: str, fake_rasa: FakeRasa, make_keeper: Callable[..., QueueKeeper],
        clock: Clock) -> None:
    agent = online_agent(db_url, "qian", "小钱")
    handoff_id = waiting(db_url, fake_rasa, "blip", channel="widget")
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.mark_left(session, "widget", "blip", clock.now)
    clock.advance(30)
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.mark_back(session, "widget", "blip")
    [shown] = queue_shown(db_url, agent)["waiting"]
    assert not shown["left"] and shown["left_label"] is None
    clock.advance(300)
    assert make_keeper().settle() == []
    assert row(db_url, handoff_id).status == HandoffStatus.waiting
    assert notices(fake_rasa, "blip") == []


def test_the_queue_is_announced_when_it_becomes_a_ticket_or_a_visitor_leaves() -> None:
    before = Snapshot(handoffs={1: ("waiting", None), 2: ("waiting", None)})
    ticket = Snapshot(handoffs={1: ("ticket", None), 2: ("waiting", None)})
    assert {e["type"] for e in changes(before, ticket)} >= {"ticketed", "queue"}
    left = Snapshot(handoffs=dict(before.handoffs), left={2})
    assert [e["type"] for e in changes(before, left)] == ["queue"]
    assert changes(left, Snapshot(handoffs=dict(before.handoffs), left={2})) == []


async def test_the_watcher_lets_the_queue_go_and_announces_it(
        db_url: str, fake_rasa: FakeRasa) -> None:
    handoff_id = waiting(db_url, fake_rasa, "watched")
    engine = get_engine(db_url)
    rasa = RasaClient("http://rasa.test", TOKEN, 5.0, transport=fake_rasa.transport())
    hub = Hub()
    _, events = hub.subscribe(1)
    watcher = Watcher(engine, hub, 0.05, delivery=Delivery(engine, rasa), hours=ALL_DAY)
    task = asyncio.create_task(watcher.run())
    try:
        while True:
            event = await asyncio.wait_for(events.get(), 10)
            if event["type"] == "ticketed":
                break
    finally:
        task.cancel()
    assert event["handoff_id"] == handoff_id
    assert event["handoff"]["status_label"] == "留言"
    assert len(notices(fake_rasa, "watched")) == 1


def test_without_a_way_to_tell_merchants_the_watcher_leaves_the_queue_alone(
        db_url: str, fake_rasa: FakeRasa) -> None:
    """A watcher built without delivery (tests, tools) never lets go silently."""
    handoff_id = waiting(db_url, fake_rasa, "untold")
    watcher = Watcher(get_engine(db_url), Hub(), 0.05)
    assert watcher.keeper is None
    assert row(db_url, handoff_id).status == HandoffStatus.waiting
