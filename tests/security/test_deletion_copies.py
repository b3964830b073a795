"""Medium 7 of issue 25 (docs/security.md P5 k): "删除我的记录" leaves no copy of what the
merchant typed or was told, and no link from the sender to the merchant, in the merchant
database (the tracker store and the event broker delete the conversation itself:
tests/security/test_tracker_privacy.py). What the operators need stays, without text and
without the sender: the handoffs' figures (insights), the agents' reads (audit), the
inbox's triage counts, and the failed identity checks that still hold a lock-out.

Every test runs on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from actions.forget import ActionForget
from core.db import handoffs, insights, repository
from core.db.forget import forget
from core.db.inbox import ActionKind, InboxAction, InboxTriaged, record
from core.db.models import (
    Agent,
    AgentMessage,
    AgentPresence,
    DeliveryStatus,
    Handoff,
    HandoffNote,
    HandoffRead,
    HandoffStatus,
    IdentityBinding,
    Material,
    MaterialStatus,
    VerificationAttempt,
    utcnow,
)
from core.db.session import get_engine
from core.privacy import mask_merchant_id, mask_personal_data
from core.service_hours import ServiceHours
from tests.actions.conftest import make_tracker

CHANNEL = "wechat"
SENDER = "oForgetMe7f3aQ"
OTHER = "oStaysHere2b9cQ"
MERCHANT, LAST4 = "1900000002", "0002"
OTHER_MERCHANT, OTHER_LAST4 = "1900000003", "0003"
CALL_BACK = "13900001111"
# Words nobody else writes: any copy of them anywhere is a copy of this merchant's (the
# other merchant's are written with 白鹭 and its own id).
PROBLEM = "{marker}问题：收款码被限制了，手机13800000002"
RESOLUTION = "{marker}结论：已回拨" + CALL_BACK + "，商户{merchant}补材料"
NOTE = "{marker}备注：商户{merchant}很着急，身份证110101199003074514"
REPLY = "{marker}回复：{merchant}的限制已解除"
QUESTION = "蓝鲸提问：退款要多久到账"
NEEDLES = ("蓝鲸", SENDER, MERCHANT, "1900****02")
# The merchant's own records: the account, its states and its filed appeals (kept by rule,
# and named by the merchant id, not by any sender).
MERCHANTS_OWN = {"merchants", "account_states", "appeals", "appeal_events", "alembic_version"}


def session_for(db_url: str) -> Session:
    return Session(get_engine(db_url))


def add_agent(db_url: str, name: str) -> int:
    with session_for(db_url) as session, session.begin():
        agent = Agent(username=name, display_name=name, password_hash="x",
                      presence=AgentPresence.online, max_open=5, failed_logins=0)
        session.add(agent)
        session.flush()
        return agent.id


def verify(db_url: str, sender: str, merchant_id: str, last4: str) -> None:
    with session_for(db_url) as session, session.begin():
        assert repository.check_identity(session, CHANNEL, sender, merchant_id, last4)


def handled(db_url: str, sender: str, merchant_id: str, agent: int, marker: str = "蓝鲸") -> int:
    """A conversation handed to ``agent``, answered (delivered), noted, closed with a
    resolution, scored and read again later: every table the console writes."""
    problem, resolution, note, reply = (
        template.format(marker=marker, merchant=merchant_id)
        for template in (PROBLEM, RESOLUTION, NOTE, REPLY))
    with session_for(db_url) as session, session.begin():
        handoff = handoffs.queue(session, CHANNEL, sender, "merchant_asked",
                                 mask_personal_data(problem), merchant_id=merchant_id,
                                 account_snapshot=json.dumps(
                                     {"merchant": mask_merchant_id(merchant_id),
                                      "state": "restricted"}, ensure_ascii=False))
        handoff_id = handoff.id
    with session_for(db_url) as session, session.begin():
        handoffs.claim(session, handoff_id, agent)
        now = utcnow()
        # As console/delivery.py writes them: masked text, the typed one sealed until sent.
        session.add(AgentMessage(handoff_id=handoff_id, agent_id=agent,
                                 text=mask_personal_data(reply), outgoing=reply,
                                 status=DeliveryStatus.sent, sent_at=now + dt.timedelta(seconds=40)))
        session.add(AgentMessage(handoff_id=handoff_id, agent_id=agent,
                                 text=mask_personal_data(reply), outgoing=reply,
                                 status=DeliveryStatus.failed, error=f"发送失败：{reply}"))
        session.add(HandoffNote(handoff_id=handoff_id, agent_id=agent,
                                text=mask_personal_data(note)))
        handoffs.record_first_reply(session, handoff_id, now + dt.timedelta(seconds=40))
    with session_for(db_url) as session, session.begin():
        handoffs.close(session, handoff_id, agent, resolution)
    with session_for(db_url) as session, session.begin():
        assert handoffs.record_satisfaction(session, CHANNEL, sender, 4) is not None
        session.add(HandoffRead(handoff_id=handoff_id, agent_id=agent))
    return handoff_id


def every_value(db_url: str) -> dict[str, list[str]]:
    """Every value of every column of every table, as text, by table."""
    engine = get_engine(db_url)
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            found[table] = [str(value) for row in rows for value in row if value is not None]
    return found


def copies_left(db_url: str) -> dict[str, list[str]]:
    """Where any of NEEDLES is still found, outside the merchant's own records."""
    left: dict[str, list[str]] = {}
    for table, values in every_value(db_url).items():
        if table in MERCHANTS_OWN:
            continue
        hits = [value for value in values if any(needle in value for needle in NEEDLES)]
        if hits:
            left[table] = hits
    return left


