"""The identity check's readers (issue 19, the conversations of the new users' run): the
merchant id and the phone's last 4 digits anywhere in a message, never an amount, a date
or a hotline (actions/verification.py ``find_ids``); "I have no phone for it" at the
digits step (core/answers.py ``read_phone_unavailable``); who is asking when it is not
the merchant (actions/repair.py ``role_of``); the provider's own account; closings,
cancels and a password already changed (actions/repair.py)."""

from __future__ import annotations

import pytest

from actions.repair import CANCEL, Move, Safety, Said, classify, role_of, safety_of
from actions.verification import about_provider_account, extract_last4, find_ids
from core.answers import read_phone_unavailable


# --- shape 1: a merchant id and the digits anywhere in a message ---------------------------
@pytest.mark.parametrize(("text", "ids"), [
    # inside a sentence, with a question or a complaint
    ("老板们好，外地客户扫我店里那个码付钱，说什么异地交易风险？商户号1900000002 手机后四位0002",
     ("1900000002", "0002")),
    ("我的申诉被驳回了，凭什么啊？？我1900000004，手机尾号0004", ("1900000004", "0004")),
    ("短信里没链接。我商户号1900000002 手机尾号0002 你帮我看看是不是真的",
     ("1900000002", "0002")),
    ("我号是1900000004，尾号0004，你看看我这是延迟结算还是别的", ("1900000004", "0004")),
    ("没申诉过啊。帮我查下状态吧，商户号1900000001，老板手机尾号0001",
     ("1900000001", "0001")),
    ("我想查一下为啥提不了现 商户号1900000003 手机后四位5678", ("1900000003", "5678")),
    ("哦对，原来那个好像是0003结尾的 1900000003 0003", ("1900000003", "0003")),
    ("查账户状态 1900000004 0004", ("1900000004", "0004")),
    # traditional script and Cantonese, other words for the last digits
    ("商戶號1900000002，手機尾數係0002", ("1900000002", "0002")),
    ("我商户号1900000002 手机号尾巴是0002", ("1900000002", "0002")),
    ("绑定手机号后四位是：0002，商户号1900000002", ("1900000002", "0002")),
    # only the id: the check asks only for the digits
    ("查一下我的商户 1900000004", ("1900000004", None)),
    ("等下，刚才有个顾问说能内部解冻，这个靠谱吗？我商户号是1900000003", ("1900000003", None)),
    # the provider's own id is not a merchant id to check
    ("能查到我们服务商号本身有没有被处罚吗？服务商号是1600001111", (None, None)),
])
def test_ids_anywhere_in_a_message(text: str, ids: tuple[str | None, str | None]) -> None:
    assert find_ids(text) == ids


# --- shape 2: amounts, dates, appeal numbers and hotlines are never the digits --------------
@pytest.mark.parametrize("text", [
    "等下，刚才有个加我微信的顾问说他能内部解冻，收2800手续费，先转一半，这个靠谱吗？我商户号是1900000003",
    "我还没输手机号呢，2800是他要的钱。商户号1900000003",
    "顾问要2800", "收2800", "手续费2800", "先转1400定金给他", "给了他500块", "2000元",
    "交了2000", "货款3000还没到", "2026年11月20日提交的", "2024-11-20", "申诉号AP20261120001",
    "打了95017和110，也打了96110", "12月2日 10:30",
])
@pytest.mark.parametrize("asked", [False, True])
def test_amounts_dates_and_hotlines_are_not_phone_digits(text: str, asked: bool) -> None:
    assert find_ids(text, asked_for_digits=asked)[1] is None


@pytest.mark.parametrize(("text", "asked", "last4"), [
    ("0002", False, "0002"),
    ("是0003", False, "0003"),
    ("0003。", False, "0003"),
    ("尾号是 0003", False, "0003"),
    ("？？我没说不给啊，尾号就是0004", False, "0004"),
    ("订单尾号就是1234", True, None),  # an order's, even where the phone's were asked
    # where the digits were asked for, a group on its own answers the step
    ("密码改好了。继续吧 0004", True, "0004"),
    ("0002 第一句话就说了的", True, "0002"),
    ("我没忘啊，就是5678", True, "5678"),
    # ... but not where they were not
    ("密码改好了。继续吧 0004", False, None),
    ("我没忘啊，就是5678", False, None),
])
def test_four_digits_need_to_be_the_answer(text: str, asked: bool, last4: str | None) -> None:
    assert find_ids(text, asked_for_digits=asked)[1] == last4


def test_the_handoff_reader_takes_digits_that_stand_alone_but_no_amount() -> None:
    assert extract_last4("帮我转人工  0002") == "0002"
    assert extract_last4("他要收2800") is None


