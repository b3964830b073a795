"""One order of precedence in every state (issue 19, shapes 1, 7 and 8), without a model:
safety, then a request for a person, then cancel / closing / thanks, then an answer to
the current step, then a digression (actions/repair.py ``classify``, ``safety_of``,
``role_of``), the ids typed in groups (actions/verification.py ``find_ids``) and the
entries people who are not the merchant get (``role_entry``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from actions.repair import Move, Safety, Said, classify, role_of, safety_of
from actions.verification import extract_last4, find_ids, role_entry


# --- the steps of every form, each with a stand-in for its parser --------------------------
def _merchant_id(text: str) -> Any:
    return find_ids(text)[0]


def _phone_last4(text: str) -> Any:
    return find_ids(text)[1]


def _choice(text: str) -> Any:
    match = re.fullmatch(r"\s*([1-4])\s*", text)
    return match.group(1) if match else None


def _yes_no(text: str) -> Any:
    if re.match(r"^\s*(好|是|有|对|嗯|确认|可以|行|1\b)", text):
        return True
    if re.match(r"^\s*(没|不|无|2\b)", text):
        return False
    return None


def _free_text(text: str) -> Any:
    return text if len(text) >= 4 else None


def _phone(text: str) -> Any:
    match = re.search(r"1[3-9]\d{9}", text)
    return match.group(0) if match else None


def _amount(text: str) -> Any:
    return text if re.search(r"\d+\s*(万|千|w|k)?", text) else None


# slot -> (parser, free_text, asks_who, an answer the step accepts)
STEPS: dict[str, tuple[Callable[[str], Any], bool, bool, str]] = {
    "merchant_id": (_merchant_id, False, True, "1900000002"),
    "phone_last4": (_phone_last4, False, True, "0002"),
    "appeal_category": (_choice, False, False, "1"),
    "appeal_description": (_free_text, True, False, "外地老客户扫店里的码买水果，都有聊天记录"),
    "appeal_contact": (_phone, False, False, "13800000002"),
    "appeal_confirm": (_yes_no, False, False, "确认"),
    "payer_location": (_choice, False, False, "2"),
    "has_website_icp": (_yes_no, False, False, "有"),
    "has_miniprogram": (_yes_no, False, False, "没有"),
    "urgency": (_choice, False, False, "1"),
    "monthly_volume": (_amount, False, False, "5万"),
    "handoff_problem": (_free_text, True, False, "收款码被限制了，顾客付不了钱"),
    "handoff_verify": (_yes_no, False, False, "是的"),
    "satisfaction_score": (_choice, False, False, "4"),
}


def move_at(slot: str, text: str, intent: str | None = "inform",
            confidence: float = 0.95) -> Move:
    parser, free_text, asks_who, _ = STEPS[slot]
    said = Said(text=text, intent=intent, confidence=confidence)
    return classify(said, parser(text), free_text=free_text, asks_who=asks_who)


# Moves that are the same at every step, with the intent the model tends to give.
EVERYWHERE = [
    # (a) safety: already leaked / already paid -> the emergency answer
    ("我把验证码给他了", "knowledge", Move.EMERGENCY),
    ("已经转了2000给解封顾问", "knowledge", Move.EMERGENCY),
    ("刚才把支付密码告诉了对方", "inform", Move.EMERGENCY),
    ("验证码给了骗子，转人工", "request_human", Move.EMERGENCY),  # before the person
    ("1900000002 我把验证码给他了", "inform", Move.EMERGENCY),  # before the answer
    # (a) safety: a scam in progress -> the warning
    ("有个顾问说交2000块就能帮我解封", "nlu_fallback", Move.SCAM),
    ("有人让我把短信验证码发给他", "out_of_scope", Move.SCAM),
    ("客服说付800块就能解冻，转人工", "request_human", Move.SCAM),
    # (b) a person
    ("转人工", "request_human", Move.HUMAN),
    ("算了，转人工吧", "request_human", Move.HUMAN),  # before the cancel
    # (c) cancel, closing, thanks
    ("算了", "deny", Move.CANCEL),
    ("不办了", "deny", Move.CANCEL),
    ("等等 我先不提了", "deny", Move.CANCEL),
    ("我说了先不交了啊", "nlu_fallback", Move.CANCEL),
    ("好的我明天打95017", "contact_support", Move.CLOSING),
    ("好的，我明天打95017问问", "knowledge", Move.CLOSING),
    ("3Q 我先去商家助手看看", "nlu_fallback", Move.CLOSING),
    ("那我自己去商户平台查一下", "knowledge", Move.CLOSING),
    ("先这样吧，拜拜", "goodbye", Move.CLOSING),
    ("谢谢", "thank", Move.THANKS),
    ("3Q", "thank", Move.THANKS),
    ("3q", "out_of_scope", Move.THANKS),
    ("好滴谢谢", "thank", Move.THANKS),
    ("多谢啦", "thank", Move.THANKS),
    ("感恩", "thank", Move.THANKS),
    ("辛苦了", "thank", Move.THANKS),
    ("好的谢谢你", "thank", Move.THANKS),
]


@pytest.mark.parametrize("slot", list(STEPS))
@pytest.mark.parametrize(("text", "intent", "move"), EVERYWHERE)
def test_safety_person_cancel_closing_thanks_come_first_at_every_step(
    slot: str, text: str, intent: str, move: Move
) -> None:
    assert move_at(slot, text, intent) == move


@pytest.mark.parametrize("slot", list(STEPS))
def test_an_answer_is_an_answer_at_every_step(slot: str) -> None:
    assert move_at(slot, STEPS[slot][3]) == Move.ANSWER


@pytest.mark.parametrize("slot", list(STEPS))
def test_a_question_is_a_digression_at_every_step(slot: str) -> None:
    assert move_at(slot, "审核一般要多久啊？", "ask_unfreeze_time") == Move.DIGRESS


@pytest.mark.parametrize("slot", list(STEPS))
def test_gibberish_is_a_miss_at_every_step(slot: str) -> None:
    assert move_at(slot, "abc", "out_of_scope", 1.0) == Move.MISS


@pytest.mark.parametrize("slot", [s for s, step in STEPS.items() if step[0]("好的") is None])
def test_a_bare_ok_that_answers_nothing_is_an_acknowledgement(slot: str) -> None:
    assert move_at(slot, "好的", "affirm", 0.99) in (Move.ACK, Move.ANSWER)
    if not STEPS[slot][1]:
        assert move_at(slot, "好的", "affirm", 0.99) == Move.ACK


@pytest.mark.parametrize("slot", ["appeal_confirm", "has_website_icp", "handoff_verify"])
def test_ok_is_a_yes_where_the_step_asks_yes_or_no(slot: str) -> None:
    assert move_at(slot, "好滴", "affirm", 0.99) == Move.ANSWER


@pytest.mark.parametrize("slot", ["merchant_id", "phone_last4"])
@pytest.mark.parametrize("text", ["我没有商户号", "我是个人用户", "我是服务商", "我是开发",
                                  "我是香港商户", "没有商户号怎么办"])
def test_not_the_merchant_ends_the_identity_check(slot: str, text: str) -> None:
    assert move_at(slot, text, "knowledge", 0.9) == Move.NOT_MERCHANT


@pytest.mark.parametrize("slot", ["appeal_category", "payer_location", "urgency"])
def test_who_is_asking_matters_only_where_identity_is_checked(slot: str) -> None:
    assert move_at(slot, "我是服务商", "inform", 0.56) != Move.NOT_MERCHANT


def test_an_id_wins_over_a_role() -> None:
    """A service provider who has the sub-merchant's id and phone digits can check."""
    assert move_at("merchant_id", "我是服务商，子商户号1900000002") == Move.ANSWER


