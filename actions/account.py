"""What happens after the identity check: the account state, appeal status, or the
start of a new appeal, always for the merchant bound to this sender."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.capability import Capabilities, asks_capability, capability_answer, question_kind
from actions.common import (
    DatabaseUnavailable,
    format_date,
    run_in_session,
    sender_key,
    session_events,
    utter_busy,
)
from actions.forms import FORM_STOP, SWITCH_TO
from actions.verification import load_identity, verify_inline
from core import appeal_timing
from core.appeal_timing import WaitEstimate
from core.dates import REVIEW_WORKING_DAYS, working_days_between
from core.db import appeal_events, handoffs, repository
from core.db.appeal_events import Decision, DecisionKind
from core.db.models import AccountStatus, Appeal, AppealStatus, HandoffStatus, utcnow
from core.knowledge.asks import asks
from core.privacy import mask_merchant_id
from core.voice import tells_of_unknown_operation

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


# Words that say which appeal is meant when the merchant has several.
APPEAL_ID = re.compile(r"AP\d{11}", re.IGNORECASE)
REJECTED_WORDS = re.compile(r"驳回|没通过|没有通过|不通过|未通过|被拒|拒了|维持原判|申诉失败|审核失败")
OLDER_WORDS = re.compile(r"上次|上一次|上一条|上一个|之前|以前|原来|旧的|早先|第一次|前面那|那条老")
NEWER_WORDS = re.compile(r"刚(刚|才)?(提交|交|申请|提)|新(的|提交)|这次|最新|现在这")
# Questions about another process that also gets "rejected" (opening an account, KYC).
OTHER_PROCESS = re.compile(r"进件|开户|入驻|注册|实名|认证|资质审核|商户申请|签约")
# Things that start or follow the purpose of a look-up: where to read what was meant.
PURPOSE_INTENTS = {"check_appeal_status", "submit_appeal", "check_account_status",
                   "report_account_abnormal", "knowledge"}
STATUS_RESPONSES = ("utter_appeal_status", "utter_appeal_status_again",
                    "utter_appeal_status_still", "utter_appeal_status_brief",
                    "utter_appeal_review_overdue", "utter_appeal_review_in_time")
REJECTION_RESPONSES = ("utter_appeal_rejection_explained", "utter_appeal_rejection_again",
                       "utter_appeal_rejection_person")
# What the reviewers' note usually means, in the merchant's terms.
NOTE_MEANINGS = [
    (re.compile(r"交易真实|真实性|真实交易"),
     "也就是说，上次的材料还没能把这些收款和真实买卖一一对上。"),
    (re.compile(r"材料|资料|不完整|不清晰|模糊"), "也就是说，上次交的材料不够完整或看不清。"),
    (re.compile(r"经营范围|类目|资质"), "也就是说，卖的东西和登记的经营范围或资质对不上。"),
]
MATERIALS = {
    "remote_qr_collection": "和外地客户的真实订单、聊天记录、发货的快递单号（不发货的用预订、入住或消费记录），并写明以后外地订单改用网站支付、小程序或正规收款码",
    "instant_withdrawal": "营业执照或经营场所照片、每笔收款对应的订单或收据，以及提现资金的用途",
    "high_frequency": "交易量上涨的原因（比如促销活动）、每笔对应的订单和发货记录、营业执照",
    "other": "营业执照、经营场所照片、真实订单和发货记录、和客户的聊天记录",
}
REASON_SHORT = {
    "remote_qr_collection": "线下收款码被外地付款人扫码",
    "instant_withdrawal": "收款后马上提现",
    "high_frequency": "频繁收款、提现交替",
}


@dataclass(frozen=True)
class AppealView:
    id: str
    category: str
    status: AppealStatus
    decision_note: str | None
    created: str
    created_at: dt.datetime | None = None
    working_days: int = 0  # working days since it was filed
    decision: Decision | None = None  # the back office's latest (core.db.appeal_events)
    estimate: WaitEstimate | None = None  # from past appeals of its reason (open ones)

    @classmethod
    def of(cls, appeal: Appeal, now: dt.datetime | None = None,
           decision: Decision | None = None, estimate: WaitEstimate | None = None,
           ) -> AppealView:
        now = now or utcnow()
        return cls(appeal.id, appeal.category, appeal.status, appeal.decision_note,
                   format_date(appeal.created_at), appeal.created_at,
                   working_days_between(appeal.created_at, now), decision, estimate)

    @property
    def overdue(self) -> bool:
        """Open for longer than most past appeals of its reason took, or without enough
        of them, than a review usually takes (core.appeal_timing, working days)."""
        if self.estimate is not None:
            return self.estimate.overdue
        return self.status.is_open and self.working_days > REVIEW_WORKING_DAYS

    @property
    def needs_materials(self) -> bool:
        """Open and the reviewers asked for more documents."""
        return self.status.is_open and self.decision is not None and \
            self.decision.kind == DecisionKind.needs_materials

    def materials_step(self) -> str:
        decision = self.decision
        assert decision is not None
        wanted = "、".join(decision.missing_materials) or "补充材料"
        why = f"（审核说明：{decision.reason}）" if decision.reason else ""
        return (f"审核方要你补充：{wanted}{why}。在微信支付商家助手→我的→风险处理里找到这条记录补交，"
                "补齐后审核会继续。")

    def template_values(self, newer: AppealView | None = None) -> dict[str, Any]:
        """Values for the appeal responses; ``newer``: an appeal filed after this one."""
        if self.status == AppealStatus.rejected and newer is not None and newer.status.is_open:
            next_step = (f"未通过原因：{self.decision_note or '未说明'}。你之后重新提交的申诉"
                         f"{newer.id}正在审核，等它的结果就行，不用再交。")
        elif self.status == AppealStatus.rejected:
            next_step = (f"未通过原因：{self.decision_note or '未说明'}。"
                         "可以针对原因补充材料后重新申诉，说“我要申诉”即可。")
        elif self.status == AppealStatus.approved:
            next_step = "收款功能会陆续恢复；如果仍然受限，请拨打95017。"
        elif self.needs_materials:
            next_step = self.materials_step()
        elif self.estimate is not None and self.estimate.enough_history:
            next_step = appeal_timing.waiting_sentence(self.estimate) or ""
        elif self.overdue:
            next_step = (f"已经过了{self.working_days}个工作日，超过一般的1到3个工作日，"
                         f"算是超时了。建议打95017，报商户号和申诉编号{self.id}催一下进度；"
                         "也可以说“转人工”让客服帮你跟进。先别重复提交。")
        else:
            next_step = (f"一般1到3个工作日出结果（目前过了{self.working_days}个工作日），"
                         "结果以官方审核为准。")
        return {
            "appeal_id": self.id,
            "appeal_category_label": APPEAL_CATEGORY_LABELS.get(self.category, "其他原因"),
            "appeal_status": "待补充材料" if self.needs_materials
            else APPEAL_STATUS_LABELS[self.status],
            "created": self.created,
            "decision_note": self.decision_note or "未说明",
            "working_days": self.working_days,
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
    appeals: tuple[AppealView, ...] = ()  # all of the merchant's appeals, newest first

    def newer_than(self, appeal: AppealView) -> AppealView | None:
        """The newest appeal filed after ``appeal``, if any."""
        for other in self.appeals:
            if other.id == appeal.id:
                return None
            return other
        return None

    def newest(self, status: AppealStatus) -> AppealView | None:
        return next((a for a in self.appeals if a.status == status), None)


def account_snapshot(account: AccountView) -> dict[str, Any]:
    """What an agent sees of the merchant when taking over (masked, labels in Chinese)."""
    appeals = account.appeals or ((account.latest_appeal,) if account.latest_appeal else ())
    return {
        "merchant": mask_merchant_id(account.merchant_id),
        "state": account.status.value,
        "state_label": STATE_LABELS[account.status],
        "since": account.since,
        "allowed": allowed_text(account.can_collect, account.can_withdraw),
        "reason_label": REASON_LABELS.get(account.reason_code or "", "未说明"),
        "appeals": [{
            "id": appeal.id,
            "status_label": APPEAL_STATUS_LABELS[appeal.status],
            "category_label": APPEAL_CATEGORY_LABELS.get(appeal.category, "其他原因"),
            "created": appeal.created,
            "overdue": appeal.overdue,
        } for appeal in appeals[:3]],
    }


def load_account(merchant_id: str, appeal_id: str | None) -> Any:
    def work(session: Session) -> AccountView | None:
        state = repository.current_state(session, merchant_id)
        if state is None:
            return None
        now = utcnow()
        rows = repository.appeals_of(session, merchant_id)
        requested = repository.get_appeal(session, appeal_id) if appeal_id else None
        if requested is not None and requested.merchant_id != merchant_id:
            requested = None  # never show another merchant's appeal
        decisions = appeal_events.latest_decisions(
            session, [a.id for a in rows] + ([requested.id] if requested else []))

        def view(appeal: Appeal) -> AppealView:
            estimate = appeal_timing.estimate_wait(session, appeal, now) \
                if appeal.status.is_open else None
            return AppealView.of(appeal, now, decisions.get(appeal.id), estimate)

        appeals = tuple(view(a) for a in rows)
        return AccountView(
            merchant_id=merchant_id,
            status=state.status,
            reason_code=state.reason_code,
            since=format_date(state.since),
            can_collect=state.can_collect,
            can_withdraw=state.can_withdraw,
            latest_appeal=appeals[0] if appeals else None,
            requested_appeal=view(requested) if requested else None,
            appeals=appeals,
        )

    return run_in_session(work)


# --- which appeal is meant, and what was said already -------------------------------


def reference_text(tracker: Tracker) -> str:
    """What the merchant said about the appeal they mean: the latest message, and for a
    look-up that needed the identity check first, the messages back to the request."""
    texts: list[str] = []
    for event in reversed(session_events(tracker)):
        if event.get("event") != "user":
            continue
        texts.append(event.get("text") or "")
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in PURPOSE_INTENTS or len(texts) >= 4:
            break
    return " ".join(texts)


def appeal_id_in(tracker: Tracker) -> str | None:
    """An appeal id the merchant typed (this message, or the request it answers)."""
    match = APPEAL_ID.search(reference_text(tracker))
    return match.group(0).upper() if match else None


def appeal_meant(account: AccountView, text: str, slot_id: str | None) -> AppealView | None:
    """Which appeal the merchant means: by id if given, else the one the words point at
    ("被驳回的那个", "之前那条", "刚提交的"), else the one asked about before, else the
    newest."""
    if account.requested_appeal is not None:
        return account.requested_appeal
    if not account.appeals:
        return None
    if REJECTED_WORDS.search(text):
        rejected = account.newest(AppealStatus.rejected)
        if rejected is not None:
            return rejected
    if OLDER_WORDS.search(text) and len(account.appeals) > 1:
        return account.appeals[1]
    if NEWER_WORDS.search(text):
        return account.appeals[0]
    if slot_id:
        chosen = next((a for a in account.appeals if a.id == slot_id.upper()), None)
        if chosen is not None:
            return chosen
    return account.appeals[0]


def times_said(tracker: Tracker, responses: tuple[str, ...], appeal_id: str) -> int:
    """How often this session already answered about ``appeal_id`` with ``responses``."""
    count = 0
    for event in session_events(tracker):
        metadata = event.get("metadata") or {}
        if event.get("event") == "bot" and metadata.get("utter_action") in responses and \
                metadata.get("appeal_id") == appeal_id:
            count += 1
    return count


def facts_said(tracker: Tracker, key: str) -> int:
    return sum(1 for event in session_events(tracker) if event.get("event") == "bot"
               and (event.get("metadata") or {}).get(FACT_METADATA) == key)


def rejection_shown(tracker: Tracker, appeal_id: str) -> bool:
    """The rejection of ``appeal_id`` was already on screen in this session."""
    return times_said(tracker, ("utter_appeal_status", "utter_appeal_status_again",
                                "utter_appeal_rejected_before", *REJECTION_RESPONSES),
                      appeal_id) > 0


def utter_appeal(dispatcher: CollectingDispatcher, tracker: Tracker | None,
                 account: AccountView, appeal: AppealView,
                 metadata: dict[str, Any] | None = None) -> None:
    """An appeal's status; asked again, shorter with the next step (a person, 95017); a
    third time, the offer of a person. Never the same block twice."""
    values = {**appeal.template_values(account.newer_than(appeal)), **(metadata or {})}
    said = times_said(tracker, STATUS_RESPONSES, appeal.id) if tracker is not None else 0
    if said == 0:
        dispatcher.utter_message(response="utter_appeal_status", **values)
        return
    if said == 1:
        if appeal.status == AppealStatus.rejected:
            chase = (f"驳回原因：{values['decision_note']}。看不懂要补什么，可以打95017报申诉编号"
                     "问清楚，或者说“转人工”。")
        elif appeal.status == AppealStatus.approved:
            chase = "如果还是受限，打95017或者说“转人工”。"
        elif appeal.needs_materials:
            chase = appeal.materials_step()
        elif appeal.overdue:
            chase = (f"已经过了{appeal.working_days}个工作日，超时了：建议直接打95017报申诉编号"
                     "催一下，或者说“转人工”让客服帮你跟进。")
        else:
            chase = "有结果会通知你；等不及的话可以打95017问，或者说“转人工”。"
        dispatcher.utter_message(response="utter_appeal_status_again", chase=chase, **values)
        return
    # From the third time on: the offer of a person, then a one-liner, in turn.
    response = "utter_appeal_status_still" if said % 2 == 0 else "utter_appeal_status_brief"
    dispatcher.utter_message(response=response, **values)


def state_line(dispatcher: CollectingDispatcher, account: AccountView) -> None:
    """The account's state in one message: since when, what still works."""
    merchant = mask_merchant_id(account.merchant_id)
    if account.status == AccountStatus.normal:
        dispatcher.utter_message(response="utter_state_normal", merchant=merchant)
        return
    dispatcher.utter_message(
        response=f"utter_state_{account.status.value}",
        merchant=merchant,
        since=account.since,
        allowed=allowed_text(account.can_collect, account.can_withdraw),
    )


