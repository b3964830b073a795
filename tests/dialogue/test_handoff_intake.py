"""Handoff intake that keeps what was said (issue 19): the problem is what the merchant
says when asked, also when it is a question (answered AND kept); ids sent at any step
are the identity check; side questions never drop the request; "no" never files a
ticket. Each test asserts what the handoffs table holds."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Agent, AgentPresence, Handoff, HandoffStatus
from core.db.session import get_engine
from tests.conversation import Conversation
from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue


@pytest.fixture()
def agent_online(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-24:00")
    with Session(get_engine(fresh_db)) as session, session.begin():
        agent = Agent(username="li", display_name="小李", password_hash="x",
                      presence=AgentPresence.online, max_open=3, failed_logins=0)
        session.add(agent)
        session.flush()
        return agent.id


@pytest.fixture()
def after_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_HOURS", "00:00-00:01")


def handoffs_of(db_url: str, merchant: Conversation) -> list[Handoff]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        return list(session.execute(
            select(Handoff).where(Handoff.sender_id == merchant.sender_id).order_by(Handoff.id)
        ).scalars())


def the_handoff(db_url: str, merchant: Conversation) -> Handoff:
    rows = handoffs_of(db_url, merchant)
    assert len(rows) == 1, rows
    return rows[0]


# --- the problem is what the merchant says when asked ---------------------------------


@pytest.mark.usefixtures("agent_online")
async def test_a_faq_question_as_the_problem_is_answered_and_kept(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    assert (await merchant.say("转人工")).responses == ["utter_ask_handoff_problem"]
    answered = await merchant.say("冻结的钱多久能提出来？")
    # Answered (a knowledge entry), then the next step briefly: not asked for the problem
    # a second time.
    assert answered.entries[0]  # a knowledge entry
    assert answered.responses[-1] == "utter_remind_handoff_verify"
    aside = await merchant.say("你们这个系统真垃圾")  # an angry aside is not the problem
    assert "utter_ask_handoff_problem" not in aside.responses
    queued = await merchant.say("2")
    assert queued.responses == ["utter_handoff_queued_next"]
    row = the_handoff(fresh_db, merchant)
    assert row.problem.startswith("冻结的钱多久能提出来")
    assert row.status == HandoffStatus.waiting


@pytest.mark.usefixtures("agent_online")
async def test_the_next_message_is_not_taken_as_the_problem(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工")
    await merchant.say("申诉审核一般要多久？")
    await merchant.say("1900000003 0003")  # the ids: a check, never the problem
    row = the_handoff(fresh_db, merchant)
    assert row.problem.startswith("申诉审核一般要多久")
    assert "1900" not in row.problem


@pytest.mark.usefixtures("agent_online")
async def test_ids_instead_of_the_problem_verify_and_the_problem_is_still_asked(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    await merchant.say("转人工")
    checked = await merchant.say("1900000002 0002")
    assert checked.responses[0] == "utter_verified"
    assert "utter_handoff_queued_next" not in checked.responses  # the problem first
    assert handoffs_of(fresh_db, merchant) == []
    queued = await merchant.say("收款码被限制了，外地客户付不了款")
    assert queued.responses == ["utter_handoff_queued_next"]  # verified: no offer
    row = the_handoff(fresh_db, merchant)
    assert row.problem.startswith("收款码被限制了") and row.problem.endswith("外地客户付不了款")
    assert row.merchant_id == "1900000002" and row.account_snapshot


# --- verification details at any step --------------------------------------------------


@pytest.mark.usefixtures("agent_online")
async def test_ids_at_the_offer_to_verify_are_the_check(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，我的商户号被冻结了钱提不出来")
    reply = await merchant.say("1900000003 0003")
    # Checked, the account's state (as after every check), then the queue.
    assert reply.responses == ["utter_verified", "utter_state_frozen", "utter_handoff_queued_next"]
    row = the_handoff(fresh_db, merchant)
    assert row.merchant_id == "1900000003" and row.status == HandoffStatus.waiting
    assert row.problem == "我的商户号被冻结了钱提不出来"
    assert await merchant.slot("verified_merchant") == "1900****03"


@pytest.mark.usefixtures("agent_online")
async def test_ids_in_the_request_itself_are_the_check(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    reply = await merchant.say("转人工，商户号1900000004 手机尾号0004，申诉被驳回了")
    assert reply.responses[0] == "utter_verified"
    assert reply.responses[-1] == "utter_handoff_queued_next"
    row = the_handoff(fresh_db, merchant)
    assert row.merchant_id == "1900000004"
    assert "申诉被驳回了" in row.problem and "1900000004" not in row.problem


@pytest.mark.usefixtures("agent_online")
async def test_the_id_alone_at_the_offer_is_a_yes_and_only_the_digits_are_asked(
        talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，我的商户号被冻结了钱提不出来")
    reply = await merchant.say("商户号1900000003")
    assert "utter_remind_handoff_verify" not in reply.responses, reply.responses
    assert "1900000003" not in reply.text and "后4位" in reply.text, reply.text
    reply = await merchant.say("0003")
    assert reply.responses[0] == "utter_verified", reply.responses
    assert the_handoff(fresh_db, merchant).merchant_id == "1900000003"


@pytest.mark.usefixtures("agent_online")
async def test_wrong_ids_at_the_offer_still_queue(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    reply = await merchant.say("1900000003 9999")
    assert reply.responses == ["utter_handoff_verify_failed", "utter_handoff_queued_next"]
    row = the_handoff(fresh_db, merchant)
    assert row.merchant_id is None and row.status == HandoffStatus.waiting


@pytest.mark.usefixtures("agent_online")
async def test_no_thanks_to_verifying_is_not_no_to_the_person(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    reply = await merchant.say("不用了")
    assert reply.responses == ["utter_handoff_queued_next"]
    assert the_handoff(fresh_db, merchant).status == HandoffStatus.waiting


@pytest.mark.usefixtures("agent_online")
async def test_continue_at_the_offer_is_not_a_yes(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    reply = await merchant.say("继续")
    assert "utter_handoff_verify_first" not in reply.responses
    assert await merchant.active_form() == "handoff_form"


# --- no request leaves the queue unless the merchant says so ---------------------------


@pytest.mark.usefixtures("agent_online")
async def test_side_questions_in_the_handoff_still_queue(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，申诉被驳回了")
    first = await merchant.say("客服电话多少？")
    assert first.responses[-1] == "utter_remind_handoff_verify"
    second = await merchant.say("怎么申诉？")
    # Never "转人工先放一放": the request is queued with what is known.
    assert "utter_pause_handoff_form" not in second.responses
    assert second.responses[-1] == "utter_handoff_queued_next"
    row = the_handoff(fresh_db, merchant)
    assert row.status == HandoffStatus.waiting and row.problem.startswith("申诉被驳回了")
    assert "客服电话多少" in row.problem  # a question at a step joins the problem


@pytest.mark.usefixtures("agent_online")
async def test_queued_stays_queued_after_more_questions(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，钱被冻结了")
    await merchant.say("2")
    for text in ("客服电话多少", "冻结的钱会被没收吗", "好的谢谢", "那我等着"):
        await merchant.say(text)
        assert the_handoff(fresh_db, merchant).status == HandoffStatus.waiting, text
    wait = await merchant.say("排到我了吗")
    assert wait.responses == ["utter_handoff_waiting_next"]
    how_long = await merchant.say("还要等多久")
    assert how_long.responses == ["utter_handoff_waiting_next"]  # the queue, not a review
    assert the_handoff(fresh_db, merchant).status == HandoffStatus.waiting
    assert (await merchant.say("不等了")).responses == ["utter_handoff_cancelled"]
    assert the_handoff(fresh_db, merchant).status == HandoffStatus.cancelled


# --- "no" never files a ticket -----------------------------------------------------------


@pytest.mark.usefixtures("after_hours")
@pytest.mark.parametrize("decline", ["不用了", "算了", "不用留言了", "谢谢，不用了",
                                     "好的，我明天打95017"])
async def test_declining_the_message_files_nothing(talk: Talk, fresh_db: str,
                                                   decline: str) -> None:
    merchant = talk()
    await merchant.say("转人工，申诉一个月了还没结果")
    offer = await merchant.say("2")
    assert offer.responses == ["utter_ask_handoff_contact"]
    reply = await merchant.say(decline)
    assert "utter_handoff_ticket" not in reply.responses
    assert handoffs_of(fresh_db, merchant) == []
    assert await merchant.active_form() is None


@pytest.mark.usefixtures("after_hours")
async def test_not_by_phone_is_a_message_here(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("转人工，申诉一个月了还没结果")
    await merchant.say("2")
    left = await merchant.say("不用打电话，这里回复就行")
    assert left.responses == ["utter_handoff_ticket"]
    row = the_handoff(fresh_db, merchant)
    assert row.status == HandoffStatus.ticket and row.contact_method == "chat"
    assert row.problem == "申诉一个月了还没结果"
