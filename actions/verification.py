"""Identity check: merchant id + last 4 digits of the bound phone, before any data."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import DatabaseUnavailable, latest_text, run_in_session, sender_key
from actions.forms import FORM_STOP, MISSES, REPAIR_STATE, Answer, RepairingForm
from actions.knowledge import answer_entry, knowledge_of
from actions.repair import Said, role_of
from core.db import repository
from core.privacy import MOBILE_PHONE, mask_merchant_id

logger = logging.getLogger(__name__)

MERCHANT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{10})(?!\d)")
LAST4 = re.compile(r"(?<![0-9A-Za-z])(\d{4})(?!\d)")
# Digits as people type them: "1900 0000 02", "1900-0000-02", "１９００　０００００２".
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:[ \t\-－—_]{1,2}\d+)*(?![0-9A-Za-z])")
GROUP = re.compile(r"\d+")
# Digits followed by one of these are an amount, a date or a count, not phone digits.
UNIT_AFTER = re.compile(r"\s*(块|元|万|千|百|w|k|年|月|日|号|天|笔|次|个|人|%|分|秒|小时)", re.IGNORECASE)
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


def _digit_groups(text: str) -> list[tuple[list[str], bool]]:
    """The runs of digits in ``text`` (full-width made half-width), each as its groups
    and whether a unit follows ("2000块"): "商户号1900 0000 02，尾号0002" ->
    [(["1900", "0000", "02"], False), (["0002"], False)]."""
    plain = unicodedata.normalize("NFKC", text)
    return [(GROUP.findall(run.group(0)), bool(UNIT_AFTER.match(plain, run.end())))
            for run in DIGIT_RUN.finditer(plain)]


def find_ids(text: str) -> tuple[str | None, str | None]:
    """The merchant id (10 digits, also typed in groups) and the last 4 digits of the
    bound phone (4 digits, or an 11-digit mobile number, also in groups) in ``text``.
    Groups are joined only when they make exactly an id or a phone: "1900000002 0002"
    is an id and its phone digits, "138 0000 0002" a phone, "2024-11-20" and "2000块"
    neither."""
    merchant_id: str | None = None
    rest: list[str] = []
    for groups, amount in _digit_groups(text):
        if amount:
            continue
        found = None
        if merchant_id is None:
            found = next(((start, end) for start in range(len(groups))
                          for end in range(start + 1, len(groups) + 1)
                          if len("".join(groups[start:end])) == 10), None)
        if found is None:
            rest.append("".join(groups))
            continue
        start, end = found
        merchant_id = "".join(groups[start:end])
        rest.extend(["".join(groups[:start]), "".join(groups[end:])])
    last4 = next((digits[-4:] for digits in rest if len(digits) == 4
                  or (len(digits) == 11 and MOBILE_PHONE.fullmatch(digits))), None)
    return merchant_id, last4


def extract_last4(value: str) -> str | None:
    phone = MOBILE_PHONE.search(value)
    if phone:
        return phone.group(0)[-4:]
    return find_ids(value)[1]


PURPOSE_ACK = {
    "check_account_status": "utter_purpose_status",
    "report_account_abnormal": "utter_purpose_status",
    "submit_appeal": "utter_purpose_appeal",
    "check_appeal_status": "utter_purpose_appeal_status",
}
# The identity check's result for this turn, read by required_slots (which must not
# touch the database: rasa-sdk calls it several times a turn). Not a domain slot.
IDENTITY_DONE = "__identity_done"

# People who are not the merchant (actions.repair.role_of): what they can do instead
# of an identity check. The knowledge base's own answer when it is one of their family,
# else by what they asked for.
ROLE_FAMILIES = {
    "hong_kong": ("wechat_pay_hk",),
    "service_provider": ("sp_", "dev_sub_merchant_error"),
    "developer": ("dev_",),
    "personal": ("no_merchant_id", "appeal_personal_account", "reason_personal_code_business"),
}
APPEAL_WORDS = re.compile(r"申诉|解封|解除")
RESTRICTED_WORDS = re.compile(r"限制|限了|冻结|冻了|风控|收不了|封了|管控")


def role_entry(role: str, text: str, purpose: str | None,
               knowledge: dict[str, Any]) -> str | None:
    """The knowledge entry that tells ``role`` what they can do (None for a payer: no
    entry is about them; the check just ends)."""
    if role == "payer":
        return None
    appeal = purpose == "appeal" or bool(APPEAL_WORDS.search(text))
    if role == "personal":
        return "appeal_personal_account" if appeal else "no_merchant_id"
    answered = str(knowledge.get("entry_id") or "") if knowledge.get("decision") == "answer" \
        else ""
    if answered.startswith(ROLE_FAMILIES.get(role, ())):
        return answered
    if role == "service_provider":
        if APPEAL_WORDS.search(text) or (purpose == "appeal" and not RESTRICTED_WORDS.search(text)):
            return "sp_appeal_for_sub"
        return "sp_sub_merchant_restricted" if RESTRICTED_WORDS.search(text) \
            else "sp_check_sub_status"
    if role == "developer":
        return "dev_detect_restriction"
    return "wechat_pay_hk"


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
    asks_who = True
    whole_message_slots = frozenset({"merchant_id", "phone_last4"})

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
        merchant_id, _ = find_ids(said.text)
        return Answer(merchant_id) if merchant_id else None

    async def parse_phone_last4(self, said: Said, tracker: Tracker) -> Answer | None:
        _, last4 = find_ids(said.text)
        return Answer(last4) if last4 else None

    async def on_start(
        self, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """The message that asked for the check: ids typed in groups ("1900 0000 02",
        which Rasa's entities miss) are taken; someone who is not the merchant
        ("我是服务商，帮子商户查一下") gets what they can do instead of the check."""
        if tracker.slots.get(IDENTITY_DONE):
            return {}
        merchant_id, last4 = find_ids(said.text)
        values: dict[str, Any] = {}
        if merchant_id and tracker.get_slot("merchant_id") is None:
            values["merchant_id"] = merchant_id
            if last4 and tracker.get_slot("phone_last4") is None:
                values["phone_last4"] = last4
        role = role_of(said.text)
        if role and not (merchant_id or tracker.get_slot("merchant_id")):
            return await self.on_not_merchant(role, dispatcher, tracker)
        return values

    async def on_not_merchant(
        self, role: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """A service provider, developer, personal user or WeChat Pay HK merchant: no
        identity check to loop on. Before a handoff the person is queued without it;
        otherwise the check ends with what they can do."""
        cleared = {"merchant_id": None, "phone_last4": None}
        if tracker.get_slot("lookup_purpose") == "handoff":
            dispatcher.utter_message(response="utter_verify_not_needed_for_person")
            tracker.slots[IDENTITY_DONE] = True
            return {**cleared, "handoff_verify": False}
        entry_id = role_entry(role, latest_text(tracker), tracker.get_slot("lookup_purpose"),
                              knowledge_of(tracker))
        if entry_id is None or not await answer_entry(dispatcher, tracker, entry_id):
            dispatcher.utter_message(response="utter_verify_not_merchant")
        return {**cleared, FORM_STOP: "not_merchant", REPAIR_STATE: None, MISSES: 0.0}

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
