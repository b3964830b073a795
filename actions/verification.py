"""Identity check: merchant id + last 4 digits of the bound phone, before any data."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import (
    DatabaseUnavailable,
    latest_text,
    run_in_session,
    sender_key,
    session_events,
)
from actions.forms import FORM_STOP, MISSES, PAUSED_FORM, REPAIR_STATE, Answer, RepairingForm
from actions.knowledge import (
    PAYEE_MISMATCH,
    SWAPPED_CODE,
    answer_entry,
    answer_top_entry,
    asker_role,
    knowledge_of,
)
from actions.repair import EMERGENCIES, Said, role_of, safety_of
from core.answers import PHONE_NOT_MINE, is_question, read_phone_unavailable
from core.db import repository
from core.privacy import MOBILE_PHONE, mask_merchant_id
from core.text import to_simplified

logger = logging.getLogger(__name__)

MERCHANT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{10})(?!\d)")
LAST4 = re.compile(r"(?<![0-9A-Za-z])(\d{4})(?!\d)")
# Digits as people type them: "1900 0000 02", "1900-0000-02", "１９００　０００００２".
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d+(?:[ \t\-－—_]{1,2}\d+)*(?![0-9A-Za-z])")
GROUP = re.compile(r"\d+")
# Digits followed by one of these are an amount, a date or a count, not phone digits.
UNIT_AFTER = re.compile(
    r"\s*(块|元|万|千|百|w|k|年|月|日|号|天|笔|次|个|人|%|分|秒|小时|手续费|服务费|费|定金|押金"
    r"|保证金|多块|多元|左右|rmb)", re.IGNORECASE)
# ... and digits right after one of these are money ("收2800", "先转1400", "定金1400").
MONEY_BEFORE = re.compile(
    r"(收|转|付|交|给|打|汇|充|花|退|赔|欠|借|扣|罚|赚|卖|要|共|¥|￥|rmb|价格|金额|余额|费用|手续费"
    r"|定金|押金|保证金|工资|货款|提现|到账)(了|过)?\s*$", re.IGNORECASE)
# What introduces the phone's last digits: "尾号0002", "手机后四位是 0002", "绑定手机：0002";
# and what may follow them ("0003结尾").
PHONE_CUE_BEFORE = re.compile(
    r"(尾号|尾数|尾巴|后四位|后4位|末四位|末4位|最后四位|最后4位|手机号?码?|电话号?码?|号码)"
    # "手机尾号好像是0002吧", "尾号应该是0002": a hedge does not make them other digits.
    r"(的)?(后四位|后4位|尾号|尾数|尾巴|最后四位)?\s*(好像|应该|大概|可能|估计|记得)?"
    r"\s*(就是|是|为|系|係|喺)?\s*[:：=]?\s*$")
PHONE_CUE_AFTER = re.compile(r"^\s*(结尾|是尾号|是手机尾号|是后四位|是手机后四位)")
# Digits named as another number's ("订单尾号1234", "卡号后四位1234", "验证码1234",
# "尾号1234的订单") are never the phone's, even where the phone's were asked for.
OTHER_NUMBER_BEFORE = re.compile(
    r"(订单|单号|交易|流水|账单|发票|快递|运单|物流|包裹|工单|银行卡|信用卡|储蓄卡|(?<!手机)(?<!电话)卡"
    r"|身份证|证件|车牌|验证码|校验码|动态码|密码|取件码|取餐码|货号|型号|编号|批次)"
    r"(号码|号|编号|单号)?(的)?(尾号|尾数|尾巴|后四位|后4位|末四位|末4位|最后四位|最后4位|前四位|前4位)?"
    r"\s*(就是|是|为)?\s*[:：=#]?\s*$")
OTHER_NUMBER_AFTER = re.compile(
    r"^\s*(的|那|这)?(个|张|笔)?\s*(订单|单子|交易|银行卡|信用卡|卡|快递|包裹|发票|账单|工单)")
# A 10-digit number named as the service provider's own id is not a merchant id to check.
PROVIDER_ID_BEFORE = re.compile(
    r"(服务商号|服务商的?(商户号|账号|id|mchid)|服务商编号|sp号|sp_mchid)\s*(是|为|:|：)?\s*$",
    re.IGNORECASE)
# Only separators between the merchant id and the digits: "1900000002 0002", "…02，0002".
BETWEEN = re.compile(r"^[\s,，、。.;；:：/\-—～~]*$")
# What a message that is only the digits may hold besides them: "是0002", "0002。", "就是5678".
FILLER_ONLY = re.compile(
    r"^(就是|是|我的是|应该是|好的|好|嗯+|对的?|哦|噢|吧|啊|呀|呢|了|哈|谢谢|尾号|手机|[\s,，。.!！~～、])*$")
# Where the digits were asked for, a group that stands on its own is the answer ("继续吧 0004",
# "0002 第一句话就说了的"): not glued to the words around it ("2800是他要的钱").
LEAD_IN = re.compile(r"(^|[\s,，。.!！?？:：;；、(（\[【\-—]|就是|是|为)$")
TRAIL_OUT = re.compile(r"^([吧啊呀呢哦了的哈嘛]*)([\s,，。.!！?？;；、)）\]】~～]|$)")
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


@dataclass(frozen=True)
class _Digits:
    """A run of digits (groups joined) and where it stands in the text."""

    digits: str
    start: int
    end: int
    #: In the same run as the merchant id ("1900 0000 02 0002").
    with_id: bool = False


def _runs(plain: str) -> list[tuple[list[tuple[str, int, int]], bool]]:
    """The runs of digits in ``plain``, each as its groups (digits, start, end) and
    whether a unit follows ("2000块")."""
    runs = []
    for run in DIGIT_RUN.finditer(plain):
        groups = [(m.group(0), run.start() + m.start(), run.start() + m.end())
                  for m in GROUP.finditer(run.group(0))]
        runs.append((groups, bool(UNIT_AFTER.match(plain, run.end()))))
    return runs


def _joined(groups: list[tuple[str, int, int]], with_id: bool = False) -> _Digits:
    return _Digits("".join(g[0] for g in groups), groups[0][1], groups[-1][2], with_id)


def _phone_digits(plain: str, found: _Digits, id_span: tuple[int, int] | None,
                  asked: bool) -> bool:
    """Whether a 4-digit group is the phone's last 4 digits: introduced as such ("尾号"),
    next to the merchant id, the whole message, or (where the digits were asked for) a
    group on its own; never an amount ("收2800", "先转1400")."""
    before, after = plain[:found.start], plain[found.end:]
    if found.with_id:
        return True
    if OTHER_NUMBER_BEFORE.search(before[-16:]) or OTHER_NUMBER_AFTER.match(after):
        return False  # "订单尾号1234": an order's digits, whatever was asked
    if PHONE_CUE_BEFORE.search(before[-12:]) or PHONE_CUE_AFTER.match(after):
        return True
    if MONEY_BEFORE.search(before[-6:]):
        return False
    if id_span is not None:
        between = plain[id_span[1]:found.start] if id_span[1] <= found.start \
            else plain[found.end:id_span[0]]
        if BETWEEN.match(between):
            return True
    spans = [(found.start, found.end)] + ([id_span] if id_span is not None else [])
    if FILLER_ONLY.match(re.sub(r"商户号|商户", "", _without(plain, spans))):
        return True
    return asked and bool(LEAD_IN.search(before)) and bool(TRAIL_OUT.match(after))


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    kept, at = [], 0
    for start, end in sorted(spans):
        kept.append(text[at:start])
        at = max(at, end)
    kept.append(text[at:])
    return "".join(kept)


# Digits spelled out one by one ("尾号零零零四", "幺三八"): four or more in a row.
CHINESE_DIGITS = re.compile(r"[零〇幺一二三四五六七八九]{4,}")
DIGIT_OF = str.maketrans("零〇幺一二三四五六七八九", "001123456789")


def find_ids(text: str, asked_for_digits: bool = False) -> tuple[str | None, str | None]:
    """The merchant id (10 digits, also typed in groups) and the last 4 digits of the
    bound phone (4 digits, or an 11-digit mobile number, also in groups) in ``text``.
    Groups are joined only when they make exactly an id or a phone: "1900000002 0002"
    is an id and its phone digits, "138 0000 0002" a phone, "2024-11-20" and "2000块"
    neither. Four digits are the phone's only when introduced as such ("手机尾号0002"),
    next to the merchant id, alone in the message, or, with ``asked_for_digits`` (the
    step asked for them), standing on their own ("继续吧 0004"); an amount ("收2800手续费，
    先转一半"), a date, an appeal number or 95017 never are."""
    plain = to_simplified(unicodedata.normalize("NFKC", text or ""))  # "手機尾數係0002"
    plain = CHINESE_DIGITS.sub(lambda m: m.group(0).translate(DIGIT_OF), plain)  # "零零零四"
    merchant_id: str | None = None
    id_span: tuple[int, int] | None = None
    rest: list[_Digits] = []
    for groups, amount in _runs(plain):
        if amount:
            continue
        found = None
        if merchant_id is None and not PROVIDER_ID_BEFORE.search(plain[:groups[0][1]][-12:]):
            found = next(((start, end) for start in range(len(groups))
                          for end in range(start + 1, len(groups) + 1)
                          if len("".join(g[0] for g in groups[start:end])) == 10), None)
        if found is None:
            rest.append(_joined(groups))
            continue
        start, end = found
        merchant_id = "".join(g[0] for g in groups[start:end])
        id_span = (groups[start][1], groups[end - 1][2])
        rest.extend(_joined(part, with_id=True) for part in (groups[:start], groups[end:]) if part)
    last4 = next((found.digits[-4:] for found in rest
                  if (len(found.digits) == 11 and MOBILE_PHONE.fullmatch(found.digits))
                  or (len(found.digits) == 4
                      and _phone_digits(plain, found, id_span, asked_for_digits))), None)
    return merchant_id, last4


def extract_last4(value: str) -> str | None:
    """The phone digits in ``value`` where they were asked for (actions.handoff passes the
    text with the merchant id cut out): a mobile number, or 4 digits that stand on their
    own; never an amount."""
    phone = MOBILE_PHONE.search(value)
    if phone:
        return phone.group(0)[-4:]
    return find_ids(value, asked_for_digits=True)[1]


PURPOSE_ACK = {
    "check_account_status": "utter_purpose_status",
    "report_account_abnormal": "utter_purpose_status",
    "submit_appeal": "utter_purpose_appeal",
    "check_appeal_status": "utter_purpose_appeal_status",
}
# The identity check's result for this turn, read by required_slots (which must not
# touch the database: rasa-sdk calls it several times a turn). Not a domain slot.
IDENTITY_DONE = "__identity_done"
# This turn starts the check for a sender whose ids passed in the message before.
JUST_VERIFIED = "__just_verified"

# People who are not the merchant (actions.repair.role_of): what they can do instead
# of an identity check. The knowledge base's own answer when it is one of their family,
# else by what they asked for.
ROLE_FAMILIES = {
    "hong_kong": ("wechat_pay_hk",),
    "service_provider": ("sp_", "dev_sub_merchant_error"),
    "developer": ("dev_",),
    "personal": ("no_merchant_id", "appeal_personal_account", "reason_personal_code_business"),
    "staff": ("staff_collection_notice", "staff_tell_owner", "collection_voice_broadcast",
              "face_to_face_ok", "customer_cannot_pay",
              "customer_credit_card_failed", "payment_not_received", "refund_to_customer"),
}
def declined_check(tracker: Tracker) -> bool:
    """The merchant cancelled the identity check earlier in this session."""
    loop = None
    for event in tracker.events:
        kind = event.get("event")
        if kind == "session_started":
            loop = None
        elif kind == "active_loop":
            loop = event.get("name") or loop
        elif kind == "slot" and event.get("name") == FORM_STOP and \
                event.get("value") == "cancelled" and loop == "verify_form":
            return True
    return False


async def answer_in_general(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The knowledge entry that fits the question best, told in general (no account)."""
    if not await answer_top_entry(dispatcher, tracker):
        return False
    say(dispatcher, "own_on_request")
    return True


# Who said earlier they have no mainland merchant id: never asked for one later.
NO_MAINLAND_ID = ("personal", "hong_kong")
# Said earlier in the session, these hold no merchant id of their own to check.
NO_ID_ROLES = (*NO_MAINLAND_ID, "payer", "staff")
APPEAL_WORDS = re.compile(r"申诉|解封|解除")
RESTRICTED_WORDS = re.compile(r"限制|限了|冻结|冻了|风控|收不了|封了|管控")


def phone_unavailable_told(tracker: Tracker) -> bool:
    """Whether a message of this session said the bound phone is not the sender's
    ("我们这边没有他预留的手机号")."""
    return any(read_phone_unavailable(str(e.get("text") or "")) == "not_mine"
               for e in session_events(tracker) if e.get("event") == "user")


def role_entry(role: str, text: str, purpose: str | None,
               knowledge: dict[str, Any]) -> str | None:
    """The knowledge entry that tells ``role`` what they can do (None for staff unless
    they asked one of their own questions: ``TEXTS["staff"]`` says what they can do)."""
    if role == "payer":
        return "payer_replaced_code_recover" if SWAPPED_CODE.search(text) else \
            "scam_qr_replaced" if PAYEE_MISMATCH.search(text) else "payer_payment_failed"
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
    if role == "staff":
        return None
    return "wechat_pay_hk"


# What the identity check says beyond domain.yml's responses; each message carries its
# key in the metadata (``IDENTITY_REPLY``), as responses carry ``utter_action``.
IDENTITY_REPLY = "identity_reply"
TEXTS = {
    "own_on_request": "这是一般情况。想查你自己账户的，随时说“查账户”。",
    # The same whether the merchant id exists or not.
    "failed": "商户号或手机号后4位对不上。请核对一下：只是后4位记错了，直接发后4位；商户号也要改的话，"
              "把商户号和后4位用空格隔开一起发。换过手机号的，要用商户绑定的那个号；"
              "想不起来可以打微信支付客服95017，由人工核实身份。",
    "failed_again": "还是对不上。确认一下是不是商户绑定的那个手机号；实在想不起来，打95017由人工核实身份，"
                    "或者说“转人工”。",
    "failed_more": "后4位还是对不上。再错几次，为了账户安全会暂停查询一小时。建议用绑定的手机号打95017核实，"
                   "或者说“转人工”。",
    "ask_digits": "要查这个商户号的情况，再发一下商户绑定手机号的后4位。",
    "no_phone_again": "明白，没有绑定手机号就先不核对了。要查这个商户号，请绑定手机的人来核对，"
                      "或者打95017；其他问题直接问我就行。",
    "staff_again": "明白，那就先不核对了。店里的账户要老板本人来查，或者打95017；顾客怎么付、"
                   "要跟老板说什么，可以直接问我。",
    "provider_again": "服务商号本身我这边确实查不了：请登录服务商平台看通知和记录，或者打95017报服务商号问人工。",
    "already_verified": "身份已经核对好了，账户情况就在上面。还想了解什么，直接问我。",
    "no_phone": "没有绑定手机号的后4位，我这边核对不了身份，也就查不了这个商户号。可以这样：\n"
                "1. 请绑定这个手机号的人（一般是老板或商户本人）来这里核对；\n"
                "2. 能登录微信支付商家助手或商户平台的人，可以直接在里面看账户状态和风险处理记录；\n"
                "3. 拨打微信支付客服95017，由人工核实身份。\n"
                "拿到后4位，随时连同商户号一起发给我。其他问题不用核对，直接问我就行。",
    "forgot": "想不起绑定的手机号，可以这样找：\n"
              "1. 翻翻开户时收到的短信或邮件，看发到了哪个号；\n"
              "2. 能登录微信支付商户平台的话，在账户中心的商户信息里能看到或换绑联系手机（以页面为准）；\n"
              "3. 拨打95017，由人工核实身份后协助查询（准备好营业执照、法人身份证）。\n"
              "想起来了，把商户号和后4位一起发给我就行。其他问题不用核对，直接问我。",
    "third_party": "这个商户号不是你本人的，账户情况我不能告诉你，即使有绑定手机号的后4位也不行：账户信息只给"
                   "商户本人或店里替老板办事的人看。一般这样处理，可以转告他：\n"
                   "1. 他本人打开“微信支付商家助手”→风险处理，看被限制的原因和要补的材料；\n"
                   "2. 按页面提示提交申诉，附上真实交易的凭证；\n"
                   "3. 着急的话他本人打95017，或者来这里自己核对身份后查。\n"
                   "说能花钱帮忙解封的都是骗子。",
    "third_party_again": "别人的商户号我这边不能替你查，请老板本人来核对，或者他打95017。其他问题可以直接问我。",
    "who_can_check": "要在这里查这个商户号，需要商户绑定手机号的后4位，一般只有老板或商户本人知道："
                     "请他本人来核对，或者打95017。",
    "staff": "你是店里的员工的话，不用核对身份，先这样处理：\n"
             "1. 看顾客手机上的提示：写着“商家收款受限”“暂无法支付”，是店里的账户被限制了，换码也没用，"
             "先请顾客用现金等别的方式付；提示限额、余额不足，是顾客那边的问题，让他换张卡或用零钱；\n"
             "2. 别用自己的个人收款码替店里收钱，容易被当成出借收款码而受限；\n"
             "3. 尽快告诉老板，请他在“微信支付商家助手”→风险处理里看原因、提交申诉，急的话老板本人打95017。\n"
             "要查店里账户的具体状态，需要商户号和老板绑定手机号的后4位；老板告诉你了，直接发给我就行。",
    "staff_check": "查店里的账户要先核对身份：商户号和老板绑定手机号的后4位。老板告诉过你的话，"
                   "先发商户号给我；不方便的话，请老板本人来查，或者打95017。",
    "provider_account": "服务商号本身的情况我这边查不了，我只能核对和查询商户号（包括子商户）的状态。可以这样看：\n"
                        "1. 用服务商号登录微信支付服务商平台，看站内通知和违约、风险处理相关的记录（菜单以页面为准），"
                        "处罚一般也会发通知；\n"
                        "2. 名下很多子商户同时受限，不一定是服务商本身被处罚，先排查它们的共性原因；\n"
                        "3. 拿不准就打95017，报服务商号问人工。",
}
# "服务商自己的号", "我们服务商号本身": the provider's own account, not a sub-merchant's.
PROVIDER_ACCOUNT = re.compile(
    r"服务商(自己|本身|自身)|服务商(号|账号|账户|商户号|主体)(本身|自己|自身)"
    r"|服务商(号|账号|账户|主体)?(有没有|是不是|是否)?(被)?(处罚|处置|违约|封|限制)"
    r"|(我们|我)(自己)?的服务商(号|账号|账户)")
# What a message asks that needs the account's own data (a staff member is told who
# can pass the check); a report or a question is answered without it.
DATA_INTENTS = {"check_account_status", "check_appeal_status", "submit_appeal"}
# Intents that start the identity check themselves: ids in them are the form's.
FORM_STARTERS = {"check_account_status", "report_account_abnormal", "submit_appeal",
                 "check_appeal_status", "inform"}
# The last bot turn asked for the phone digits: a bare "就是5678" answers it.
DIGITS_ASKED = {"utter_ask_phone_last4", "utter_remind_phone_last4", "utter_hint_phone_last4",
                "utter_forgot_phone"}
DIGITS_ASKED_TEXTS = {"failed", "failed_again", "failed_more", "ask_digits"}
FAILED_TEXTS = ("failed", "failed_again", "failed_more")
# Said again in a session: the short version instead of the same block.
AGAIN = {"staff": "staff_again", "no_phone": "no_phone_again", "forgot": "no_phone_again",
         "third_party": "third_party_again",
         "who_can_check": "no_phone_again", "provider_account": "provider_again"}
# The way on without the bound phone was said.
WAYS_ON = ("no_phone", "forgot", "who_can_check", "no_phone_again")


def say(dispatcher: CollectingDispatcher, key: str, tracker: Tracker | None = None) -> None:
    """One of ``TEXTS``; with ``tracker``, its short version if it was said in this
    session already (never the same block twice)."""
    if tracker is not None and key in AGAIN and any(
            (event.get("metadata") or {}).get(IDENTITY_REPLY) in (key, AGAIN[key])
            for event in _turns(tracker) if event.get("event") == "bot"):
        key = AGAIN[key]
    dispatcher.utter_message(text=TEXTS[key], **{IDENTITY_REPLY: key})


def about_provider_account(text: str) -> bool:
    return bool(PROVIDER_ACCOUNT.search(text))


def _turns(tracker: Tracker) -> list[dict[str, Any]]:
    """This session's events, newest first."""
    events = []
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        events.append(event)
    return events


def _last_bot_turn(tracker: Tracker) -> list[dict[str, Any]]:
    """The bot messages between the previous user message and the latest one."""
    said, users = [], 0
    for event in _turns(tracker):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                break
        elif event.get("event") == "bot" and users == 1:
            said.append(event.get("metadata") or {})
    return said


def digits_were_asked(tracker: Tracker) -> bool:
    """The last bot turn asked for the phone digits (or said they did not match), or the
    identity check paused at that step in the last bot turn: "就是5678", "继续吧 0004"
    answer it. A check paused turns ago asked nothing of this message ("我这边有一笔 1234
    没到账" is no answer, and no failed check)."""
    for metadata in _last_bot_turn(tracker):
        if metadata.get("utter_action") in DIGITS_ASKED or \
                metadata.get(IDENTITY_REPLY) in DIGITS_ASKED_TEXTS:
            return True
    # (Paused with the id known: the digits were next. This message's own digits are
    # already in the slot, from Rasa's mapping.)
    return tracker.get_slot(PAUSED_FORM) == "verify_form" and \
        bool(tracker.get_slot("merchant_id")) and _paused_in_last_bot_turn(tracker)


def _paused_in_last_bot_turn(tracker: Tracker) -> bool:
    """The identity check paused between the previous user message and the latest."""
    users = 0
    for event in _turns(tracker):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                break
        elif users == 1 and event.get("event") == "slot" and \
                event.get("name") == PAUSED_FORM and event.get("value") == "verify_form":
            return True
    return False


def typed_now(tracker: Tracker, value: Any) -> bool:
    """Whether the phone digits ``value`` (a slot value: the digits, a phone number, or a
    list of them from several entities) are the phone's digits in the latest message, as
    the check reads them there."""
    last4 = find_ids(latest_text(tracker), asked_for_digits=digits_were_asked(tracker))[1]
    values = value if isinstance(value, list) else [value]
    return last4 is not None and any(str(v or "")[-4:] == last4 for v in values)


def failures_said(tracker: Tracker) -> int:
    return sum(1 for event in _turns(tracker) if event.get("event") == "bot"
               and (event.get("metadata") or {}).get(IDENTITY_REPLY) in FAILED_TEXTS)


def typed_as_merchant_id(tracker: Tracker, merchant_id: str) -> bool:
    """Whether ``merchant_id`` (a candidate kept from an earlier message) was typed as a
    merchant id there, not as a service provider's id ("服务商号是1600001111")."""
    for event in _turns(tracker)[1:]:
        if event.get("event") != "user":
            continue
        text = str(event.get("text") or "")
        if find_ids(text)[0] == merchant_id:
            return True
        if merchant_id in re.sub(r"\D", "", unicodedata.normalize("NFKC", text)):
            return False
    return True


def check_identity(channel: str, sender_id: str, merchant_id: str, last4: str) -> Any:
    """"ok", "failed", "locked" (this sender) or "merchant_locked" (this merchant id,
    after failures from any senders); failures are counted as every check counts them."""

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

    return run_in_session(work)


def say_result(dispatcher: CollectingDispatcher, tracker: Tracker, result: str,
               merchant_id: str) -> None:
    """What the check's result is to the merchant (a failure: once in full with what to
    do, then shorter; five in an hour lock the sender, as always)."""
    if result == "ok":
        dispatcher.utter_message(response="utter_verified",
                                 verified_merchant=mask_merchant_id(merchant_id))
    elif result == "failed":
        failures = failures_said(tracker)
        say(dispatcher, "failed" if not failures else
            ("failed_again" if failures % 2 == 1 else "failed_more"))
    elif result == "merchant_locked":
        dispatcher.utter_message(response="utter_verify_merchant_locked")
    else:
        dispatcher.utter_message(response="utter_verify_locked")


async def verify_inline(dispatcher: CollectingDispatcher, tracker: Tracker,
                        entry_id: str | None = None, status: bool = False) -> bool:
    """A merchant id and the phone digits typed outside the identity check (in a question,
    before any check was asked, after the check paused) are used: the check runs on them
    once, before the answer (``entry_id``, the entry about to be said). Only a merchant
    id: the digits are asked for, and the answer follows; with "没有他手机号", the way on
    without them. "没有他手机号" said again after that: a short acknowledgement. Called
    first by the answers (actions.account.answer_from_facts); a caller that has no
    answer of its own (the fallback) passes ``status``.

    True when what was said is the whole answer: the check failed or was refused, or it
    passed and the message asked nothing else (or ``status``): the account's state; with
    ``status``, whatever was said. False when the question still needs its answer (after
    "身份核对通过" and the state, or the question for the digits)."""
    if tracker.active_loop_name in ("verify_form", "handoff_form") or any(
            m.get(IDENTITY_REPLY) or m.get("response") == "utter_verified"
            for m in dispatcher.messages):
        return False  # the forms read ids themselves; and only one check per message
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    if intent in FORM_STARTERS:
        return False  # the identity check starts next and takes them
    text = latest_text(tracker)
    safety = safety_of(text)
    asked = digits_were_asked(tracker)
    if safety in EMERGENCIES or (
            (entry_id or "").startswith("scam_") and (safety or not asked)):
        return False  # stop, 95017, the password (or the warning) first; the check can wait
    merchant_id, last4 = find_ids(text, asked_for_digits=asked)
    if merchant_id is None and last4 and asked:
        merchant_id = tracker.get_slot("merchant_id")
    if merchant_id is None:
        if read_phone_unavailable(text) == "not_mine" and any(
                event.get("event") == "bot" and (event.get("metadata") or {}).get(IDENTITY_REPLY)
                in WAYS_ON for event in _turns(tracker)):
            say(dispatcher, "no_phone_again")
            # "我刚说了没有他手机号！！你就说要准备啥材料": the question still gets its answer.
            return not is_question(text)
        return False
    if speaks_for_someone_else(tracker):
        say(dispatcher, "third_party", tracker)
        return True
    channel, sender_id = sender_key(tracker)
    try:
        identity = await load_identity(channel, sender_id)
        if identity.merchant_id:
            return False  # already verified ("换个商户号" switches)
        if last4 is None:
            if identity.locked:
                return False
            if read_phone_unavailable(text) == "not_mine":
                if not role_of(text):
                    say(dispatcher, "no_phone", tracker)  # the whole way on
                    return True
                say(dispatcher, "who_can_check", tracker)  # their own answer follows
                return status
            if not role_of(text):
                say(dispatcher, "ask_digits")
                return status
            return False
        result = await check_identity(channel, sender_id, merchant_id, last4)
    except DatabaseUnavailable:
        return False  # the general answer still helps
    say_result(dispatcher, tracker, result, merchant_id)
    if result != "ok":
        return True
    from actions.account import load_account, state_line, tell_status  # lazy: a cycle

    try:
        account = await load_account(merchant_id, None)
    except DatabaseUnavailable:
        return False
    if account is None:
        return False
    if status or not Said(text=text).is_question:
        await tell_status(dispatcher, account, tracker)
        return True
    state_line(dispatcher, account)
    return False


# "这不是我的 是我隔壁老王的店", "帮朋友查一下他的商户": someone asking about a merchant
# they do not work for. Staff and family helping the owner ("老板让我问") are the merchant's.
SOMEONE_ELSES = re.compile(
    r"(这|那|它)(个|家)?(店|商户号?|账户|号)?(不是|并不是)我(自己)?的(?![错事问])"
    r"|不是我(自己)?的(店|商户|账户|号)"
    r"|(帮|替)(朋友|邻居|隔壁|别人|他人|人家)[^，。,.？?]{0,4}(查|问|看)"
    r"|(朋友|邻居|隔壁|别人|他人)(老.|家)?的(店|商户号?|账户)[^，。？?]{0,10}(查|看|帮)")

MY_BOSS = re.compile(r"我(们)?(的)?(老板|店主|老板娘|东家)|我们(店|公司|家店)")


def speaks_for_someone_else(tracker: Tracker) -> bool:
    """Said in this session that the merchant asked about is someone else's (not the
    shop they work for): that merchant's account is never shown to them."""
    texts = [str(e.get("text") or "") for e in _turns(tracker) if e.get("event") == "user"]
    return any(SOMEONE_ELSES.search(t) for t in texts) and \
        not any(role_of(t) == "staff" or MY_BOSS.search(t) for t in texts)


def remembered_id(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The merchant id of a question that was answered with "再发一下后4位" outside the
    check (verify_inline): kept in its slot, so the digits sent next complete the check
    instead of starting it over ("请告诉我你的商户号"). The stored text is masked later, so
    the id is read now."""
    if not any(m.get(IDENTITY_REPLY) == "ask_digits" for m in dispatcher.messages):
        return []
    merchant_id, _ = find_ids(latest_text(tracker), asked_for_digits=digits_were_asked(tracker))
    return [SlotSet("merchant_id", merchant_id)] if merchant_id else []


class ValidateVerifyForm(RepairingForm):
    """Asks for the merchant id and phone digits unless this sender is already bound.

    Both are read at every step ("1900000002" at the phone step is the id, said again
    or corrected). When both are known the check runs once; a failure keeps the id and
    asks for the digits, with the same answer whether the merchant id exists or not, so
    a restated "就是5678" is checked (and counted) again. Someone without the bound
    phone ("没有他手机号") is told the way on without it, never asked again.
    """

    answers_other_asks = True
    slot_words = {
        "merchant_id": re.compile(r"商户号|商户id|账号"),
        "phone_last4": re.compile(r"手机|电话|后四位|后4位|尾号"),
    }
    skip_words = {"merchant_id": DONT_KNOW,
                  "phone_last4": re.compile(f"{FORGOT_PHONE.pattern}|{PHONE_NOT_MINE.pattern}")}
    pause_response = "utter_pause_verify_form"
    asks_who = True
    whole_message_slots = frozenset({"merchant_id", "phone_last4"})
    any_step_slots = frozenset({"merchant_id", "phone_last4"})

    def name(self) -> str:
        return "validate_verify_form"

    def is_stopped(self, tracker: Tracker) -> bool:
        return bool(tracker.slots.get(IDENTITY_DONE))

    async def prepare(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        channel, sender_id = sender_key(tracker)
        starting = tracker.get_slot("requested_slot") is None
        try:
            if starting and SWITCH_MERCHANT.search(latest_text(tracker)):
                await self._unbind(dispatcher, channel, sender_id)
            identity = await load_identity(channel, sender_id)
            typed_id = find_ids(latest_text(tracker))[0] if starting else None
            if identity.merchant_id and typed_id and typed_id != identity.merchant_id:
                # "不对 这是我表哥的店 我自己的是1900-0000-04": another merchant id typed
                # while verified is a switch, checked with its own digits.
                await self._unbind(dispatcher, channel, sender_id)
                identity = await load_identity(channel, sender_id)
        except DatabaseUnavailable:
            identity = None  # action_after_verification tells the merchant
        done = identity is None or bool(identity.merchant_id or identity.locked)
        tracker.slots[IDENTITY_DONE] = done
        if done and identity is not None and identity.merchant_id:
            # Already verified: ids typed earlier are not checked (or counted) again.
            resumed = ((tracker.latest_message or {}).get("intent") or {}).get("name") == "affirm"
            tracker.slots[JUST_VERIFIED] = starting and resumed and any(
                m.get("utter_action") == "utter_verified" for m in _last_bot_turn(tracker))
            return {"merchant_id": None, "phone_last4": None}
        return self._earlier_candidates(tracker) if starting and not done else {}

    @staticmethod
    def _earlier_candidates(tracker: Tracker) -> dict[str, Any]:
        """At the start of the check, what Rasa kept from earlier messages (its slot
        mappings fill the slots from any message, and its form offers them again at
        activation as if just extracted): the phone digits count only when this message
        holds them as the phone's ("订单尾号1234" three messages ago is no answer); an
        earlier merchant id only if it was typed as one."""
        fresh = tracker.slots_to_validate()
        values: dict[str, Any] = {}
        last4 = tracker.get_slot("phone_last4")
        if last4 and ("phone_last4" not in fresh or not typed_now(tracker, last4)):
            values["phone_last4"] = None
        merchant_id = tracker.get_slot("merchant_id")
        if merchant_id and "merchant_id" not in fresh and \
                not typed_as_merchant_id(tracker, merchant_id):
            values["merchant_id"] = None
        return values

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

    async def _repair_or_take(
        self, requested: str, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        if speaks_for_someone_else(tracker):
            # "我说了不是我的号！！别问商户号了": the check ends, with what the owner can do.
            return self._ended(dispatcher, tracker, "third_party")
        return await super()._repair_or_take(requested, dispatcher, tracker, domain)

    async def parse_merchant_id(self, said: Said, tracker: Tracker) -> Answer | None:
        merchant_id, _ = find_ids(said.text)
        return Answer(merchant_id) if merchant_id else None

    async def parse_phone_last4(self, said: Said, tracker: Tracker) -> Answer | None:
        asked = tracker.get_slot("requested_slot") == "phone_last4"
        _, last4 = find_ids(said.text, asked_for_digits=asked)
        return Answer(last4) if last4 else None

    async def on_start(
        self, said: Said, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """The message that asked for the check: ids anywhere in it are taken (also
        typed in groups, "1900 0000 02", which Rasa's entities miss); someone who is not
        the merchant ("我是服务商，帮子商户查一下") gets what they can do instead of the
        check, a staff member asking for the account's data is told who can pass it, and
        someone without the bound phone ("子商户号1900000002，我没有他手机号") the way on
        without it."""
        if tracker.slots.get(IDENTITY_DONE):
            if tracker.slots.get(JUST_VERIFIED) and \
                    tracker.get_slot("lookup_purpose") in (None, "status"):
                # "继续" right after the ids passed and the state was shown: not twice.
                say(dispatcher, "already_verified")
                return {FORM_STOP: "done"}
            return {}
        merchant_id, last4 = find_ids(said.text)
        values: dict[str, Any] = {}
        if merchant_id:
            values["merchant_id"] = merchant_id
        if last4:
            values["phone_last4"] = last4
        known_id = merchant_id or tracker.get_slot("merchant_id")
        role = role_of(said.text)
        if role is None and not known_id and asker_role(tracker) in NO_ID_ROLES:
            # "我不是商家……" earlier, "帮我查账户状态" now: there is no id to ask for.
            role = asker_role(tracker)
        if role == "service_provider" and about_provider_account(said.text):
            return self._ended(dispatcher, tracker, "provider_account")
        if not known_id and not last4 and said.is_question and declined_check(tracker) \
                and await answer_in_general(dispatcher, tracker):
            # "取消" earlier, "申诉两周没结果正常吗" now: the general answer, no check again.
            return {"merchant_id": None, "phone_last4": None, FORM_STOP: "declined",
                    REPAIR_STATE: None, MISSES: 0.0}
        if not (last4 or tracker.get_slot("phone_last4")) and (
                read_phone_unavailable(said.text) == "not_mine"
                or (known_id and not merchant_id and phone_unavailable_told(tracker))):
            # "我们这边没有他预留的手机号" said before: never asked for the digits again.
            return await self._without_digits(role or asker_role(tracker), dispatcher, tracker)
        if speaks_for_someone_else(tracker):
            # Someone else's shop: never asked for "your" merchant id, with or without one.
            return self._ended(dispatcher, tracker, "third_party")
        if role and not known_id:
            intent = said.intent or ""
            if role == "staff" and intent in DATA_INTENTS:
                say(dispatcher, "staff_check")
                return {**values, REPAIR_STATE: "quiet"}
            return await self.on_not_merchant(role, dispatcher, tracker)
        return values

    @staticmethod
    def _ended(dispatcher: CollectingDispatcher, tracker: Tracker, key: str) -> dict[str, Any]:
        """The check ends with what was said: nothing to ask again."""
        say(dispatcher, key, tracker)
        return {"merchant_id": None, "phone_last4": None, FORM_STOP: "not_merchant",
                REPAIR_STATE: None, MISSES: 0.0}

    async def on_not_merchant(
        self, role: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """A service provider, developer, staff member, personal user or WeChat Pay HK
        merchant: no identity check to loop on. Before a handoff the person is queued
        without it; otherwise the check ends with what they can do (and, when they asked
        about a merchant id, who can pass the check)."""
        text = latest_text(tracker)
        if tracker.get_slot("lookup_purpose") == "handoff":
            return self._to_person(dispatcher, tracker)
        if role == "service_provider" and about_provider_account(text):
            return self._ended(dispatcher, tracker, "provider_account")
        if tracker.get_slot("merchant_id") or read_phone_unavailable(text) == "not_mine":
            return await self._without_digits(role, dispatcher, tracker)
        entry_id = role_entry(role, text, tracker.get_slot("lookup_purpose"),
                              knowledge_of(tracker))
        if role == "staff" and entry_id is None:
            return self._ended(dispatcher, tracker, "staff")
        if entry_id is None or not await answer_entry(dispatcher, tracker, entry_id):
            dispatcher.utter_message(response="utter_verify_not_merchant")
        elif role == "staff":
            say(dispatcher, "who_can_check")
        return {"merchant_id": None, "phone_last4": None, FORM_STOP: "not_merchant",
                REPAIR_STATE: None, MISSES: 0.0}

    @staticmethod
    def _to_person(dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        """Before a handoff: the person is queued without the check."""
        dispatcher.utter_message(response="utter_verify_not_needed_for_person")
        tracker.slots[IDENTITY_DONE] = True
        return {"merchant_id": None, "phone_last4": None, "handoff_verify": False}

    async def _without_digits(
        self, role: str | None, dispatcher: CollectingDispatcher, tracker: Tracker,
        forgot: bool = False,
    ) -> dict[str, Any]:
        """No bound phone at hand: the way on without it (the phone's holder, 95017, the
        merchant's own platform; for a service provider or developer their own entry
        first), and the check ends: never the same question again."""
        if tracker.get_slot("lookup_purpose") == "handoff":
            return self._to_person(dispatcher, tracker)
        if speaks_for_someone_else(tracker):
            return self._ended(dispatcher, tracker, "third_party")
        entry_id = role_entry(role, latest_text(tracker), tracker.get_slot("lookup_purpose"),
                              knowledge_of(tracker)) if role else None
        if entry_id and role != "personal" and await answer_entry(dispatcher, tracker, entry_id):
            return self._ended(dispatcher, tracker, "who_can_check")
        return self._ended(dispatcher, tracker, "forgot" if forgot else "no_phone")

    async def skip_merchant_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        role = asker_role(tracker)
        if role in ("staff", "service_provider", "developer"):
            return await self.on_not_merchant(role, dispatcher, tracker)
        dispatcher.utter_message(response="utter_where_merchant_id")
        return {}

    async def skip_phone_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """"没有他手机号": the way on without it at once; "忘了": where to find it, and
        the second time the way on without it (not the same answer again)."""
        reading = read_phone_unavailable(latest_text(tracker))
        role = asker_role(tracker)
        if reading == "not_mine" or role in ("staff", "service_provider", "developer"):
            return await self._without_digits(role, dispatcher, tracker)
        if any(m.get("utter_action") == "utter_forgot_phone" for m in self._said(tracker)):
            return await self._without_digits(None, dispatcher, tracker, forgot=True)
        dispatcher.utter_message(response="utter_forgot_phone")
        return {}

    @staticmethod
    def _said(tracker: Tracker) -> list[dict[str, Any]]:
        return [event.get("metadata") or {} for event in _turns(tracker)
                if event.get("event") == "bot"]

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
        if not (merchant_id and last4) or tracker.slots.get(IDENTITY_DONE):
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
        cleared = {"merchant_id": None, "phone_last4": None}
        try:
            result = await check_identity(channel, sender_id, merchant_id, last4)
        except DatabaseUnavailable:
            return cleared, True
        if result == "locked":
            return cleared, True  # action_after_verification says so
        say_result(dispatcher, tracker, result, merchant_id)
        if result == "ok":
            # The candidates are spent: the binding in the database is what counts now.
            return {"verified_merchant": mask_merchant_id(merchant_id), **cleared}, True
        if result == "failed":
            # The id is kept and the digits asked for by the message itself: a restated
            # "就是5678" is checked again; a new id replaces this one.
            return {"phone_last4": None, REPAIR_STATE: "quiet"}, False
        return cleared, True
