"""Handing a conversation to a person, from the merchant's side: the short flow, the
queue, the bot's silence while an agent holds the conversation, leaving the queue,
tickets outside working hours and the satisfaction score."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.models import Agent, AgentPresence, Handoff, HandoffStatus
from core.db.session import get_engine
from tests.conversation import Conversation
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue


@pytest.fixture()
def agent_online(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-24:00")
    with Session(get_engine(fresh_db)) as session, session.begin():
        agent = Agent(username="wang", display_name="小王", password_hash="x",
                      presence=AgentPresence.online, max_open=3, failed_logins=0)
        session.add(agent)
        session.flush()
        return agent.id


def handoff_of(db_url: str, merchant: Conversation) -> Handoff | None:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        return session.execute(
            select(Handoff).where(Handoff.sender_id == merchant.sender_id)
            .order_by(Handoff.id.desc()).limit(1)
        ).scalar_one_or_none()


def claim(db_url: str, merchant: Conversation, agent: int) -> int:
    with Session(get_engine(db_url)) as session, session.begin():
        handoff = handoffs.open_handoff_for(session, merchant.channel, merchant.sender_id)
        return handoffs.claim(session, handoff.id, agent).id


@pytest.mark.usefixtures("agent_online")
async def test_person_asked_for_problem_and_offer_then_queue(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    asked = await merchant.say("转人工")
    assert asked.responses == ["utter_ask_handoff_problem"]
    offer = await merchant.say("收款码被限制了，申诉两次都被驳回，手机13800000002")
    assert offer.responses == ["utter_ask_handoff_verify"]
    queued = await merchant.say("直接转人工")
    assert queued.responses == ["utter_handoff_queued_next"]
    assert "不等了" in queued.text
    row = handoff_of(fresh_db, merchant)
    assert row.status == HandoffStatus.waiting and row.reason == "merchant_asked"
    assert "138********" in row.problem and "0002" not in row.problem
    assert row.merchant_id is None and row.account_snapshot is None


@pytest.mark.usefixtures("agent_online")
async def test_the_problem_already_said_is_not_asked_again(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("冻结的钱还能提出来吗")
    reply = await merchant.say("转人工")
    assert reply.responses == ["utter_ask_handoff_verify"]
    await merchant.say("2")
    assert handoff_of(fresh_db, merchant).problem == "冻结的钱还能提出来吗"
    inline = talk()
    reply = await inline.say("转人工，我的商户号被冻结了钱提不出来")
    assert reply.responses == ["utter_ask_handoff_verify"]


@pytest.mark.usefixtures("agent_online")
async def test_verifying_first_gives_the_agent_the_account(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("我的钱被冻结了怎么办")
    await merchant.say("转人工")
    first = await merchant.say("1")
    assert first.responses == ["utter_handoff_verify_first", "utter_ask_merchant_id"]
    queued = await merchant.say("1900000003 0003")
    assert queued.responses == ["utter_verified", "utter_handoff_queued_next"]
    row = handoff_of(fresh_db, merchant)
    assert row.merchant_id == "1900000003"
    snapshot = json.loads(row.account_snapshot)
    assert snapshot["merchant"] == "1900****03" and snapshot["state_label"] == "冻结"
    assert snapshot["appeals"][0]["id"] == "AP20261120001"
    assert "1900000003" not in row.account_snapshot


async def test_bot_is_silent_while_an_agent_holds_the_conversation(
    talk: Talk, fresh_db: str, agent_online: int
) -> None:
    merchant = talk()
    await merchant.say("转人工，申诉被驳回了")
    await merchant.say("2")
    waiting = await merchant.say("客服电话多少")
    assert waiting.entries == ["contact_support"]  # waiting: the bot still helps
    claim(fresh_db, merchant, agent_online)
    for text in ("喂，有人吗", "客服电话多少", "转人工", "我要申诉"):
        assert (await merchant.say(text)).messages == []
    tracker = await merchant.tracker()
    said = [e.text for e in tracker.events if getattr(e, "type_name", "") == "user"]
    assert "喂，有人吗" in said  # every message is kept for the agent


async def test_silence_survives_a_new_session(talk: Talk, fresh_db: str,
                                              agent_online: int) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    await merchant.say("2")
    claim(fresh_db, merchant, agent_online)
    await merchant.say("/session_start")  # what an expired session does
    assert (await merchant.say("在吗？怎么没人回")).messages == []


@pytest.mark.usefixtures("agent_online")
async def test_a_waiting_merchant_stays_waiting_after_a_new_session(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    await merchant.say("2")
    await merchant.say("/session_start")
    again = await merchant.say("转人工")
    assert again.responses == ["utter_handoff_waiting_next"]
    assert handoff_of(fresh_db, merchant).status == HandoffStatus.waiting


@pytest.mark.usefixtures("agent_online")
async def test_stop_waiting(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    await merchant.say("2")
    assert (await merchant.say("不等了")).responses == ["utter_handoff_cancelled"]
    assert handoff_of(fresh_db, merchant).status == HandoffStatus.cancelled
    assert (await merchant.say("不等了")).responses == ["utter_handoff_not_waiting"]


async def test_closing_brings_the_bot_back_with_a_score(talk: Talk, fresh_db: str,
                                                        agent_online: int) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    await merchant.say("2")
    handoff_id = claim(fresh_db, merchant, agent_online)
    with Session(get_engine(fresh_db)) as session, session.begin():
        handoffs.close(session, handoff_id, agent_online, "已说明解冻流程")
    asked = await merchant.say("/handoff_closed")
    assert asked.responses == ["utter_ask_satisfaction_score"]
    assert (await merchant.say("4分")).responses == ["utter_thanks_for_score"]
    assert handoff_of(fresh_db, merchant).satisfaction == 4
    # The buttons are numbered as the scores: "1" picks 1 point, on WeChat too.
    assert [b["payload"] for b in asked.buttons] == ["1", "2", "3", "4", "5"]
    assert (await merchant.say("客服电话多少")).entries == ["contact_support"]


async def test_outside_working_hours_a_message_is_left(
    talk: Talk, fresh_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-00:01")
    merchant = talk()
    await merchant.say("转人工，申诉一个月了还没结果")
    ask = await merchant.say("2")
    assert ask.responses == ["utter_ask_handoff_contact"]
    assert "00:01" in ask.text or "0:01" in ask.text
    left = await merchant.say("13900001111")
    assert left.responses == ["utter_handoff_ticket"] and "电话联系你" in left.text
    row = handoff_of(fresh_db, merchant)
    assert row.status == HandoffStatus.ticket and row.contact_phone == "13900001111"


async def test_no_agent_online_also_takes_a_message(talk: Talk, fresh_db: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-24:00")  # open, but nobody there
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    ask = await merchant.say("2")
    # In working hours: nobody online, not "不在人工服务时间".
    assert ask.responses == ["utter_ask_handoff_contact"]
    assert "不在人工服务时间" not in ask.text and "不在线" in ask.text
    left = await merchant.say("1")
    assert left.responses == ["utter_handoff_ticket"] and "在这里回复你" in left.text
    assert "上班后" not in left.text
    assert handoff_of(fresh_db, merchant).contact_method == "chat"


@pytest.mark.usefixtures("agent_online")
async def test_the_last_step_of_misunderstandings_leads_to_a_person(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    for _ in range(3):
        last = await merchant.say("/nlu_fallback")
    assert last.buttons[0]["payload"] == "/request_human"
    await merchant.say("/request_human")
    await merchant.say("说不清楚，就是收不了钱")
    await merchant.say("2")
    assert handoff_of(fresh_db, merchant).reason == "not_understood"


@pytest.mark.usefixtures("agent_online")
async def test_a_person_inside_the_appeal_keeps_the_appeal(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("我要申诉")
    await merchant.say("1900000002 0002")
    await merchant.say("1")
    reply = await merchant.say("转人工")
    assert reply.responses == ["utter_form_waits_for_person", "utter_handoff_queued_next"]
    row = handoff_of(fresh_db, merchant)
    assert row.reason == "appeal_help" and row.problem == "提交申诉时需要人工帮助"
    assert json.loads(row.account_snapshot)["state_label"] == "限制收款"
    await merchant.say("不等了")
    resumed = await merchant.say("继续")
    assert resumed.responses == ["utter_resume", "utter_ask_appeal_description"]


@pytest.mark.usefixtures("agent_online")
async def test_a_question_inside_the_handoff_questions_is_answered(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("转人工")
    reply = await merchant.say("申诉审核一般要多久？")
    # Answered, and kept as the problem (issue 19): the next step follows, briefly.
    assert reply.responses[-1] == "utter_remind_handoff_verify"