def state_said(tracker: Tracker | None, account: AccountView) -> bool:
    """This state was already shown in this session (the block, not just a fact)."""
    if tracker is None:
        return False
    response = f"utter_state_{account.status.value}"
    return any(event.get("event") == "bot"
               and (event.get("metadata") or {}).get("utter_action") == response
               for event in session_events(tracker))


async def tell_status(dispatcher: CollectingDispatcher, account: AccountView,
                      tracker: Tracker) -> None:
    """The state after a look-up; for a normal account, what the merchant told before
    the check answered for their account, else the question what is wrong."""
    answer_status(dispatcher, account, tracker)
    if account.status != AccountStatus.normal:
        return
    from actions.knowledge import answer_earlier_problem  # lazy: knowledge imports this

    if not await answer_earlier_problem(dispatcher, tracker):
        dispatcher.utter_message(response="utter_normal_followup")


def answer_status(dispatcher: CollectingDispatcher, account: AccountView,
                  tracker: Tracker | None = None) -> None:
    """The state and, for a restricted account, its reason and appeal (a normal one's
    follow-up is tell_status's)."""
    if account.status != AccountStatus.normal and state_said(tracker, account):
        # Asked again ("我现在能收款吗？" after the look-up): what still works, in one
        # line, then the next step; never the state and reason blocks word for word.
        dispatcher.utter_message(
            response="utter_state_again", merchant=mask_merchant_id(account.merchant_id),
            state_label=STATE_LABELS[account.status],
            allowed=allowed_text(account.can_collect, account.can_withdraw))
        if account.latest_appeal is not None:
            utter_appeal(dispatcher, tracker, account, account.latest_appeal)
        else:
            dispatcher.utter_message(response="utter_state_next_step")
        return
    state_line(dispatcher, account)
    if account.status == AccountStatus.normal:
        return
    reason = account.reason_code if account.reason_code in KNOWN_REASONS else "unknown"
    dispatcher.utter_message(response=f"utter_reason_{reason}")
    if account.latest_appeal is not None:
        utter_appeal(dispatcher, tracker, account, account.latest_appeal)


