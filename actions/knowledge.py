"""Answers from the knowledge base.

The rasa server's knowledge matcher (``addons.nlu.knowledge_matcher``) decides which entry
a message gets; this action says it: the variant for the verified merchant's own case
when the entry has one, never the same entry twice in a session (a follow-up gets a more
specific entry, or a short acknowledgement with the next steps), and "你是想问：" choices
when the matcher was unsure. Entries are read from the merchant database at every answer,
so a published edit is answered at once; with the database down, from the reviewed files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
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
from core.dates import is_overdue
from core.db import repository
from core.db.models import utcnow
from core.knowledge import store
from core.knowledge.decision import ANSWER, INTENT_ENTRIES, PLATFORM_ENTRIES, SUGGEST
from core.knowledge.entries import Entry, KnowledgeError, load_directory

logger = logging.getLogger(__name__)

KB_ENTITY = "kb_entry"
KB_METADATA = "knowledge_entry"
# out_of_scope with another platform or a bank: the entry that says where it belongs.
MAX_TITLE = 24
HK_ENTRY = "wechat_pay_hk"
HK_NEUTRAL_TAGS = frozenset({"safety", "bot", "redirect"})
# "要我帮你提交申诉，就说“我要申诉”；": the sentence (or clause) offering to file one.
APPEAL_OFFER = re.compile(r"[^。；！\n]*“我要申诉”[^。；！\n]*[。；！]?")
# Who cannot file a merchant's appeal here: the offer is left out of their answers.
NOT_FILERS = frozenset({"service_provider", "developer", "payer", "staff"})
APPEAL_UNDER_REVIEW = "你已经有申诉在审核中，不用重复提交；说“查申诉进度”看最新状态。"
HK_AGAIN = ("WeChat Pay HK的结算、限制和客服问题，规则和内地不同，我这边查不到，"
            "请直接联系WeChat Pay HK的商户客服。内地微信支付商户号的问题可以接着问我。")
# "打95017得唔得？" / "客服电话多少" from a HK merchant: the phone question answered as asked.
HK_PHONE_ASK = re.compile(r"95017|电话|電話|熱線|热线|打(过去|去)?客服")
HK_95017 = ("95017是中国内地微信支付的客服电话，查不到也处理不了WeChat Pay HK的账户，打过去多半帮不上。"
            "请用WeChat Pay HK钱包里的客服入口，或它官网公布的商户客服电话。")
HK_PHONE = ("WeChat Pay HK的商户客服电话，以WeChat Pay HK官网或钱包里公布的为准；"
            "内地微信支付的热线管不到HK的账户。")


def knowledge_of(tracker: Tracker) -> dict[str, Any]:
    return (tracker.latest_message or {}).get("knowledge") or {}


def _entity(tracker: Tracker, name: str) -> str | None:
    entities = (tracker.latest_message or {}).get("entities") or []
    return next((str(e.get("value")) for e in entities if e.get("entity") == name), None)


def chosen_entry_id(tracker: Tracker) -> str | None:
    """The entry this message gets: a chosen "did you mean" button, the matcher's answer,
    the informational intent's own entry, or where another platform's question belongs."""
    chosen = _entity(tracker, KB_ENTITY)
    if chosen:
        return chosen
    knowledge = knowledge_of(tracker)
    if knowledge.get("decision") == "answer" and knowledge.get("entry_id"):
        return str(knowledge["entry_id"])
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    if intent == "out_of_scope":
        return PLATFORM_ENTRIES.get(_entity(tracker, "other_platform") or "")
    return INTENT_ENTRIES.get(intent or "")


@cache
def _file_entries() -> dict[str, Entry]:
    return {entry.id: entry for entry in load_directory()}


async def load_entries(ids: list[str]) -> dict[str, Entry]:
    """The published entries ``ids`` from the database, else from the reviewed files."""
    def work(session: Session) -> tuple[int, dict[str, Entry]]:
        return store.version(session), store.published_entries(session, ids)

    try:
        version, found = await run_in_session(work)
        if version > 0:  # the database holds the knowledge base: retired means retired
            return found
    except (DatabaseUnavailable, KnowledgeError):
        pass
    try:
        files = _file_entries()
    except KnowledgeError as error:
        logger.error("knowledge files unusable: %s", error)
        return {}
    return {i: files[i] for i in ids if i in files}


def asker_role(tracker: Tracker) -> str | None:
    """Who said, in this session, they are asking (the latest said wins): a WeChat Pay
    HK merchant, a service provider, a developer, a customer or a personal user."""
    from actions.repair import role_of  # lazy: repair's forms import this module

    # An HK merchant who also runs a mainland shop ("深圳仲有間分店") or was verified
    # here is our merchant from then on: mainland questions get mainland answers.
    mainland = bool(tracker.get_slot("verified_merchant"))
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            text = str(event.get("text") or "")
            mainland = mainland or bool(MAINLAND_SHOP.search(MAINLAND_IF.sub("", text)))
            role = role_of(text)
            if role == "hong_kong" and mainland:
                continue
            if role:
                return role
    return None


# "如果我转去开内地商户号", "香港公司可唔可以开内地商户号": a mainland account asked about,
# not one the merchant has.
MAINLAND_IF = re.compile(r"(如果|假如|要是|若|转去|轉去|改去|想|打算|能不能|可不可以|可唔可以|得唔得|可以)"
                         r"[^，。,.？?]{0,8}(开|開|申请|申請|办|辦)[^，。,.？?]{0,4}(内地|內地|大陆|大陸)"
                         r"[^，。,.？?]{0,4}(商户号|商戶號|商户|商戶|账户|賬戶)?"
                         r"|(冇|没有?|沒有?|無|无)(內地|内地|大陆|大陸)[^，。,.？?]{0,6}"
                         # "喺內地開個商戶號要咩資料": opening one there, not having one.
                         r"|(內地|内地|大陆|大陸)[^，。,.？?]{0,2}(开|開|申请|申請|办|辦)[^，。,.？?]{0,10}"
                         r"(商户号|商戶號|商户|商戶)")
MAINLAND_SHOP = re.compile(r"(内地|大陆|國內|国内|深圳|广州|东莞|珠海|上海|北京)[^，。,.？?]{0,8}"
                           r"(分店|店|铺|舖|商户|商戶|账户|賬戶|收款|微信支付)|內地|内地的?商户号")


async def answer_facts(tracker: Tracker) -> dict[str, Any]:
    """What a variant may depend on: who is asking, and the verified merchant's facts."""
    facts = await merchant_facts(tracker)
    role = asker_role(tracker)
    return {**facts, "role": role} if role else facts


