"""The report's figures (core.db.insights, docs/insights.md) on a hand-built day, on
SQLite (merchant DB and event broker DB in two files, the default) and PostgreSQL (one
database holding both, as a scaled setup may). Every expected figure is computed by hand
in the comments of ``DAY`` below; the traps other tools fall into are spelled out.

The day: 2026-12-01 in Asia/Shanghai = [2026-11-30 16:00Z, 2026-12-01 16:00Z).
Service hours 09:00-21:00 local = 01:00-13:00Z.

conv  sender   channel start(Z)  what happens
A     w-a      widget  02:00     typed question, knowledge answer frozen_funds: contained
B     w-b      widget  03:00     2 misses (action_fallback), 2nd one "did you mean", a
                                 button click (payload, not typed), then "转人工": live
                                 handoff queued 03:05, claimed 03:07 (wait 120 s); a bot
                                 notice "客服已接入" at 03:07 and a *failed* agent message
                                 at 03:07:30 (neither is a first response); first
                                 delivered agent message 03:08 (first response 180 s);
                                 closed 03:20 (resolution 900 s); CSAT 4; then the
                                 EXTERNAL: handoff_closed message (not a merchant message)
C     o-c      wechat  14:30     outside hours: "人工" leaves a ticket 14:31, claimed next
                                 day 01:30 by 小李, agent reply 01:40, closed 02:00
                                 (resolution 41,340 s), CSAT 2. Tickets have no queue
                                 wait and no first response; C could not hand off live
D     w-d      widget  04:00     identity check: asks merchant_id, phone_last4, verified
E     w-e      widget  05:00     knowledge answer appeal_process, appeal form asks
                                 category and description, "算了": abandoned; contained
F     w-f      widget  06:00     widget opened, session started, no merchant message:
                                 not a conversation
I     w-i      widget  07:00     "转人工": live handoff 07:01, cancelled 07:06 (abandoned
                                 in the queue: no wait figure)
K     o-k      wechat  08:00     "找人工": live handoff 08:00:30, claimed 08:10:30 (600 s),
                                 first agent message 08:11:30 (660 s), closed 08:30:30
                                 (1,800 s), no score
G     w-g      widget  17:00     the next *local* day (01:00 on 12-02): outside the
                                 period although 2026-12-01 in UTC; its handoff too

conversations = A B C D E I K = 7 (F has no merchant message, G is the next day)
contained = A D E = 3 → 3/7 = 0.4286
could hand off = started in service hours or got a live handoff = A B D E I K = 6
handed off live = B I K = 3 → handoff_rate 3/6 = 0.5 (a naive 4/7 counts C's ticket and
  the conversation that could not hand off)
handoff_or_ticket_rate = B C I K = 4/7 = 0.5714
typed messages: A1 B3 C1 D3 E3 I1 K1 = 13; merchant messages = 13 + B's click = 14
fallback_rate = 2/13 = 0.1538; did_you_mean_rate = 1/13 = 0.0769
handoffs queued in the period: B C I K = 4 (live 3, tickets 1, abandoned 1: I)
by reason: merchant_asked B C K = 3, not_understood I = 1
queue wait (live, claimed): B 120, K 600 → p50 360, p90 120 + 0.9·480 = 552
first response (live, delivered agent messages): B 180, K 660 → p50 420, p90 612
resolution (closed): 900, 1800, 41340 → p50 1800, p90 1800 + 0.8·39540 = 33432
CSAT: 4 and 2 → avg 3.0, n 2, of 3 closed → response rate 0.6667
conversations per agent (claimed handoffs): 小王 B K = 2, 小李 C = 1
identity lock-outs: w-x 5 failures 02:00..02:40 → 1 (its 6th at 02:50 is no new one);
  w-y 4 failures over 2 h → 0; o-l wechat 5 failures 06:00..06:04 → 1; w-z reaches its
  5th failure at 16:30Z, outside the period → 0. Total 2 (widget 1, wechat 1).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from core.db import insights
from core.db.models import (
    Agent,
    AgentMessage,
    AgentPresence,
    DeliveryStatus,
    Handoff,
    HandoffStatus,
    VerificationAttempt,
)
from core.db.session import get_engine
from core.service_hours import ServiceHours

DAY = dt.date(2026, 12, 1)
HOURS = ServiceHours.from_env({"HANDOFF_HOURS": "09:00-21:00", "HANDOFF_DAYS": "1-7",
                               "HANDOFF_TZ": "Asia/Shanghai"})


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> dt.datetime:
    """A UTC time on 2026-12-``day`` (naive, as stored)."""
    return dt.datetime(2026, 12, day, hour, minute, second)


def epoch(when: dt.datetime) -> float:
    return when.replace(tzinfo=dt.timezone.utc).timestamp()


@dataclass
class Log:
    """Tracker events as Rasa's SQL event broker stores them (one JSON per row)."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(self, sender: str, when: dt.datetime, **event: Any) -> None:
        self.rows.append((sender, {"sender_id": sender, "timestamp": epoch(when), **event}))

    def session(self, sender: str, when: dt.datetime) -> None:
        self.add(sender, when, event="action", name="action_session_start")
        self.add(sender, when, event="session_started")
        self.add(sender, when, event="action", name="action_listen")

    def user(self, sender: str, when: dt.datetime, text_: str, intent: str,
             channel: str) -> None:
        self.add(sender, when, event="user", text=text_, input_channel=channel,
                 parse_data={"intent": {"name": intent, "confidence": 0.9},
                             "entities": [], "text": text_})

    def bot(self, sender: str, when: dt.datetime, **metadata: Any) -> None:
        self.add(sender, when, event="bot", text="……", metadata=metadata)

    def action(self, sender: str, when: dt.datetime, name: str) -> None:
        self.add(sender, when, event="action", name=name)

    def loop(self, sender: str, when: dt.datetime, name: str | None) -> None:
        self.add(sender, when, event="active_loop", name=name)

    def asks(self, sender: str, when: dt.datetime, slot: str) -> None:
        self.add(sender, when, event="slot", name="requested_slot", value=slot)


