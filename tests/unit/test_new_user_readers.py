"""Readers the second 50-conversation new-user run (issue 19) found wrong: pure patterns,
no model and no database."""

from __future__ import annotations

import pytest

from actions.repair import Safety, Said, classify, role_of, safety_of
from actions.verification import SOMEONE_ELSES
from core.answers import read_handoff_contact
from core.knowledge.asks import asks
from core.privacy import find_mobile
from core.text import normalize
from core.voice import tells_of_scam


@pytest.mark.parametrize(("text", "phone"), [
    ("打我电话吧 139 1234 5678", "13912345678"),
    ("186-0000-1234", "18600001234"),
    ("电话138.0000.0003谢谢", "13800000003"),
    ("１３９１２３４５６７８", "13912345678"),
    ("13800000003", "13800000003"),
    ("订单 2024-11-20", None),
    ("1900000002 0002", None),
    ("139 1234 56789", None),  # 12 digits: no phone
])
def test_a_mobile_number_is_read_as_people_type_it(text: str, phone: str | None) -> None:
    assert find_mobile(text) == phone


def test_the_handoffs_phone_step_takes_a_grouped_number() -> None:
    assert read_handoff_contact("打我电话吧 139 1234 5678") == "13912345678"
    assert read_handoff_contact("186-0000-1234") == "18600001234"


@pytest.mark.parametrize(("text", "told"), [
    ("请问一下，我的帐户被冻结了，钱提不出来，要怎么办才好？", False),
    ("我没有给别人验证码啊，是微信支付说我的商户号冻结了", False),
    ("我不是开发 我是开服装店的老板 这提示是客人手机上显示的", False),
    ("客服让我把验证码发给他", True),
    ("有人要租我的收款码", True),
    ("收款码被人换了", True),
    ("一个0086开头的号码打过来说是微信客服", True),
])
def test_a_scam_story_is_told_by_its_words(text: str, told: bool) -> None:
    assert tells_of_scam(text) is told


@pytest.mark.parametrize(("text", "safety"), [
    ("交了2000是不是就能马上恢复", Safety.SCAM),  # asking before paying: the warning
    ("我还没转钱 他说交2000保证金就能解封", Safety.SCAM),
    ("我已经转了2000给解封顾问", Safety.PAID),
    ("交了500块解封费 现在联系不上了", Safety.PAID),
    ("有个客服让我交2000保证金 我交了", Safety.PAID),
])
def test_money_not_paid_yet_is_not_the_emergency(text: str, safety: Safety) -> None:
    assert safety_of(text) is safety


@pytest.mark.parametrize("text", ["我是店里的客服小妹 不是老板哈 商户号我也不知道",
                                  "我不是老板", "我是我们店的运营"])
def test_staff_are_recognised_in_their_own_words(text: str) -> None:
    assert role_of(text) == "staff"


@pytest.mark.parametrize("text", ["不是老板的问题吧", "这不是老板说的"])
def test_not_the_boss_in_another_sense_is_no_role(text: str) -> None:
    assert role_of(text) is None


@pytest.mark.parametrize(("text", "elses"), [
    ("这不是我的 是我隔壁老王的店 他被冻结了", True),
    ("帮朋友查一下他的商户号", True),
    ("我朋友的店被冻结了 帮他看看", True),
    ("这不是我的错吧", False),
    ("我隔壁店也被限了 我的也是", False),
    ("帮我查下1900000003", False),
])
def test_asking_about_someone_elses_merchant_is_recognised(text: str, elses: bool) -> None:
    assert bool(SOMEONE_ELSES.search(text)) is elses


def test_a_story_saying_a_few_days_ago_is_a_description_not_a_question() -> None:
    """"前几天有几个老顾客…": "几天" here is no question; the appeal's description step
    took the whole story as a digression and asked again."""
    story = ("我在县城开早餐店 卖包子豆浆油条 开了6年了 平时都是客人在店里扫码 前几天有几个老顾客"
             "回外地老家 他们远程扫码先付的钱 一共也就七八单 每单十几块")
    said = Said(text=story, intent="out_of_scope", confidence=0.55)
    assert not said.is_question
    assert classify(said, story, free_text=True).value == "answer"
    assert Said(text="申诉要几天", intent="out_of_scope", confidence=0.9).is_question
    assert asks("前几天交的申诉。审核要几天") == ["审核要几天"]


@pytest.mark.parametrize(("text", "mandarin"), [
    ("咁即係佢係呃人㗎？", "那就是他是骗人?"),
    ("咁我而家點算", "那我现在怎么办"),
])
def test_more_cantonese_reads_as_mandarin(text: str, mandarin: str) -> None:
    assert normalize(text).text == mandarin


def test_denying_a_leak_is_no_emergency() -> None:
    assert safety_of(normalize("我沒有給別人驗證碼啊，是微信支付說我的商戶號凍結了").text) is None
    assert safety_of("我把验证码给他了") is Safety.LEAKED


def test_digits_spelled_out_are_the_phones() -> None:
    from actions.verification import find_ids

    assert find_ids("我自己的是 1900-0000-04，尾号 零零零四") == ("1900000004", "0004")
    assert find_ids("一二三四五六七") == (None, None)  # seven: no id, no suffix


def test_a_no_asked_as_a_question_answers_the_advisor() -> None:
    from core.answers import read_miniprogram, read_website_icp

    assert read_website_icp("我就卖点土鸡蛋，哪有什么网站") is False
    assert read_miniprogram("哪有什么小程序") is False
    assert read_website_icp("有网站吗？") is None  # a real question still answers nothing


def test_leaving_a_step_to_us_is_a_skip() -> None:
    from actions.repair import SKIP

    assert SKIP.search("你直接推荐吧")
    assert not SKIP.search("你推荐的那个怎么开通")


@pytest.mark.parametrize("text", [
    "商户号被冻结了，有人说是我把验证码给别人了，我没给别人验证码！！从来没有 凭什么冻我",
    "所以跟验证码根本没关系对吧？你刚才让我打电话冻结账户",
])
def test_a_denied_leak_is_neither_an_emergency_nor_a_scam_story(text: str) -> None:
    assert safety_of(text) is None
    assert not tells_of_scam(text)


def test_a_scammer_pressing_for_more_is_a_scam_in_progress() -> None:
    assert safety_of(normalize("佢而家仲喺度傳訊息俾我 話唔俾多5000就連嗰3000都冇埋 點算").text) \
        is Safety.SCAM


def test_asking_how_to_avoid_it_next_time_is_not_a_what_works_ask() -> None:
    from actions.capability import asks_capability

    assert not asks_capability("收完就提现到底哪里违规了 以后我该怎么提才不会再被冻")
    assert asks_capability("那审核期间冻结的钱能不能先提一点出来交房租？")


@pytest.mark.parametrize(("text", "safety"), [
    ("你们客服说我泄露了验证码给别人 我根本没有！！我连验证码短信都没收到过 凭什么说是我泄露的", None),
    ("我没给他验证码密码啥的 就加了好友", None),
    ("他让我报验证码 我没给", Safety.SCAM),  # asked for it: the warning all the same
    ("一个0086开头的号码打过来说是微信客服", Safety.SCAM),  # a call, not a payment
])
def test_denials_and_calls_read_right(text: str, safety: Safety | None) -> None:
    assert safety_of(text) is safety
    if safety is None:
        assert not tells_of_scam(text)
