"""Identity check, state-aware answers and appeals with real database sessions."""

from __future__ import annotations

from typing import Any

import pytest

from actions.account import ActionAfterVerification
from actions.appeal import ActionAskAppealConfirm, ActionSubmitAppeal, ValidateAppealForm
from actions.verification import ValidateVerifyForm
from tests.actions.conftest import RunAction, make_tracker

pytestmark = pytest.mark.usefixtures("merchant_db")

VERIFY_SLOTS = {"requested_slot": "merchant_id", "merchant_id": None, "phone_last4": None}


async def verify(run_action: RunAction, merchant_id: str, last4: str, sender: str = "m1",
                 channel: str = "rest") -> Any:
    tracker = make_tracker(
        VERIFY_SLOTS, extracted={"merchant_id": merchant_id, "phone_last4": last4},
        text=f"{merchant_id} {last4}", sender_id=sender, channel=channel,
        active_loop="verify_form",
    )
    return await run_action(ValidateVerifyForm(), tracker)


async def after(run_action: RunAction, purpose: str, sender: str = "m1",
                channel: str = "rest", **slots: Any) -> Any:
    tracker = make_tracker({"lookup_purpose": purpose, **slots}, sender_id=sender,
                           channel=channel)
    return await run_action(ActionAfterVerification(), tracker)


async def test_unknown_sender_is_asked_for_merchant_id(run_action: RunAction,
                                                      domain: dict) -> None:
    slots = {"requested_slot": None}
    tracker = make_tracker(slots, text="帮我查一下账户状态",
                           intent="check_account_status", active_loop="verify_form")
    turn = await run_action(ValidateVerifyForm(), tracker)
    assert turn.next_slot(domain, "verify_form", slots) == "merchant_id"
    assert turn.messages == []


async def test_successful_check_binds_and_masks(run_action: RunAction, domain: dict) -> None:
    turn = await verify(run_action, "1900000002", "0002")
    assert turn.slots["verified_merchant"] == "1900****02"
    assert turn.slots["requested_slot"] is None
    assert "1900000002" not in turn.rendered(domain)

    status = await after(run_action, "status")
    text = status.rendered(domain)
    assert status.responses[:2] == ["utter_state_restricted", "utter_reason_remote_qr_collection"]
    assert "1900****02" in text and "1900000002" not in text
    assert "不能收款" in text and "外地" in text


@pytest.mark.parametrize(
    ("merchant_id", "last4", "state", "reason"),
    [
        ("1900000001", "0001", "utter_state_normal", "utter_normal_followup"),
        ("1900000003", "0003", "utter_state_frozen", "utter_reason_instant_withdrawal"),
        ("1900000004", "0004", "utter_state_risk_controlled", "utter_reason_high_frequency"),
    ],
)
async def test_state_aware_answer_per_demo_merchant(
    run_action: RunAction, merchant_id: str, last4: str, state: str, reason: str
) -> None:
    sender = f"s{merchant_id}"
    await verify(run_action, merchant_id, last4, sender=sender)
    turn = await after(run_action, "status", sender=sender)
    assert turn.responses[:2] == [state, reason]


async def test_wrong_answers_look_the_same_whether_the_id_exists_or_not(
    run_action: RunAction, domain: dict
) -> None:
    wrong_digits = await verify(run_action, "1900000002", "9999", sender="w1")
    unknown_id = await verify(run_action, "1999999999", "0002", sender="w2")
    assert wrong_digits.messages == unknown_id.messages == [
        {**wrong_digits.messages[0], "response": "utter_verify_failed"}
    ]
    assert wrong_digits.slots == unknown_id.slots
    assert wrong_digits.next_slot(domain, "verify_form", {}) == "merchant_id"


