"""Turn Rasa bot messages into WeChat text: numbered choices, length splitting, XML safety.

WeChat text messages have no buttons, so a bot message's buttons become numbered lines
(1, 2, 3… across the turn) and the merchant answers with the number or the title. The
numbers are the ones ``core.choices.offered(..., numbered_across=True)`` gives, so what
the merchant reads here is exactly what ``addons.typed_choices`` maps a typed "2" back to
(from the conversation's own bot messages: nothing is remembered in the channel).

WeChat accepts about 2048 bytes of UTF-8 in one text message (passive reply and
customer-service message alike; longer content is cut or refused). ``MAX_TEXT_BYTES``
stays below that with room for the CDATA escaping of ``]]>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.choices import button_choice, message_buttons, own_number

MAX_TEXT_BYTES = 2000

# Sentence ends: a chunk may end after these without breaking a sentence.
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")
# Inside an over-long sentence, prefer cutting after these over a hard cut.
_SOFT_BREAKS = "，,；;、：: "
# Never cut right before these (they attach to the previous character).
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}
# XML 1.0 refuses these characters; WeChat would reject the whole reply.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass
class RenderedReply:
    """Text for the user and the payloads behind its numbered choices (choice n = index
    n-1; informative only: typed choices are read from the conversation)."""

    text: str
    choices: list[str] = field(default_factory=list)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def clean_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _XML_INVALID.sub("", text)


def cdata_safe(text: str) -> str:
    """wechatpy wraps Content in CDATA without escaping: split any ``]]>`` across sections."""
    return clean_text(text).replace("]]>", "]]]]><![CDATA[>")


def render_messages(messages: Iterable[Mapping[str, Any]]) -> RenderedReply:
    """Join one turn's bot messages into one text; buttons become numbered choices."""
    blocks: list[str] = []
    choices: list[str] = []
    last_choice_block = -1
    for message in messages:
        lines: list[str] = []
        numbered_before = len(choices)
        text = str(message.get("text") or "").strip()
        if text:
            lines.append(text)
        for button in message_buttons(message):
            entry = button_choice(button)
            if entry is None:
                title = str(button.get("title") or "").strip()
                url = str(button.get("url") or "").strip()
                if url:
                    lines.append(f"· {title}：{url}" if title else url)
                continue
            title, payload = entry
            choices.append(payload)
            # Titles like "1 异地扫码收款被限制" carry a number: shown once, the turn's.
            lines.append(f"{len(choices)}. {own_number(title)[1] or payload}")
        if message.get("image"):
            lines.append(f"图片：{message['image']}")
        if message.get("attachment"):
            lines.append(f"附件：{message['attachment']}")
        # "custom" payloads are for rich clients; a WeChat user would only see raw JSON.
        if lines:
            blocks.append("\n".join(lines))
            if len(choices) > numbered_before:
                last_choice_block = len(blocks) - 1
    if choices:
        # The hint goes right under the last numbered list, not after later messages.
        numbers = " / ".join(str(n) for n in range(1, len(choices) + 1))
        blocks[last_choice_block] += f"\n回复数字 {numbers} 选择，也可以直接打字问我。"
    return RenderedReply(clean_text("\n\n".join(blocks)), choices)


def _cut_index(text: str, max_bytes: int) -> int:
    """The largest prefix length of ``text`` within ``max_bytes``, cut at a friendly place."""
    size = 0
    limit = 0
    for index, char in enumerate(text):
        size += utf8_len(char)
        if size > max_bytes:
            break
        limit = index + 1
    limit = max(limit, 1)
    # Do not separate an emoji from its joiner or variation selector, or a combining mark.
    while limit > 1 and limit < len(text) and (
        text[limit] in _JOINERS
        or text[limit - 1] == "\u200d"
        or unicodedata.category(text[limit]) in {"Mn", "Me"}
    ):
        limit -= 1
    soft = max(text.rfind(ch, 0, limit) for ch in _SOFT_BREAKS)
    if soft >= limit // 2:
        return soft + 1
    return limit


def split_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> list[str]:
    """Split into chunks of at most ``max_bytes`` UTF-8 bytes at sentence ends (。！？!?\\n).

    A single sentence longer than the limit is cut inside (after a comma if there is
    one in the second half of the window, else at a character boundary).
    """
    if max_bytes < 8:
        raise ValueError("max_bytes too small")
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        if not sentence:
            continue
        if utf8_len(current + sentence) <= max_bytes:
            current += sentence
            continue
        if current:
            chunks.append(current)
            current = ""
        while utf8_len(sentence) > max_bytes:
            cut = _cut_index(sentence, max_bytes)
            chunks.append(sentence[:cut])
            sentence = sentence[cut:]
        current = sentence
    if current:
        chunks.append(current)
    return [chunk.strip() for chunk in chunks if chunk.strip()]