def failures_against(db_url: str, merchant_id: str, now: dt.datetime) -> tuple[int, int]:
    """Failed checks against ``merchant_id`` in the last hour and the last day."""
    with session_for(db_url) as session:
        times = session.execute(select(VerificationAttempt.attempted_at).where(
            VerificationAttempt.merchant_id == merchant_id,
            VerificationAttempt.success.is_(False))).scalars().all()
    return (sum(1 for t in times if t > now - repository.LOCKOUT_WINDOW),
            sum(1 for t in times if t > now - repository.DAY))


def figures(db_url: str) -> dict[str, Any]:
    hours = ServiceHours.from_env({})
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    with session_for(db_url) as session:
        return insights.summary(session, None, today - dt.timedelta(days=3),
                                today + dt.timedelta(days=1), hours=hours)


def test_no_copy_of_what_was_said_and_no_link_to_the_merchant_is_left(db_url: str) -> None:
    agent = add_agent(db_url, "wang")
    verify(db_url, SENDER, MERCHANT, LAST4)
    verify(db_url, OTHER, OTHER_MERCHANT, OTHER_LAST4)
    mine = handled(db_url, SENDER, MERCHANT, agent)
    theirs = handled(db_url, OTHER, OTHER_MERCHANT, agent, marker="白鹭")
    with session_for(db_url) as session, session.begin():
        record(session, ActionKind.ignore, agent, "wang", [(1, SENDER), (2, OTHER)],
               note=f"{QUESTION}，商户{MERCHANT}")
    assert set(copies_left(db_url)) >= {"handoffs", "handoff_notes", "agent_messages",
                                        "identity_bindings", "verification_attempts",
                                        "inbox_triaged", "inbox_actions"}, \
        "the set-up wrote no copy: the test would prove nothing"

    with session_for(db_url) as session, session.begin():
        forget(session, CHANNEL, SENDER)

    assert copies_left(db_url) == {}
    with session_for(db_url) as session:
        kept = session.get(Handoff, mine)
        assert kept is not None and kept.status == HandoffStatus.closed  # the figures stay
        assert (kept.channel, kept.agent_id, kept.satisfaction) == (CHANNEL, agent, 4)
        assert kept.sender_id != SENDER and kept.merchant_id is None
        assert (kept.problem, kept.resolution, kept.account_snapshot, kept.contact_phone) == \
            (None, None, None, None)
        assert session.execute(select(HandoffNote).where(HandoffNote.handoff_id == mine)).all() == []
        replies = session.execute(select(AgentMessage).where(
            AgentMessage.handoff_id == mine)).scalars().all()
        assert len(replies) == 2  # first response and per-agent figures keep their rows
        assert all(r.outgoing is None and r.error is None and "蓝鲸" not in r.text
                   for r in replies)
        # The agents' reads stay (the audit of who opened what), naming no sender.
        assert session.execute(select(HandoffRead).where(HandoffRead.handoff_id == mine)).all()
        assert repository.bound_merchant_id(session, CHANNEL, SENDER) is None
        # The other merchant keeps everything.
        other = session.get(Handoff, theirs)
        assert other.sender_id == OTHER and other.merchant_id == OTHER_MERCHANT
        assert other.resolution and "白鹭" in other.resolution
        assert session.execute(select(HandoffNote).where(HandoffNote.handoff_id == theirs)).all()
        assert repository.bound_merchant_id(session, CHANNEL, OTHER) == OTHER_MERCHANT
        assert {row.sender_id for row in session.query(InboxTriaged)} == {OTHER}


def test_the_report_reads_the_same_figures_afterwards(db_url: str) -> None:
    agent = add_agent(db_url, "li")
    verify(db_url, SENDER, MERCHANT, LAST4)
    handled(db_url, SENDER, MERCHANT, agent)
    handled(db_url, OTHER, OTHER_MERCHANT, agent, marker="白鹭")
    before = figures(db_url)
    assert before["handoffs"] == 2 and before["first_response_n"] == 2
    assert before["csat_n"] == 2 and before["conversations_per_agent"] == {"li": 2}
    with session_for(db_url) as session, session.begin():
        forget(session, CHANNEL, SENDER)
    assert figures(db_url) == before


