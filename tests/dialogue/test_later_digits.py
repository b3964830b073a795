"""The Low item of issue 25 (docs/security.md P5 l), through the trained model: a 4-digit
number typed later in a conversation is neither taken as the identity check's answer nor
counted as a failed check, unless the bot has just asked for the phone's last 4 digits
(the readers and the form without a model: tests/actions/test_later_digits.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import VerificationAttempt
from core.db.session import get_engine
from tests.conversation import Conversation
from tests.dialogue.conftest import Talk
from tests.dialogue.test_identity_shapes import FAILURES, say

pytestmark = pytest.mark.dialogue


def checks(db_url: str, merchant: Conversation) -> list[bool]:
    """The identity checks this sender made (success or not), oldest first."""
    with Session(get_engine(db_url)) as session:
        return list(session.execute(
            select(VerificationAttempt.success)
            .where(VerificationAttempt.sender_id == merchant.sender_id)
            .order_by(VerificationAttempt.id)).scalars())


async def test_an_orders_tail_at_the_merchant_id_step_is_not_the_digits(
        talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("我的订单尾号1234没到账")
    names = await say(merchant, "1900000002")
    assert not FAILURES & set(names), names
    assert checks(fresh_db, merchant) == []
    assert await merchant.slot("requested_slot") == "phone_last4"
    assert (await say(merchant, "0002"))[0] == "utter_verified"


async def test_an_orders_tail_at_the_digits_step_is_no_answer(talk: Talk, fresh_db: str) -> None:
    """Even just asked: a number named as an order's is not the phone's."""
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000002")
    names = await say(merchant, "订单尾号1234的钱什么时候到")
    assert not FAILURES & set(names), names
    assert checks(fresh_db, merchant) == []
    assert (await say(merchant, "0002"))[0] == "utter_verified"


async def test_a_number_typed_turns_after_the_check_paused_is_not_checked(
        talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000002")
    await merchant.say("好，那我等客服电话，谢谢")  # the check pauses at the digits step
    await merchant.say("怎么申诉")
    names = await say(merchant, "我这边有一笔 1234 没到账")
    assert not FAILURES & set(names), names
    assert checks(fresh_db, merchant) == []


@pytest.mark.parametrize("later", ["订单尾号1234的钱什么时候到", "客户付了 1234 ，我没收到"])
async def test_digits_of_an_earlier_message_are_not_the_answer_when_the_check_starts(
        talk: Talk, fresh_db: str, later: str) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000002")
    await merchant.say("算了")
    await merchant.say(later)
    names = await say(merchant, "1900000002")  # the check starts again
    assert not FAILURES & set(names), names
    assert checks(fresh_db, merchant) == []
    assert (await say(merchant, "0002"))[0] == "utter_verified"


async def test_digits_typed_after_verifying_are_not_the_next_checks_answer(
        talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000002 0002")
    await merchant.say("订单尾号1234的钱什么时候到")
    await merchant.say("换个商户号查一下")
    names = await say(merchant, "1900000003")
    assert not FAILURES & set(names), names
    assert checks(fresh_db, merchant) == [True]


async def test_the_merchant_id_with_an_orders_tail_asks_only_for_the_digits(
        talk: Talk, fresh_db: str) -> None:
    merchant = talk()
    names = await say(merchant, "1900000002 订单尾号1234没到账怎么办")
    assert not FAILURES & set(names), names
    assert checks(fresh_db, merchant) == []


async def test_digits_right_after_the_pause_still_answer_the_step(
        talk: Talk, fresh_db: str) -> None:
    """The bot's last turn paused the check at the digits step ("要继续核对身份吗？"):
    the digits now are its answer."""
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000002")
    await merchant.say("好，那我等客服电话，谢谢")
    assert (await say(merchant, "0002"))[0] == "utter_verified"
    assert checks(fresh_db, merchant) == [True]