async def merchant_facts(tracker: Tracker) -> dict[str, Any]:
    """The verified sender's account facts; {} for anyone else."""
    channel, sender_id = sender_key(tracker)

    def work(session: Session) -> dict[str, Any]:
        merchant_id = repository.bound_merchant_id(session, channel, sender_id)
        if not merchant_id:
            return {}
        facts: dict[str, Any] = {"verified": True}
        state = repository.current_state(session, merchant_id)
        if state is not None:
            facts.update(state=state.status.value, reason=state.reason_code,
                         can_collect=bool(state.can_collect),
                         can_withdraw=bool(state.can_withdraw))
        appeal = repository.latest_appeal(session, merchant_id)
        if appeal is None:
            facts["appeal"] = "none"
        elif appeal.status.is_open:
            facts["appeal"] = "overdue" if is_overdue(appeal.created_at, utcnow()) else "open"
        else:
            facts["appeal"] = appeal.status.value
        return facts

    try:
        return await run_in_session(work)
    except DatabaseUnavailable:
        return {}


def _kb_answers(tracker: Tracker) -> list[tuple[str, str]]:
    """(entry id, text) of the knowledge answers in this session, oldest first."""
    return [(str(event["metadata"][KB_METADATA]), str(event.get("text") or "").strip())
            for event in session_events(tracker)
            if event.get("event") == "bot" and (event.get("metadata") or {}).get(KB_METADATA)]


