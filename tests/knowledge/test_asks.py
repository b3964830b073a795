"""Splitting a message into its asks, so that each is answered."""

from __future__ import annotations

import pytest

from core.knowledge.asks import asks
from core.text import normalize


@pytest.mark.parametrize(("text", "expected"), [
    ("商戶號被凍結了，錢甚麼時候能提？申訴又要多久", ["商户号被冻结了,钱什么时候能提", "申诉又要多久"]),
    ("费率多少，另外能不能开发票", ["费率多少", "能不能开发票"]),
    ("钱什么时候能提，申诉要多久", ["钱什么时候能提", "申诉要多久"]),
    ("我店被限了，钱什么时候能提，申诉要多久", ["钱什么时候能提", "申诉要多久"]),
])
def test_two_asks_are_found_in_order(text: str, expected: list[str]) -> None:
    assert asks(normalize(text).text) == expected


@pytest.mark.parametrize("text", [
    "我的收款码被限制了怎么办",
    "店里收款码被限制了，我是开小炒店的，现在该怎么办",
    "你好我想问一下那个延迟结算了钱要过几天才到要多久才能恢复正常啊",
    "好的",
    "",
])
def test_one_ask_or_none_is_not_split(text: str) -> None:
    assert len(asks(normalize(text).text)) <= 1


def test_at_most_three_asks() -> None:
    text = "费率多少？能开发票吗？怎么申诉？要多久？客服电话多少？"
    assert len(asks(text)) == 3
