"""Property-based tests (Hypothesis) of the two parsers that meet raw outside input:
the text normalizer and the WeChat request handling."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addons.channels.wechat import WeChatConfig, WeChatInput
from core.privacy import mask_personal_data
from core.text import normalize
from tests.wechat.client import TOKEN, wechat_send

# Chinese, traditional, pinyin-annotated, full-width, emoji, controls and the rest.
TEXT = st.text(alphabet=st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from(list("()（）０１２３ＡａXxàǎōü 1234567890abcxyz,.!?\n\t\u200b\ufeff")),
    st.characters(),
), max_size=200)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_normalizer_offsets_always_point_into_the_original(text: str) -> None:
    result = normalize(text)
    assert len(result.source) == len(result.text)
    assert all(0 <= index < len(text) for index in result.source)
    # In order; a word replaced by a longer one ("冇" -> "没有") maps each new character
    # to the replaced word's start, so an index may repeat.
    assert list(result.source) == sorted(result.source)
    start, end = result.original_span(0, len(result.text), len(text))
    assert 0 <= start <= end <= len(text)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_normalizer_is_idempotent(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_masking_is_idempotent_and_keeps_length_of_non_numbers(text: str) -> None:
    once = mask_personal_data(text)
    assert mask_personal_data(once) == once


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)


def channel() -> WeChatInput:
    return WeChatInput(WeChatConfig(token=TOKEN, reply_timeout_s=1.0))


@given(st.binary(max_size=2000), st.dictionaries(
    st.sampled_from(["signature", "timestamp", "nonce", "msg_signature", "encrypt_type",
                     "openid", "echostr"]), st.text(max_size=60), max_size=7))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_never_crash_and_never_reach_the_bot_unsigned(
    body: bytes, query: dict[str, str]
) -> None:
    bot = Recorder()
    response = asyncio.run(channel().handle_post(query, body, bot))
    assert response.status in (200, 400, 403, 413)
    assert bot.messages == []  # nothing unsigned gets through


# What WeChat can carry: any character XML 1.0 allows (no control characters).
XML_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=300)


@given(XML_TEXT)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_signed_messages_with_any_text_are_handled(content: str) -> None:
    bot = Recorder()
    xml = wechat_send.text_xml("o-prop-user", content, msg_id=int(time.time() * 1e6))
    query, body = wechat_send.signed_request(xml, TOKEN, "", "")
    response = asyncio.run(channel().handle_post(query, body, bot))
    assert response.status == 200