def answer_appeal_status(
    dispatcher: CollectingDispatcher, account: AccountView, appeal_id: str | None,
    tracker: Tracker | None = None,
) -> None:
    if appeal_id and account.requested_appeal is None:
        dispatcher.utter_message(response="utter_appeal_not_found")
        return
    text = reference_text(tracker) if tracker is not None else ""
    slot_id = tracker.get_slot("appeal_id") if tracker is not None else None
    appeal = appeal_meant(account, text, slot_id)
    if appeal is None:
        dispatcher.utter_message(response="utter_appeal_none")
        return
    utter_appeal(dispatcher, tracker, account, appeal)


async def answer_account(dispatcher: CollectingDispatcher, tracker: Tracker,
                         purpose: str) -> None:
    """The account state or appeal status of the merchant bound to this sender, asked in
    the middle of another conversation (e.g. while filing an appeal)."""
    appeal_id = appeal_id_in(tracker)
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
        answer_appeal_status(dispatcher, account, appeal_id, tracker)
    else:
        await tell_status(dispatcher, account, tracker)


# --- informational questions that have a merchant-specific answer --------------------

FACT_METADATA = "merchant_fact"
KB_METADATA = "knowledge_entry"  # as actions.knowledge marks the entry answered
# Knowledge entries whose question the verified merchant's own facts answer better.
REJECTION_ENTRIES = {"appeal_rejected", "appeal_rejected_no_reason", "appeal_rejected_repeatedly",
                     "appeal_resubmit_limit", "abnormal_reason", "how_to_find_reason",
                     "appeal_process", "appeal_materials", "appeal_where_progress"}
