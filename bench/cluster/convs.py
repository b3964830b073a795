"""The conversation mix of the cluster bench: bench/conversations.py's FAQ, account
look-up (identity check) and appeal form, plus the remote-collection advisor."""

from __future__ import annotations

from bench.conversations import FAQ, appeal_conversation, lookup_conversation
from bench.load import Conversation, Turn

# bench/conversations.py's questions minus "有没有人工客服", which now offers the identity
# check before a hand-off (a queue entry in the agent console is not what a bench wants).
QUESTIONS = [(text, fragment) for text, fragment in FAQ if text != "有没有人工客服"]


def faq_conversation(index: int) -> Conversation:
    questions = [QUESTIONS[(index * 3 + k) % len(QUESTIONS)] for k in range(3)]
    return Conversation("faq", (
        Turn("你好", "greet", ("收款账户助手",)),
        *(Turn(text, "question", (fragment,)) for text, fragment in questions),
        Turn("谢谢", "thank", ("不客气",)),
    ))


def advisor_conversation(index: int) -> Conversation:
    # tests/e2e/test_guided_conversations.py: payers elsewhere, a website with ICP filing.
    opening = ("外地客户怎么给我付款", "異(yì)地的客人怎麼付錢給我")[index % 2]
    return Conversation("advisor", (
        Turn(opening, "ask", ()),
        Turn("/affirm", "affirm", ("付款客户主要在哪里",)),
        Turn("2", "where", ("备案",)),
        Turn("有，网站备案了", "icp", ("推荐",)),
    ))


KINDS = ("faq", "lookup", "appeal", "advisor")
BUILDERS = {"faq": faq_conversation, "lookup": lookup_conversation,
            "appeal": appeal_conversation, "advisor": advisor_conversation}
# One round: 2 FAQ (5 turns each), 2 look-ups (4), 1 appeal (7), 1 advisor (4) = 29 turns.
ROUND = ("faq", "lookup", "appeal", "faq", "lookup", "advisor")


def conversation(index: int) -> Conversation:
    kind = ROUND[index % len(ROUND)]
    return BUILDERS[kind](index // len(ROUND) + index)


# Questions without digits whose answers need neither the merchant DB nor a form: the
# growth measurement (bench/cluster/growth.py) and the same-sender race.
PLAIN_QUESTIONS = (
    ("客服电话多少", "95017"),
    ("解封要多久", "工作日"),
    ("申诉要准备什么材料", "申诉步骤"),
    ("钱会不会被没收", "没收"),
    ("费率一般是多少", "费率"),
    ("为什么会被限制收款", "触发原因"),
)
