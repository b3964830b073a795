"""The advisor's decision: which questions matter and what it recommends."""

from __future__ import annotations

import pytest

from actions.forms import Answer
from actions.remote_collection import (
    Answers,
    parse_monthly_volume,
    parse_payer_location,
    parse_urgency,
    parse_yes_no,
    plan,
    reasons,
)
from actions.repair import Said


@pytest.mark.parametrize(
    ("answers", "asked", "option"),
    [
        (Answers(), ["payer_location"], None),
        (Answers(payer_location="local"), ["payer_location"], "offline_qr"),
        (Answers(payer_location="remote", has_website_icp=True),
         ["payer_location", "has_website_icp"], "website_api"),
        (Answers(payer_location="both", has_website_icp=False, has_miniprogram=True),
         ["payer_location", "has_website_icp", "has_miniprogram"], "miniprogram"),
        (Answers(payer_location="remote", has_website_icp=False, has_miniprogram=False,
                 urgency="fast"),
         ["payer_location", "has_website_icp", "has_miniprogram", "urgency"],
         "multi_channel_code"),
        (Answers(payer_location="remote", has_website_icp=False, has_miniprogram=False,
                 urgency="normal", monthly_volume="large"),
         ["payer_location", "has_website_icp", "has_miniprogram", "urgency",
          "monthly_volume"], "miniprogram"),
        (Answers(payer_location="remote", has_website_icp=False, has_miniprogram=False,
                 urgency="normal", monthly_volume="small"),
         ["payer_location", "has_website_icp", "has_miniprogram", "urgency",
          "monthly_volume"], "multi_channel_code"),
        (Answers(payer_location="remote", has_website_icp=False, has_miniprogram=False,
                 urgency="normal"),
         ["payer_location", "has_website_icp", "has_miniprogram", "urgency",
          "monthly_volume"], None),
    ],
)
def test_plan_asks_only_what_matters(answers: Answers, asked: list[str],
                                     option: str | None) -> None:
    assert plan(answers) == (asked, option)


def test_reasons_name_the_merchants_situation() -> None:
    website = reasons(Answers(payer_location="remote", has_website_icp=True), "website_api")
    assert "外地" in website and "备案" in website
    local = reasons(Answers(payer_location="local"), "offline_qr")
    assert "当面" in local
    # "不确定备案了没" / "还没上线" read as no: never told they have none.
    code = reasons(Answers(payer_location="remote", has_website_icp=False,
                           has_miniprogram=False, urgency="fast"), "multi_channel_code")
    assert "没有网站" not in code and "还没有能用的" in code and "急" in code


def value(answer: Answer | None) -> object:
    return None if answer is None else answer.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "local"), ("２", "remote"), ("2", "remote"), ("第3个", "both"), ("都是外地的", "remote"),
     ("店里的老顾客", "local"), ("本地外地都有", "both"), ("不知道", None)],
)
def test_parse_payer_location(text: str, expected: str | None) -> None:
    assert value(parse_payer_location(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "fast"), ("2", "normal"), ("不急，可以等", "normal"), ("越快越好", "fast"),
     ("随便", None)],
)
def test_parse_urgency(text: str, expected: str | None) -> None:
    assert value(parse_urgency(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "small"), ("3", "large"), ("大概每月20万", "large"), ("5万左右", "medium"),
     ("八千", "small"), ("两万", "medium"), ("一万二", "medium"), ("三十万", "large"),
     ("8000", "small"), ("3k", "small"), ("一般般吧", None), ("我有3个店", None)],
)
def test_parse_monthly_volume(text: str, expected: str | None) -> None:
    assert value(parse_monthly_volume(text)) == expected


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("有，无需备案", "deny", True),  # the first clause decides, whatever the model says
        ("有", None, True),
        ("没有", None, False),
        ("没有，还没做", "affirm", False),
        ("1", None, True),
        ("第二个", None, False),
        ("备案过了", "affirm", True),
        ("还没弄过", "deny", False),
        ("不确定", "deny", None),  # not a no: the form explains how it counts it
        ("网站是什么", None, None),
    ],
)
def test_parse_yes_no(text: str, intent: str | None, expected: bool | None) -> None:
    said = Said(text=text, intent=intent, confidence=0.95 if intent else 0.0)
    assert value(parse_yes_no(said)) == expected


def test_keyword_guesses_are_marked_as_guesses() -> None:
    assert parse_payer_location("2").sure
    assert not parse_payer_location("都是外地的").sure