# "两个星期了", "半个月", "等了10天": longer than the usual 1-3 working days.
WAITED_LONG = re.compile(
    r"(两|三|四|好几|几|[2-9]|十几|\d{2})\s*(个)?(星期|周|礼拜)|半个?月|(一|两|三|几|[1-9])\s*个多?月"
    r"|(十|二十|三十|[5-9]|\d{2})\s*(多|来)?(天|个工作日)")
# "一般几个月", "通常要多少天": the usual time asked, not a wait told.
USUAL_TIME = re.compile(r"(一般|通常|大概|平均|正常)[^，。,.]{0,4}(几|多少)")
WAITED_LONG_ANSWER = (
    "等了这么久，已经超过一般1到3个工作日的审核时间，算是超时了，不用再干等：\n"
    "1. 打95017，报商户号和申诉编号催办；\n"
    "2. 在商家助手→风险处理里看看有没有要补的材料或新通知；\n"
    "3. 想让我查这笔申诉现在到哪一步了，说“查申诉进度”（要先核对身份）；也可以说“转人工”。\n"
    "先别重复提交，重复申诉不会更快。")
REVIEW_ENTRIES = {"appeal_review_time", "appeal_overdue", "appeal_where_progress",
                  "restriction_auto_lift"}
FUNDS_ENTRIES = {"frozen_funds", "funds_release_time", "funds_withdraw_now", "funds_forfeit"}
QUEUE_WAIT = re.compile(r"等多久|要等|还得等|排到|轮到|排队|多久(才)?(有人|到我|接)|怎么还没人|人呢|还没来")
# How long a new appeal takes, asked after a rejection.
RESUBMIT_TIME = re.compile(r"(重新|再次?|又)(申诉|提交|交|申请|递交)[^，。？?]{0,8}(几天|多久|多长时间|多少天|几个工作日)"
                           r"|(几天|多久|多长时间)[^，。？?]{0,6}(重新|再次?)(申诉|提交|交)")