async def test_sixth_attempt_is_locked_even_with_the_right_answer(run_action: RunAction) -> None:
    for _ in range(5):
        await verify(run_action, "1900000002", "1234", sender="attacker")
    turn = await verify(run_action, "1900000002", "0002", sender="attacker")
    assert "verified_merchant" not in turn.slots
    assert turn.slots["requested_slot"] is None  # the form ends ...
    locked = await after(run_action, "status", sender="attacker")
    assert locked.responses == ["utter_verify_locked"]  # ... with the 95017 way out
    # Another sender is not affected.
    other = await verify(run_action, "1900000002", "0002", sender="owner")
    assert other.slots["verified_merchant"] == "1900****02"


async def test_binding_survives_per_channel_user(run_action: RunAction, domain: dict) -> None:
    await verify(run_action, "1900000003", "0003", sender="openid-1", channel="wechat")
    tracker = make_tracker({"requested_slot": None}, text="查账户", sender_id="openid-1",
                           channel="wechat", active_loop="verify_form")
    turn = await run_action(ValidateVerifyForm(), tracker)
    assert turn.slots["requested_slot"] is None  # no second check needed
    # The same sender id on another channel is somebody else.
    other = make_tracker({"requested_slot": None}, text="查账户", sender_id="openid-1",
                         channel="rest", active_loop="verify_form")
    other_turn = await run_action(ValidateVerifyForm(), other)
    assert other_turn.next_slot(domain, "verify_form", {}) == "merchant_id"


async def test_switch_merchant_unbinds(run_action: RunAction, domain: dict) -> None:
    await verify(run_action, "1900000003", "0003", sender="sw")
    tracker = make_tracker({"requested_slot": None}, text="换个商户号查一下",
                           intent="check_account_status", sender_id="sw",
                           active_loop="verify_form")
    turn = await run_action(ValidateVerifyForm(), tracker)
    assert "utter_unbound" in turn.responses
    assert turn.next_slot(domain, "verify_form", {}) == "merchant_id"


async def test_dont_know_merchant_id_explains_where_to_find_it(run_action: RunAction,
                                                              domain: dict) -> None:
    tracker = make_tracker(VERIFY_SLOTS, extracted={"merchant_id": "我不知道商户号"},
                           text="我不知道商户号", active_loop="verify_form")
    turn = await run_action(ValidateVerifyForm(), tracker)
    assert turn.responses == ["utter_where_merchant_id"]
    assert turn.next_slot(domain, "verify_form", {}) == "merchant_id"


async def test_cancel_stops_the_form(run_action: RunAction) -> None:
    tracker = make_tracker(VERIFY_SLOTS, extracted={"merchant_id": "算了"}, text="算了",
                           intent="deny", active_loop="verify_form")
    turn = await run_action(ValidateVerifyForm(), tracker)
    assert turn.slots["form_cancelled"] is True
    assert turn.slots["requested_slot"] is None
    stopped = await after(run_action, "status", form_cancelled=True)
    assert stopped.responses == ["utter_form_stopped"]


async def test_appeal_status_only_for_the_owner(run_action: RunAction, domain: dict) -> None:
    await verify(run_action, "1900000004", "0004", sender="o4")
    own = await after(run_action, "appeal_status", sender="o4")
    assert own.responses == ["utter_appeal_status"]
    assert "提交的材料不能证明交易真实" in own.rendered(domain)
    foreign = await after(run_action, "appeal_status", sender="o4", appeal_id="AP20261120001")
    assert foreign.responses == ["utter_appeal_not_found"]
    missing = await after(run_action, "appeal_status", sender="o4", appeal_id="AP20990101001")
    assert missing.messages == foreign.messages


