"""Identity check: merchant id + last 4 digits of the bound phone, before any data."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import DatabaseUnavailable, latest_text, run_in_session, sender_key
from actions.forms import REPAIR_STATE, Answer, RepairingForm
from actions.repair import Said
from core.db import repository
from core.privacy import MOBILE_PHONE, mask_merchant_id

logger = logging.getLogger(__name__)

MERCHANT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{10})(?!\d)")
LAST4 = re.compile(r"(?<![0-9A-Za-z])(\d{4})(?!\d)")
DONT_KNOW = re.compile(
    r"不知道|忘了|忘记|在哪|哪里(看|找|查)|找不到|什么是商户号|商户号是(什么|啥)|没有商户号|不清楚"
)
FORGOT_PHONE = re.compile(r"忘了|忘记|不记得|想不起|不知道|换号了|不是我的手机|停机")
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


PURPOSE_ACK = {
    "check_account_status": "utter_purpose_status",
    "report_account_abnormal": "utter_purpose_status",
    "submit_appeal": "utter_purpose_appeal",
    "check_appeal_status": "utter_purpose_appeal_status",
}
# The identity check's result for this turn, read by required_slots (which must not
# touch the database: rasa-sdk calls it several times a turn). Not a domain slot.
IDENTITY_DONE = "__identity_done"


class ValidateVerifyForm(RepairingForm):
    """Asks for the merchant id and phone digits unless this sender is already bound.

    When both are known the check runs once; a failure clears both and asks again,
    with the same answer whether the merchant id exists or not.
    """

    slot_words = {
        "merchant_id": re.compile(r"商户号|商户id|账号"),
        "phone_last4": re.compile(r"手机|电话|后四位|后4位|尾号"),
    }
    skip_words = {"merchant_id": DONT_KNOW, "phone_last4": FORGOT_PHONE}
    pause_response = "utter_pause_verify_form"

    def name(self) -> str:
        return "validate_verify_form"

    def is_stopped(self, tracker: Tracker) -> bool:
        return bool(tracker.slots.get(IDENTITY_DONE))

    async def prepare(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        channel, sender_id = sender_key(tracker)
        try:
            if tracker.get_slot("requested_slot") is None and SWITCH_MERCHANT.search(
                latest_text(tracker)
            ):
                await self._unbind(dispatcher, channel, sender_id)
            identity = await load_identity(channel, sender_id)
        except DatabaseUnavailable:
            identity = None  # action_after_verification tells the merchant
        done = identity is None or bool(identity.merchant_id or identity.locked)
        tracker.slots[IDENTITY_DONE] = done
        if done and identity is not None and identity.merchant_id:
            # Already verified: ids typed earlier are not checked (or counted) again.
            return {"merchant_id": None, "phone_last4": None}
        return {}

    @staticmethod
    async def _unbind(dispatcher: CollectingDispatcher, channel: str, sender_id: str) -> None:
        def work(session: Session) -> str | None:
            merchant_id = repository.bound_merchant_id(session, channel, sender_id)
            repository.unbind(session, channel, sender_id)
            return merchant_id

        merchant_id = await run_in_session(work)
        if merchant_id:
            dispatcher.utter_message(
                response="utter_unbound", verified_merchant=mask_merchant_id(merchant_id)
            )

    async def parse_merchant_id(self, said: Said, tracker: Tracker) -> Answer | None:
        match = MERCHANT_ID.search(said.text)
        return Answer(match.group(1)) if match else None

    async def parse_phone_last4(self, said: Said, tracker: Tracker) -> Answer | None:
        last4 = extract_last4(said.text)
        return Answer(last4) if last4 else None

    async def skip_merchant_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        dispatcher.utter_message(response="utter_where_merchant_id")
        return {}

    async def skip_phone_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        dispatcher.utter_message(response="utter_forgot_phone")
        return {}

    async def on_task(
        self, intent: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        # What the merchant wants after the check changed; lookup_purpose follows the
        # intent through its slot mapping.
        if intent not in PURPOSE_ACK:
            return None
        dispatcher.utter_message(response=PURPOSE_ACK[intent])
        return {}

    async def after_answers(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        merchant_id = tracker.get_slot("merchant_id")
        last4 = tracker.get_slot("phone_last4")
        if not (merchant_id and last4):
            return {}
        outcome, done = await self._check(dispatcher, tracker, merchant_id, last4)
        tracker.slots[IDENTITY_DONE] = done
        return outcome

    async def _check(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, merchant_id: str, last4: str
    ) -> tuple[dict[str, Any], bool]:
        """Slot values after the check, and whether the form is done (verified, locked,
        or the database is away: action_after_verification explains)."""
        channel, sender_id = sender_key(tracker)

        def work(session: Session) -> str:
            if repository.is_locked(session, channel, sender_id):
                return "locked"
            if repository.merchant_id_locked(session, merchant_id):
                return "merchant_locked"
            if repository.check_identity(session, channel, sender_id, merchant_id, last4):
                return "ok"
            if repository.failures_last_hour(session) > repository.ENUMERATION_ALERT:
                logger.warning("identity checks: over %d failures in the last hour across "
                               "merchant ids: possible enumeration", repository.ENUMERATION_ALERT)
            return "locked" if repository.is_locked(session, channel, sender_id) else "failed"

        cleared = {"merchant_id": None, "phone_last4": None}
        try:
            result = await run_in_session(work)
        except DatabaseUnavailable:
            return cleared, True
        if result == "ok":
            masked = mask_merchant_id(merchant_id)
            dispatcher.utter_message(response="utter_verified", verified_merchant=masked)
            # The candidates are spent: the binding in the database is what counts now.
            return {"verified_merchant": masked, **cleared}, True
        if result == "failed":
            # The message asks for the merchant id again: no second question.
            dispatcher.utter_message(response="utter_verify_failed")
            return {**cleared, REPAIR_STATE: "quiet"}, False
        if result == "merchant_locked":
            dispatcher.utter_message(response="utter_verify_merchant_locked")
        return cleared, True
