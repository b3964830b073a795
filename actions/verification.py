"""Identity check: merchant id + last 4 digits of the bound phone, before any data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import (
    CancellableFormValidation,
    DatabaseUnavailable,
    latest_text,
    run_in_session,
    sender_key,
)
from actions.db import repository
from actions.privacy import MOBILE_PHONE, mask_merchant_id

MERCHANT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{10})(?!\d)")
LAST4 = re.compile(r"(?<![0-9A-Za-z])(\d{4})(?!\d)")
DONT_KNOW = re.compile(r"不知道|忘了|忘记|在哪|哪里|找不到|什么是商户号|没有商户号")
SWITCH_MERCHANT = re.compile(r"换(个|一个)?商户|换号|解绑|解除绑定|换个账户")


@dataclass(frozen=True)
class Identity:
    merchant_id: str | None
    locked: bool


def load_identity(channel: str, sender_id: str) -> Any:
    def work(session: Session) -> Identity:
        return Identity(
            merchant_id=repository.bound_merchant_id(session, channel, sender_id),
            locked=repository.is_locked(session, channel, sender_id),
        )

    return run_in_session(work)


def extract_last4(value: str) -> str | None:
    phone = MOBILE_PHONE.search(value)
    if phone:
        return phone.group(0)[-4:]
    match = LAST4.search(value)
    return match.group(1) if match else None


class ValidateVerifyForm(CancellableFormValidation):
    """Asks for the merchant id and phone digits unless this sender is already bound.

    When both are known the check runs once; a failure clears both and asks again,
    with the same answer whether the merchant id exists or not.
    """

    def name(self) -> str:
        return "validate_verify_form"

    async def form_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        channel, sender_id = sender_key(tracker)
        try:
            if tracker.get_slot("requested_slot") is None and SWITCH_MERCHANT.search(
                latest_text(tracker)
            ):
                await self._unbind(dispatcher, tracker, channel, sender_id)
            identity = await load_identity(channel, sender_id)
        except DatabaseUnavailable:
            return []  # action_after_verification tells the merchant
        if identity.merchant_id or identity.locked:
            return []
        return domain_slots

    @staticmethod
    async def _unbind(
        dispatcher: CollectingDispatcher, tracker: Tracker, channel: str, sender_id: str
    ) -> None:
        def work(session: Session) -> str | None:
            merchant_id = repository.bound_merchant_id(session, channel, sender_id)
            repository.unbind(session, channel, sender_id)
            return merchant_id

        merchant_id = await run_in_session(work)
        if merchant_id:
            dispatcher.utter_message(
                response="utter_unbound", verified_merchant=mask_merchant_id(merchant_id)
            )

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if tracker.get_slot("form_cancelled"):
            return events
        merchant_id = tracker.get_slot("merchant_id")
        last4 = tracker.get_slot("phone_last4")
        if not (merchant_id and last4):
            return events
        outcome = await self._check(dispatcher, tracker, merchant_id, last4)
        tracker.slots.update(outcome)
        return events + [SlotSet(key, value) for key, value in outcome.items()]

    async def _check(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, merchant_id: str, last4: str
    ) -> dict[str, Any]:
        channel, sender_id = sender_key(tracker)

        def work(session: Session) -> str:
            if repository.is_locked(session, channel, sender_id):
                return "locked"
            if repository.merchant_id_locked(session, merchant_id):
                return "merchant_locked"
            if repository.check_identity(session, channel, sender_id, merchant_id, last4):
                return "ok"
            return "locked" if repository.is_locked(session, channel, sender_id) else "failed"

        try:
            result = await run_in_session(work)
        except DatabaseUnavailable:
            return {"merchant_id": None, "phone_last4": None}
        if result == "ok":
            masked = mask_merchant_id(merchant_id)
            dispatcher.utter_message(response="utter_verified", verified_merchant=masked)
            # The candidates are spent: the binding in the database is what counts now.
            return {"verified_merchant": masked, "merchant_id": None, "phone_last4": None}
        if result == "failed":
            dispatcher.utter_message(response="utter_verify_failed")
        elif result == "merchant_locked":
            dispatcher.utter_message(response="utter_verify_merchant_locked")
        return {"merchant_id": None, "phone_last4": None}

    async def validate_merchant_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        match = MERCHANT_ID.search(text)
        if match:
            return {"merchant_id": match.group(1)}
        if DONT_KNOW.search(text) or DONT_KNOW.search(latest_text(tracker)):
            dispatcher.utter_message(response="utter_where_merchant_id")
        else:
            dispatcher.utter_message(response="utter_merchant_id_format")
        return {"merchant_id": None}

    async def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        last4 = extract_last4(str(value or ""))
        if last4 is None:
            dispatcher.utter_message(response="utter_phone_last4_format")
        return {"phone_last4": last4}