async def test_appeal_flow_files_once(run_action: RunAction, domain: dict) -> None:
    await verify(run_action, "1900000002", "0002", sender="a2")
    start = await after(run_action, "appeal", sender="a2")
    assert start.slots["appeal_allowed"] is True

    form = ValidateAppealForm()
    slots = {"requested_slot": "appeal_category"}
    turn = await run_action(form, make_tracker(slots, text="1", sender_id="a2",
                                               extracted={"appeal_category": "1"},
                                               active_loop="appeal_form"))
    assert turn.slots["appeal_category"] == "remote_qr_collection"
    assert turn.next_slot(domain, "appeal_form", slots) == "appeal_description"

    slots = {"appeal_category": "remote_qr_collection", "requested_slot": "appeal_contact",
             "appeal_description": "外地客户扫码买水果"}
    turn = await run_action(form, make_tracker(slots, text="用绑定手机", sender_id="a2",
                                               extracted={"appeal_contact": "用绑定手机"},
                                               active_loop="appeal_form"))
    assert turn.slots["appeal_contact"] == "13800000002"

    filled = {**slots, "appeal_contact": "13800000002", "appeal_confirm": True}
    confirm = await run_action(ActionAskAppealConfirm(), make_tracker(filled, sender_id="a2"))
    assert "138****0002" in confirm.rendered(domain)
    assert "13800000002" not in confirm.rendered(domain)

    filed = await run_action(ActionSubmitAppeal(), make_tracker(filled, sender_id="a2"))
    assert filed.responses == ["utter_appeal_filed"]
    appeal_id = filed.slots["appeal_id"]
    assert appeal_id.startswith("AP") and len(appeal_id) == 13

    again = await run_action(ActionSubmitAppeal(), make_tracker(filled, sender_id="a2"))
    assert again.responses == ["utter_appeal_duplicate"]
    assert again.messages[0]["appeal_id"] == appeal_id
    refused = await after(run_action, "appeal", sender="a2")
    assert refused.slots["appeal_allowed"] is False

    found = await after(run_action, "appeal_status", sender="a2", appeal_id=appeal_id)
    assert found.messages[0]["appeal_id"] == appeal_id


async def test_rejected_appeal_shows_the_reason_before_refiling(run_action: RunAction) -> None:
    await verify(run_action, "1900000004", "0004", sender="r4")
    turn = await after(run_action, "appeal", sender="r4")
    assert turn.responses == ["utter_appeal_rejected_before"]
    assert turn.messages[0]["decision_note"] == "提交的材料不能证明交易真实"
    assert turn.slots["appeal_allowed"] is True


async def test_declined_confirmation_files_nothing(run_action: RunAction) -> None:
    await verify(run_action, "1900000002", "0002", sender="d2")
    slots = {"appeal_category": "other", "appeal_description": "说明一下情况",
             "appeal_contact": "13800000002", "appeal_confirm": False}
    turn = await run_action(ActionSubmitAppeal(), make_tracker(slots, sender_id="d2"))
    assert turn.responses == ["utter_appeal_not_filed"]
    status = await after(run_action, "appeal_status", sender="d2")
    assert status.responses == ["utter_appeal_none"]


async def test_unverified_sender_cannot_file(run_action: RunAction) -> None:
    slots = {"appeal_category": "other", "appeal_description": "说明一下情况",
             "appeal_contact": "13800000002", "appeal_confirm": True}
    turn = await run_action(ActionSubmitAppeal(), make_tracker(slots, sender_id="nobody"))
    assert "utter_appeal_filed" not in turn.responses


async def test_rotating_senders_cannot_guess_one_merchant(run_action: RunAction) -> None:
    from actions.db.repository import MAX_FAILED_PER_MERCHANT

    for n in range(MAX_FAILED_PER_MERCHANT):
        await verify(run_action, "1900000003", f"{n + 10:04d}", sender=f"guess-{n}")
    turn = await verify(run_action, "1900000003", "0003", sender="guess-last")
    assert turn.responses == ["utter_verify_merchant_locked"]
    assert "verified_merchant" not in turn.slots
    # Other merchants are not affected.
    other = await verify(run_action, "1900000004", "0004", sender="guess-last")
    assert other.slots["verified_merchant"] == "1900****04"
