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

from actions.account import APPEAL_CATEGORY_LABELS, APPEAL_STATUS_LABELS, answer_account
from actions.ask import AskForSlot
from actions.common import DatabaseUnavailable, format_date, run_in_session, sender_key, utter_busy
from actions.forms import (
    DIGRESSIONS,
    FORM_STOP,
    MISSES,
    REPAIR_STATE,
    SWITCH_TO,
    Answer,
    RepairingForm,
)
from actions.guidance import bound_reason
from actions.repair import (
    ACK,
    CORRECTION,
    SHORT_QUESTION,
    SURE,
    TASK_INTENTS,
    Move,
    Said,
    classify,
    safety_of,
)
from core.answers import read_appeal_confirm
from core.choices import pick
from core.db import notices, repository
from core.db.notices import PHRASE_MAX, PHRASE_MIN
from core.notice_tokens import notice_consent_link
from core.privacy import (
    SEALED_PREFIX,
    find_mobile,
    mask_phone,
    mask_phones_in_text,
    seal,
    unseal,
)

# The options in the order the question lists them, and the words merchants use.
CATEGORY_OPTIONS = ["remote_qr_collection", "instant_withdrawal", "high_frequency", "other"]
CATEGORY_KEYWORDS = [
    (re.compile(r"异地|外地|远程|扫码"), "remote_qr_collection"),
    (re.compile(r"提现"), "instant_withdrawal"),
    (re.compile(r"频繁|太多|交易量|笔数"), "high_frequency"),
    (re.compile(r"其他|其它|别的"), "other"),
]
MIN_DESCRIPTION = 6
MAX_DESCRIPTION = 500
USE_BOUND_PHONE = re.compile(r"绑定|同一个|一样|原来的|用这个|这个号")
# Written into the appeal when the merchant cannot describe what happened.
NO_DESCRIPTION = "商户表示说不清具体情况，请审核人员结合交易记录核实。"

# "情况说明加一句：……", "再补充一点 ……": what follows is added to the description.
ADD_TO_DESCRIPTION = re.compile(
    r"^(?:等下|等一下|对了|还有)?[，,\s]*(?:情况说明|说明|描述)?(?:里|里面|上)?(?:再)?"
    r"(?:加一句|加一点|加上|加个|补充一下|补充一句|补充一点|补充|补一句|补上|添一句|添上|追加)"
    r"[：:，,\s]*(?P<added>.+)$")
MIN_ADDITION = 8


def added_to_description(text: str) -> str | None:
    found = ADD_TO_DESCRIPTION.match(text.strip())
    added = found.group("added").strip(" ，,。.") if found else ""
    return added if len(added) >= 4 else None


APPEAL_SLOTS = ["appeal_category", "appeal_description", "appeal_contact", "appeal_confirm"]


def parse_category(text: str) -> Answer | None:
    if text in CATEGORY_OPTIONS:
        return Answer(text)
    picked = pick(text, CATEGORY_OPTIONS)
    if picked:
        return Answer(picked)
    for pattern, category in CATEGORY_KEYWORDS:
        if pattern.search(text):
            return Answer(category, sure=False)
    return None


def bound_phone(tracker: Tracker) -> Any:
    """The bound phone of the merchant this sender is verified for, or None."""
    channel, sender_id = sender_key(tracker)

    def work(session: Session) -> str | None:
        merchant_id = repository.bound_merchant_id(session, channel, sender_id)
        merchant = repository.get_merchant(session, merchant_id) if merchant_id else None
        return merchant.bound_phone if merchant else None

    return run_in_session(work)