def test_thanks_with_an_answer_is_an_answer() -> None:
    assert move_at("merchant_id", "谢谢，1900000002", "thank") == Move.ANSWER
    assert move_at("appeal_category", "谢谢 选2", "thank") != Move.THANKS


def test_thanks_with_a_question_is_a_digression() -> None:
    assert move_at("merchant_id", "谢谢，那审核要多久？", "ask_unfreeze_time") == Move.DIGRESS


def test_a_long_story_mentioning_tomorrow_is_a_description() -> None:
    story = "客服说让我明天再打电话问，可是我的码一直收不了钱，顾客都走了"
    assert move_at("appeal_description", story, "report_account_abnormal") == Move.ANSWER


def test_the_move_after_the_warning() -> None:
    """With ``safety=False`` the rest of the message is read as usual."""
    said = Said("客服说交500块就能解封，我的商户号是1900000002", "inform", 0.9)
    assert classify(said, "1900000002") == Move.SCAM
    assert classify(said, "1900000002", safety=False) == Move.ANSWER
    said = Said("有人让我把验证码给他，转人工", "request_human", 0.9)
    assert classify(said, None, safety=False) == Move.HUMAN


# --- safety: already leaked or paid (an emergency) vs being asked (the warning) -----------
@pytest.mark.parametrize("text", [
    "我把验证码给他了", "验证码告诉别人了怎么办", "完了我把支付密码说出去了！！快帮帮我",
    "验证码给了骗子 咋整啊", "对方拿了我的验证码 我的钱会不会被转走",
    "刚才有个自称客服的人让我读了短信验证码，挂了电话才觉得不对",
    "商户平台登录验证码和操作密码被第三方获取，如何紧急止损",
    "把银行卡号和验证码都发给对方了 要不要冻卡", "密码泄露了",
    "有人让我把验证码发给他，我已经发了", "我刚才把验证码念给对方了",
])
def test_credentials_already_given_away_are_an_emergency(text: str) -> None:
    assert safety_of(text) == Safety.LEAKED


