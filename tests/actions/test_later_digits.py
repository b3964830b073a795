"""The Low item of issue 25 (docs/security.md P5 l): a 4-digit number typed later in a
conversation ("订单尾号1234", "有一笔 1234 没到账") is no answer to the identity check and
no failed check, unless the bot has just asked for the phone's last 4 digits. Without a
model: the readers (actions/verification.py) and the identity check's form with trackers
built like Rasa's (tests/dialogue/test_later_digits.py has the same through the model)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.verification import ValidateVerifyForm, digits_were_asked, find_ids
from core.db.models import VerificationAttempt
from core.db.session import get_engine
from tests.actions.conftest import RunAction


def user(text: str, intent: str = "inform") -> dict[str, Any]:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9},
             "intent_ranking": [{"name": intent, "confidence": 0.9}], "entities": []}
    return {"event": "user", "text": text, "parse_data": parse, "input_channel": "rest"}


def bot(utter_action: str | None = None, **metadata: Any) -> dict[str, Any]:
    meta = {"utter_action": utter_action, **metadata} if utter_action else metadata
    return {"event": "bot", "text": "…", "metadata": meta}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def tracker(events: list[dict[str, Any]], slots: dict[str, Any],
            active_loop: str | None = None, sender_id: str = "later") -> Tracker:
    latest = next(e for e in reversed(events) if e["event"] == "user")
    return Tracker(sender_id=sender_id, slots=slots, latest_message=latest["parse_data"],
                   events=events, paused=False, followup_action=None,
                   active_loop={"name": active_loop} if active_loop else {},
                   latest_action_name="action_listen")


def attempts(db_url: str, sender_id: str) -> int:
    with Session(get_engine(db_url)) as session:
        return int(session.execute(select(func.count(VerificationAttempt.id)).where(
            VerificationAttempt.sender_id == sender_id)).scalar_one())


# --- numbers named as something else are never the phone's digits --------------------------
@pytest.mark.parametrize("text", [
    "订单尾号1234的钱什么时候到", "我的订单尾号1234没到账", "尾号1234的订单还没到账",
    "银行卡尾号1234", "卡号后四位1234", "交易单号后四位是1234", "验证码1234", "快递单号尾号 1234",
])
@pytest.mark.parametrize("asked", [False, True])
def test_a_number_named_as_another_numbers_tail_is_not_the_phones(text: str, asked: bool) -> None:
    assert find_ids(text, asked_for_digits=asked)[1] is None


def test_the_merchant_id_with_an_orders_tail_is_only_the_id() -> None:
    assert find_ids("1900000002 订单尾号1234没到账怎么办") == ("1900000002", None)


@pytest.mark.parametrize(("text", "last4"), [
    ("手机尾号0002", "0002"), ("尾号是 0003", "0003"), ("手机号后四位0002，订单尾号1234", "0002"),
])
def test_the_phones_own_tail_still_is(text: str, last4: str) -> None:
    assert find_ids(text)[1] == last4


# --- "just asked": the bot's last turn, not a check paused some turns ago ---------------------
def test_a_check_paused_turns_ago_did_not_just_ask_for_the_digits() -> None:
    events = [user("查账户", "check_account_status"), bot("utter_ask_merchant_id"),
              user("1900000002"), bot("utter_ask_phone_last4"),
              user("好，那我等客服电话，谢谢", "thank"), bot("utter_goodbye_paused"),
              slot("paused_form", "verify_form"), bot("utter_pause_verify_form"),
              user("怎么申诉", "knowledge"), bot(knowledge_entry="appeal_process"),
              user("我这边有一笔 1234 没到账", "knowledge")]
    assert not digits_were_asked(tracker(events, {"paused_form": "verify_form",
                                                  "merchant_id": "1900000002"}))


def test_a_check_paused_in_the_last_turn_just_asked_for_the_digits() -> None:
    events = [user("查一下我的商户 1900000004", "check_account_status"),
              bot("utter_ask_phone_last4"),
              user("把商户平台的登录密码发给他了", "knowledge"), bot(knowledge_entry="scam_leak"),
              slot("paused_form", "verify_form"), bot("utter_form_paused_for_safety"),
              user("密码改好了。继续吧 0004", "knowledge")]
    assert digits_were_asked(tracker(events, {"paused_form": "verify_form",
                                              "merchant_id": "1900000004"}))


# --- the check's start: digits Rasa kept from an earlier message are not its answer ---------
@pytest.mark.parametrize("earlier", ["订单尾号1234的钱什么时候到", "客户付了 1234 ，我没收到"])
async def test_digits_from_an_earlier_message_are_not_checked_when_the_check_starts(
        run_action: RunAction, merchant_db: str, earlier: str) -> None:
    """Rasa's slot mapping fills phone_last4 from any message's ``\\d{4}`` entity and
    offers it again when the form starts ("1900000003" later): no check, the digits are
    asked for."""
    sender = "later"
    events = [user(earlier, "knowledge"), slot("phone_last4", "1234"),
              bot(knowledge_entry="payment_not_received"),
              user("1900000003"),
              # What Rasa's FormAction sends at activation: the pre-filled slots.
              slot("merchant_id", "1900000003"), slot("phone_last4", "1234")]
    turn = await run_action(ValidateVerifyForm(), tracker(
        events, {"merchant_id": "1900000003", "phone_last4": "1234", "requested_slot": None},
        active_loop="verify_form", sender_id=sender))
    assert attempts(merchant_db, sender) == 0
    assert turn.slots.get("phone_last4", "unset") in (None, "unset")
    assert turn.slots["requested_slot"] == "phone_last4"


async def test_digits_typed_with_the_id_at_the_start_are_still_checked(
        run_action: RunAction, merchant_db: str) -> None:
    events = [user("查账户 1900000003 0003", "check_account_status"),
              slot("merchant_id", "1900000003"), slot("phone_last4", "0003")]
    await run_action(ValidateVerifyForm(), tracker(
        events, {"merchant_id": "1900000003", "phone_last4": "0003", "requested_slot": None},
        active_loop="verify_form", sender_id="with-id"))
    assert attempts(merchant_db, "with-id") == 1
