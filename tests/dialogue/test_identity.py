"""The identity check and the state-aware answers, through Rasa's own form logic."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Talk

pytestmark = pytest.mark.dialogue


async def test_status_look_up_binds_and_masks(talk: Talk) -> None:
    merchant = talk()
    assert (await merchant.say("帮我查一下账户状态")).responses == ["utter_ask_merchant_id"]
    assert (await merchant.say("1900000002")).responses == ["utter_ask_phone_last4"]
    reply = await merchant.say("0002")
    assert reply.responses[:3] == ["utter_verified", "utter_state_restricted",
                                   "utter_reason_remote_qr_collection"]
    assert "1900****02" in reply.text and "1900000002" not in reply.text
    assert "不能收款" in reply.text and "外地" in reply.text
    assert await merchant.slot("verified_merchant") == "1900****02"
    assert await merchant.active_form() is None


@pytest.mark.parametrize(
    ("merchant_id", "last4", "state", "reason"),
    [
        ("1900000001", "0001", "utter_state_normal", "utter_normal_followup"),
        ("1900000003", "0003", "utter_state_frozen", "utter_reason_instant_withdrawal"),
        ("1900000004", "0004", "utter_state_risk_controlled", "utter_reason_high_frequency"),
    ],
)
async def test_state_aware_answer_per_demo_merchant(
    talk: Talk, merchant_id: str, last4: str, state: str, reason: str
) -> None:
    merchant = talk()
    await merchant.say("查下我的账户")
    reply = await merchant.say(f"{merchant_id} {last4}")
    assert reply.responses[1:3] == [state, reason]


async def test_wrong_answers_look_the_same_whether_the_id_exists_or_not(talk: Talk) -> None:
    wrong_digits, unknown_id = talk(), talk()
    for merchant in (wrong_digits, unknown_id):
        await merchant.say("查下我的账户")
    first = await wrong_digits.say("1900000002 9999")
    second = await unknown_id.say("1999999999 0002")
    assert first.text == second.text and first.responses == second.responses
    # One message that says what to do (the digits again, or both); no second question.
    assert len(first.messages) == 1
    assert await wrong_digits.slot("requested_slot") == "phone_last4"
    assert await unknown_id.slot("requested_slot") == "phone_last4"


async def test_sixth_attempt_is_locked_even_with_the_right_answer(talk: Talk) -> None:
    attacker = talk(allow_repeats=True)  # the same refusal five times is the point
    await attacker.say("查下我的账户")
    for n in range(5):
        await attacker.say(f"1900000002 {1230 + n}")
    locked = await attacker.say("1900000002 0002")
    assert "utter_verify_locked" in locked.responses
    assert "限制收款" not in locked.text and "95017" in locked.text
    owner = talk()
    await owner.say("查下我的账户")
    assert "utter_verified" in (await owner.say("1900000002 0002")).responses


async def test_binding_belongs_to_the_channel_user(talk: Talk) -> None:
    wechat_user = talk(sender_id="openid-1", channel="wechat")
    await wechat_user.say("查账户")
    await wechat_user.say("1900000003 0003")
    again = await wechat_user.say("查账户")
    # No second check: the state again, in one line (it was shown a moment ago).
    assert again.responses[0] == "utter_state_again" and "冻结" in again.text
    # The binding is per channel: the same sender id arriving on REST is not verified.
    same_id_elsewhere = talk(sender_id="openid-1", channel="rest")
    await same_id_elsewhere.say("查账户")
    assert await same_id_elsewhere.slot("requested_slot") == "merchant_id"


async def test_switch_merchant_unbinds(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查账户")
    await merchant.say("1900000003 0003")
    reply = await merchant.say("换个商户号查一下")
    assert "utter_unbound" in reply.responses
    assert reply.responses[-1] == "utter_ask_merchant_id"


async def test_merchant_id_correction_in_the_same_form(talk: Talk) -> None:
    merchant = talk()
    await merchant.say("查下我的账户")
    await merchant.say("1900000002")
    await merchant.say("不对，是1900000003")
    assert "冻结" in (await merchant.say("0003")).text


async def test_appeal_status_only_for_the_owner(talk: Talk) -> None:
    owner = talk()
    await owner.say("我的申诉进度怎么样了")
    reply = await owner.say("1900000004 0004")
    assert reply.responses[-1] == "utter_appeal_status"
    assert "提交的材料不能证明交易真实" in reply.text
    stranger = talk()
    await stranger.say("查一下申诉AP20261120001的进度")
    foreign = await stranger.say("1900000004 0004")
    assert foreign.responses[-1] == "utter_appeal_not_found"
    assert "AP20261120001" not in foreign.text


async def test_rotating_senders_cannot_guess_one_merchant(talk: Talk) -> None:
    from core.db.repository import MAX_FAILED_PER_MERCHANT

    for n in range(MAX_FAILED_PER_MERCHANT):
        guesser = talk()
        await guesser.say("查账户")
        await guesser.say(f"1900000003 {n + 10:04d}")
    last = talk()
    await last.say("查账户")
    reply = await last.say("1900000003 0003")
    assert "utter_verify_merchant_locked" in reply.responses
    assert "冻结" not in reply.text
    other = talk()
    await other.say("查账户")
    assert "utter_verified" in (await other.say("1900000004 0004")).responses


async def test_bound_owner_keeps_access_while_the_merchant_id_is_paused(talk: Talk) -> None:
    from core.db.repository import MAX_FAILED_PER_MERCHANT

    owner = talk()
    await owner.say("查账户")
    await owner.say("1900000002 0002")
    for n in range(MAX_FAILED_PER_MERCHANT):
        guesser = talk()
        await guesser.say("查账户")
        await guesser.say(f"1900000002 {n + 10:04d}")
    paused = talk()
    await paused.say("查账户")
    assert "utter_verify_merchant_locked" in (await paused.say("1900000002 0002")).responses
    # The owner's binding was made before the pause: it still works, without a check.
    again = await owner.say("帮我查一下账户状态")
    assert again.responses[0] == "utter_state_again" and "限制收款" in again.text


async def test_validation_opens_two_transactions_per_turn(talk: Talk,
                                                                fresh_db: str) -> None:
    """Form validation does its database work once per turn (rasa-sdk calls
    required_slots several times a turn: it must not touch the database)."""
    from sqlalchemy import event

    from core.db.session import get_engine

    merchant = talk()
    await merchant.say("查下我的账户")
    await merchant.say("1900000002")
    begins: list[object] = []

    def count(connection: object) -> None:
        begins.append(connection)

    engine = get_engine(fresh_db)
    event.listen(engine, "begin", count)
    try:
        reply = await merchant.say("0002")
    finally:
        event.remove(engine, "begin", count)
    assert "utter_verified" in reply.responses
    # the handoff policy's owner check, validation (identity + the check), then
    # action_after_verification (identity + account)
    assert len(begins) == 5