@pytest.mark.parametrize("text", [
    "已经转了2000给解封顾问", "我已经给“解封顾问”转了钱", "给那个顾问打了钱 他拉黑我了",
    "上周给一个说能帮我解封的人转了1500，现在他不回消息了，怎么办",
    "我被骗了！！钱都转给那个解封的了", "交了定金说解封 现在又要交钱 还要不要交",
    "转给解封的人的钱还能要回来吗", "已向声称可代办解冻的第三方支付服务费，如何追回",
])
def test_money_already_paid_to_a_fake_helper_is_an_emergency(text: str) -> None:
    assert safety_of(text) == Safety.PAID


@pytest.mark.parametrize("text", [
    "有人让我把短信验证码发给他", "客服让我把短信验证码发给他", "要不要把验证码给他",
    "有个顾问说交2000块就能帮我解封", "交钱解封是真的吗", "解封要先交保证金？这不是骗人吗！",
    "有个顾问说花钱能解冻 真的假的", "告诉我你的支付密码", "有人冒充微信客服给我打电话",
    "网上那个广告说专业解封 电话要不要打", "收到解封链接要不要点",
    "有个电话说是微信支付客服，说我商户号违规要注销，让我配合操作，是真的吗",
    # Asked for yesterday, not paid: "交" is the scammer's demand.
    "对了 昨天有个客服打电话给我 说交2000块解冻费就能马上帮我解封 是你们的人吗 我要不要交",
    # About to pay, not paid: "都准备转了", "差点就转了".
    "有个顾问说交800块手续费24小时帮我解封，靠谱吗？我都准备转了",
    "我差点就转了800给那个解封顾问",
    # Fake police asking for a transfer to a "safe account".
    "到底要不要转啊？？警察说必须转过去配合调查",
    "公安局的人让我把钱转到安全账户",
])
def test_someone_asking_for_codes_or_fees_is_a_scam_in_progress(text: str) -> None:
    assert safety_of(text) == Safety.SCAM


@pytest.mark.parametrize("text", [
    "多久能解封", "申诉要什么材料", "客服电话多少", "我已经打了95017", "客服说要等三天",
    "我已经交了申诉材料，多久有结果", "已经交了提现手续费", "给客户退了200块",
    "我转了500给供应商", "客户付了钱我没收到", "1900000002", "好的我明天打95017",
    # Calling is not paying: "打了六次95017" next to "客服" and "钱".
    "今天已经打了六次95017，接通人工后客服说只能等48小时回电，店里的钱全冻着怎么办",
    "打了好几遍客服电话都没人接，我的钱什么时候能提",
    # Securing the account after the warning is not a new scam.
    "密码改好了。继续吧", "支付密码已经改了，接下来呢", "刚改了登录密码",
    "我没被骗啊，朋友转给我1500块还钱",
])
def test_ordinary_messages_are_not_about_a_scam(text: str) -> None:
    assert safety_of(text) is None