def the_day() -> Log:
    log = Log()
    # A: contained knowledge answer
    log.session("w-a", at(2))
    log.user("w-a", at(2), "钱还能提出来吗", "knowledge", "widget")
    log.action("w-a", at(2), "action_answer_knowledge")
    log.bot("w-a", at(2), knowledge_entry="frozen_funds")
    # B: two misses, did you mean, a click, handoff
    log.session("w-b", at(3))
    log.user("w-b", at(3), "啊啊啊", "nlu_fallback", "widget")
    log.action("w-b", at(3), "action_fallback")
    log.bot("w-b", at(3), utter_action="utter_ask_rephrase")
    log.user("w-b", at(3, 1), "还是不行", "nlu_fallback", "widget")
    log.action("w-b", at(3, 1), "action_fallback")
    log.bot("w-b", at(3, 1), utter_action="utter_did_you_mean")
    log.user("w-b", at(3, 2), "/ask_appeal_process", "ask_appeal_process", "widget")
    log.user("w-b", at(3, 4), "转人工", "request_human", "widget")
    log.loop("w-b", at(3, 4), "handoff_form")
    log.bot("w-b", at(3, 5), utter_action="utter_handoff_queued")
    log.bot("w-b", at(3, 7), handoff_notice="claimed")  # a notice, not a first response
    log.bot("w-b", at(3, 8), agent="小王", agent_message_id=2)
    log.user("w-b", at(3, 20), "EXTERNAL: handoff_closed", "handoff_closed", "widget")
    log.bot("w-b", at(3, 20), utter_action="utter_ask_score")
    # C: ticket outside hours (wechat)
    log.session("o-c", at(14, 30))
    log.user("o-c", at(14, 30), "人工", "request_human", "wechat")
    log.loop("o-c", at(14, 30), "handoff_form")
    log.bot("o-c", at(14, 31), utter_action="utter_handoff_ticket")
    # D: identity check completed
    log.session("w-d", at(4))
    log.user("w-d", at(4), "查一下账户", "check_account", "widget")
    log.loop("w-d", at(4), "verify_form")
    log.asks("w-d", at(4), "merchant_id")
    log.user("w-d", at(4, 1), "1900000002", "inform", "widget")
    log.asks("w-d", at(4, 1), "phone_last4")
    log.user("w-d", at(4, 2), "****", "inform", "widget")
    log.bot("w-d", at(4, 2), utter_action="utter_verified")
    log.loop("w-d", at(4, 2), None)
    # E: appeal abandoned
    log.session("w-e", at(5))
    log.user("w-e", at(5), "怎么申诉", "appeal", "widget")
    log.bot("w-e", at(5), knowledge_entry="appeal_process")
    log.loop("w-e", at(5), "appeal_form")
    log.asks("w-e", at(5), "appeal_category")
    log.user("w-e", at(5, 1), "2", "inform", "widget")
    log.asks("w-e", at(5, 1), "appeal_description")
    log.user("w-e", at(5, 2), "算了", "stop", "widget")
    log.loop("w-e", at(5, 2), None)
    # F: no merchant message
    log.session("w-f", at(6))
    # I: handoff cancelled while waiting
    log.session("w-i", at(7))
    log.user("w-i", at(7), "转人工", "request_human", "widget")
    log.loop("w-i", at(7), "handoff_form")
    log.bot("w-i", at(7, 6), utter_action="utter_handoff_cancelled")
    # K: handoff with a wait (wechat)
    log.session("o-k", at(8))
    log.user("o-k", at(8), "找人工", "request_human", "wechat")
    log.loop("o-k", at(8), "handoff_form")
    log.bot("o-k", at(8, 11, 30), agent="小王", agent_message_id=4)
    log.bot("o-k", at(8, 30, 30), utter_action="utter_ask_score")
    # G: the next local day
    log.session("w-g", at(17))
    log.user("w-g", at(17), "转人工", "request_human", "widget")
    log.bot("w-g", at(17), knowledge_entry="appeal_process")
    return log