NOT_QUEUE = re.compile(r"申诉|审核|解封|解冻|解除|提现|钱|结果|恢复")
# "被驳回了现在马上就能重新提吗 有没有次数限制": whether and how often, not why.
RESUBMIT_ASK = re.compile(r"(重新|再)(提|交|申诉|申请|发起|来)[^，。,.]{0,6}(吗|么|不|没|能|可以|行)"
                          r"|(能|可以|还能)(重新|再)(提|交|申诉|申请)|(申诉|申请)次数|能申几|申几回|上限"
                          # "一个月能申诉几次" (not "95017打了好几次").
                          r"|(申诉|提交|申请|交|提)[^，。,.]{0,6}(几|多少)次|(几|多少)次[^，。,.]{0,4}(申诉|提交|申请)")
RESUBMIT_ENTRY = "appeal_resubmit_limit"
# "为啥驳回，还能不能再申诉": the reason first (its answer says how to refile).
REJECTION_WHY = re.compile(r"为啥|为什么|原因|理由|凭什么|咋回事|怎么回事")


async def verified_account(tracker: Tracker, appeal_id: str | None) -> AccountView | None:
    """The account of the merchant verified on this sender; None for anyone else or when
    the database cannot answer (the general answer still helps)."""
    try:
        identity = await load_identity(*sender_key(tracker))
        if identity.merchant_id is None:
            return None
        return await load_account(identity.merchant_id, appeal_id)
    except DatabaseUnavailable:
        return None