def answered_entries(tracker: Tracker) -> list[str]:
    """Entries answered in this session, oldest first."""
    return [entry_id for entry_id, _ in _kb_answers(tracker)]


def title(entry: Entry) -> str:
    text = entry.question
    return text if len(text) <= MAX_TITLE else text[:MAX_TITLE - 1] + "…"


def choice_buttons(entries: list[Entry], with_none: bool = True) -> list[dict[str, str]]:
    buttons = [{"title": f"{n} {title(e)}", "payload": f'/knowledge{{"{KB_ENTITY}":"{e.id}"}}'}
               for n, e in enumerate(entries, start=1)]
    if with_none:
        buttons.append({"title": f"{len(buttons) + 1} 都不是，转人工", "payload": "/request_human"})
    return buttons


async def suggest(dispatcher: CollectingDispatcher, ids: list[str],
                  answered: Sequence[str] = ()) -> bool:
    """"你是想问：" with the likeliest entries as choices, those not answered in this
    session first (an offer of what was just said leads to "说过了"); False if none can
    be shown."""
    fresh = [i for i in ids if i not in answered]
    ids = fresh or ids
    entries = await load_entries(ids)
    shown = [entries[i] for i in ids if i in entries]
    if not shown:
        return False
    dispatcher.utter_message(response="utter_kb_did_you_mean", buttons=choice_buttons(shown))
    return True


async def answer_entry(dispatcher: CollectingDispatcher, tracker: Tracker,
                       entry_id: str) -> bool:
    """Says the entry (or, if it was said already in this session, what helps next);
    False if the entry does not exist."""
    from actions.account import answer_from_facts  # lazy: account imports this module

    # An authority's freeze told earlier decides what "冻多久" means, before any facts.
    entry_id = await _beside_authority(tracker, entry_id)
    if await answer_from_facts(dispatcher, tracker, entry_id):
        return True  # the verified merchant's own facts answer it (rejection note, ...)
    if entry_id in MONEY_ENTRIES and MONEY_BACK.search(latest_text(tracker)) and any(
            i.startswith("scam_") for i in answered_entries(tracker)):
        # "我500块还能拿回来吗" after telling of a scam: the money sent to the scammer,
        # not frozen funds ("钱还是你的" would be false comfort).
        entry_id = "scam_already_paid"
    asked_for = entry_id
    entry_id = await _for_asker(tracker, entry_id)
    answered = answered_entries(tracker)
    if entry_id == HK_ENTRY and entry_id in answered and (
            asked_for != HK_ENTRY or HK_PHONE_ASK.search(latest_text(tracker))):
        said = latest_text(tracker)
        text = HK_AGAIN if not HK_PHONE_ASK.search(said) else \
            HK_95017 if "95017" in said else HK_PHONE
        dispatcher.utter_message(text=text, **{KB_METADATA: HK_ENTRY})
        return True
    entry = (await load_entries([entry_id])).get(entry_id)  # loaded once for every case
    if entry is not None and entry_id in answered and entry_id == _entity(tracker, KB_ENTITY):
        # Chosen from the buttons although said before: the merchant wants it again.
        dispatcher.utter_message(text="就是前面说过的这条，再发一次：")
        await say_entry(dispatcher, tracker, entry)
        return True
    if entry_id in answered:
        if entry is not None and entry.variants:
            text = await entry_text(tracker, entry)
            if text.strip() not in said_texts(tracker, entry_id):
                # Verified since the general answer: their own case is no repeat.
                dispatcher.utter_message(text=text, **{KB_METADATA: entry.id})
                return True
        return await _answer_again(dispatcher, tracker, entry_id, answered,
                                   try_others=entry_id == asked_for)
    if entry is None:
        return False
    await say_entry(dispatcher, tracker, entry)
    return True