def write_events(engine: Engine, log: Log) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, "
                                "sender_id VARCHAR(255), data TEXT)"))
        for number, (sender, event) in enumerate(log.rows, start=1):
            connection.execute(text("INSERT INTO events (id, sender_id, data) "
                                    "VALUES (:id, :sender, :data)"),
                               {"id": number, "sender": sender,
                                "data": json.dumps(event, ensure_ascii=False)})


def _handoff(session: Session, sender: str, channel: str, reason: str,
             status: HandoffStatus, queued: dt.datetime, **times: Any) -> Handoff:
    handoff = Handoff(channel=channel, sender_id=sender, reason=reason, status=status,
                      queued_at=queued, updated_at=queued, **times)
    session.add(handoff)
    session.flush()
    return handoff


def _message(session: Session, handoff: Handoff, agent: int, status: DeliveryStatus,
             created: dt.datetime, sent: dt.datetime | None) -> None:
    session.add(AgentMessage(handoff_id=handoff.id, agent_id=agent, text="您好，我看一下",
                             status=status, created_at=created, sent_at=sent))


def _failures(session: Session, channel: str, sender: str, *times: dt.datetime) -> None:
    for when in times:
        session.add(VerificationAttempt(channel=channel, sender_id=sender,
                                        merchant_id="1900000002", success=False,
                                        attempted_at=when))