async def answer_from_facts(dispatcher: CollectingDispatcher, tracker: Tracker,
                            entry_id: str) -> bool:
    """The verified merchant's own answer to an informational question, when their facts
    make the general entry wrong or vague: the reviewers' note when asking why an appeal
    was rejected, an overdue review with how to chase it, withdrawals that still work,
    the wait in the queue. False when the general entry (with its variants) is right."""
    text = (tracker.latest_message or {}).get("text") or ""
    if await answer_queue_wait(dispatcher, tracker, text):
        return True
    if await verify_inline(dispatcher, tracker, entry_id):
        return True  # ids in the question: checked first (the failure, or the state, answers)
    account = await verified_account(tracker, appeal_id_in(tracker))
    if account is None:
        if entry_id in REVIEW_ENTRIES and WAITED_LONG.search(text) and not USUAL_TIME.search(text):
            # "申诉交上去两个星期了…到底还要等多久": not "一般1到3个工作日" again.
            dispatcher.utter_message(text=WAITED_LONG_ANSWER, **{KB_METADATA: entry_id})
            return True
        return False
    asks_missing = entry_id == "appeal_materials_missing" or (
        entry_id in ("appeal_materials", "materials_send_here") and bool(MISSING_WORDS.search(text)))
    if asks_missing and await explain_checklist(dispatcher, account, entry_id):
        return True
    rejected = account.newest(AppealStatus.rejected)
    if RESUBMIT_TIME.search(text) and rejected is not None and not any(
            a.status.is_open for a in account.appeals):
        # "重新交了以后审核要几天": the new appeal's review, not the old one's result.
        note = f"（{rejected.decision_note}）" if rejected.decision_note else ""
        dispatcher.utter_message(
            text=("重新提交的申诉会重新审核，一般也是1到3个工作日，要补材料或情况复杂的会更久，"
                  f"以官方审核为准。这次针对上次没通过的原因{note}把材料补齐，更容易一次过。"),
            **{KB_METADATA: entry_id})
        return True
    if RESUBMIT_ASK.search(text) and not REJECTION_WHY.search(text) and rejected is not None \
            and not any(a.status.is_open for a in account.appeals):
        if entry_id == RESUBMIT_ENTRY:
            return False  # its variant for a rejected appeal: yes, now, with new material
        from actions.knowledge import answer_entry  # lazy: knowledge imports this

        return await answer_entry(dispatcher, tracker, RESUBMIT_ENTRY)
    if REJECTED_WORDS.search(text) and not OTHER_PROCESS.search(text):
        rejected = account.requested_appeal or account.newest(AppealStatus.rejected)
        if rejected is not None and rejected.status == AppealStatus.rejected and (
                entry_id in REJECTION_ENTRIES or entry_id.startswith("appeal_")
                or rejection_shown(tracker, rejected.id)):
            explain_rejection(dispatcher, tracker, account, rejected, entry_id)
            return True
    if asks_capability(text) and not (account.can_withdraw and entry_id in FUNDS_ENTRIES):
        explain_capability(dispatcher, tracker, account, text, entry_id)
        return True
    # "能提现吗" with withdrawals blocked: the entry's own variant says so directly.
    waiting_funds = entry_id in FUNDS_ENTRIES and entry_id != "funds_withdraw_now"
    if entry_id in REVIEW_ENTRIES or (waiting_funds and not account.can_withdraw):
        appeal = appeal_meant(account, text, None)
        if appeal is not None and appeal.status.is_open:
            explain_review(dispatcher, tracker, account, appeal, entry_id)
            return True
    if entry_id in FUNDS_ENTRIES and account.can_withdraw:
        if IN_TRANSIT.search(text):
            # "提现显示处理中，十几个小时了": a withdrawal under way, not whether one can.
            from actions.knowledge import answer_entry  # lazy: knowledge imports this

            return await answer_entry(dispatcher, tracker, "settlement_not_arrived")
        explain_withdrawal(dispatcher, tracker, account, entry_id)
        return True
    return False


# "还缺什么材料", "交齐了吗": the open appeal's checklist against the files received.
MISSING_WORDS = re.compile(r"还缺|缺什么|缺啥|缺哪|齐了|交齐|齐不齐|够不够|够了吗|还差|还要补什么")


async def explain_checklist(dispatcher: CollectingDispatcher, account: AccountView,
                            entry_id: str) -> bool:
    """The open appeal's checklist for its reason, ticked by the files this chat received
    (core.materials.checklist); False without an open appeal."""
    from core.materials.checklist import status_for_appeal  # the materials' own module

    appeal = next((a for a in account.appeals if a.status.is_open), None)
    if appeal is None:
        return False
    try:
        text = await run_in_session(lambda session: status_for_appeal(session, appeal.id))
    except DatabaseUnavailable:
        return False
    if text is None:
        return False
    dispatcher.utter_message(text=text, **{KB_METADATA: entry_id,
                                           FACT_METADATA: "materials_checklist"})
    return True


# Money on its way: a withdrawal or a settlement, not an appeal.
MONEY_IN_TRANSIT = re.compile(r"提现|结算|到账|打款|到卡|银行卡")
# A withdrawal or settlement already made and not arrived.
IN_TRANSIT = re.compile(r"处理中|还没到|没到账|未到账|到账慢|没收到|卡住|卡在|一直显示|啥时候到|什么时候到|多久到")