def test_open_handoffs_of_the_sender_end_with_nothing_left_to_call(db_url: str) -> None:
    """A queued request and a left message (with its call-back number) end as cancelled:
    nothing is left for an agent to claim or call; other merchants' stay queued."""
    agent = add_agent(db_url, "zhao")
    with session_for(db_url) as session, session.begin():
        ticket = handoffs.queue(session, CHANNEL, SENDER, "merchant_asked",
                                PROBLEM.format(marker="蓝鲸", merchant=MERCHANT),
                                merchant_id=MERCHANT, ticket=True, contact_method="phone",
                                contact_phone=CALL_BACK).id
        waiting = handoffs.queue(session, "widget", SENDER, "merchant_asked", "蓝鲸问题").id
        held = handoffs.queue(session, "rest", SENDER, "merchant_asked", "蓝鲸问题").id
        others = handoffs.queue(session, CHANNEL, OTHER, "merchant_asked", "别人的问题").id
    with session_for(db_url) as session, session.begin():
        handoffs.claim(session, held, agent)
    with session_for(db_url) as session, session.begin():
        for channel in (CHANNEL, "widget", "rest"):
            forget(session, channel, SENDER)
    with session_for(db_url) as session:
        for handoff_id in (ticket, waiting, held):
            ended = session.get(Handoff, handoff_id)
            assert ended.status == HandoffStatus.cancelled and ended.closed_at is not None
            assert ended.contact_phone is None and ended.problem is None
            assert ended.sender_id != SENDER
        for channel in (CHANNEL, "widget", "rest"):
            assert handoffs.open_handoff_for(session, channel, SENDER) is None
        assert session.get(Handoff, others).status == HandoffStatus.waiting
    assert copies_left(db_url) == {}


def test_failed_checks_still_lock_and_older_ones_name_no_one(db_url: str) -> None:
    """Deleting the records must not reset a guesser's lock-out: the failed checks that
    still count toward one keep the sender (and the merchant id typed); older ones get a
    name of their own (the same for all of them, so the lock-out figure stays) and lose
    the merchant id once no per-merchant limit counts them."""
    now = utcnow()

    def failed(sender: str, merchant_id: str, ago: dt.timedelta) -> None:
        with session_for(db_url) as session, session.begin():
            session.add(VerificationAttempt(channel=CHANNEL, sender_id=sender,
                                            merchant_id=merchant_id, success=False,
                                            attempted_at=now - ago))

    minutes = [dt.timedelta(minutes=m) for m in (2, 20, 40, 55, 58)]
    # Two days ago: five failures within an hour (a lock-out in the report), then more
    # failures three hours ago, and a lock holding now (the last five within the hour).
    for ago in [dt.timedelta(days=2, minutes=m) for m in (0, 5, 10, 15, 20)]:
        failed(SENDER, "1999999999", ago)
    failed(SENDER, MERCHANT, dt.timedelta(hours=3))
    for ago in minutes:
        failed(SENDER, MERCHANT, ago)
    failed(OTHER, MERCHANT, dt.timedelta(hours=3))
    with session_for(db_url) as session:
        assert repository.is_locked(session, CHANNEL, SENDER)
    merchant_failures = failures_against(db_url, MERCHANT, now)
    lockouts_before = figures(db_url)["identity_lockouts"]
    assert lockouts_before == 2

    with session_for(db_url) as session, session.begin():
        forget(session, CHANNEL, SENDER)

    with session_for(db_url) as session:
        assert repository.is_locked(session, CHANNEL, SENDER)  # still locked
        rows = session.execute(select(VerificationAttempt).where(
            VerificationAttempt.sender_id != OTHER)).scalars().all()
        recent = [r for r in rows if r.attempted_at > now - dt.timedelta(hours=1)]
        older = [r for r in rows if r.attempted_at <= now - dt.timedelta(hours=1)]
        assert len(recent) == 5 and {r.sender_id for r in recent} == {SENDER}
        assert {r.merchant_id for r in recent} == {MERCHANT}  # the per-merchant limit
        assert len({r.sender_id for r in older}) == 1 and SENDER not in {r.sender_id for r in older}
        three_hours = [r for r in older if r.attempted_at > now - dt.timedelta(days=1)]
        assert [r.merchant_id for r in three_hours] == [MERCHANT]  # counts for a day
        assert {r.merchant_id for r in older if r not in three_hours} == {None}
        other = session.execute(select(VerificationAttempt).where(
            VerificationAttempt.sender_id == OTHER)).scalar_one()
        assert other.merchant_id == MERCHANT
    # The merchant id's own limits (an hour, a day) count the same failures as before.
    assert failures_against(db_url, MERCHANT, now) == merchant_failures
    assert figures(db_url)["identity_lockouts"] == lockouts_before