class ValidateAppealForm(RepairingForm):
    slot_words = {
        "appeal_category": re.compile(r"类别|类型|分类|原因选"),
        "appeal_description": re.compile(r"说明|描述|情况|内容|写的"),
        "appeal_contact": re.compile(r"手机|电话|号码|联系方式"),
    }
    free_text_slots = frozenset({"appeal_description"})
    pause_response = "utter_pause_appeal_form"
    closing_response = "utter_goodbye_paused_appeal"

    def name(self) -> str:
        return "validate_appeal_form"

    async def on_start(
        self, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """The category the account's own restriction reason names is not asked: it is
        filled in and said, and "改类别" changes it (the summary shows it before filing)."""
        if tracker.get_slot("appeal_category") is not None:
            return {}
        reason = await bound_reason(tracker)
        if reason not in CATEGORY_OPTIONS or reason == "other":
            return {}
        dispatcher.utter_message(response="utter_appeal_category_from_reason",
                                 appeal_category_label=APPEAL_CATEGORY_LABELS[reason])
        return {"appeal_category": reason}

    async def parse_appeal_category(self, said: Said, tracker: Tracker) -> Answer | None:
        return parse_category(said.text)

    async def skip_appeal_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        return {"appeal_category": "other"}

    async def parse_appeal_description(self, said: Said, tracker: Tracker) -> Answer | None:
        text = said.text.strip()
        if len(text) < MIN_DESCRIPTION or text.startswith("/"):
            return None
        if said.is_question and len(text) <= SHORT_QUESTION:
            return None  # "类别有哪些可以选？" is a question, never the story
        return Answer(text[:MAX_DESCRIPTION])

    async def skip_appeal_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        if tracker.get_slot(MISSES):
            # Helped once already: file it anyway, the reviewer can call back.
            dispatcher.utter_message(response="utter_description_skipped")
            return {"appeal_description": NO_DESCRIPTION}
        dispatcher.utter_message(response="utter_description_help")
        return {MISSES: 1.0}

    async def parse_appeal_contact(self, said: Said, tracker: Tracker) -> Answer | None:
        # Sealed: the tracker store keeps it until filing, unreadable (core.privacy).
        if said.text.startswith(SEALED_PREFIX):
            return Answer(said.text)  # kept from before a pause
        phone = find_mobile(said.text)  # also "139 1234 5678"
        if phone:
            return Answer(seal(phone))
        if USE_BOUND_PHONE.search(said.text):
            try:
                phone = await bound_phone(tracker)
            except DatabaseUnavailable:
                phone = None
            return Answer(seal(phone)) if phone else None
        return None

    async def skip_appeal_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        try:
            phone = await bound_phone(tracker)
        except DatabaseUnavailable:
            phone = None
        if phone:
            dispatcher.utter_message(response="utter_contact_uses_bound_phone")
            return {"appeal_contact": seal(phone)}
        dispatcher.utter_message(response="utter_hint_appeal_contact")
        return {}

    async def parse_appeal_confirm(self, said: Said, tracker: Tracker) -> Answer | None:
        """"不用改了，提交" files; "不确定", "继续", "等一下" and a go-ahead with a
        condition ask again (core.answers.read_appeal_confirm)."""
        value = read_appeal_confirm(said.text, said.intent)
        return None if value is None else Answer(value)

    async def on_task(
        self, intent: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        # The merchant is verified here: look-ups are answered on the spot.
        if intent in ("check_account_status", "report_account_abnormal"):
            await answer_account(dispatcher, tracker, "status")
            return {}
        if intent == "check_appeal_status":
            await answer_account(dispatcher, tracker, "appeal_status")
            return {}
        if intent == "submit_appeal":
            dispatcher.utter_message(response="utter_appeal_in_progress")
            return {}
        return None

    def _invalidated_by(self, slot: str, domain: DomainDict) -> dict[str, Any]:
        # A changed answer needs a new look at the summary.
        return {"appeal_confirm": None} if slot != "appeal_confirm" else {}

    async def _repair_or_take(
        self, requested: str, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """"情况说明加一句 每单都有快递单号" after the description: added to it (and the
        summary shown again), never dropped for the step's hint."""
        said = Said.of(tracker)
        description = tracker.get_slot("appeal_description")
        if requested in ("appeal_contact", "appeal_confirm") and description \
                and description != NO_DESCRIPTION and safety_of(said.text) is None:
            added = added_to_description(said.text)
            if added is None and requested == "appeal_confirm" \
                    and read_appeal_confirm(said.text, said.intent) is None \
                    and not said.is_question and len(said.text) >= MIN_ADDITION \
                    and not CORRECTION.search(said.text):
                added = await self._plain_addition(said, tracker, domain)
            if added:
                dispatcher.utter_message(response="utter_description_added")
                return {"appeal_description": f"{description}；{added}"[:MAX_DESCRIPTION],
                        "appeal_confirm": None, REPAIR_STATE: None, DIGRESSIONS: 0.0,
                        MISSES: 0.0}
        return await super()._repair_or_take(requested, dispatcher, tracker, domain)

    async def _plain_addition(self, said: Said, tracker: Tracker,
                              domain: DomainDict) -> str | None:
        """A statement at the summary that is no answer and no other move (a fact about
        the case, "每单都有快递单号"): more of the description."""
        move = classify(said, None, free_text=False)
        task = said.intent in TASK_INTENTS and said.confidence >= SURE
        return said.text.strip() if move in (Move.MISS, Move.DIGRESS) and not task \
            and not ACK.match(said.text) else None


class ActionAskAppealConfirm(AskForSlot):
    """Asks for the confirmation by showing the summary of the appeal."""

    slot = "appeal_confirm"

    def full_question(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> None:
        dispatcher.utter_message(
            response="utter_ask_appeal_confirm",
            appeal_category_label=APPEAL_CATEGORY_LABELS.get(
                tracker.get_slot("appeal_category"), "其他原因"
            ),
            appeal_description=mask_phones_in_text(tracker.get_slot("appeal_description") or ""),
            appeal_contact_masked=mask_phone(unseal(tracker.get_slot("appeal_contact")) or ""),
        )


class ActionSubmitAppeal(Action):
    """Files the confirmed appeal in one transaction and replies with its id."""

    def name(self) -> str:
        return "action_submit_appeal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(FORM_STOP) == "paused":
            # Answers are kept for when the merchant comes back to the appeal (maybe
            # after talking to a person).
            return [SlotSet(FORM_STOP, None), SlotSet("appeal_allowed", False),
                    SlotSet(SWITCH_TO, tracker.get_slot(SWITCH_TO))]
        reset = [SlotSet(slot, None) for slot in APPEAL_SLOTS] + [
            SlotSet(FORM_STOP, None),
            SlotSet("appeal_allowed", False),
            SlotSet(SWITCH_TO, None),
        ]
        if tracker.get_slot(FORM_STOP):
            return reset  # cancelled: the form already said so
        if not tracker.get_slot("appeal_confirm"):
            dispatcher.utter_message(response="utter_appeal_not_filed")
            return reset
        channel, sender_id = sender_key(tracker)
        category = tracker.get_slot("appeal_category") or "other"
        description = tracker.get_slot("appeal_description") or ""
        contact = unseal(tracker.get_slot("appeal_contact")) or ""

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
            from core.materials.checklist import offer_text  # the materials' own module

            dispatcher.utter_message(response="utter_appeal_filed", **values)
            dispatcher.utter_message(text=offer_text(category))
            return reset + [SlotSet("appeal_id", values["appeal_id"])]
        if outcome == "duplicate":
            dispatcher.utter_message(response="utter_appeal_duplicate", **values)
        else:
            dispatcher.utter_message(response="utter_verify_locked")
        return reset


# "暗号 山茶花", "暗号：老槐树", "我的暗号是蓝莓果酱": the phrase the appeal's notices carry.
NOTICE_PHRASE = re.compile(r"暗[号號]\s*(?:就用|就叫|叫|是|为|用)?\s*[：:，,]?\s*(?P<phrase>.+?)\s*[。.!！]*$")
# "暗号是啥", "暗号那个到底咋设", "要不要设暗号": a question about the phrase, not one.
ASKS_ABOUT_PHRASE = re.compile(r"[?？]|是啥|是什么|什么意思|啥意思|咋|怎么|如何|要不要|有什么用|干嘛|干啥|哪里|在哪")
# Bounds from the store, so a phrase read here is one it accepts.
PHRASE_CHARS = re.compile(
    rf"^[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9]{{{PHRASE_MIN - 1},{PHRASE_MAX - 1}}}$")


def read_notice_phrase(text: str) -> str | None:
    """The phrase in "暗号 山茶花": PHRASE_MIN to PHRASE_MAX characters, never a number."""
    match = NOTICE_PHRASE.search(text.strip())
    if match is None or ASKS_ABOUT_PHRASE.search(text):
        return None  # "暗号那个到底咋设" asks about it; it gives none
    phrase = match.group("phrase").strip()
    if not PHRASE_CHARS.match(phrase) or sum(c.isdigit() for c in phrase) > 2:
        return None
    return phrase


PHRASE_ENTRY = "notice_phrase_how"


class ActionSetNoticePhrase(Action):
    """The merchant's consent to be told the result of their open appeal, on this
    channel, with the phrase every notice will carry (core.db.notices)."""

    def name(self) -> str:
        return "action_set_notice_phrase"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        phrase = read_notice_phrase(text)
        if phrase is None:
            if ASKS_ABOUT_PHRASE.search(text):
                from actions.knowledge import answer_entry  # lazy: knowledge imports forms

                if await answer_entry(dispatcher, tracker, PHRASE_ENTRY):
                    return []
            dispatcher.utter_message(response="utter_notice_phrase_hint")
            return []
        channel, sender_id = sender_key(tracker)

        def work(session: Session) -> tuple[str, str | None]:
            merchant_id = repository.bound_merchant_id(session, channel, sender_id)
            if merchant_id is None:
                return "unverified", None
            appeal = repository.open_appeal(session, merchant_id)
            if appeal is None:
                return "no_appeal", None
            notices.remember_consent(session, appeal.id, channel, sender_id, phrase)
            return "saved", appeal.id

        try:
            outcome, appeal_id = await run_in_session(work)
        except DatabaseUnavailable:
            return utter_busy(dispatcher)
        dispatcher.utter_message(response=f"utter_notice_phrase_{outcome}",
                                 **({"appeal_id": appeal_id} if appeal_id else {}))
        link = notice_consent_link(appeal_id) if appeal_id and channel == "wechat" else None
        if link:
            # Past WeChat's 48-hour window only a subscription message reaches the merchant,
            # and each one needs its own consent.
            dispatcher.utter_message(response="utter_notice_consent_link", link=link)
        return []
