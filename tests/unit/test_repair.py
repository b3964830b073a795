"""What a message inside a form is (actions/repair.py), without a model."""

from __future__ import annotations

import pytest

from actions.repair import Move, Said, classify, is_digression


def said(text: str, intent: str | None = "inform", confidence: float = 0.95) -> Said:
    return Said(text=text, intent=intent, confidence=confidence)


@pytest.mark.parametrize(
    ("message", "parsed", "move"),
    [
        (said("1900000002"), "1900000002", Move.ANSWER),
        (said("算了", "deny"), None, Move.CANCEL),
        (said("取消吧", "deny"), "x", Move.CANCEL),  # before any answer
        (said("重新来"), None, Move.RESTART),
        (said("刚才的手机号说错了"), None, Move.CORRECT),
        (said("哪里错了？", "ask_abnormal_reason"), None, Move.DIGRESS),  # a question
        (said("转人工"), None, Move.HUMAN),
        (said("帮我转人工吧", "request_human"), None, Move.HUMAN),
        (said("怎么联系客服？", "contact_support"), None, Move.DIGRESS),  # the hotline
        (said("申诉要准备什么材料", "ask_appeal_process"), None, Move.DIGRESS),
        # Issue 19: thanks are a move of their own (acknowledged, never a hint).
        (said("谢谢", "thank"), None, Move.THANKS),
        (said("那我现在该怎么办", "inform", 0.4), None, Move.DIGRESS),  # question shape
        (said("abc", "out_of_scope", 1.0), None, Move.MISS),  # gibberish, not a question
        (said("天气怎么样？", "out_of_scope", 0.9), None, Move.DIGRESS),
        (said("123"), None, Move.MISS),
    ],
)
def test_classify(message: Said, parsed: object, move: Move) -> None:
    assert classify(message, parsed) == move


def test_skip_only_where_the_slot_allows_it() -> None:
    assert classify(said("不知道"), None, can_skip=True) == Move.SKIP
    assert classify(said("不知道"), None, can_skip=False) == Move.MISS


def test_a_story_is_a_description_unless_asked_as_a_question() -> None:
    story = said("外地客户扫码买水果被限制了，都有聊天记录", "report_account_abnormal", 0.99)
    assert classify(story, story.text, free_text=True) == Move.ANSWER
    question = said("申诉材料要准备什么？", "ask_appeal_process", 0.99)
    assert classify(question, question.text, free_text=True) == Move.DIGRESS
    short_request = said("帮我查下账户状态", "check_account_status", 0.99)
    assert is_digression(short_request, free_text=True)


def test_a_short_report_of_the_problem_is_a_description() -> None:
    report = said("说不清楚，就是收不了钱", "report_account_abnormal", 0.99)
    assert classify(report, report.text, free_text=True) == Move.ANSWER


def test_a_short_dont_know_in_free_text_is_a_skip_even_when_it_parses() -> None:
    """"真不知道怎么写" is long enough to parse as a description; it is not one."""
    dont_know = said("真不知道怎么写", "deny", 0.6)
    assert classify(dont_know, dont_know.text, free_text=True, can_skip=True) == Move.SKIP
    story = said("原因不清楚，外地客户扫码买水果就被限制收款了", "report_account_abnormal")
    assert classify(story, story.text, free_text=True, can_skip=True) == Move.ANSWER