def explain_rejection(dispatcher: CollectingDispatcher, tracker: Tracker,
                      account: AccountView, appeal: AppealView, entry_id: str) -> None:
    # The entry answered, in this merchant's own form (like a variant of it).
    values = {**appeal.template_values(account.newer_than(appeal)), KB_METADATA: entry_id}
    said = times_said(tracker, REJECTION_RESPONSES, appeal.id)
    if said:
        # Asked again: the note once more, briefly, then the offer of a person.
        response = "utter_appeal_rejection_again" if said % 2 == 1 \
            else "utter_appeal_rejection_person"
        dispatcher.utter_message(response=response, **values)
        return
    note = appeal.decision_note or ""
    meaning = next((text for pattern, text in NOTE_MEANINGS if pattern.search(note)), "")
    newer = account.newer_than(appeal)
    if newer is not None and newer.status.is_open:
        next_step = (f"你之后重新提交的申诉{newer.id}正在审核，结果出来前不用再交；"
                     "审核要补材料时，就按这条原因补。")
    else:
        next_step = (f"重新申诉时逐条回应这条原因，重点补：{MATERIALS.get(appeal.category, MATERIALS['other'])}。"
                     "准备好了说“我要申诉”。")
    dispatcher.utter_message(response="utter_appeal_rejection_explained", meaning=meaning,
                             rejection_next=next_step, **values)


def explain_review(dispatcher: CollectingDispatcher, tracker: Tracker, account: AccountView,
                   appeal: AppealView, entry_id: str) -> None:
    values = {**appeal.template_values(), KB_METADATA: entry_id}
    status_said = times_said(tracker, STATUS_RESPONSES, appeal.id) >= 1
    if status_said and entry_id in FUNDS_ENTRIES and not appeal.needs_materials \
            and facts_said(tracker, "funds_wait_review") == 0:
        # "这钱是不是没了 房租咋办" after the status: the money, not the status again.
        chase = ("申诉已经超时了，急用钱的话打95017报申诉编号说明情况，请客服帮忙催审核。"
                 if appeal.overdue else
                 "急用钱（比如要交房租）可以打95017说明情况，问问能不能加快。")
        dispatcher.utter_message(response="utter_funds_wait_review", chase=chase,
                                 **{**values, FACT_METADATA: "funds_wait_review"})
        return
    if appeal.needs_materials or status_said:
        # Waiting for the merchant's documents, not for the reviewers: say what to send.
        # Shorter, with the next step; still the answer to the entry asked.
        utter_appeal(dispatcher, tracker, account, appeal, {KB_METADATA: entry_id})
        return
    funds_note = "你的余额目前提不了，要等这条申诉有结果才能提。" \
        if entry_id in FUNDS_ENTRIES else ""
    response = "utter_appeal_review_overdue" if appeal.overdue else "utter_appeal_review_in_time"
    dispatcher.utter_message(response=response, funds_note=funds_note, **values)


