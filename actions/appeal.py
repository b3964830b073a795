"""Appeals: a form that collects the case, a confirmation, and one transaction that
files it. Only the merchant bound to this sender can file or see an appeal."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.account import APPEAL_CATEGORY_LABELS, APPEAL_STATUS_LABELS
from actions.common import (
    CancellableFormValidation,
    DatabaseUnavailable,
    format_date,
    latest_text,
    run_in_session,
    sender_key,
    utter_busy,
)
from actions.db import repository
from actions.privacy import MOBILE_PHONE, mask_phone, mask_phones_in_text

# Numbered choices (WeChat has no buttons) and the words merchants use for each.
CATEGORY_CHOICES = {
    "1": "remote_qr_collection",
    "2": "instant_withdrawal",
    "3": "high_frequency",
    "4": "other",
}
CATEGORY_KEYWORDS = [
    (re.compile(r"异地|外地|远程|扫码"), "remote_qr_collection"),
    (re.compile(r"提现"), "instant_withdrawal"),
    (re.compile(r"频繁|太多|交易量|笔数"), "high_frequency"),
    (re.compile(r"其他|其它|别的|不清楚|不知道"), "other"),
]
MIN_DESCRIPTION = 6
MAX_DESCRIPTION = 500
USE_BOUND_PHONE = re.compile(r"绑定|同一个|一样|原来的|用这个")

APPEAL_SLOTS = ["appeal_category", "appeal_description", "appeal_contact", "appeal_confirm"]


def parse_category(text: str) -> str | None:
    choice = text.strip().rstrip(".、)）")
    if choice in CATEGORY_CHOICES:
        return CATEGORY_CHOICES[choice]
    if choice in CATEGORY_CHOICES.values():
        return choice
    for pattern, category in CATEGORY_KEYWORDS:
        if pattern.search(text):
            return category
    return None


def bound_phone(tracker: Tracker) -> Any:
    """The bound phone of the merchant this sender is verified for, or None."""
    channel, sender_id = sender_key(tracker)

    def work(session: Session) -> str | None:
        merchant_id = repository.bound_merchant_id(session, channel, sender_id)
        merchant = repository.get_merchant(session, merchant_id) if merchant_id else None
        return merchant.bound_phone if merchant else None

    return run_in_session(work)


class ValidateAppealForm(CancellableFormValidation):
    def name(self) -> str:
        return "validate_appeal_form"

    async def validate_appeal_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        category = parse_category(str(value or ""))
        if category is None:
            dispatcher.utter_message(text="请回复 1、2、3 或 4 选择申诉类别。")
        return {"appeal_category": category}

    async def validate_appeal_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < MIN_DESCRIPTION:
            dispatcher.utter_message(text="说得再具体一点吧，至少写一句完整的情况说明。")
            return {"appeal_description": None}
        return {"appeal_description": text[:MAX_DESCRIPTION]}

    async def validate_appeal_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        match = MOBILE_PHONE.search(text)
        if match:
            return {"appeal_contact": match.group(0)}
        if USE_BOUND_PHONE.search(text) or USE_BOUND_PHONE.search(latest_text(tracker)):
            try:
                phone = await bound_phone(tracker)
            except DatabaseUnavailable:
                phone = None
            if phone:
                return {"appeal_contact": phone}
        dispatcher.utter_message(text="请发一个11位的手机号，或者回复“用绑定手机”。")
        return {"appeal_contact": None}

    async def validate_appeal_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"appeal_confirm": bool(value)}


class ActionAskAppealConfirm(Action):
    """Shows the summary of the appeal before it is filed."""

    def name(self) -> str:
        return "action_ask_appeal_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_ask_appeal_confirm",
            appeal_category_label=APPEAL_CATEGORY_LABELS.get(
                tracker.get_slot("appeal_category"), "其他原因"
            ),
            appeal_description=mask_phones_in_text(tracker.get_slot("appeal_description") or ""),
            appeal_contact_masked=mask_phone(tracker.get_slot("appeal_contact") or ""),
        )
        return []


class ActionSubmitAppeal(Action):
    """Files the confirmed appeal in one transaction and replies with its id."""

    def name(self) -> str:
        return "action_submit_appeal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reset = [SlotSet(slot, None) for slot in APPEAL_SLOTS] + [
            SlotSet("form_cancelled", None),
            SlotSet("appeal_allowed", False),
        ]
        if tracker.get_slot("form_cancelled"):
            dispatcher.utter_message(response="utter_form_stopped")
            return reset
        if not tracker.get_slot("appeal_confirm"):
            dispatcher.utter_message(response="utter_appeal_not_filed")
            return reset
        channel, sender_id = sender_key(tracker)
        category = tracker.get_slot("appeal_category") or "other"
        description = tracker.get_slot("appeal_description") or ""
        contact = tracker.get_slot("appeal_contact") or ""

        def work(session: Session) -> tuple[str, dict[str, Any]]:
            merchant_id = repository.bound_merchant_id(session, channel, sender_id)
            if merchant_id is None:
                return "unverified", {}
            try:
                appeal = repository.file_appeal(
                    session, merchant_id, category, description, contact
                )
            except repository.DuplicateAppeal as duplicate:
                existing = duplicate.appeal
                return "duplicate", {
                    "appeal_id": existing.id,
                    "appeal_status": APPEAL_STATUS_LABELS[existing.status],
                    "created": format_date(existing.created_at),
                }
            return "filed", {"appeal_id": appeal.id}

        try:
            outcome, values = await run_in_session(work)
        except DatabaseUnavailable:
            return reset + utter_busy(dispatcher)
        if outcome == "filed":
            dispatcher.utter_message(response="utter_appeal_filed", **values)
            return reset + [SlotSet("appeal_id", values["appeal_id"])]
        if outcome == "duplicate":
            dispatcher.utter_message(response="utter_appeal_duplicate", **values)
        else:
            dispatcher.utter_message(response="utter_verify_locked")
        return reset
