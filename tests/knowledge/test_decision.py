"""Which way a message goes: flow, entry, "did you mean" or the NLU's own answer."""

from __future__ import annotations

import pytest

from core.knowledge import decision as d
from core.knowledge.entries import parse_entry
from core.knowledge.matching import Candidate


def make(entry_id: str, scope: str = "ours", tags: tuple[str, ...] = ()) -> object:
    data = {"id": entry_id, "question": f"{entry_id}?", "answer": "答",
            "similar": [f"{entry_id} {i}" for i in range(5)], "scope": scope,
            "tags": list(tags)}
    if scope == "redirect":
        data["redirect"] = "bank"
    return parse_entry(data)


ENTRIES = {e.id: e for e in [
    make("fee_rate", tags=("fees",)), make("fee_rate_lower", tags=("fees",)),
    make("appeal_process", tags=("appeal",)), make("contact_support", tags=("support",)),
    make("redirect_bank", "redirect"), make("redirect_loan_credit", "redirect"),
    make("abnormal_reason"), make("appeal_review_time"), make("frozen_funds"),
    make("risk_prevention"), make("website_payment"), make("miniprogram_payment"),
    make("bot_official"), make("reason_remote_qr"), make("remote_collection"),
]}


def c(entry_id: str, score: float) -> Candidate:
    return Candidate(entry_id, score, 0.0, 0.0, "")


@pytest.mark.parametrize(("intent", "conf", "cands", "kwargs", "kind", "entry"), [
    # control moves always stay
    ("request_human", 0.95, [c("contact_support", 0.9)], {}, "keep", None),
    ("affirm", 0.9, [c("fee_rate", 0.5)], {}, "keep", None),
    # a sure task stays unless an entry fits very well
    ("check_account_status", 0.9, [c("fee_rate", 0.3)], {}, "keep", None),
    # ... and an entry about the task itself never replaces doing it
    ("check_account_status", 0.9, [c("abnormal_reason", 0.5)], {}, "keep", None),
    ("check_account_status", 0.9, [c("fee_rate", 0.5)], {}, "answer", "fee_rate"),
    ("check_account_status", 0.9, [c("fee_rate", 0.5)], {"chars": 3}, "keep", None),
    # worded exactly like the task's examples, it stays, unless another entry fits
    # almost word for word ("能保证申诉通过吗" at 0.83 is no status look-up)
    ("check_account_status", 0.98, [c("fee_rate", 0.5)], {}, "keep", None),
    ("check_account_status", 0.98, [c("fee_rate", 0.83)], {}, "answer", "fee_rate"),
    # ... but a specific entry of the task's topic that fits well is the answer
    ("ask_remote_collection", 0.98, [c("reason_remote_qr", 0.6)], {}, "answer",
     "reason_remote_qr"),
    ("ask_remote_collection", 0.98, [c("remote_collection", 0.6)], {}, "keep", None),
    ("ask_remote_collection", 0.98, [c("reason_remote_qr", 0.3)], {}, "keep", None),
    # an entry that fits is answered, also against an unsure informational intent
    ("ask_fee_rate", 0.4, [c("fee_rate_lower", 0.3), c("fee_rate", 0.2)], {}, "answer",
     "fee_rate_lower"),
    # a sure informational intent with no good match gets its own entry
    ("ask_fee_rate", 0.9, [c("appeal_process", 0.12), c("appeal_process", 0.11)], {},
     "answer", "fee_rate"),
    # ... or a more specific entry of the same topic
    ("ask_fee_rate", 0.9, [c("fee_rate_lower", 0.12), c("appeal_process", 0.119)], {},
     "answer", "fee_rate_lower"),
    # off topic: only a very good fit answers
    (None, 0.0, [c("fee_rate", 0.3)], {"topical": False}, "keep", None),
    (None, 0.0, [c("fee_rate", 0.6)], {"topical": False}, "answer", "fee_rate"),
    # sure out of scope: a redirect entry says where it belongs
    ("out_of_scope", 0.99, [c("redirect_loan_credit", 0.3)], {}, "answer", "redirect_loan_credit"),
    ("out_of_scope", 0.99, [c("fee_rate", 0.3)], {"topical": False}, "keep", None),
    # a platform named in the message
    ("out_of_scope", 0.99, [c("fee_rate", 0.3)], {"platform_entry": "redirect_bank"}, "answer",
     "redirect_bank"),
    # ... also inside a story the model reads as ours, when its entry is about as likely
    ("report_account_abnormal", 0.5, [c("redirect_bank", 0.22), c("frozen_funds", 0.2)],
     {"platform_entry": "redirect_bank"}, "answer", "redirect_bank"),
    ("report_account_abnormal", 0.5, [c("frozen_funds", 0.4), c("redirect_bank", 0.2)],
     {"platform_entry": "redirect_bank"}, "answer", "frozen_funds"),
    # a word or two that fits many entries: the merchant chooses, unless one fits well
    (None, 0.0, [c("fee_rate", 0.25), c("fee_rate_lower", 0.2)], {"chars": 3}, "suggest", None),
    (None, 0.0, [c("fee_rate", 0.5), c("fee_rate_lower", 0.2)], {"chars": 3}, "answer",
     "fee_rate"),
    # two entries just as likely: the merchant chooses
    ("nlu_fallback", 0.3, [c("fee_rate", 0.3), c("fee_rate_lower", 0.298)], {}, "suggest", None),
    # a sure question of ours is not another firm's, even if a redirect scores a bit more
    ("contact_support", 0.99, [c("redirect_bank", 0.7), c("contact_support", 0.6)], {},
     "answer", "contact_support"),
    # nothing
    ("nlu_fallback", 0.3, [c("fee_rate", 0.05)], {}, "keep", None),
    (None, 0.0, [], {}, "keep", None),
])
def test_decisions(intent, conf, cands, kwargs, kind, entry) -> None:  # type: ignore[no-untyped-def]
    decision = d.decide(intent, conf, cands, ENTRIES, **kwargs)
    assert decision.kind == kind, decision
    if entry:
        assert decision.entry_id == entry
    if kind == "suggest":
        assert decision.suggestions[:2] == ["fee_rate", "fee_rate_lower"]


