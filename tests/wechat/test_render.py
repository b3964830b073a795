"""Rendering bot messages for WeChat: numbered choices (read back by the shared matcher
in ``core.choices``, as ``addons.typed_choices`` does), splitting, XML safety."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring
from wechatpy.replies import create_reply

from addons.channels.wechat_render import (
    MAX_TEXT_BYTES,
    cdata_safe,
    render_messages,
    split_text,
    utf8_len,
)
from core.choices import match, offered, parse_choice_number, pick

GREET = [{
    "text": "你好，我是收款账户助手。",
    "buttons": [
        {"title": "查我的账户状态", "payload": "/check_account_status"},
        {"title": "为什么会被限制", "payload": "/ask_abnormal_reason"},
        {"title": "怎么申诉", "payload": "/ask_appeal_process"},
    ],
}]


def test_buttons_become_numbered_lines_and_remembered_payloads() -> None:
    rendered = render_messages(GREET)
    assert rendered.text == (
        "你好，我是收款账户助手。\n1. 查我的账户状态\n2. 为什么会被限制\n3. 怎么申诉"
        "\n回复数字 1 / 2 / 3 选择，也可以直接打字问我。"
    )
    assert rendered.choices == ["/check_account_status", "/ask_abnormal_reason",
                                "/ask_appeal_process"]


def test_titles_that_carry_their_number_are_not_numbered_twice() -> None:
    rendered = render_messages([{"text": "哪一类？", "buttons": [
        {"title": "1 异地扫码收款被限制", "payload": "1"},
        {"title": "2 收款后马上提现被冻结", "payload": "2"},
    ]}, {"text": "或者", "buttons": [{"title": "1 转人工客服", "payload": "/request_human"}]}])
    assert "1. 异地扫码收款被限制\n2. 收款后马上提现被冻结" in rendered.text
    # Numbered across the turn: the second list's own "1" is not shown ("3. 1 转人工").
    assert "3. 转人工客服" in rendered.text
    assert rendered.choices == ["1", "2", "/request_human"]


def test_several_messages_are_joined_and_numbered_across_the_turn() -> None:
    rendered = render_messages([
        {"text": "第一句。"},
        {"text": "确认提交吗？", "buttons": [{"title": "确认提交", "payload": "/affirm"},
                                          {"title": "不提交", "payload": "/deny"}]},
        {"image": "https://example.com/a.png"},
        {"custom": {"raw": "json"}},
        {"text": "", "buttons": [{"title": "官网", "url": "https://pay.weixin.qq.com"}]},
    ])
    # The hint sits right under the numbered list, before later messages.
    assert rendered.text.startswith("第一句。\n\n确认提交吗？\n1. 确认提交\n2. 不提交"
                                    "\n回复数字 1 / 2 选择，也可以直接打字问我。\n\n")
    assert "图片：https://example.com/a.png" in rendered.text
    assert "· 官网：https://pay.weixin.qq.com" in rendered.text
    assert "raw" not in rendered.text
    assert rendered.choices == ["/affirm", "/deny"]


def test_no_buttons_no_choices() -> None:
    rendered = render_messages([{"text": "好的。"}])
    assert rendered.text == "好的。"
    assert rendered.choices == []
    assert render_messages([]).text == ""


CHOICES = ["/check_account_status", "/ask_abnormal_reason", "/ask_appeal_process"]


def choice_to_message(typed: str, payloads: list[str]) -> str | None:
    """What a typed text sends after the merchant read ``payloads`` as WeChat numbers."""
    messages = [{"text": "请选择", "buttons": [{"title": f"选项{n}", "payload": p}
                                           for n, p in enumerate(payloads, start=1)]}]
    picked = match(typed, offered(messages, numbered_across=True), clicks=False)
    return picked.choice.payload if picked else None


@pytest.mark.parametrize(
    ("typed", "number"),
    [("1", 1), ("１", 1), ("1.", 1), ("1。", 1), ("1、", 1), (" 2 ", 2), ("(3)", 3),
     ("（3）", 3), ("（2）", 2), ("第1个", 1), ("第一个", 1), ("第二项", 2), ("第2个", 2),
     ("选2", 2), ("选择二", 2), ("选第二个", 2), ("选择 3", 3), ("3号", 3), ("二吧", 2),
     ("2种", 2)],
)
def test_typed_numbers_pick_their_choice(typed: str, number: int) -> None:
    assert choice_to_message(typed, CHOICES) == CHOICES[number - 1]


def test_channel_and_forms_share_one_parser() -> None:
    # Whatever core.choices reads as a number, WeChat maps to the same choice.
    options = [f"/option_{n}" for n in range(1, 13)]
    for typed in ("第十二个", "十一", "选第十个", "12"):
        assert choice_to_message(typed, options) == pick(typed, options)
        assert choice_to_message(typed, options) == options[parse_choice_number(typed) - 1]


@pytest.mark.parametrize(
    "typed", ["", "0", "1900000002", "0002", "123", "1个月", "我选1号方案吧", "一下", "abc",
              "1 2", "第", "😀", "查状态", "4", "第十个"],
)
def test_other_text_picks_nothing(typed: str) -> None:
    assert choice_to_message(typed, CHOICES) is None


def test_no_choices_nothing_to_pick() -> None:
    assert choice_to_message("1", []) is None


def test_numeric_payloads_pass_the_digit_through() -> None:
    # The appeal-category form expects "1".."4", exactly what its buttons send.
    assert choice_to_message("１", ["1", "2", "3", "4"]) == "1"
    assert choice_to_message("第三个", ["1", "2", "3", "4"]) == "3"


def test_a_numeric_payload_is_not_read_as_another_number() -> None:
    # WeChat's "2" is the second line shown, even when a later line's payload is "2".
    payloads = ["/knowledge", "/deny", "1", "2"]
    assert choice_to_message("2", payloads) == "/deny"
    assert choice_to_message("4", payloads) == "2"


def test_short_text_is_one_chunk() -> None:
    assert split_text("你好。") == ["你好。"]
    assert split_text("") == []
    assert split_text("  \n ") == []


def test_long_text_splits_at_sentence_ends_within_the_byte_limit() -> None:
    sentences = [f"第{i}句话说明收款限制的处理办法。" for i in range(300)]
    text = "".join(sentences)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(utf8_len(chunk) <= MAX_TEXT_BYTES for chunk in chunks)
    assert all(chunk.endswith("。") for chunk in chunks)  # no sentence cut
    assert "".join(chunks) == text


@pytest.mark.parametrize("end", ["！", "？", "!", "?", "\n"])
def test_every_sentence_end_is_a_split_point(end: str) -> None:
    text = ("这是一句话" * 20 + end) * 30
    chunks = split_text(text, max_bytes=400)
    assert all(utf8_len(chunk) <= 400 for chunk in chunks)
    assert all(chunk.endswith(end.strip() or "话") for chunk in chunks)


def test_a_sentence_longer_than_the_limit_is_cut_hard_and_nothing_is_lost() -> None:
    text = "收" * 3000  # 9,000 bytes, no sentence end
    chunks = split_text(text)
    assert all(utf8_len(chunk) <= MAX_TEXT_BYTES for chunk in chunks)
    assert "".join(chunks) == text
    assert len(chunks) == 5  # 666 characters of 3 bytes fit in 2,000 bytes


def test_hard_cut_prefers_a_comma_and_keeps_emoji_whole() -> None:
    text = "甲" * 50 + "，" + "乙" * 50
    assert split_text(text, max_bytes=200) == ["甲" * 50 + "，", "乙" * 50]
    family = "👨\u200d👩\u200d👧"  # one visible emoji of five code points
    chunks = split_text(family * 40, max_bytes=64)
    assert all(chunk.startswith("👨") and chunk.endswith("👧") for chunk in chunks)
    assert "".join(chunks) == family * 40


def test_cdata_escape_keeps_markup_as_text_in_the_reply_xml() -> None:
    nasty = "a]]><b>粗</b>&amp;<![CDATA[x]]>\x00\x07end"
    xml = create_reply(cdata_safe(nasty), render=True)
    assert fromstring(xml).findtext("Content") == "a]]><b>粗</b>&amp;<![CDATA[x]]>end"