# --- shape 3: no phone for it, and ways to end the check ------------------------------------
@pytest.mark.parametrize(("text", "reading"), [
    ("没有他手机号", "not_mine"),
    ("我说了没有他手机号啊", "not_mine"),
    ("我说了我没有老板手机号啊", "not_mine"),
    ("手机号不是我的", "not_mine"),
    ("不知道老板的手机号", "not_mine"),
    ("手机在老板那", "not_mine"),
    ("拿不到。那不查了，我不是商户本人，有没有别的办法确认？", "not_mine"),
    ("那你这边能帮我查一下其中一个吗，子商户号1900000002，我没有他手机号", "not_mine"),
    ("手机号忘了", "forgot"),
    ("不记得了", "forgot"),
    ("我换号了", "forgot"),
    ("我还没输手机号呢，2800是他要的钱", None),
    ("0004", None),
    ("好的", None),
])
def test_phone_unavailable(text: str, reading: str | None) -> None:
    assert read_phone_unavailable(text) == reading


@pytest.mark.parametrize("text", ["不用查了", "那不查了", "好，不用了", "算了", "不用再核对了",
                                  "不继续了。我申诉是11月20号交的", "我说了不核对了！",
                                  "不查！只问一般情况"])
def test_ways_to_end_the_check_are_a_cancel(text: str) -> None:
    assert CANCEL.match(text)
    assert classify(Said(text=text, intent="deny", confidence=0.9), None) == Move.CANCEL


@pytest.mark.parametrize("text", ["好，那我等客服电话，谢谢", "我等客服回电", "那我等你们通知"])
def test_waiting_for_a_call_is_a_closing(text: str) -> None:
    assert classify(Said(text=text, intent="thank", confidence=0.6), None) == Move.CLOSING


# --- shape 5: who is asking when it is not the merchant -------------------------------------
@pytest.mark.parametrize(("text", "role"), [
    ("我是店里的收银员，老板出差了，店里收款码今天突然收不了钱", "staff"),
    ("我是店员，老板让我帮忙问下，店里码今天好几个顾客说付不了", "staff"),
    ("我是员工，查不了账户", "staff"),
    ("我不是老板啊，商户号和手机都不知道", "staff"),
    ("拿不到。那不查了，我不是商户本人", "staff"),
    ("我是外包开发，没有老板手机号", "developer"),
    ("我是开发，不是老板", "developer"),
    ("我们是做餐饮SaaS的服务商", "service_provider"),
    ("我不是商户，我是付钱的顾客", "payer"),
    ("我没有商户号", "personal"),
    ("我不是商家，就是普通人，微信收钱被限制了", "personal"),
    ("我不是商户，朋友转账给我后被限制收款了", "personal"),
    ("我是顾客，付款被限制了", "payer"),
    ("我刚在一家店扫码付钱，提示商家收款受限，是我微信的问题还是店家的问题？", "payer"),
    ("扫店家的码付款一直失败，钱会不会被扣", "payer"),
    ("顾客扫我的码付不了，是我的问题还是顾客的问题", None),
    ("我们是服务商", "service_provider"),
    ("我不是服务商 我就是店老板 商户号在哪能找到", None),
    ("收款码突然收不了钱了，商户号不记得了，当时是服务商帮我开的", None),
    ("我帮我舅舅问一下，他开了个数码店，提示风控", "staff"),
    ("我的收款码被限制了", None),
    ("老板您好，我想问下费率", None),
])
def test_role_of(text: str, role: str | None) -> None:
    assert role_of(text) == role


@pytest.mark.parametrize(("text", "own"), [
    ("能查到我们服务商号本身有没有被处罚吗？", True),
    ("我问的是服务商自己的号有没有被处罚，去哪看？", True),
    ("服务商号有没有被处罚", True),
    ("我们服务商名下的子商户被限制了", False),
    ("服务商能不能代子商户提交申诉", False),
])
def test_the_providers_own_account(text: str, own: bool) -> None:
    assert about_provider_account(text) is own


# --- safety: the emergency answer's own advice, done, is not a new scam ---------------------
@pytest.mark.parametrize("text", ["密码改好了。继续吧 0004", "密码我已经改了，钱他还能提走吗",
                                  "已经修改了支付密码"])
def test_a_password_already_changed_is_no_scam_signal(text: str) -> None:
    assert safety_of(text) is None


@pytest.mark.parametrize(("text", "safety"), [
    ("我把密码给他了", Safety.LEAKED),
    ("有人要我的支付密码", Safety.SCAM),
])
def test_passwords_still_are(text: str, safety: Safety) -> None:
    assert safety_of(text) is safety