# Facts a variant may be written for that only the identity check tells.
ACCOUNT_CONDITIONS = frozenset({"state", "can_collect", "can_withdraw", "reason", "appeal"})
EARLIER_MAX = 2


async def answer_earlier_problem(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Right after the identity check: the problems told before it ("顾客扫码提示收款受限"),
    answered again for this merchant's own account where the answer differs; False when
    nothing told before has an answer of their own (then ask what is wrong)."""
    earlier = list(dict.fromkeys(reversed(answered_entries(tracker))))
    entries = await load_entries(earlier) if earlier else {}
    told = 0
    for entry_id in earlier:
        entry = entries.get(entry_id)
        if entry is None or not any(set(v.when) & ACCOUNT_CONDITIONS for v in entry.variants):
            continue
        text = await entry_text(tracker, entry)
        if text.strip() in said_texts(tracker, entry_id):
            continue
        dispatcher.utter_message(text=f"结合你前面说的“{title(entry)}”：\n{text}",
                                 **{KB_METADATA: entry.id})
        told += 1
        if told >= EARLIER_MAX:
            break
    return told > 0


# Entries about the merchant's own money, and asking to get money back.
MONEY_ENTRIES = frozenset({"frozen_funds", "funds_release_time", "funds_withdraw_now",
                           "funds_forfeit", "refund_to_customer", "customer_paid_twice"})
MONEY_BACK = re.compile(r"拿回|追回|要回|退回|找回|拿得回|要得回|追得回|攞返|拿返|能不能回来|还能回来")


async def entry_text(tracker: Tracker, entry: Entry) -> str:
    """The entry's answer for this asker; an offer to file an appeal is left out for a
    merchant whose appeal is already under review ("不用重复提交")."""
    offers_appeal = APPEAL_OFFER.search(entry.answer) or any(
        APPEAL_OFFER.search(v.answer) for v in entry.variants)
    facts = await answer_facts(tracker) if entry.variants or offers_appeal else {}
    text = entry.answer_for(facts)
    if offers_appeal and facts.get("appeal") in ("open", "overdue"):
        text = APPEAL_OFFER.sub("", text).strip() + "\n" + APPEAL_UNDER_REVIEW
    elif offers_appeal and facts.get("role") in NOT_FILERS and not facts.get("verified"):
        # A provider, developer, customer or cashier cannot file the merchant's appeal here.
        text = APPEAL_OFFER.sub("", text).strip()
    return text


async def say_entry(dispatcher: CollectingDispatcher, tracker: Tracker, entry: Entry) -> None:
    dispatcher.utter_message(text=await entry_text(tracker, entry), **{KB_METADATA: entry.id})


def said_texts(tracker: Tracker, entry_id: str) -> set[str]:
    """What this session's bot said as ``entry_id``'s answer."""
    return {text for said, text in _kb_answers(tracker) if said == entry_id}


# A freeze by the police or a court is decided by that authority: our review times and
# appeals do not apply beside it ("零钱被有权机关冻结了，多久能提出来").
AUTHORITY_TAG = "authority"
# Nor what the assistant offers (an appeal it could file): it cannot lift such a freeze;
# nor a merchant's settlement or restriction causes ("卖了个二手手机 是不是这个原因").
# What is said instead, by the tags of the entry that does not apply.
AUTHORITY_INSTEAD = ((frozenset({"appeal", "timing", "bot"}), "authority_freeze_duration"),
                     (frozenset({"settlement", "withdrawal"}), "authority_partial_balance"),
                     (frozenset({"reason", "restriction"}), "authority_contact_police"))
NOT_BESIDE_AUTHORITY = frozenset().union(*(tags for tags, _ in AUTHORITY_INSTEAD))


PAYER_TAG = "payer"
BESIDE_PAYER = frozenset({PAYER_TAG, "safety"})


def fits_beside(main: Entry | None, other: Entry) -> bool:
    """Whether ``other`` may be said as the message's other ask after ``main``: nothing
    of our review times beside an authority's freeze, nothing of the merchant's own
    money beside an answer for a customer who paid ("钱会被没收吗" is the merchant's)."""
    if main is not None and AUTHORITY_TAG in main.tags:
        return not set(other.tags) & NOT_BESIDE_AUTHORITY
    if main is not None and PAYER_TAG in main.tags:
        return bool(set(other.tags) & BESIDE_PAYER)
    return True


async def answer_other_asks(dispatcher: CollectingDispatcher, tracker: Tracker,
                            answered_now: str | None) -> None:
    """The message's other ask ("钱什么时候能提？申诉又要多久"), matched on its own by the
    knowledge matcher: said after the main answer, named, unless said in this session."""
    if asker_role(tracker) == "hong_kong":
        return  # one HK answer covers every ask
    from actions.account import answer_capability_ask  # lazy: account imports this module

    if await answer_capability_ask(dispatcher, tracker):
        return  # one more answer per message
    # Never an entry said before, nor one this turn already said (the main answer may
    # have been another entry than ``answered_now``: a repeat answers the next one).
    said = set(answered_entries(tracker)) | {answered_now} | {
        m.get(KB_METADATA) for m in dispatcher.messages if m.get(KB_METADATA)}
    ids = [str(i) for i in knowledge_of(tracker).get("also") or [] if i not in said]
    entries = await load_entries(ids + [answered_now] if answered_now else ids) if ids else {}
    main = entries.get(answered_now) if answered_now else None
    for entry_id in ids:
        entry = entries.get(entry_id)
        if entry is None or not fits_beside(main, entry):
            continue
        facts = await answer_facts(tracker) if entry.variants else {}
        dispatcher.utter_message(text=f"另外，你问的“{title(entry)}”：\n{entry.answer_for(facts)}",
                                 **{KB_METADATA: entry.id})


AUTHORITY_DURATION = "authority_freeze_duration"


async def _beside_authority(tracker: Tracker, entry_id: str) -> str:
    """After a freeze by an authority was told in this session, "冻多久", "在哪申诉" are
    about that freeze: never our review times or appeal paths (they cannot lift it)."""
    answered = answered_entries(tracker)
    if not answered or entry_id == AUTHORITY_DURATION:
        return entry_id
    entries = await load_entries(list(dict.fromkeys([entry_id, *answered])))
    entry = entries.get(entry_id)
    told = any(AUTHORITY_TAG in e.tags for i, e in entries.items() if i in answered)
    if entry is None or not told or AUTHORITY_TAG in entry.tags \
            or not set(entry.tags) & NOT_BESIDE_AUTHORITY:
        return entry_id
    if (await merchant_facts(tracker)).get("verified"):
        return entry_id  # a verified merchant may ask about their own appeal too
    return next((instead for tags, instead in AUTHORITY_INSTEAD if set(entry.tags) & tags),
                AUTHORITY_DURATION)


# A customer who paid a shop has no frozen funds, settlement, appeal or fee of their own:
# "那我的钱还能要回来吗" is about the payment they made.
MERCHANT_ONLY_TAGS = frozenset({"funds", "settlement", "appeal", "restriction", "reason",
                                "fees", "withdrawal"})
# "码被换了", "扫到了假码": the payment went to a swapped code.
SWAPPED_CODE = re.compile(r"码[^，。,.]{0,3}(被)?(人)?(换|贴|覆盖)|换了?码|假码|贴的码|别人的码")
# "收款人名字不是店里的": maybe a swapped code, maybe the owner's own personal code.
PAYEE_MISMATCH = re.compile(r"收款(人|方)[^，。,.？?]{0,8}(不是|不对|对不上|陌生|不认识)")
PAYER_SUPPORT = "contact_support"


def payer_entry(tracker: Tracker) -> str:
    """The customer's entry: the swapped-code one when the session told of a swapped
    code, the payee check when only the payee's name looked wrong, else the
    failed-payment one."""
    said = [str(e.get("text") or "") for e in session_events(tracker) if e.get("event") == "user"]
    if any(SWAPPED_CODE.search(text) for text in said):
        return "payer_replaced_code_recover"
    if any(PAYEE_MISMATCH.search(text) for text in said):
        return "scam_qr_replaced"  # its variant for a customer: check with the owner first
    return "payer_payment_failed"


async def _for_asker(tracker: Tracker, entry_id: str) -> str:
    """A WeChat Pay HK merchant is told where HK questions go, not mainland rules (what
    the assistant says of scams and of itself applies to everyone); a customer who paid
    a shop is told about their payment, not the merchant's money."""
    role = asker_role(tracker)
    if role == "payer":
        if entry_id == "payer_payment_failed":
            return payer_entry(tracker)  # "钱会自动退回" is false for a swapped code
        entry = (await load_entries([entry_id])).get(entry_id)
        if entry is not None and "support" in entry.tags and entry_id != PAYER_SUPPORT:
            return PAYER_SUPPORT  # its variant for a customer: what to tell 95017
        if entry is not None and set(entry.tags) & MERCHANT_ONLY_TAGS \
                and not set(entry.tags) & BESIDE_PAYER:
            return payer_entry(tracker)
        return entry_id
    if role != "hong_kong":
        return entry_id
    entry = (await load_entries([entry_id])).get(entry_id)
    if entry is None or entry.scope == "redirect" or set(entry.tags) & HK_NEUTRAL_TAGS \
            or any(v.when.get("role") == "hong_kong" for v in entry.variants):
        return entry_id
    return HK_ENTRY


# Tags too broad to make two entries one topic for a repeated question.
BROAD_TAGS = frozenset({"safety", "operations", "developer"})
AGAIN_MARGIN = 0.08


def narrowly_related(entry: Entry | None, other: Entry) -> bool:
    """``other`` is a follow-up of ``entry`` or shares a tag with it that is not a broad one."""
    if entry is None:
        return False
    return other.id in entry.follow_ups or bool(set(entry.tags) & set(other.tags) - BROAD_TAGS)


async def _answer_again(dispatcher: CollectingDispatcher, tracker: Tracker, entry_id: str,
                        answered: list[str], try_others: bool = True) -> bool:
    """The same entry again: the next likeliest entry not said yet if it matched well,
    else its follow-ups as choices, else a short acknowledgement with the ways on."""
    knowledge = knowledge_of(tracker)
    text = latest_text(tracker)
    if MISREAD.search(text) or INSISTING.search(text):
        return await _misread(dispatcher, tracker, entry_id, answered,
                              corrected=bool(MISREAD.search(text)))
    said_now = {m.get(KB_METADATA) for m in dispatcher.messages}
    candidates = knowledge.get("candidates") or []
    # Another entry only when it fits nearly as well as the one said before.
    floor = max(SUGGEST, max((float(c.get("score") or 0) for c in candidates
                              if c.get("id") == entry_id), default=0.0) - AGAIN_MARGIN)
    others = [str(c["id"]) for c in candidates
              if c.get("id") != entry_id and float(c.get("score") or 0) >= floor
              and c.get("id") not in answered and c.get("id") not in said_now] \
        if try_others else []
    entries = await load_entries([entry_id, *others])
    # Only a more specific entry of the same topic: a repeated "怎么申诉" is not
    # suddenly about Alipay because Alipay's entry came next; nor is a customer's police
    # report about freezing their own account because both are "safety".
    others = [i for i in others if i in entries and entries[i].scope != "redirect"
              and narrowly_related(entries.get(entry_id), entries[i])]
    if others:
        await say_entry(dispatcher, tracker, entries[others[0]])
        return True
    entry = entries.get(entry_id)
    follow_ups = [i for i in (entry.follow_ups if entry else []) if i not in answered]
    more = await load_entries(follow_ups) if follow_ups else {}
    shown = [more[i] for i in follow_ups if i in more][:3]
    short = await gist(tracker, entry)
    if shown:
        dispatcher.utter_message(response="utter_kb_repeat_more", buttons=choice_buttons(shown),
                                 gist=short)
    else:
        dispatcher.utter_message(response="utter_kb_repeat", gist=short)
    return True


# The first sentence of an answer: it answers the question (the team writes them so).
FIRST_SENTENCE = re.compile(r"^(.+?[。！!？?])(?=\s|$|[^”’」』）)])|^([^\n]+)", re.S)
GIST_MAX = 90


async def gist(tracker: Tracker, entry: Entry | None) -> str:
    """The answer in one sentence, for the merchant who asks the same again ("所以到底是不是
    官方的？一句话"): said instead of the whole block, never "说过了" alone."""
    if entry is None:
        return "上面那条回答就是这方面的情况。"
    facts = await answer_facts(tracker) if entry.variants else {}
    text = entry.answer_for(facts).strip()
    found = FIRST_SENTENCE.match(text)
    sentence = (found.group(1) or found.group(2)).strip() if found else text
    if len(sentence) > GIST_MAX:
        return sentence[:GIST_MAX].rstrip("，,、；;：:") + "…"
    if sentence.endswith(("：", ":")):
        sentence = sentence[:-1] + "。"  # "…换成支持远程付款的方式：" introduced a list
    return sentence


async def answer_top_entry(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """The entry that fits the message best, whatever the model made of it, when it fits
    well enough to answer (a question carried by a cancel, asked in general)."""
    candidates = knowledge_of(tracker).get("candidates") or []
    top = candidates[0] if candidates else None
    if top is None or float(top.get("score") or 0) < ANSWER:
        return False
    return await answer_entry(dispatcher, tracker, str(top["id"]))


# "我说的是微信收款 不是淘宝": the answer given missed; "到底会不会？？？": it did not land.
MISREAD = re.compile(r"我(说|问)的是|不是(问)?(这个|那个)|答非所问|没问(这个|你这个)|你没(回答|听懂|看懂|明白)"
                     r"|理解错|搞错|又没|不是[^，。,.？?]{1,8}(啊|呀|吧|的)[，。,.！!？?\s]*$|跟我说的不一样|不对吧?")
INSISTING = re.compile(r"到底|究竟|[?？]{2,}|还是没(说|讲|回答)|没回答")


async def _misread(dispatcher: CollectingDispatcher, tracker: Tracker, entry_id: str,
                   answered: list[str], corrected: bool) -> bool:
    """The same entry matched again while the merchant says it missed ("我说的是…不是…")
    or insists ("到底…？？"): never "说过了"; an apology with the other likely
    entries, else a question about what is not right, with a person on offer."""
    candidates = [str(c["id"]) for c in knowledge_of(tracker).get("candidates") or []
                  if c.get("id") != entry_id and c.get("id") not in answered
                  and float(c.get("score") or 0) >= SUGGEST]
    entries = await load_entries(candidates) if candidates else {}
    shown = [entries[i] for i in candidates if i in entries and entries[i].scope != "redirect"][:3]
    if corrected and shown:
        dispatcher.utter_message(response="utter_kb_misread", buttons=choice_buttons(shown))
        return True
    if corrected:
        dispatcher.utter_message(response="utter_kb_misread_ask")
    else:
        entry = (await load_entries([entry_id])).get(entry_id)
        dispatcher.utter_message(response="utter_kb_repeat_insist", gist=await gist(tracker, entry))
    return True


# "那我怎么办", "然后呢": a bare ask for the next step, right after an answer.
WHAT_NOW = re.compile(r"^(那|那么|所以|然后)?(我)?(该|应该|要)?(怎么办|咋办|怎么弄|咋弄|怎么做|咋整|怎么搞|然后呢|接下来呢|"
                      r"接下来(怎么|咋)(办|做)|下一步(呢|怎么办|做什么)?|现在(怎么办|咋办))(呢|啊|呀|啦)?[?？。!！]*$")


async def answer_what_now(dispatcher: CollectingDispatcher, tracker: Tracker,
                          asked: bool = False) -> bool:
    """The next step of the answer just given (its follow-ups as choices), instead of
    "没看懂"; False when nothing was answered yet or the message is something else
    (``asked``: the caller already knows it asks for the next step)."""
    if not asked and not WHAT_NOW.match(latest_text(tracker).replace(" ", "")):
        return False
    answered = answered_entries(tracker)
    if not answered:
        return False
    entries = await load_entries([answered[-1]])
    entry = entries.get(answered[-1])
    follow_ups = [i for i in (entry.follow_ups if entry else []) if i not in answered]
    more = await load_entries(follow_ups) if follow_ups else {}
    shown = [more[i] for i in follow_ups if i in more][:3]
    metadata = {KB_METADATA: answered[-1]}
    if shown:
        dispatcher.utter_message(response="utter_what_now_more", buttons=choice_buttons(shown),
                                 **metadata)
    else:
        dispatcher.utter_message(response="utter_what_now", **metadata)
    return True


# "……上周就被限制了，我想申诉": a story that ends in the request to appeal (the model
# reads the story; the request must not be dropped). "要不要申诉" asks, it does not request.
WANTS_APPEAL = re.compile(
    r"(?<![不没别])(想|要|准备|打算|需要|得)(马上|赶紧|现在|先)?(提交|提|发起|走|做|写|交)?"
    r"(个|一个|一下|一份)?申诉(?!(吗|么|有用|管用|能|会|要|需要|多久|[?？]))"
    r"|帮(我|忙)(提交|提|发起|写|弄|交|填)?(个|一个|一下)?申诉")
ASKS_WHETHER = re.compile(r"要不要|该不该|需不需要|用不用|能不能|可不可以|是不是|有没有用")


def appeal_requested(text: str) -> bool:
    return bool(WANTS_APPEAL.search(text)) and not ASKS_WHETHER.search(text)


# "继续" / "接着说" outside any form: the next step of the last answer, or what can be done.
GO_ON = re.compile(r"^(请|那|那就|好的?|嗯)?[，,\s]*(继续|接着(来|说|办|弄|往下)?|往下(走|说)|下一步)"
                   r"(吧|呀|啊|呢)?[。.!！]*$")


class ActionAffirm(Action):
    """A yes that answers no question: "好的" is acknowledged; "继续" with nothing paused
    gets the next step of the last answer, or what the assistant can do, never a bare
    "好的"."""

    def name(self) -> str:
        return "action_affirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if not GO_ON.match(latest_text(tracker)):
            dispatcher.utter_message(response="utter_affirm_ack")
        elif not await answer_what_now(dispatcher, tracker, asked=True):
            dispatcher.utter_message(response="utter_nothing_to_resume")
        return []


class ActionAnswerKnowledge(Action):
    """Answers a message the knowledge matcher (or a "did you mean" choice) picked."""

    def name(self) -> str:
        return "action_answer_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        from actions.guidance import EMERGENCIES, answer_faq, safety_first

        # Safety first: the emergency answer replaces the matched entry.
        if await safety_first(dispatcher, tracker, answers_entry=True) in EMERGENCIES:
            return []
        if await answer_what_now(dispatcher, tracker):
            return []  # a bare "那我怎么办" names no topic: the last answer's next step
        # The answering rules (the appeal coach, the intents' own entries) are shared
        # with the informational intents and the forms' digressions.
        if not await answer_faq(dispatcher, tracker):
            dispatcher.utter_message(response="utter_ask_rephrase")
        from actions.verification import remembered_id  # lazy: verification imports this

        events = remembered_id(dispatcher, tracker)
        if not events and not tracker.active_loop_name \
                and appeal_requested(latest_text(tracker)):
            # The question answered, the appeal the message asked for starts (after the
            # identity check, which a bound sender passes at once).
            return [SlotSet("lookup_purpose", "appeal"), FollowupAction("verify_form")]
        return events