def test_a_passed_check_no_longer_names_the_sender_or_the_merchant(db_url: str) -> None:
    verify(db_url, SENDER, MERCHANT, LAST4)
    with session_for(db_url) as session, session.begin():
        forget(session, CHANNEL, SENDER)
    with session_for(db_url) as session:
        [passed] = session.execute(select(VerificationAttempt)).scalars().all()
        assert passed.success and passed.sender_id != SENDER and passed.merchant_id is None
        assert session.execute(select(IdentityBinding)).all() == []


def test_the_inbox_keeps_its_counts_without_the_questions(db_url: str) -> None:
    """A supervisor's triage of the sender's messages keeps who did what, when, on how
    many messages and which draft it made; the questions it copied and its note go (they
    are the merchant's words; the draft in the knowledge base is the team's own text)."""
    agent = add_agent(db_url, "sun")
    with session_for(db_url) as session, session.begin():
        alone = record(session, ActionKind.similar, agent, "sun", [(11, SENDER), (12, SENDER)],
                       entry_id="refund_time", revision=3, added=[QUESTION],
                       note=f"{QUESTION}（商户{MERCHANT}）").id
        mixed = record(session, ActionKind.out_of_scope, agent, "sun",
                       [(13, f"{CHANNEL}:{SENDER}"), (14, OTHER)], added=[QUESTION, "别人的提问"],
                       note="不归我们管").id
        untouched = record(session, ActionKind.similar, agent, "sun", [(15, OTHER)],
                           entry_id="refund_time", revision=4, added=["别人的提问"],
                           note="别人的").id
    with session_for(db_url) as session, session.begin():
        forget(session, CHANNEL, SENDER)
    with session_for(db_url) as session:
        first, second, third = (session.get(InboxAction, i) for i in (alone, mixed, untouched))
        assert (first.action, first.agent_username, first.messages, first.entry_id,
                first.revision) == (ActionKind.similar, "sun", 2, "refund_time", 3)
        assert json.loads(first.added) == [] and first.note is None
        assert json.loads(second.added) == [] and second.messages == 2
        assert json.loads(third.added) == ["别人的提问"] and third.note == "别人的"
        assert {row.sender_id for row in session.query(InboxTriaged)} == {OTHER}
    assert copies_left(db_url) == {}


@pytest.mark.usefixtures("merchant_db")
async def test_the_action_deletes_for_the_channel_the_merchant_writes_on(db_url: str) -> None:
    agent = add_agent(db_url, "qian")
    verify(db_url, SENDER, MERCHANT, LAST4)
    handled(db_url, SENDER, MERCHANT, agent)
    dispatcher = CollectingDispatcher()
    events = await ActionForget().run(
        dispatcher, make_tracker(text="确认删除", intent="affirm", sender_id=SENDER,
                                 channel=CHANNEL), {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_forgotten"]
    assert any(e.get("name") == "forget_me" and e.get("value") is True for e in events)
    assert copies_left(db_url) == {}


def test_appeal_materials_stay_with_the_appeal_but_no_longer_name_the_sender(
        db_url: str) -> None:
    with session_for(db_url) as session, session.begin():
        mine = repository.file_appeal(session, MERCHANT, "remote_qr_collection",
                                      "外地老客户扫码买水果", CALL_BACK)
        theirs = repository.latest_appeal(session, OTHER_MERCHANT)  # the seeded open one
        assert theirs is not None
        for appeal, sender, merchant in ((mine, SENDER, MERCHANT),
                                         (theirs, OTHER, OTHER_MERCHANT)):
            session.add(Material(appeal_id=appeal.id, merchant_id=merchant, channel=CHANNEL,
                                 source_ref=f"wechat:{sender}:7001", kind="png",
                                 content_type="image/png", size_bytes=10, sha256="0" * 64,
                                 storage_key=f"clean/{appeal.id}.png",
                                 status=MaterialStatus.clean))
        mine_id = mine.id
    assert any(SENDER in value for value in every_value(db_url)["materials"])

    with session_for(db_url) as session, session.begin():
        forget(session, CHANNEL, SENDER)

    assert not any(SENDER in value for value in every_value(db_url)["materials"])
    with session_for(db_url) as session:
        kept = session.execute(select(Material).where(Material.appeal_id == mine_id)).scalar_one()
        assert kept.storage_key == f"clean/{mine_id}.png"  # the appeal keeps its file
        other = session.execute(select(Material).where(
            Material.merchant_id == OTHER_MERCHANT)).scalar_one()
        assert other.source_ref == f"wechat:{OTHER}:7001"