async def answer_capability_ask(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """"那我现在还能收款吗？另外申诉要准备什么": the whole message was answered as its other
    ask; the what-still-works ask in it gets the verified merchant's own answer too.
    False when the message has no such ask, or the whole already was one."""
    text = (tracker.latest_message or {}).get("text") or ""
    if asks_capability(text):
        return False  # answered as a whole (answer_from_facts)
    ask = next((piece for piece in asks(text) if asks_capability(piece)), None)
    if ask is None:
        return False
    account = await verified_account(tracker, None)
    if account is None:
        return False
    explain_capability(dispatcher, tracker, account, ask, "restriction_can_collect_not_withdraw",
                       lead=f"另外，你问的“{ask}”：\n")
    return True


def explain_capability(dispatcher: CollectingDispatcher, tracker: Tracker,
                       account: AccountView, text: str, entry_id: str, lead: str = "") -> None:
    """What still works for this merchant, with the next step; asked again, short with
    the offer of a person (actions.capability)."""
    key = f"capability:{account.merchant_id[-2:]}:{question_kind(text)}"
    open_appeal = next((a for a in account.appeals if a.status.is_open), None)
    latest = account.latest_appeal
    facts = Capabilities(
        merchant=mask_merchant_id(account.merchant_id),
        can_collect=account.can_collect, can_withdraw=account.can_withdraw,
        appeal_id=open_appeal.id if open_appeal else None,
        appeal_days=open_appeal.working_days if open_appeal else 0,
        appeal_overdue=bool(open_appeal and open_appeal.overdue),
        rejected_last=open_appeal is None and latest is not None
        and latest.status == AppealStatus.rejected,
        appeal_said=bool(open_appeal) and times_said(tracker, STATUS_RESPONSES, open_appeal.id) > 0,
    )
    answer = capability_answer(text, facts, again=facts_said(tracker, key) >= 1)
    dispatcher.utter_message(text=lead + answer, **{FACT_METADATA: key, KB_METADATA: entry_id})


def explain_withdrawal(dispatcher: CollectingDispatcher, tracker: Tracker,
                       account: AccountView, entry_id: str) -> None:
    key = f"can_withdraw:{account.merchant_id[-2:]}"
    said = facts_said(tracker, key)
    metadata = {FACT_METADATA: key, KB_METADATA: entry_id}
    if said:
        response = "utter_funds_can_withdraw_again" if said % 2 == 1 \
            else "utter_funds_can_withdraw_person"
        dispatcher.utter_message(response=response, **metadata)
        return
    open_appeal = next((a for a in account.appeals if a.status.is_open), None)
    if account.can_collect:
        limit = "收款也还能用。"
    else:
        reason = REASON_SHORT.get(account.reason_code or "")
        # An appeal already under review: not "说我要申诉" again (just filed, often).
        then = f"，申诉 {open_appeal.id} 正在审核，通过后收款才能恢复，不用重复提交。" if open_appeal \
            else "，要恢复收款需要申诉，说“我要申诉”就行。"
        limit = "受限的是收款" + (f"（原因：{reason}）" if reason else "") + then
    dispatcher.utter_message(response="utter_funds_can_withdraw",
                             state_label=STATE_LABELS[account.status], limit=limit, **metadata)


async def answer_queue_wait(dispatcher: CollectingDispatcher, tracker: Tracker,
                            text: str) -> bool:
    """"还要等多久" while queued for a person: the place in the queue, not the review time."""
    if not QUEUE_WAIT.search(text) or NOT_QUEUE.search(text):
        return False
    channel, sender_id = sender_key(tracker)

    def work(session: Session) -> tuple[str, dict[str, Any]] | None:
        handoff = handoffs.open_handoff_for(session, channel, sender_id)
        if handoff is None or handoff.status != HandoffStatus.waiting:
            return None
        wait = handoffs.wait_for(session, handoff)
        return "waiting", {"ahead": wait.position - 1, "minutes": wait.minutes,
                           "online": 0 if wait.nobody_online else 1}

    try:
        standing = await run_in_session(work)
    except DatabaseUnavailable:
        return False
    if standing is None:
        return False
    _, values = standing
    from actions.handoff import say_place  # lazy: handoff imports this module

    say_place(dispatcher, "waiting", values)  # with nobody online, no minutes promised
    return True


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
        appeal_id = appeal_id_in(tracker)
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
        text = (tracker.latest_message or {}).get("text") or ""
        if purpose == "appeal_status" and not account.appeals and MONEY_IN_TRANSIT.search(text):
            # "提现记录一直显示处理中，啥时候到" reads like an appeal's "处理中" to the model;
            # with no appeal at all, it is the withdrawal.
            from actions.knowledge import answer_entry  # lazy: knowledge imports this

            if await answer_entry(dispatcher, tracker, "settlement_not_arrived"):
                return reset + verified
        if purpose == "appeal_status":
            answer_appeal_status(dispatcher, account, appeal_id, tracker)
            if tells_of_unknown_operation(text):
                # "这个申诉不是我交的，是不是有人用我的号": what to do about it, not only the status.
                from actions.knowledge import answer_entry  # lazy: knowledge imports this

                await answer_entry(dispatcher, tracker, "account_unknown_operation")
            return reset + verified
        if purpose == "appeal":
            allowed = self._prepare_appeal(dispatcher, account)
            return [SlotSet(FORM_STOP, None), SlotSet(SWITCH_TO, None), *verified,
                    SlotSet("appeal_allowed", allowed)]
        await tell_status(dispatcher, account, tracker)
        return reset + verified

    @staticmethod
    def _prepare_appeal(dispatcher: CollectingDispatcher, account: AccountView) -> bool:
        latest = account.latest_appeal
        if latest is not None and latest.status.is_open:
            # An overdue one is said to be overdue, with how to chase it.
            response = "utter_appeal_duplicate_overdue" if latest.overdue \
                else "utter_appeal_duplicate"
            dispatcher.utter_message(response=response, **latest.template_values())
            return False
        if latest is not None and latest.status == AppealStatus.rejected:
            dispatcher.utter_message(
                response="utter_appeal_rejected_before", **latest.template_values()
            )
        return True