def write_merchant_day(url: str) -> None:
    with Session(get_engine(url)) as session, session.begin():
        agents = []
        for username, name in (("wang", "小王"), ("li", "小李")):
            agent = Agent(username=username, display_name=name, password_hash="x",
                          presence=AgentPresence.online, max_open=3, failed_logins=0)
            session.add(agent)
            session.flush()
            agents.append(agent.id)
        wang, li = agents
        b = _handoff(session, "w-b", "widget", "merchant_asked", HandoffStatus.closed,
                     at(3, 5), agent_id=wang, claimed_at=at(3, 7), first_reply_at=at(3, 8),
                     closed_at=at(3, 20), satisfaction=4, resolution="已说明")
        _message(session, b, wang, DeliveryStatus.failed, at(3, 7, 30), None)
        _message(session, b, wang, DeliveryStatus.sent, at(3, 7, 58), at(3, 8))
        c = _handoff(session, "o-c", "wechat", "merchant_asked", HandoffStatus.closed,
                     at(14, 31), agent_id=li, contact_method="chat",
                     claimed_at=at(1, 30, day=2), closed_at=at(2, 0, day=2),
                     satisfaction=2, resolution="已回电")
        _message(session, c, li, DeliveryStatus.sent, at(1, 40, day=2), at(1, 40, day=2))
        _handoff(session, "w-i", "widget", "not_understood", HandoffStatus.cancelled,
                 at(7, 1), closed_at=at(7, 6))
        k = _handoff(session, "o-k", "wechat", "merchant_asked", HandoffStatus.closed,
                     at(8, 0, 30), agent_id=wang, claimed_at=at(8, 10, 30),
                     closed_at=at(8, 30, 30), resolution="已解释")
        _message(session, k, wang, DeliveryStatus.sent, at(8, 11, 30), at(8, 11, 30))
        _handoff(session, "w-g", "widget", "merchant_asked", HandoffStatus.closed,
                 at(17, 5), agent_id=wang, claimed_at=at(17, 6), closed_at=at(17, 30),
                 satisfaction=1)
        _failures(session, "widget", "w-x", *(at(2, m) for m in (0, 10, 20, 30, 40, 50)))
        _failures(session, "widget", "w-y", at(2), at(2, 30), at(3, 30), at(4, 10))
        _failures(session, "wechat", "o-l", *(at(6, m) for m in range(5)))
        _failures(session, "widget", "w-z", at(15, 50), at(16, 0), at(16, 10), at(16, 20),
                  at(16, 30))


