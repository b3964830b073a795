"""The advisor's decision: which questions matter and what it recommends."""

from __future__ import annotations

import pytest

from actions.remote_collection import (
    Answers,
    parse_monthly_volume,
    parse_payer_location,
    parse_urgency,
    plan,
    reasons,
)


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "local"), ("２", None), ("2", "remote"), ("第3个", "both"), ("都是外地的", "remote"),
     ("店里的老顾客", "local"), ("本地外地都有", "both"), ("不知道", None)],
)
def test_parse_payer_location(text: str, expected: str | None) -> None:
    # Full-width digits are turned into ASCII by the NLU normalizer before this point.
    assert parse_payer_location(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "fast"), ("2", "normal"), ("不急，可以等", "normal"), ("越快越好", "fast"),
     ("随便", None)],
)
def test_parse_urgency(text: str, expected: str | None) -> None:
    assert parse_urgency(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "small"), ("3", "large"), ("大概每月20万", "large"), ("5万左右", "medium"),
     ("八千", None), ("8000", "small"), ("3k", "small")],
)
def test_parse_monthly_volume(text: str, expected: str | None) -> None:
    assert parse_monthly_volume(text) == expected
