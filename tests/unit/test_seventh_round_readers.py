"""Readers fixed after the seventh new-user round (issue 19): a homestay's customers paying
deposits or adding the owner on WeChat is business, not a scam; a code asked for but not
given is no leak; hedged phone digits are still the digits; impatience is no question."""

from __future__ import annotations

import pytest

from actions.handoff import RHETORICAL
from actions.repair import QUESTION, Safety, safety_of
from actions.verification import find_ids
from core.parting import parting_kind


@pytest.mark.parametrize("text", [
    "我民宿客人本来就是外地的 他们在家订房先把定金付了 那我以后该怎么收啊 那定金还收不收",
    "客人基本都外地的 好像有些是直接加我微信订的 以前让他们扫码付定金 一般付一半",
])
def test_customers_doing_business_is_no_scam(text: str) -> None:
    assert safety_of(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("有个顾问让我交800定金说能解封 我交了", Safety.PAID),
    ("加他微信说能解封", Safety.SCAM),
    ("刚才有个自称客服的打我电话，让我把验证码念给他，我还没念，要不要给他", Safety.SCAM),
    ("我把验证码念给他了", Safety.LEAKED),
])
def test_scams_are_still_told_apart(text: str, expected: Safety) -> None:
    assert safety_of(text) is expected


@pytest.mark.parametrize("text", ["1900000002 手机尾号好像是0002吧 对 0002",
                                  "1900000002 尾号应该是0002"])
def test_hedged_phone_digits_are_the_digits(text: str) -> None:
    assert find_ids(text) == ("1900000002", "0002")


def test_impatience_is_not_a_question_to_answer() -> None:
    assert RHETORICAL.search("直接转 核对啥核对") and RHETORICAL.search("等什么等")
    assert not RHETORICAL.search("冻结的钱啥时候能提")


def test_asking_if_it_is_enough_is_a_question() -> None:
    assert QUESTION.search("营业执照有的 这些够不够")


@pytest.mark.parametrize("text", ["好的 我先不付了 跟老板对一下码 3Q",
                                  "算了我先报警 谢谢啦辛苦了 xiexei"])
def test_typo_thanks_and_not_paying_are_partings(text: str) -> None:
    assert parting_kind(text) == "thank"


def test_money_handed_over_is_never_a_parting() -> None:
    assert parting_kind("好的我已经付了，谢谢") is None