# --- who is asking --------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "role"), [
    ("我没有商户号", "personal"), ("我是个人用户", "personal"),
    ("我就是用个人收款码收钱的", "personal"), ("没开过商户", "personal"),
    ("我是服务商", "service_provider"), ("我是服务商，帮子商户查一下状态", "service_provider"),
    ("我们名下的商户被限制了", "service_provider"), ("渠道商这边有个商户被冻了", "service_provider"),
    ("我是开发", "developer"), ("我是开发者，接口报错了", "developer"),
    ("我是公司的技术，不是老板", "developer"),
    ("我是香港商户", "hong_kong"), ("WeChat Pay HK商户被限制", "hong_kong"),
    ("我在香港开的商户", "hong_kong"),
    ("我不是商户，我是付钱的顾客", "payer"), ("我是顾客，付款失败了", "payer"),
    ("我不是商户老板，是店员", None),
    ("我是服务商的子商户", None), ("帮我查一下账户状态", None), ("我的个人账户被冻结了", None),
    ("网站支付接口怎么接", None), ("不知道商户号", None),
])
def test_role_of(text: str, role: str | None) -> None:
    assert role_of(text) == role


@pytest.mark.parametrize(("role", "text", "purpose", "entry"), [
    ("personal", "我没有商户号", "status", "no_merchant_id"),
    ("personal", "我是个人用户", "appeal", "appeal_personal_account"),
    ("personal", "个人收款码被限制了怎么申诉", "status", "appeal_personal_account"),
    ("service_provider", "我是服务商", "status", "sp_check_sub_status"),
    ("service_provider", "我是服务商，子商户被限制了", "status", "sp_sub_merchant_restricted"),
    ("service_provider", "我是服务商，想帮子商户申诉", "appeal", "sp_appeal_for_sub"),
    ("service_provider", "我是服务商", "appeal", "sp_appeal_for_sub"),
    ("developer", "我是开发", "status", "dev_detect_restriction"),
    ("hong_kong", "我是香港商户", None, "wechat_pay_hk"),
    ("payer", "我是顾客", "status", "payer_payment_failed"),
])
def test_role_entry_by_what_was_asked(role: str, text: str, purpose: str | None,
                                      entry: str | None) -> None:
    assert role_entry(role, text, purpose, {}) == entry


def test_role_entry_takes_the_knowledge_answer_of_the_family() -> None:
    answered = {"decision": "answer", "entry_id": "dev_error_collection_limited"}
    assert role_entry("developer", "我是开发，接口报错了", "status", answered) == \
        "dev_error_collection_limited"
    other_family = {"decision": "answer", "entry_id": "appeal_process"}
    assert role_entry("developer", "我是开发", "status", other_family) == \
        "dev_detect_restriction"
    unsure = {"decision": "suggest", "entry_id": None, "suggestions": ["sp_appeal_for_sub"]}
    assert role_entry("service_provider", "我是服务商", "status", unsure) == \
        "sp_check_sub_status"


# --- shape 8: ids typed in groups ------------------------------------------------------------
@pytest.mark.parametrize(("text", "ids"), [
    ("1900000002", ("1900000002", None)),
    ("1900 0000 02", ("1900000002", None)),
    ("1900-0000-02", ("1900000002", None)),
    ("１９００　０００００２", ("1900000002", None)),
    ("１９００ ００００ ０２", ("1900000002", None)),
    ("商户号 1900 0000 02，尾号0002", ("1900000002", "0002")),
    ("1900000002 0002", ("1900000002", "0002")),
    ("1900 0000 02 0002", ("1900000002", "0002")),
    ("0002 1900000002", ("1900000002", "0002")),
    ("1900000002 13800000002", ("1900000002", "0002")),
    ("138 0000 0002", (None, "0002")),
    ("0002", (None, "0002")),
    ("2024-11-20", (None, None)),
    ("AP20261120001", (None, None)),
    ("95017", (None, None)),
])
def test_find_ids(text: str, ids: tuple[str | None, str | None]) -> None:
    assert find_ids(text) == ids


def test_extract_last4_keeps_its_contract() -> None:
    """actions.handoff passes the text with the merchant id cut out."""
    assert extract_last4(" 0002") == "0002"
    assert extract_last4("手机13800000002") == "0002"
    assert extract_last4("没有") is None