@pytest.mark.parametrize(("text", "topical"), [
    ("今天天气怎么样", False), ("房贷利率是多少", False), ("孩子发烧怎么办", False),
    ("商户号被限制了", True), ("95017打不通", True), ("支付宝的钱提不出来", True),
    ("NO_AUTH是什么意思", True), ("jsapi 报 NO_AUTH", True), ("英语四级怎么复习", False),
])
def test_on_topic(text: str, topical: bool) -> None:
    assert d.on_topic(text) is topical


def test_another_platforms_entry_needs_the_platform_named() -> None:
    """"奶茶店 号被冻结 提现提不出来": Taobao's entry shares words, but nobody named Taobao."""
    entries = {**ENTRIES, "redirect_taobao": make("redirect_taobao", "redirect")}
    cands = [c("redirect_taobao", 0.45), c("frozen_funds", 0.3)]
    unnamed = d.decide("out_of_scope", 0.6, cands, entries)
    assert unnamed.entry_id != "redirect_taobao"
    named = d.decide("out_of_scope", 0.6, cands, entries, platform_entry="redirect_taobao")
    assert named.kind == "answer" and named.entry_id == "redirect_taobao"


def test_an_on_topic_message_the_model_calls_out_of_scope_gets_our_entry() -> None:
    cands = [c("frozen_funds", 0.27), c("redirect_loan_credit", 0.2)]
    topical = d.decide("out_of_scope", 0.95, cands, ENTRIES, topical=True)
    assert topical.kind == "answer" and topical.entry_id == "frozen_funds"
    weather = d.decide("out_of_scope", 0.95, cands, ENTRIES, topical=False)
    assert weather.kind == "keep"


def redirect(entry_id: str, kind: str = "platform") -> object:
    entry = make(entry_id, "redirect")
    return type(entry)(**{**entry.__dict__, "redirect": kind})


OTHER = {**ENTRIES, "redirect_game_account": redirect("redirect_game_account"),
         "redirect_other_hotline": redirect("redirect_other_hotline", "other"),
         "payment_not_received": make("payment_not_received")}


def test_a_redirect_that_fits_clearly_better_than_ours_is_answered() -> None:
    """"游戏里充了钱没到账": a game's top-up, not a payment our merchant missed."""
    clear = [c("redirect_game_account", 0.53), c("payment_not_received", 0.23)]
    assert d.decide("ask_frozen_funds", 0.7, clear, OTHER).entry_id == "redirect_game_account"
    close = [c("redirect_game_account", 0.46), c("payment_not_received", 0.4)]
    assert d.decide("ask_frozen_funds", 0.7, close, OTHER).entry_id != "redirect_game_account"


