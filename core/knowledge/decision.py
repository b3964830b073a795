"""What the assistant does with a message, given the NLU's intent and the knowledge matches.

The contract intents keep driving the flows (identity check, account state, appeals,
advisor, handoff, deletion, form answers); informational questions are answered from the
knowledge base. In order:

1. control moves and form answers (a person, stop waiting, delete, yes/no, ids, small
   talk) the model is sure of always stay;
2. another platform or a bank named in the message (the ``other_platform`` entity) gets
   its redirect entry when the model calls the message out of scope, a redirect entry
   leads, or the platform's entry scores within ``PLATFORM_MARGIN`` of the best;
3. a message with no word of our domain (``on_topic``) is answered only by an entry that
   fits it very well (``OVERRIDE``), else it stays with the NLU (out_of_scope);
4. a task on the merchant's own account the model is sure of stays, unless an entry fits
   very well, or a specific entry of the task's own topic (not its overview) scores
   ``TASK_SPECIFIC``; the same for a sure out_of_scope (a redirect entry may answer it);
5. an entry scoring at least ``ANSWER`` and ahead of the next by ``MARGIN`` is answered;
6. an informational intent the model is sure of gets its own entry, or a more specific
   entry of the same topic that also matches;
7. entries scoring at least ``SUGGEST`` are offered as "你是想问：" choices; otherwise the
   intent stays (the staged fallback for ``nlu_fallback``).

Scores are low in absolute terms because a fifth of each is a probability over ~150
entries. The thresholds were measured on ``tests/nlu/knowledge_dev.yml`` together with a
set of unrelated questions (bench/results/knowledge.md has the grid and its caveat: the
set that chose them also gates them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from core.knowledge.entries import Entry
from core.knowledge.matching import Candidate
from core.voice import names_a_card, names_an_authority, tells_of_unknown_operation

ANSWER = 0.15
SUGGEST = 0.1
MARGIN = 0.005
# A task the model is this sure of stays a task unless an entry scores OVERRIDE.
TASK_SURE = 0.5
TASK_CERTAIN = 0.97
TASK_EXACT = 0.7
OVERRIDE = 0.4
OVERRIDE_MIN_CHARS = 6
# A message with no word of our domain ("有没有别的办法") needs a closer fit: its few
# words can all appear in one similar question.
OFF_TOPIC_OVERRIDE = 0.45
VAGUE_CHARS = 4
VAGUE_SURE = 0.35
FAQ_SURE = 0.6
# An informational intent this sure keeps its own entry unless another fits this well.
FAQ_CERTAIN = 0.9
FAQ_OVERRIDE = 0.25
# The redirect entry of each platform the NLU's ``other_platform`` entity names.
PLATFORM_ENTRIES: Mapping[str, str] = {
    "alipay": "redirect_alipay", "bank": "redirect_bank", "unionpay": "redirect_unionpay",
    "douyin": "redirect_douyin", "kuaishou": "redirect_kuaishou", "taobao": "redirect_taobao",
    "pinduoduo": "redirect_pinduoduo", "meituan": "redirect_meituan", "jd": "redirect_jd",
    "qq": "redirect_qq_wallet",
    # Named without being a payment platform: a game, a loan or credit product, another
    # company's hotline. Their entries are not limited to messages that name them.
    "game": "redirect_game_account", "loan": "redirect_loan_credit",
    "hotline": "redirect_other_hotline",
}
# Entries that need the platform named in the message.
NAMED_PLATFORMS = frozenset(PLATFORM_ENTRIES) - {"game", "loan", "hotline"}
# A named platform's entry is answered when it scores this close to the best entry.
PLATFORM_MARGIN = 0.05
# Redirects to platforms the other_platform entity names: only when it names them.
PLATFORM_REDIRECTS = frozenset(PLATFORM_ENTRIES[name] for name in NAMED_PLATFORMS)
NAMED_REDIRECTS = frozenset({"alipay", "bank", "unionpay", "platform"})
OOS_SURE = 0.9
OOS_OVERRIDE = 0.6
# An on-topic message the model calls out of scope gets an entry of ours scoring this.
TOPICAL_OOS = 0.25
# A question that belongs elsewhere is told where when a redirect entry scores this.
REDIRECT_MIN = 0.25
# ... and, against a sure question of ours, when it scores this.
REDIRECT_CLEAR = 0.45
# Written for a customer paying a shop, not for the merchant.
PAYER_ENTRIES = frozenset({"payer_payment_failed", "payer_replaced_code_recover",
                           "payer_report_police", "payer_bill_evidence"})
# The scam entries (leaked codes, fake helpers, swapped codes) answer scam stories only
# (core.voice.tells_of_scam): a plain "账户被冻结了" must never get "你的验证码泄露了".
SCAM_PREFIX = "scam_"
# Entries that answer only a message telling what they are about, each with its test:
# a frozen bank card ("商户号被冻结了钱提不出来" is the merchant's own freeze), a freeze by
# the police or a court ("我这个号为啥被冻结了" is the merchant's own risk control, and told
# otherwise it frightens), someone else acting on the account ("我侄子给我弄过个小店" is
# an answer, not a break-in).
GATED: Mapping[str, Callable[[str], bool]] = {
    "personal_card_frozen_merchant": names_a_card,
    "wallet_frozen_authority": names_an_authority,
    "account_unknown_operation": tells_of_unknown_operation,
}


def closed_entries(text: str) -> frozenset[str]:
    """The gated entries this message does not open."""
    return frozenset(entry_id for entry_id, told in GATED.items() if not told(text))


# Asking for a person or a number while naming another company.
HOTLINE_INTENTS = frozenset({"request_human", "contact_support", "out_of_scope"})
# A sure question of ours keeps its own entry when it scores this close to a redirect.
OWN_MARGIN = 0.15
SUGGESTIONS = 3

KNOWLEDGE_INTENT = "knowledge"
OUT_OF_SCOPE = "out_of_scope"
# Control moves and form answers: never taken over by the knowledge base.
CONTROL_INTENTS = frozenset({
    "request_human", "stop_waiting", "delete_my_data", "inform", "affirm", "deny", "greet",
    "thank", "goodbye", "handoff_closed",
})
# Tasks on the merchant's own account: kept when the model is sure of them.
TASK_INTENTS = frozenset({
    "check_account_status", "submit_appeal", "check_appeal_status", "ask_remote_collection",
})
FLOW_INTENTS = CONTROL_INTENTS | TASK_INTENTS | {"report_account_abnormal"}
# Entries that describe a task: when the model is sure of the task, it is done instead.
TASK_ENTRIES: Mapping[str, frozenset[str]] = {
    "check_account_status": frozenset({"restriction_general", "how_to_find_reason",
                                       "abnormal_reason", "restriction_types"}),
    "submit_appeal": frozenset({"appeal_process", "appeal_merchant_assistant",
                                "appeal_merchant_platform", "appeal_materials"}),
    "check_appeal_status": frozenset({"appeal_where_progress", "appeal_review_time",
                                      "appeal_overdue"}),
    "report_account_abnormal": frozenset({"restriction_general", "abnormal_reason",
                                          "how_to_find_reason", "restriction_types"}),
    "ask_remote_collection": frozenset({"remote_collection", "aggregated_qr_remote",
                                        "payment_link_remote", "multichannel_codes",
                                        "reason_remote_qr"}),
}
# The overview of each task: doing the task says it and more.
TASK_OVERVIEWS = frozenset({"restriction_general", "abnormal_reason", "how_to_find_reason",
                            "restriction_types", "appeal_process", "appeal_where_progress",
                            "remote_collection"})
# A specific entry of a task's topic that fits this well is answered instead.
TASK_SPECIFIC = 0.45
# Informational intents and the entry that answers each ("my account is abnormal"
# leads to the overview and the identity check unless an entry fits the story).
INTENT_ENTRIES: Mapping[str, str] = {
    "ask_abnormal_reason": "abnormal_reason",
    "contact_support": "contact_support",
    "ask_appeal_process": "appeal_process",
    "ask_unfreeze_time": "appeal_review_time",
    "ask_frozen_funds": "frozen_funds",
    "ask_risk_prevention": "risk_prevention",
    "ask_website_payment": "website_payment",
    "ask_miniprogram_payment": "miniprogram_payment",
    "ask_fee_rate": "fee_rate",
    "bot_challenge": "bot_official",
}
# Words of payments, accounts and the platforms people confuse us with. A message with
# none of them ("今天天气怎么样", "房贷利率是多少") is answered from the knowledge base only
# when an entry fits it very well: e5 finds something "similar" for any sentence.
ON_TOPIC = re.compile(
    r"收款|付款|支付|收钱|付钱|到账|提现|转账|退款|结算|余额|零钱|钱包|货款|资金|冻结|解冻|限制|"
    r"受限|风控|封|解封|申诉|驳回|审核|商户|商家|特约|服务商|子商户|进件|开户|注销|账户|账号|"
    r"帐户|帐号|微信|wechat|weixin|wx|码|二维码|扫码|费率|手续费|佣金|客服|95017|人工|小程序|"
    r"没人接|打不通|占线|接通|排队|电话|工单|公众号|网站|备案|接口|api|sdk|jsapi|native|h5|报错|错误码|回调|营业执照|执照|法人|实名|"
    r"身份|验证码|密码|通知|短信|骗|诈骗|报警|96110|警察|派出所|顾问|代解|支付宝|抖音|快手|淘宝|天猫|拼多多|美团|京东|银行|"
    r"银联|云闪付|qq|游戏|香港|hk|店|摊|生意|顾客|客户|订单|交易|流水|发票|播报|额度|限额|"
    r"no_auth|err_?code|return_(code|msg)|sub_mch|mch_?id|appid|统一下单|下单"
    r"|spbill|client_ip|prepay|paysign|requestpayment|mweb|h5_url|notify_url|serial_no|apiv3"
    r"|签名|验签|证书|商户平台|商家助手",
    re.IGNORECASE,
)


def on_topic(text: str) -> bool:
    return bool(ON_TOPIC.search(text))


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer", "suggest" or "keep"
    entry_id: str | None = None
    suggestions: list[str] = field(default_factory=list)
    why: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"decision": self.kind, "entry_id": self.entry_id,
                "suggestions": self.suggestions, "why": self.why}


def same_topic(entry: Entry | None, other: Entry | None) -> bool:
    if entry is None or other is None:
        return False
    return bool(set(entry.tags) & set(other.tags)) or other.id in entry.follow_ups


def allowed(candidates: Sequence[Candidate], platform_entry: str | None,
            payer: bool, scam_told: bool = True,
            closed: frozenset[str] = frozenset()) -> list[Candidate]:
    """The candidates this message may get: another platform's entry only when that
    platform is named ("奶茶店 号被冻结 提现提不出来" shares words with Taobao's entry but
    is a WeChat Pay merchant's); entries for customers only when a customer speaks (a
    merchant telling what their customers see is not one)."""
    return [c for c in candidates
            if (c.entry_id not in PLATFORM_REDIRECTS or c.entry_id == platform_entry)
            and (payer or c.entry_id not in PAYER_ENTRIES)
            and (scam_told or not c.entry_id.startswith(SCAM_PREFIX))
            and c.entry_id not in closed]


def decide(intent: str | None, confidence: float, candidates: Sequence[Candidate],
           entries: Mapping[str, Entry], chars: int = 100, topical: bool = True,
           platform_entry: str | None = None, ours_named: bool = False,
           payer: bool = True, scam_told: bool = True,
           closed: frozenset[str] = frozenset()) -> Decision:
    """``chars``: the message's Chinese characters and letters (a reply as short as "好的"
    never overrides a task); ``topical``: ``on_topic`` of the message; ``platform_entry``:
    the redirect entry of another platform or a bank the message names; ``ours_named``:
    the message names WeChat Pay as well (then the platform decides only when the model
    thinks the question is not ours); ``payer``: the message speaks as a customer
    paying a shop (core.voice), else the entries written for customers are left out."""
    if platform_entry == PLATFORM_ENTRIES["hotline"] and platform_entry in entries \
            and intent in HOTLINE_INTENTS:
        # "12306人工客服怎么转", "中国移动的客服电话": another company's people, not ours.
        return Decision("answer", platform_entry, why="other company")
    if intent in CONTROL_INTENTS and confidence >= FAQ_SURE:
        return Decision("keep", why="control")
    candidates = allowed(candidates, platform_entry, payer, scam_told, closed)
    top = candidates[0] if candidates else None
    second = candidates[1].score if len(candidates) > 1 else 0.0
    strong = top is not None and top.score >= OVERRIDE and chars >= OVERRIDE_MIN_CHARS
    redirect = top is not None and entries[top.entry_id].scope == "redirect" \
        and top.score >= REDIRECT_MIN
    platform_score = next((c.score for c in candidates if c.entry_id == platform_entry), None)
    platform_close = platform_score is not None and top is not None \
        and top.score - platform_score <= PLATFORM_MARGIN
    if scam_told and platform_entry in entries and top is not None \
            and top.entry_id.startswith(SCAM_PREFIX) and top.score >= ANSWER:
        # "抖音上有人说交1500能帮我解封": the platform is where the scammer was; the
        # warning is the answer, not a redirect to that platform.
        return Decision("answer", top.entry_id, why="scam")
    if platform_entry in entries and (intent == OUT_OF_SCOPE or (
            not ours_named and (redirect or platform_close))):
        # The platform the message names, unless a redirect entry fits it better
        # (a credit card's overdue fee is about credit, not the bank's card).
        chosen = top.entry_id if redirect and top.score >= ANSWER * 2 else platform_entry
        return Decision("answer", chosen, why="platform")
    if redirect and intent == OUT_OF_SCOPE:
        return Decision("answer", top.entry_id, why="redirect")
    if not topical and intent not in INTENT_ENTRIES:
        if strong and top.score >= OFF_TOPIC_OVERRIDE:
            return Decision("answer", top.entry_id, why="off-topic override")
        return Decision("keep", why="off topic")
    if intent in TASK_INTENTS and confidence >= TASK_SURE:
        # An entry about the task itself never replaces doing it.
        own_topic = top is not None and top.entry_id in TASK_ENTRIES.get(intent, ())
        certain = confidence >= TASK_CERTAIN  # worded like the task's own examples
        if own_topic and top.entry_id not in TASK_OVERVIEWS and top.score >= TASK_SPECIFIC:
            # "线下码发给外省客户扫会被风控吗": the specific answer, not the whole advisor
            return Decision("answer", top.entry_id, why="task-specific")
        # Worded like the task's examples, yet an entry of another topic fits it almost
        # word for word ("能保证申诉通过吗" is no status look-up).
        exact = top is not None and top.score >= TASK_EXACT
        return Decision("answer", top.entry_id, why="override") \
            if strong and not own_topic and (not certain or exact) \
            else Decision("keep", why="task")
    if intent == OUT_OF_SCOPE and confidence >= OOS_SURE:
        # Weather, homework, other trades: sure it is not ours unless an entry fits well,
        # or the message speaks of our topics and an entry of ours fits ("号被冻结 提现
        # 提不出来" is a merchant's, whatever the model thinks).
        ours = top is not None and entries[top.entry_id].scope != "redirect" \
            and top.score >= TOPICAL_OOS and topical
        return Decision("answer", top.entry_id, why="oos-override") if strong or ours \
            else Decision("keep", why="out of scope")
    own = INTENT_ENTRIES.get(intent or "")
    own_score = next((c.score for c in candidates if c.entry_id == own), None)
    if own in entries and confidence >= FAQ_CERTAIN and top is not None \
            and entries[top.entry_id].scope == "redirect" and own_score is not None \
            and own_score >= top.score - OWN_MARGIN:
        return Decision("answer", own, why="intent")  # "客服电话": ours, not another firm's
    sure_ours = own in entries and confidence >= FAQ_CERTAIN \
        and top is not None and top.score < REDIRECT_CLEAR
    best_ours = max((c.score for c in candidates if entries[c.entry_id].scope != "redirect"),
                    default=0.0)
    # "游戏里充了钱没到账": a redirect that fits clearly better than anything of ours.
    clear_redirect = top is not None and top.score >= REDIRECT_CLEAR \
        and top.score - best_ours >= OWN_MARGIN and not sure_ours
    if top is not None and entries[top.entry_id].scope == "redirect" and not clear_redirect and (
            sure_ours or top.score < OVERRIDE
            or entries[top.entry_id].redirect in NAMED_REDIRECTS):
        # "我的收款码被限制了" is ours even if Alipay's entry shares its words: another
        # platform's entry needs the platform named (above) or a close fit.
        candidates = [c for c in candidates if entries[c.entry_id].scope != "redirect"]
        top = candidates[0] if candidates else None
        second = candidates[1].score if len(candidates) > 1 else 0.0
    if intent in TASK_ENTRIES and confidence >= TASK_SURE and top is not None \
            and top.entry_id in TASK_ENTRIES[intent]:
        return Decision("keep", why="task")  # "收款码被限制了": the overview and the check
    own = INTENT_ENTRIES.get(intent or "")
    if own in entries and confidence >= FAQ_CERTAIN and top is not None \
            and top.score < FAQ_OVERRIDE and not same_topic(entries[own], entries[top.entry_id]):
        return Decision("answer", own, why="intent")  # "钱安全吗": the model knows best
    # "收款码", "客服的事": a word or two fits many entries; unless one fits well, the
    # merchant chooses.
    vague = chars <= VAGUE_CHARS and top is not None and top.score < VAGUE_SURE
    if vague and intent not in FLOW_INTENTS - {"report_account_abnormal"}:
        suggestions = [c.entry_id for c in candidates[:SUGGESTIONS] if c.score >= SUGGEST]
        if len(suggestions) > 1:
            return Decision("suggest", suggestions=suggestions, why="vague")
    if top is not None and top.score >= ANSWER and top.score - second >= MARGIN and not vague:
        return Decision("answer", top.entry_id, why="match")
    own = INTENT_ENTRIES.get(intent or "")
    if own in entries and confidence >= FAQ_SURE:
        for candidate in candidates[:SUGGESTIONS]:
            if (candidate.score >= SUGGEST and candidate.entry_id != own
                    and same_topic(entries.get(own), entries.get(candidate.entry_id))):
                return Decision("answer", candidate.entry_id, why="intent+specific")
        return Decision("answer", own, why="intent")
    if intent in FLOW_INTENTS:
        return Decision("keep", why="flow")
    suggestions = [c.entry_id for c in candidates[:SUGGESTIONS] if c.score >= SUGGEST]
    if top is not None and top.score >= ANSWER:
        # Two entries just as likely: let the merchant choose.
        return Decision("suggest", suggestions=suggestions or [top.entry_id], why="close")
    if suggestions:
        return Decision("suggest", suggestions=suggestions, why="unsure")
    return Decision("keep", why="no match")


# --- Follow-ups ---------------------------------------------------------------------
# "那要多久" right after the answer about frozen funds: matched alone it is the appeal's
# review time or "没看懂"; matched together with the question just answered it is when the
# money can be withdrawn. A short message right after an entry is matched both ways; the
# reading with the topic wins when the message alone gives no sure answer of its own.
FOLLOW_MAX_CHARS = 18
# The entry the topic's reading finds: at least this, and this far ahead of the next.
FOLLOW_MIN = 0.2
FOLLOW_MARGIN = 0.02
# ... or in the family of the entry just said (its follow-ups, its tags): this is enough.
FOLLOW_FAMILY_MIN = 0.15
# A message sure of an entry alone is read with the topic when the topic's reading puts
# an entry of the family this far ahead of it.
FOLLOW_LEAD = 0.1


def family(entries: Mapping[str, Entry], said: Sequence[str]) -> set[str]:
    """The entries a follow-up of ``said`` is likely about: their follow-ups and the
    entries sharing a tag with them."""
    found: set[str] = set()
    for entry_id in said:
        entry = entries.get(entry_id)
        if entry is None:
            continue
        found.update(entry.follow_ups)
        found.update(other.id for other in entries.values() if same_topic(entry, other))
    return found - set(said)


def follow_up(decision: Decision, intent: str | None, confidence: float,
              plain: Sequence[Candidate], contextual: Sequence[Candidate],
              entries: Mapping[str, Entry], last: Sequence[str], answered: Sequence[str],
              chars: int, platform_named: bool = False) -> Decision:
    """``decision`` for the message alone, or the entry its reading together with the
    entry just said (``contextual``) finds. ``last``: the entries the bot's last turn
    said; ``answered``: every entry said in the session (never offered again here);
    ``platform_named``: the message names another platform or a bank."""
    if not last or not contextual or chars > FOLLOW_MAX_CHARS:
        return decision
    if (intent in CONTROL_INTENTS and confidence >= FAQ_SURE) \
            or (intent in TASK_INTENTS and confidence >= TASK_SURE):
        return decision  # "好的", "转人工", "帮我查一下": a move, not a question
    if decision.why in ("other company", "platform", "redirect") or platform_named:
        return decision  # another company named: where it belongs
    kin = family(entries, last)
    named_next = {i for said in last if said in entries for i in entries[said].follow_ups}
    # Another platform's entry only when the entry just said leads there ("报警打110吗"
    # after the money sent to a scammer is the police's, as that answer said).
    fresh = [c for c in contextual if c.entry_id not in answered and c.entry_id not in last
             and entries.get(c.entry_id) is not None
             and (entries[c.entry_id].scope != "redirect" or c.entry_id in named_next)]
    if not fresh or (decision.kind == "answer" and decision.entry_id == fresh[0].entry_id):
        return decision
    best = fresh[0]
    related = best.entry_id in kin
    if decision.kind == "answer" and decision.entry_id not in answered \
            and decision.entry_id not in last:
        # An entry of its own: a new question ("对了 客服电话多少"), unless the topic
        # reads it as another entry of the same family, far ahead of that one ("那要多久"
        # after frozen funds is no longer the appeal's review time).
        with_topic = next((c.score for c in contextual if c.entry_id == decision.entry_id), 0.0)
        if related and best.score - with_topic >= FOLLOW_LEAD:
            return Decision("answer", best.entry_id, why="follow-up")
        return decision
    runner_up = fresh[1].score if len(fresh) > 1 else 0.0
    if related and best.score >= FOLLOW_FAMILY_MIN:
        return Decision("answer", best.entry_id, why="follow-up")
    if decision.kind != "answer" and best.score >= FOLLOW_MIN \
            and best.score - runner_up >= FOLLOW_MARGIN:
        # Outside the family only instead of "没看懂" or a did-you-mean list.
        return Decision("answer", best.entry_id, why="follow-up")
    return decision
