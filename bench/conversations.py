"""Scripted conversations: the assistant's (Chinese) and the starter bot's (English)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from bench.load import Conversation, Turn

# (question, a fragment its answer must contain); simplified, traditional and pinyin.
FAQ = [
    ("客服电话多少", "95017"),
    ("为什么会被限制收款", "触发原因"),
    ("申诉要准备什么材料", "申诉步骤"),
    ("解封要多久", "工作日"),
    ("钱会不会被没收", "没收"),
    ("你是机器人吗", "不是真人"),
    ("客服電話是多少", "95017"),
    ("費率一般是多少", "费率"),
    ("怎麼(me)申(shēn)訴(sù)", "申诉步骤"),
    ("有没有人工客服", "95017"),
]

# Demo merchants: id, last 4 digits of the bound phone, fragment of the state answer.
MERCHANTS = [
    ("1900000001", "0001", "状态正常"),
    ("1900000002", "0002", "限制收款"),
    ("1900000003", "0003", "冻结"),
    ("1900000004", "0004", "风控"),
]


def faq_conversation(index: int) -> Conversation:
    questions = [FAQ[(index * 3 + k) % len(FAQ)] for k in range(3)]
    return Conversation("faq", (
        Turn("你好", "greet", ("收款账户助手",)),
        *(Turn(text, "question", (fragment,)) for text, fragment in questions),
        Turn("谢谢", "thank", ("不客气",)),
    ))


def lookup_conversation(index: int) -> Conversation:
    merchant_id, last4, state = MERCHANTS[index % len(MERCHANTS)]
    return Conversation("lookup", (
        Turn("帮我查一下账户状态", "ask", ("商户号",)),
        Turn(merchant_id, "merchant_id", ("后4位",)),
        Turn(last4, "last4", (state,)),
        Turn("谢谢", "thank", ("不客气",)),
    ))


def appeal_conversation(index: int) -> Conversation:
    # Merchant 1900000002 may appeal; "不提交" at the end keeps the database unchanged.
    return Conversation("appeal", (
        Turn("我要申诉", "ask", ("商户号",)),
        Turn("1900000002", "merchant_id", ("后4位",)),
        Turn("0002", "last4", ("异地扫码收款被限制",)),  # the category, from the reason
        Turn("外地的老客户扫店里的码买水果，都有聊天记录", "description", ("手机号",)),
        Turn("13800000002", "contact", ("138****0002",)),
        Turn("不提交", "deny", ("没有提交",)),
    ))


def assistant_conversations() -> Iterator[Conversation]:
    """FAQ, account look-up, appeal form, round and round (15 turns a round)."""
    for index in itertools.count():
        yield faq_conversation(index)
        yield lookup_conversation(index)
        yield appeal_conversation(index)


def baseline_conversations() -> Iterator[Conversation]:
    """The starter bot's stories and rules: greet, moods, affirm/deny, goodbye, bot."""
    happy = Conversation("happy", (
        Turn("hi", "greet", ("How are you",)),
        Turn("I am great", "mood_great", ("carry on",)),
        Turn("bye", "goodbye", ("Bye",)),
    ))
    sad_helped = Conversation("sad_helped", (
        Turn("hi", "greet", ("How are you",)),
        Turn("I'm sad", "mood_unhappy", ("cheer you up",)),
        Turn("yes", "affirm", ("carry on",)),
    ))
    sad_not_helped = Conversation("sad_not_helped", (
        Turn("hi", "greet", ("How are you",)),
        Turn("I'm sad", "mood_unhappy", ("cheer you up",)),
        Turn("no", "deny", ("Bye",)),
    ))
    bot = Conversation("bot", (
        Turn("are you a bot?", "bot_challenge", ("I am a bot",)),
        Turn("bye", "goodbye", ("Bye",)),
    ))
    yield from itertools.cycle([happy, sad_helped, sad_not_helped, bot])


def distinct_messages(conversations: list[Conversation]) -> list[str]:
    """Every distinct user message of a script (for NLU-only parse timings)."""
    return list(dict.fromkeys(t.message for c in conversations for t in c.turns))