def test_asking_for_another_companys_people_gets_where_they_are() -> None:
    """"12306人工客服怎么转": not a handoff to us; "人工客服" alone still is."""
    cands = [c("contact_support", 0.5), c("redirect_other_hotline", 0.2)]
    named = d.decide("request_human", 0.83, cands, OTHER, platform_entry="redirect_other_hotline")
    assert (named.kind, named.entry_id) == ("answer", "redirect_other_hotline")
    assert d.decide("request_human", 0.83, cands, OTHER).kind == "keep"


def test_a_platform_named_beside_wechat_pay_does_not_decide() -> None:
    """"能收微信也能收支付宝的聚合码 发到客户群": our merchant's question, Alipay named too."""
    entries = {**ENTRIES, "redirect_alipay": make("redirect_alipay", "redirect")}
    cands = [c("redirect_alipay", 0.3), c("reason_remote_qr", 0.28)]
    both = d.decide("ask_remote_collection", 0.4, cands, entries,
                    platform_entry="redirect_alipay", ours_named=True)
    assert both.entry_id == "reason_remote_qr"
    alone = d.decide("ask_remote_collection", 0.4, cands, entries,
                     platform_entry="redirect_alipay")
    assert alone.entry_id == "redirect_alipay"


def test_a_web_address_names_no_platform() -> None:
    """"pay.weixin.qq.com 登进去了 申诉在哪": the QQ in the address is not QQ Wallet."""
    from addons.nlu.knowledge_matcher import named_platform

    text = "pay.weixin.qq.com 登进去了 申诉在哪"
    start = text.index("qq")
    in_url = [{"entity": "other_platform", "value": "qq", "start": start, "end": start + 2}]
    assert named_platform(text, in_url) == ""
    said = "QQ钱包被冻结了"
    assert named_platform(said, [{"entity": "other_platform", "value": "qq", "start": 0,
                                  "end": 4}]) == "qq"


def test_a_scam_entry_answers_only_a_scam_story() -> None:
    """"我的帳戶被凍結了，錢提不出來" scored closest to "your code leaked, act now" (0.25):
    a frightening, wrong answer. The scam entries need the story to tell of a scam."""
    entries = {**ENTRIES, "scam_leaked_nothing_lost_yet": make("scam_leaked_nothing_lost_yet")}
    cands = [c("scam_leaked_nothing_lost_yet", 0.25), c("frozen_funds", 0.23)]
    plain = d.decide("ask_frozen_funds", 0.4, cands, entries, scam_told=False)
    assert plain.entry_id == "frozen_funds"
    told = d.decide("ask_frozen_funds", 0.4, cands, entries, scam_told=True)
    assert told.entry_id == "scam_leaked_nothing_lost_yet"


def test_the_bank_card_entry_needs_a_card_named() -> None:
    """"商户号被冻结了钱提不出来" matched "个人银行卡涉案被冻结" best (0.36)."""
    entries = {**ENTRIES, "personal_card_frozen_merchant": make("personal_card_frozen_merchant")}
    cands = [c("personal_card_frozen_merchant", 0.36), c("frozen_funds", 0.32)]
    closed = d.closed_entries("商户号被冻结了钱提不出来")
    assert d.decide("ask_frozen_funds", 0.6, cands, entries, closed=closed).entry_id == \
        "frozen_funds"
    opened = d.closed_entries("我的银行卡因为商户号的事被冻结了")
    assert d.decide("ask_frozen_funds", 0.6, cands, entries, closed=opened).entry_id == \
        "personal_card_frozen_merchant"


@pytest.mark.parametrize(("text", "opens"), [
    ("这个申诉不是我交的，是不是有人用我的号", True),
    ("商户平台有陌生设备登录记录", True),
    ("结算卡被改了不是我改的", True),
    ("我从来没提交过申诉，记录里怎么冒出来一条", True),
    ("不确定 我侄子好像给我弄过个啥小店 不知道算不算", False),
    ("申诉先不急 你刚才不是说帮我挑收款方式吗 我回了1的啊", False),
    ("又来了 没人盗号！！继续选", False),
])
def test_someone_else_acting_must_be_told(text: str, opens: bool) -> None:
    assert ("account_unknown_operation" not in d.closed_entries(text)) is opens


@pytest.mark.parametrize("text", [
    "spbill_create_ip我填的是服务器的ip 47.75.x.x，是不是要填用户手机的ip？我们前面有nginx反代",
    "paySign到底用哪个私钥签"])
def test_developer_words_are_on_topic(text: str) -> None:
    assert d.on_topic(text)
