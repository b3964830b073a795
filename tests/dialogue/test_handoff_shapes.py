"""The handoff to a person in the shapes new users found (issue 19, item 7 and the order
of precedence inside the handoff). One test per shape; each asserts what was answered,
which step comes next and what the handoffs table holds:

1. a question at any step is answered and the step asked again; the problem keeps it;
2. a message (留言) is left only once the merchant chose how to be reached; "我没要转人工"
   calls the request off and an already filed message is withdrawn when asked;
3. a button title typed instead of clicked ("打我电话") picks that choice;
4. questions about the request itself are answered from it, not by a knowledge entry;
5. the merchant id + last 4 typed with the problem are the check, never kept in clear.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.handoff import (
    ALREADY_WITHDRAWN,
    ASK_PHONE,
    CALLED_OFF,
    DEFERRED,
    REMIND_CONTACT_AGAIN,
    RESUME_HINT,
    TICKET_WITHDRAWN,
)
from core.db.models import Handoff, HandoffStatus
from core.db.session import get_engine
from tests.conversation import Conversation
from tests.dialogue.conftest import Talk

pytestmark = [pytest.mark.dialogue, pytest.mark.usefixtures("after_hours")]


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


async def ticket_by_chat(merchant: Conversation, problem: str) -> None:
    """"转人工，<problem>" → no check → "在这里回复我": a message is left."""
    await merchant.say(f"转人工，{problem}")
    assert (await merchant.say("2")).responses == ["utter_ask_handoff_contact"]
    assert (await merchant.say("在这里回复我")).responses == ["utter_handoff_ticket"]


# --- 1. a question at any step: answered, the step again, kept ------------------------


async def test_a_question_at_every_step_is_answered_and_kept(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    assert (await merchant.say("人工客服")).responses == ["utter_ask_handoff_problem"]
    # The problem is a question about the merchant's own appeal: it needs the account,
    # so it is answered right after the check (u2 c15), and it is the problem.
    asked = await merchant.say("我商户号被冻结了，11月20号交的申诉到现在还没结果，到底还要等多久？")
    assert DEFERRED in asked.text and asked.responses[-1] == "utter_ask_handoff_verify"
    await merchant.say("1")
    checked = await merchant.say("1900000003，手机尾号0003")
    assert checked.responses[0] == "utter_verified"
    assert "AP20261120001" in checked.text and "超时" in checked.text  # its own appeal
    assert checked.responses[-1] == "utter_ask_handoff_contact"
    # A question at the contact step: answered, asked again briefly, never a choice.
    side = await merchant.say("冻结的钱会被没收吗？")
    assert any(side.entries) and side.responses[-1] == "utter_remind_handoff_contact"
    assert handoffs_of(fresh_db, merchant) == []
    await merchant.say("在这里回复我")
    row = the_handoff(fresh_db, merchant)
    assert row.status == HandoffStatus.ticket and row.contact_method == "chat"
    assert "到底还要等多久" in row.problem and "冻结的钱会被没收吗" in row.problem


async def test_ids_and_a_question_at_the_first_step_are_checked_and_answered(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("人工客服")
    reply = await merchant.say("商户号1900000004 尾号0004，申诉被驳回了，我想知道为啥驳回，还能不能再申诉")
    # Checked, the rejection reason from its own appeal (u2 c16), then the next step.
    assert reply.responses[0] == "utter_verified"
    assert "提交的材料不能证明交易真实" in reply.text
    assert reply.responses[-1] == "utter_ask_handoff_contact"
    await merchant.say("1")
    row = the_handoff(fresh_db, merchant)
    assert row.merchant_id == "1900000004" and "为啥驳回" in row.problem


# --- 2. filed only once the merchant chose; "no" calls it off ---------------------------


async def test_side_questions_at_the_contact_step_never_file_a_message(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("转人工，申诉一个月了还没结果")
    await merchant.say("2")
    scam = await merchant.say("等等 刚有个客服打电话来了，说是帮我加急处理申诉，让我下个什么会议软件"
                              "开屏幕共享给他看商家助手，我正在下载")
    warned = "utter_anti_scam" in scam.responses or any(
        (entry or "").startswith("scam_") for entry in scam.entries)
    assert warned and scam.responses[-1] == "utter_remind_handoff_contact"  # safety first
    second = await merchant.say("那这个会议软件我还要不要装？")
    # u1 c20: the second side question filed "在这里回复" nobody chose.
    assert "utter_handoff_ticket" not in second.responses
    assert REMIND_CONTACT_AGAIN in second.text  # asked again, in other words, with choices
    assert handoffs_of(fresh_db, merchant) == []
    assert await merchant.active_form() == "handoff_form"
    assert (await merchant.say("1")).responses == ["utter_handoff_ticket"]
    assert the_handoff(fresh_db, merchant).contact_method == "chat"


async def test_no_person_wanted_calls_the_request_off_and_nothing_is_filed(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    await merchant.say("我要申诉")
    await merchant.say("1900000002 0002")
    await merchant.say("1")
    asked = await merchant.say("转人工")
    assert asked.responses[-1] == "utter_ask_handoff_contact"
    off = await merchant.say("我没要转人工啊，继续刚才的申诉")  # u2 c24
    assert "utter_handoff_ticket" not in off.responses and RESUME_HINT in off.text
    assert await merchant.active_form() is None
    await merchant.say("2")
    assert handoffs_of(fresh_db, merchant) == []  # "no" never files
    resumed = await merchant.say("继续")
    assert resumed.responses[-1] == "utter_ask_appeal_description"


async def test_a_filed_message_is_withdrawn_when_the_merchant_says_so(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    await ticket_by_chat(merchant, "提现三天了还没到银行卡")
    off = await merchant.say("算了，不用了，我自己去银行问吧，客服也别打给我了")  # u1 c09
    assert TICKET_WITHDRAWN in off.text and not any(off.entries)  # not the scam warning
    assert the_handoff(fresh_db, merchant).status == HandoffStatus.cancelled
    again = await merchant.say("取消留言")
    assert again.text == ALREADY_WITHDRAWN  # not a menu


async def test_no_person_at_the_first_step_calls_it_off(talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("人工客服")
    off = await merchant.say("我没要转人工啊")
    assert CALLED_OFF in off.text
    assert await merchant.active_form() is None
    assert handoffs_of(fresh_db, merchant) == []


# --- 3. a typed button title is that choice ----------------------------------------------


@pytest.mark.parametrize("typed", ["打我电话", "打电话吧"])
async def test_the_phone_button_typed_asks_for_the_number(
    talk: Talk, fresh_db: str, typed: str
) -> None:
    merchant = talk()
    await merchant.say("转人工，提现三天了还没到银行卡")
    await merchant.say("直接转人工")
    chose = await merchant.say(typed)  # the title of button 2 (u1 c09)
    assert chose.text == ASK_PHONE and not any(chose.entries)
    assert handoffs_of(fresh_db, merchant) == []
    left = await merchant.say("13912345678")
    assert left.responses == ["utter_handoff_ticket"]
    row = the_handoff(fresh_db, merchant)
    assert row.contact_method == "phone" and row.contact_phone == "13912345678"


# --- 4. questions about the request are answered from it --------------------------------


async def test_questions_about_the_message_are_answered_from_it(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("转人工，商户号1900000003 尾号0003，提现三天了还没到银行卡")
    await merchant.say("13912345678")
    assert the_handoff(fresh_db, merchant).status == HandoffStatus.ticket
    recorded = await merchant.say("你把我说的这些记到留言里了没有？")
    # Not the data-retention entry: what the message holds, masked.
    assert not any(recorded.entries)
    assert "提现三天了还没到银行卡" in recorded.text and "139****5678" in recorded.text
    assert "1900****03" in recorded.text and "13912345678" not in recorded.text
    knows = await merchant.say("客服打过来知道我是啥问题吧？别又让我从头说一遍")
    assert not any(knows.entries)  # not the fake-support-call warning (u1 c10)
    assert "提现三天了还没到银行卡" in knows.text
    wait = await merchant.say("还要等多久")
    assert not any(wait.entries) and "留言" in wait.text and "排在最前面" in wait.text
    assert the_handoff(fresh_db, merchant).status == HandoffStatus.ticket


# --- 5. ids typed with the problem are the check, never kept in clear --------------------


async def test_ids_in_the_problem_and_in_a_later_addition_are_checked_not_stored(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk()
    await merchant.say("转人工")
    reply = await merchant.say("提现一直显示处理中，商户号1900000002 后四位0002")
    assert reply.responses[0] == "utter_verified"
    await merchant.say("1")
    row = the_handoff(fresh_db, merchant)
    assert row.merchant_id == "1900000002" and "提现一直显示处理中" in row.problem
    assert "1900000002" not in row.problem and "0002" not in row.problem
    # After filing: "我的问题是…" with the ids of another account is added, ids checked.
    other = talk()
    await ticket_by_chat(other, "提现到不了账")
    added = await other.say("我的问题是提现一直显示处理中，三天了还没到银行卡，商户号1900000003 "
                            "后四位0003，麻烦客服打电话的时候直接说这个")
    assert added.responses[0] == "utter_verified" and not any(added.entries)
    row = the_handoff(fresh_db, other)
    assert row.merchant_id == "1900000003" and row.account_snapshot
    assert "三天了还没到银行卡" in row.problem and "提现到不了账" in row.problem
    assert "1900000003" not in row.problem and "0003" not in row.problem


# --- 6. the problem said after the message was left is added (round 12) -------------------


async def test_the_problem_told_after_leaving_a_message_is_added_to_it(
    talk: Talk, fresh_db: str
) -> None:
    merchant = talk(channel="wechat")
    await merchant.say("查申诉进度 商户号1900000003 手机尾号0003")
    await merchant.say("95017根本打不通！！转人工 我要找真人")
    await merchant.say("1")  # answered here
    row = the_handoff(fresh_db, merchant)
    assert row.status == HandoffStatus.ticket
    assert not row.problem.endswith("我要找"), row.problem  # the request's words are no problem
    told = await merchant.say("你都没问我啥问题。。就是冻结申诉AP20261120001交了半个多月没结果 求尽快处理")
    assert "半个多月没结果" in the_handoff(fresh_db, merchant).problem
    assert "留言" in told.text
    fixed = await merchant.say("问题写的不对啊，帮我补一句：店里没法收款，请尽快处理")
    assert "店里没法收款" in the_handoff(fresh_db, merchant).problem
    assert "留言" in fixed.text