def events_url_for(db_url: str, tmp_path: Path) -> str:
    """SQLite: a file of its own (the default layout); PostgreSQL: the same database."""
    if make_url(db_url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return db_url


@pytest.fixture()
def day(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """The merchant DB and the event broker DB holding the day described above."""
    write_merchant_day(db_url)
    events = create_engine(events_url_for(db_url, tmp_path), future=True)
    write_events(events, the_day())
    yield db_url, events
    events.dispose()


def report(day: tuple[str, Engine], channel: str | None = None,
           date_from: dt.date = DAY, date_to: dt.date = DAY) -> dict[str, Any]:
    url, events = day
    with Session(get_engine(url)) as session, events.connect() as connection:
        return insights.summary(session, connection, date_from, date_to, channel, HOURS)


def test_conversation_figures_use_the_right_denominators(day: tuple[str, Engine]) -> None:
    figures = report(day)
    assert figures["events_available"] is True
    assert figures["conversations"] == 7  # F had no merchant message, G is the next day
    assert figures["merchant_messages"] == 14  # B's EXTERNAL: line is not the merchant's
    assert figures["typed_messages"] == 13  # B's button click cannot be misunderstood
    assert figures["contained"] == 3
    assert figures["contained_rate"] == 0.4286
    # Only conversations that could hand off: C came outside service hours.
    assert figures["handoff_eligible_conversations"] == 6
    assert figures["handed_off_conversations"] == 3
    assert figures["handoff_rate"] == 0.5
    assert figures["handoff_or_ticket_rate"] == 0.5714
    assert figures["handoff_asked_conversations"] == 4
    assert figures["fallbacks"] == 2 and figures["fallback_rate"] == 0.1538
    assert figures["conversations_with_fallback_rate"] == 0.1429  # B of 7
    assert figures["did_you_mean"] == 1 and figures["did_you_mean_rate"] == 0.0769
    assert figures["top_entries"] == [{"name": "appeal_process", "count": 1},
                                      {"name": "frozen_funds", "count": 1}]
    assert figures["top_intents"][:2] == [{"name": "request_human", "count": 4},
                                          {"name": "inform", "count": 3}]
    assert all(item["name"] != "nlu_fallback" for item in figures["top_intents"])


def test_form_funnels_count_started_asked_completed_and_abandoned(
        day: tuple[str, Engine]) -> None:
    figures = report(day)
    assert (figures["funnel_identity_started"], figures["funnel_identity_completed"],
            figures["funnel_identity_abandoned"]) == (1, 1, 0)
    assert figures["funnel_identity_asked"] == {"merchant_id": 1, "phone_last4": 1}
    assert (figures["funnel_appeal_started"], figures["funnel_appeal_completed"],
            figures["funnel_appeal_abandoned"]) == (1, 0, 1)
    assert figures["funnel_appeal_asked"] == {"appeal_category": 1, "appeal_description": 1,
                                              "appeal_contact": 0, "appeal_confirm": 0}
    assert figures["funnel_advisor_started"] == 0


def test_handoff_times_count_agents_only_and_leave_tickets_out(
        day: tuple[str, Engine]) -> None:
    figures = report(day)
    assert (figures["handoffs"], figures["handoffs_live"], figures["tickets"],
            figures["queue_abandoned"]) == (4, 3, 1, 1)
    assert figures["handoffs_by_reason"] == {"merchant_asked": 3, "not_understood": 1}
    assert figures["queue_wait_n"] == 2  # B and K; I never got an agent, C is a ticket
    assert figures["queue_wait_p50_s"] == 360.0
    assert figures["queue_wait_p90_s"] == 552.0
    # The claim notice (03:07) and the failed reply (03:07:30) are not responses.
    assert figures["first_response_n"] == 2
    assert figures["first_response_p50_s"] == 420.0
    assert figures["first_response_p90_s"] == 612.0
    assert figures["resolution_n"] == 3
    assert figures["resolution_p50_s"] == 1800.0
    assert figures["resolution_p90_s"] == 33432.0
    assert figures["conversations_per_agent"] == {"小李": 1, "小王": 2}


def test_csat_comes_with_its_n_and_distribution(day: tuple[str, Engine]) -> None:
    figures = report(day)
    assert figures["csat_avg"] == 3.0 and figures["csat_n"] == 2
    assert [figures[f"csat_{score}"] for score in range(1, 6)] == [0, 1, 0, 1, 0]
    assert figures["csat_response_rate"] == 0.6667  # 2 scores of 3 closed handoffs


def test_identity_lockouts_count_the_moments_a_lock_began(day: tuple[str, Engine]) -> None:
    assert report(day)["identity_lockouts"] == 2
    assert report(day, "widget")["identity_lockouts"] == 1
    assert report(day, "wechat")["identity_lockouts"] == 1


def test_a_channel_filter_applies_to_every_figure(day: tuple[str, Engine]) -> None:
    widget = report(day, "widget")
    # A B D E I: contained A D E; all five could hand off, B and I did.
    assert widget["conversations"] == 5 and widget["contained_rate"] == 0.6
    assert widget["handoff_rate"] == 0.4
    assert widget["handoffs"] == 2 and widget["csat_avg"] == 4.0 and widget["csat_n"] == 1
    wechat = report(day, "wechat")
    # C K: K handed off live; C could not (outside hours): 1 of 1.
    assert wechat["conversations"] == 2 and wechat["handoff_rate"] == 1.0
    assert wechat["contained_rate"] == 0.0
    assert wechat["queue_wait_p50_s"] == 600.0


def test_the_period_is_local_days_and_an_empty_period_has_no_rates(
        day: tuple[str, Engine]) -> None:
    both = report(day, date_to=DAY + dt.timedelta(days=1))
    assert both["conversations"] == 8  # G joins on its local day
    assert both["handoffs"] == 5 and both["csat_n"] == 3
    empty = report(day, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 2))
    assert empty["conversations"] == 0
    assert empty["contained_rate"] is None and empty["handoff_rate"] is None
    assert empty["csat_avg"] is None and empty["queue_wait_p50_s"] is None


def test_without_the_broker_table_only_the_merchant_figures_come(
        db_url: str, tmp_path: Path) -> None:
    write_merchant_day(db_url)
    events = create_engine(f"sqlite:///{tmp_path / 'no_events.db'}", future=True)
    with Session(get_engine(db_url)) as session, events.connect() as connection:
        figures = insights.summary(session, connection, DAY, DAY, None, HOURS)
    assert figures["events_available"] is False
    assert figures["conversations"] is None and figures["contained_rate"] is None
    assert figures["handoffs"] == 4 and figures["csat_n"] == 2


def test_the_views_are_readable_by_a_bi_tool(day: tuple[str, Engine]) -> None:
    """The same definitions in plain SQL over the documented views."""
    url, events = day
    with events.connect() as connection:
        insights.ensure_event_views(connection)
        assert insights.ensure_event_views(connection)  # idempotent
        count = connection.execute(text(
            "SELECT COUNT(*) FROM insights_conversations WHERE started_ts >= :a "
            "AND started_ts < :b"), {"a": epoch(at(16, day=1) - dt.timedelta(days=1)),
                                      "b": epoch(at(16))}).scalar_one()
    assert count == 7
    with get_engine(url).connect() as connection:
        rows = connection.execute(text(
            "SELECT sender_id, queue_wait_s, first_response_s FROM insights_handoffs "
            "WHERE first_response_s IS NOT NULL ORDER BY sender_id")).all()
    assert [(row.sender_id, round(row.queue_wait_s), round(row.first_response_s))
            for row in rows] == [("o-k", 600, 660), ("w-b", 120, 180)]


def test_percentile_is_postgresql_percentile_cont() -> None:
    assert insights.percentile([], 0.5) is None
    assert insights.percentile([7.0], 0.9) == 7.0
    assert insights.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert insights.percentile([10, 20, 30, 40, 50], 0.9) == 46.0


def test_a_period_backwards_or_too_long_is_refused() -> None:
    with pytest.raises(insights.PeriodError):
        insights.Period(DAY, DAY - dt.timedelta(days=1), HOURS.tz)
    with pytest.raises(insights.PeriodError):
        insights.Period(DAY, DAY + dt.timedelta(days=insights.MAX_DAYS), HOURS.tz)


def test_a_conversation_begun_before_midnight_keeps_its_handoff_after_it(
        db_url: str, tmp_path: Path) -> None:
    """23:58 local (15:58Z) "转人工", queued at 00:01 local the next day (16:01Z): the
    conversation counts on 12-01 as handed off (not contained), the handoff on 12-02."""
    log = Log()
    log.session("w-m", at(15, 58))
    log.user("w-m", at(15, 58), "转人工", "request_human", "widget")
    log.loop("w-m", at(15, 58), "handoff_form")
    log.bot("w-m", at(16, 1), utter_action="utter_handoff_queued")
    with Session(get_engine(db_url)) as session, session.begin():
        _handoff(session, "w-m", "widget", "merchant_asked", HandoffStatus.cancelled,
                 at(16, 1), closed_at=at(16, 3))
    events = create_engine(events_url_for(db_url, tmp_path), future=True)
    write_events(events, log)
    hours = ServiceHours.from_env({"HANDOFF_HOURS": "00:00-24:00",
                                   "HANDOFF_TZ": "Asia/Shanghai"})
    try:
        with Session(get_engine(db_url)) as session, events.connect() as connection:
            first = insights.summary(session, connection, DAY, DAY, None, hours)
            second = insights.summary(session, connection, DAY + dt.timedelta(days=1),
                                      DAY + dt.timedelta(days=1), None, hours)
    finally:
        events.dispose()
    assert (first["conversations"], first["contained"], first["handoff_rate"]) == (1, 0, 1.0)
    assert first["handoffs"] == 0
    assert (second["conversations"], second["handoffs"]) == (0, 1)
