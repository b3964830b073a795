"""Answers with negation and conditions, step by step (core/answers.py), and the forms'
readers built on them: a table of what merchants really type at every yes/no and
multiple-choice step."""

from __future__ import annotations

import pytest

from actions.appeal import ValidateAppealForm
from actions.handoff import ValidateHandoffForm
from actions.remote_collection import ValidateRemoteAdviceForm
from actions.repair import Said
from core.answers import (
    UNSURE,
    read_appeal_confirm,
    read_handoff_contact,
    read_handoff_verify,
    read_miniprogram,
    read_monthly_volume,
    read_payer_location,
    read_urgency,
    read_website_icp,
    read_yes_no,
)

WEBSITE_ICP = [
    ("有网站但没备案", False),
    ("有是有但是没备案", False),
    ("有，但是还没备案", False),
    ("备案又要时间", False),  # a filing still to be done
    ("备案得等好久吧", False),
    ("有个网站 但是没备案。。备案又要时间 能先用吗", False),  # the no before the question
    ("网站有，备案没有", False),
    ("有，无需备案", False),  # the payment API needs the filing
    ("有网站，备案还在办", False),
    ("正在备案", False),
    ("还没", False),
    ("没有", False),
    ("没有网站", False),
    ("准备做个网站", False),
    ("有是有，但是还没弄好", False),
    ("不确定", UNSURE),
    ("备案有没有我也不清楚", UNSURE),
    ("有个网站 不确定备案没", UNSURE),  # not a "没备案": where to look it up is the answer
    ("不知道备没备案", UNSURE),
    ("不知道备案怎么弄", None),  # a question about filing, not about this site
    ("有网站 还没上线", False),
    ("网站还在做", False),
    ("继续", None),
    ("好的", None),
    ("网站是什么？", None),
    ("有网站", None),  # filed or not? The form asks about the filing
    ("有", True),
    ("1", True),
    ("2", False),
    ("有，已经备案了", True),
    ("有备案的网站", True),
    ("备案过了", True),
    ("/affirm", True),
]


@pytest.mark.parametrize(("text", "expected"), WEBSITE_ICP)
def test_website_with_icp_filing(text: str, expected: object) -> None:
    assert read_website_icp(text) == expected


MINIPROGRAM = [
    ("没有小程序但想做", False),
    ("有公众号，没有小程序", False),
    ("还在开发", False),
    ("有是有但是还没上线", False),
    ("在做了", False),
    ("还没", False),
    ("没有", False),
    ("打算做一个", False),
    ("不确定", UNSURE),
    ("继续", None),
    ("小程序是什么", None),
    ("有是有但是没开通支付", True),  # opening payment on it is the advice
    ("有，还没开通支付", True),
    ("小程序没开支付", True),
    ("有个小程序商城", True),
    ("小程序有的", True),
    ("有", True),
    ("1", True),
]


@pytest.mark.parametrize(("text", "expected"), MINIPROGRAM)
def test_miniprogram(text: str, expected: object) -> None:
    assert read_miniprogram(text) == expected


PAYER_LOCATION = [
    ("不是本地的", "remote"),
    ("没有本地客户，都是外地的", "remote"),
    ("都是外地的", "remote"),
    ("全国各地都有", "remote"),
    ("没有外地客户", "local"),
    ("没有 外地客户 都是街坊", "local"),  # the negation typed apart
    ("没 都是本地", "local"),
    ("没有外地的，都是到店的", "local"),
    ("店里的老顾客", "local"),
    ("不只是本地的", "both"),
    ("主要本地，也有外地的", "both"),
    ("外地的也有，店里的也有", "both"),
    ("本地外地都有", "both"),
    ("3", "both"),
    ("1", "local"),
    ("不确定", UNSURE),
    ("继续", None),
    ("外地的能扫吗？", None),
]


@pytest.mark.parametrize(("text", "expected"), PAYER_LOCATION)
def test_payer_location(text: str, expected: object) -> None:
    assert read_payer_location(text) == expected


URGENCY = [
    ("不是很急", "normal"),
    ("没那么急", "normal"),
    ("不太着急，可以等", "normal"),
    ("也不是特别急", "normal"),
    ("不赶时间", "normal"),
    ("等不了，越快越好", "fast"),
    ("不能等", "fast"),
    ("挺急的", "fast"),
    ("明天就要用", "fast"),
    ("1", "fast"),
    ("2", "normal"),
    ("不确定", UNSURE),
    ("继续", None),
    ("要多久能开通？", None),
]


@pytest.mark.parametrize(("text", "expected"), URGENCY)
def test_urgency(text: str, expected: object) -> None:
    assert read_urgency(text) == expected


MONTHLY_VOLUME = [
    ("不到一万", "small"),
    ("一万以下", "small"),
    ("不超过五千", "small"),
    ("没多少，刚开始做", "small"),
    ("不到十万", "medium"),
    ("两万左右", "medium"),
    ("一万以上", "medium"),
    ("十万以上", "large"),
    ("不止十万", "large"),
    ("几十万吧", "large"),
    ("3", "large"),
    ("不确定", UNSURE),
    ("继续", None),
    ("一般般吧", None),
]


