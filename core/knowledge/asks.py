"""The separate asks of one message.

Merchants often ask two things at once: "钱什么时候能提？申诉又要多久", "费率多少，另外能不能开
发票". The whole message gets one entry (the decision); each ask is also matched on its own so
that an ask the first answer does not cover is answered too. Pure functions of the
normalized text.
"""

from __future__ import annotations

import re

# Sentence ends, and the words that open a second ask ("另外", "还有就是", "顺便问下").
_BOUNDARY = re.compile(
    r"[?？。!！；;\n]+|(?:[，,、\s]*)(?:另外|还有就是|还有|顺便问(?:一下|下)?|再问(?:一下|下)?|以及|其次|"
    r"第二|二是|2[、.)）])")
_SOFT = re.compile(r"[，,]+")
# What makes a piece an ask (question words, or asking for something).
ASK = re.compile(
    r"[?？]|吗|嘛|什么|甚么|啥|怎么|怎样|为什么|为啥|如何|哪|多少|多久|(?<![前这那好过十两三])几天|多长时间|能不能|可不可以|"
    r"是不是|要不要|会不会|需不需要|有没有|能否|可否|咋"
)
_CONTENT = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
MIN_CHARS = 4
MAX_ASKS = 3


def _content(text: str) -> int:
    return len(_CONTENT.findall(text))


def asks(text: str) -> list[str]:
    """The asks of ``text`` in order (at most ``MAX_ASKS``), each a piece with a question
    word and at least ``MIN_CHARS`` characters; a message with one ask gives one or none.

    A sentence with two question words split by a comma ("钱什么时候能提，申诉要多久")
    is split at the comma when both halves ask."""
    found: list[str] = []
    for piece in _BOUNDARY.split(text or ""):
        piece = piece.strip(" ，,、")
        if not piece:
            continue
        halves = [h for h in _SOFT.split(piece) if h]
        asking = [h for h in halves if ASK.search(h) and _content(h) >= MIN_CHARS]
        if len(asking) >= 2 and all(ASK.search(h) for h in halves[-2:]):
            found.extend(asking)
        elif ASK.search(piece) and _content(piece) >= MIN_CHARS:
            found.append(piece)
    return found[:MAX_ASKS]
