"""What happens after the identity check: the account state, appeal status, or the
start of a new appeal, always for the merchant bound to this sender."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import DatabaseUnavailable, format_date, run_in_session, sender_key, utter_busy
from actions.forms import FORM_STOP, SWITCH_TO
from actions.verification import load_identity
from core.db import repository
from core.db.models import AccountStatus, Appeal, AppealStatus
from core.privacy import mask_merchant_id

KNOWN_REASONS = {"remote_qr_collection", "instant_withdrawal", "high_frequency"}

APPEAL_CATEGORY_LABELS = {
    "remote_qr_collection": "异地扫码收款被限制",
    "instant_withdrawal": "收款后马上提现被冻结",
    "high_frequency": "交易频繁被风控",
    "other": "其他原因",
}
STATE_LABELS = {
    AccountStatus.normal: "正常",
    AccountStatus.restricted: "限制收款",
    AccountStatus.risk_controlled: "风控中",
    AccountStatus.frozen: "冻结",
}
REASON_LABELS = {
    "remote_qr_collection": "店里的线下收款码被外地付款人扫码",
    "instant_withdrawal": "个人账户收款后马上提现",
    "high_frequency": "长期频繁收款、提现交替",
}
APPEAL_STATUS_LABELS = {
    AppealStatus.submitted: "已提交，等待审核",
    AppealStatus.reviewing: "审核中",
    AppealStatus.approved: "已通过",
    AppealStatus.rejected: "未通过",
}


def allowed_text(can_collect: bool, can_withdraw: bool) -> str:
    if can_collect and can_withdraw:
        return "收款和提现目前都还能用。"
    if can_collect:
        return "目前还能收款，但不能提现。"
    if can_withdraw:
        return "目前不能收款，但余额还能提现。"
    return "目前收款和提现都暂停了。"


@dataclass(frozen=True)
class AppealView:
    id: str
    category: str
    status: AppealStatus
    decision_note: str | None
    created: str

    @classmethod
    def of(cls, appeal: Appeal) -> AppealView:
        return cls(appeal.id, appeal.category, appeal.status, appeal.decision_note,
                   format_date(appeal.created_at))

    def template_values(self) -> dict[str, Any]:
        if self.status == AppealStatus.rejected:
            next_step = (f"未通过原因：{self.decision_note or '未说明'}。"
                         "可以针对原因补充材料后重新申诉，说“我要申诉”即可。")
        elif self.status == AppealStatus.approved:
            next_step = "收款功能会陆续恢复；如果仍然受限，请拨打95017。"
        else:
            next_step = "一般1到3个工作日出结果，结果以官方审核为准，请耐心等待。"
        return {
            "appeal_id": self.id,
            "appeal_category_label": APPEAL_CATEGORY_LABELS.get(self.category, "其他原因"),
            "appeal_status": APPEAL_STATUS_LABELS[self.status],
            "created": self.created,
            "decision_note": self.decision_note or "未说明",
            "next_step": next_step,
        }


@dataclass(frozen=True)
class AccountView:
    merchant_id: str
    status: AccountStatus
    reason_code: str | None
    since: str
    can_collect: bool
    can_withdraw: bool
    latest_appeal: AppealView | None
    requested_appeal: AppealView | None  # the appeal id the merchant asked about, if theirs


def account_snapshot(account: AccountView) -> dict[str, Any]:
    """What an agent sees of the merchant when taking over (masked, labels in Chinese)."""
    appeal = account.latest_appeal
    return {
        "merchant": mask_merchant_id(account.merchant_id),
        "state": account.status.value,
        "state_label": STATE_LABELS[account.status],
        "since": account.since,
        "allowed": allowed_text(account.can_collect, account.can_withdraw),
        "reason_label": REASON_LABELS.get(account.reason_code or "", "未说明"),
        "appeals": [] if appeal is None else [{
            "id": appeal.id,
            "status_label": APPEAL_STATUS_LABELS[appeal.status],
            "category_label": APPEAL_CATEGORY_LABELS.get(appeal.category, "其他原因"),
            "created": appeal.created,
        }],
    }


def load_account(merchant_id: str, appeal_id: str | None) -> Any:
    def work(session: Session) -> AccountView | None:
        state = repository.current_state(session, merchant_id)
        if state is None:
            return None
        latest = repository.latest_appeal(session, merchant_id)
        requested = repository.get_appeal(session, appeal_id) if appeal_id else None
        if requested is not None and requested.merchant_id != merchant_id:
            requested = None  # never show another merchant's appeal
        return AccountView(
            merchant_id=merchant_id,
            status=state.status,
            reason_code=state.reason_code,
            since=format_date(state.since),
            can_collect=state.can_collect,
            can_withdraw=state.can_withdraw,
            latest_appeal=AppealView.of(latest) if latest else None,
            requested_appeal=AppealView.of(requested) if requested else None,
        )

    return run_in_session(work)


def answer_status(dispatcher: CollectingDispatcher, account: AccountView) -> None:
    merchant = mask_merchant_id(account.merchant_id)
    if account.status == AccountStatus.normal:
        dispatcher.utter_message(response="utter_state_normal", merchant=merchant)
        dispatcher.utter_message(response="utter_normal_followup")
        return
    dispatcher.utter_message(
        response=f"utter_state_{account.status.value}",
        merchant=merchant,
        since=account.since,
        allowed=allowed_text(account.can_collect, account.can_withdraw),
    )
    reason = account.reason_code if account.reason_code in KNOWN_REASONS else "unknown"
    dispatcher.utter_message(response=f"utter_reason_{reason}")
    if account.latest_appeal is not None:
        dispatcher.utter_message(
            response="utter_appeal_status", **account.latest_appeal.template_values()
        )


def answer_appeal_status(
    dispatcher: CollectingDispatcher, account: AccountView, appeal_id: str | None
) -> None:
    if appeal_id and account.requested_appeal is None:
        dispatcher.utter_message(response="utter_appeal_not_found")
        return
    appeal = account.requested_appeal or account.latest_appeal
    if appeal is None:
        dispatcher.utter_message(response="utter_appeal_none")
        return
    dispatcher.utter_message(response="utter_appeal_status", **appeal.template_values())


async def answer_account(dispatcher: CollectingDispatcher, tracker: Tracker,
                         purpose: str) -> None:
    """The account state or appeal status of the merchant bound to this sender, asked in
    the middle of another conversation (e.g. while filing an appeal)."""
    appeal_id = tracker.get_slot("appeal_id")
    try:
        identity = await load_identity(*sender_key(tracker))
        if identity.merchant_id is None:
            dispatcher.utter_message(response="utter_not_bound")
            return
        account = await load_account(identity.merchant_id, appeal_id)
    except DatabaseUnavailable:
        utter_busy(dispatcher)
        return
    if account is None:
        utter_busy(dispatcher)
    elif purpose == "appeal_status":
        answer_appeal_status(dispatcher, account, appeal_id)
    else:
        answer_status(dispatcher, account)


class ActionAfterVerification(Action):
    """Runs when verify_form ends: answers what the merchant came for."""

    def name(self) -> str:
        return "action_after_verification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reset = [SlotSet(FORM_STOP, None), SlotSet("appeal_allowed", False),
                 SlotSet(SWITCH_TO, None)]
        stop = tracker.get_slot(FORM_STOP)
        if stop:
            # Paused ("继续" resumes it; maybe a person first) or cancelled.
            events = [SlotSet(FORM_STOP, None), SlotSet("appeal_allowed", False),
                      SlotSet(SWITCH_TO, tracker.get_slot(SWITCH_TO))]
            if stop == "paused":
                return events  # the answers given so far are kept for later
            return events + [SlotSet("merchant_id", None), SlotSet("phone_last4", None)]
        if tracker.get_slot("lookup_purpose") == "handoff":
            # Verified (or not: the agent will check) — back to queueing for a person.
            return [SlotSet(FORM_STOP, None), SlotSet("appeal_allowed", False),
                    SlotSet("lookup_purpose", None), SlotSet(SWITCH_TO, "handoff_form")]
        appeal_id = tracker.get_slot("appeal_id")
        try:
            identity = await load_identity(*sender_key(tracker))
            merchant_id = identity.merchant_id
            if merchant_id is None:
                dispatcher.utter_message(
                    response="utter_verify_locked" if identity.locked else "utter_system_busy"
                )
                return reset
            account = await load_account(merchant_id, appeal_id)
        except DatabaseUnavailable:
            return reset + utter_busy(dispatcher)
        if account is None:
            return reset + utter_busy(dispatcher)

        verified = [SlotSet("verified_merchant", mask_merchant_id(merchant_id))]
        purpose = tracker.get_slot("lookup_purpose") or "status"
        if purpose == "appeal_status":
            answer_appeal_status(dispatcher, account, appeal_id)
            return reset + verified
        if purpose == "appeal":
            allowed = self._prepare_appeal(dispatcher, account)
            return [SlotSet(FORM_STOP, None), SlotSet(SWITCH_TO, None), *verified,
                    SlotSet("appeal_allowed", allowed)]
        answer_status(dispatcher, account)
        return reset + verified

    @staticmethod
    def _prepare_appeal(dispatcher: CollectingDispatcher, account: AccountView) -> bool:
        latest = account.latest_appeal
        if latest is not None and latest.status.is_open:
            dispatcher.utter_message(response="utter_appeal_duplicate", **latest.template_values())
            return False
        if latest is not None and latest.status == AppealStatus.rejected:
            dispatcher.utter_message(
                response="utter_appeal_rejected_before", **latest.template_values()
            )
        return True