@pytest.mark.parametrize(("text", "expected"), MONTHLY_VOLUME)
def test_monthly_volume(text: str, expected: object) -> None:
    assert read_monthly_volume(text) == expected


APPEAL_CONFIRM = [
    ("确认", True),
    ("不用改了，提交", True),
    ("没问题，提交吧", True),
    ("可以提交", True),
    ("嗯", True),
    ("不提交", False),
    ("先不交，我再想想", False),
    ("确认不提交", False),
    ("还没想好", False),
    ("不用提交了", False),
    ("不确定", None),  # not a yes, and not a no either: ask again
    ("继续", None),
    ("等一下", None),
    ("好的，但我想再补充一点", None),
    ("提交了多久出结果？", None),
    ("/affirm", True),
    ("/deny", False),
]


@pytest.mark.parametrize(("text", "expected"), APPEAL_CONFIRM)
def test_appeal_confirmation(text: str, expected: object) -> None:
    assert read_appeal_confirm(text) == expected


HANDOFF_VERIFY = [
    ("好", True),
    ("可以，先核对", True),
    ("需要", True),
    ("1", True),
    ("不用", False),
    ("不需要，直接转人工", False),
    ("没必要", False),
    ("好，但我不记得商户号", False),  # cannot: go on to the queue
    ("商户号忘了", False),
    ("2", False),
    ("不确定", UNSURE),
    ("继续", None),
    ("核对什么？", None),
    ("/deny", False),
]


@pytest.mark.parametrize(("text", "expected"), HANDOFF_VERIFY)
def test_handoff_verify(text: str, expected: object) -> None:
    assert read_handoff_verify(text) == expected


HANDOFF_CONTACT = [
    ("不用了", "declined"),
    ("算了", "declined"),
    ("不用留言了", "declined"),
    ("谢谢，不用了", "declined"),
    ("不留言了，我明天打95017", "declined"),
    ("不用打电话，这里回复就行", "chat"),
    ("不用打电话", "chat"),
    ("在这里回复我", "chat"),
    ("1", "chat"),
    ("13900001111", "13900001111"),
    ("打我电话 13900001111", "13900001111"),
    ("打我电话", None),  # which number? ask again
    ("什么时候上班？", None),
    ("在这里回复我 另外我申诉被驳回了怎么办", "chat"),  # the choice, then a question
    ("这里回复可以吗？", None),
]


@pytest.mark.parametrize(("text", "expected"), HANDOFF_CONTACT)
def test_handoff_contact(text: str, expected: object) -> None:
    assert read_handoff_contact(text) == expected


GENERIC = [
    ("有，无需备案", None, True),  # generic: the first clause decides
    ("没有，还没做", "affirm", False),
    ("有是有", None, True),
    ("还没", None, False),
    ("不确定", "deny", UNSURE),
    ("继续", "affirm", None),  # "go on" is not a yes, whatever the model says
    ("好的", "affirm", None),
    ("备案过了", "affirm", True),
    ("网站是什么", None, None),
]


@pytest.mark.parametrize(("text", "intent", "expected"), GENERIC)
def test_generic_yes_no(text: str, intent: str | None, expected: object) -> None:
    assert read_yes_no(text, intent, 0.99 if intent else 0.0) == expected


# --- the forms' readers: "继续" after a side question is never a yes -------------------


def said(text: str, intent: str = "affirm") -> Said:
    return Said(text=text, intent=intent, confidence=0.99)


async def test_continue_is_not_a_yes_at_any_step() -> None:
    advisor, appeal, handoff = (ValidateRemoteAdviceForm(), ValidateAppealForm(),
                                ValidateHandoffForm())
    tracker = None
    for parse in (advisor.parse_has_website_icp, advisor.parse_has_miniprogram,
                  advisor.parse_payer_location, advisor.parse_urgency,
                  advisor.parse_monthly_volume, appeal.parse_appeal_confirm,
                  handoff.parse_handoff_verify):
        assert await parse(said("继续"), tracker) is None, parse.__name__  # type: ignore[arg-type]


async def test_a_site_without_filing_is_a_sure_no() -> None:
    answer = await ValidateRemoteAdviceForm().parse_has_website_icp(
        said("有网站但没备案", "knowledge"), None)  # type: ignore[arg-type]
    # Sure: a confident other intent (the knowledge base) does not take it for a question.
    assert answer is not None and answer.value is False and answer.sure


async def test_not_sure_goes_to_the_forms_not_sure_path() -> None:
    form = ValidateRemoteAdviceForm()
    for parse in (form.parse_has_website_icp, form.parse_has_miniprogram, form.parse_urgency,
                  form.parse_monthly_volume):
        assert await parse(said("不确定", "deny"), None) is None  # type: ignore[arg-type]
