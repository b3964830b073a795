"""What a merchant says about their own request for a person (the handoff).

While the handoff asks its questions, and after the conversation was queued or a
message (留言) was left, some messages are about that request itself, not a question for
the knowledge base: "取消留言" / "我没要转人工" / "客服也别打给我了" (cancel it),
"记到留言里了没有" / "客服打过来知道我是啥问题吧" (what it holds), "还要等多久" (where
it stands), "我的问题是…，麻烦跟客服说" (add to it). ``about_handoff`` tells which.
It is shared by the handoff form (``actions.handoff``) and the policy that routes such a
message to the handoff's own action once a request is open
(``addons.policies.handoff``); both must read a message the same way.

The patterns are deliberately narrow: a message that is not clearly about the request
goes on to the knowledge base as before.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

from core.text import normalize


class About(str, enum.Enum):
    CANCEL = "cancel"  # leave the queue / withdraw the message / do not hand over
    RECORDED = "recorded"  # what the request holds; does the agent know the problem
    WAIT = "wait"  # how long, when will somebody answer or call
    ADD = "add"  # more of the problem, for the agent


# "我没要转人工啊", "不用转人工了", "不要人工", "我不是要找人工".
NOT_PERSON = re.compile(
    r"(没|不|别|不用|不要|不需要|无需|没有|不是)(说|让|叫|要|想|用|需要|找)?(你)?(帮我)?"
    r"(转|找|接)?(人工|真人)"
    r"|(没|不|别|不用|不要|不需要|没有)(说|让|叫|要|想|用|需要)?(你)?(帮我)?(转|找|接)客服"
    r"|人工(就)?(先)?(不用|不要|算了|取消)"
)
# "取消留言", "留言不要了", "就是那个电话回访，取消吧", "不等了", "取消排队".
CANCEL_REQUEST = re.compile(
    r"(取消|撤回|撤销|删掉|删除|不要|不用|不留|别留)(了)?(这个|那个|这条|那条|我的|刚才的|刚刚的)?"
    r"(电话)?(留言|工单|回访|回电|排队)"
    r"|(留言|工单|回访|回电|排队)[^。.]{0,3}(取消|撤回|撤销|不要了|不用了|算了|删了|不留了)"
    r"|不(用|要|想)?等了|不排了|别排了|不排队了"
)
# "客服也别打给我了", "不用打电话给我了", "别联系我了" (not "别打电话，在这里回复就行").
DONT_CALL = re.compile(
    r"(别|不用|不要|不必|无需|用不着)(再)?(给我)?(打|回)(电话)?(给我|过来|来)?了"
    r"|(别|不用|不要|不必|无需)(再)?(给我)?打(电话)?(给我|过来)"
    r"|(别|不用|不要|不必)(再)?(联系|回访)我?了?"
)
REPLY_HERE = re.compile(r"这里|这边|留言|回复|微信|消息|文字|聊天|在线")
# A bare "算了" / "不用了" right after the bot said it queued or left the message.
BARE_CANCEL = re.compile(
    r"^(好吧|好的|那|嗯)?(算了|取消|不用了|不要了|不需要了|先不用了|撤回|撤销)(吧|了|啊|呗)?(谢谢)?$"
)
# "记到留言里了没有", "留言成功了吗", "有没有记下", "收到我的留言了吗".
RECORDED = re.compile(
    r"(留言|记下|记上|记到|记住|记了|记进|记录下|转告|转达|写上|写进|写到|加上|加到|补上|补到|带上)"
    r"[^，。,.]{0,8}(没有|没|吗|了吧|吧|呢|[?？])"
    r"|有没有(记|写|留|加|补|转告|转达)"
    r"|(留言|记录)(里|上)?(有|写了|记了)(什么|啥|哪些)"
    r"|收到(我的)?(留言|消息)了?(吗|没)"
)
# "客服打过来知道我是啥问题吧", "别又让我从头说一遍".
AGENT_KNOWS = re.compile(
    r"客服[^，。,.]{0,10}(知道|清楚|了解|看到|看得到|看得见|明白|晓得)[^，。,.]{0,6}"
    r"(我|情况|问题|说的|啥事|什么事)"
    r"|(从头|重新|再)(说|讲|描述|解释)(一)?(遍|次)"
    r"|不用(我)?(再)?(重复|说一遍)"
)
# "还要等多久", "客服什么时候打给我", "排到我了吗": the request, not an appeal's review.
WAIT = re.compile(
    r"(还要|还得|要)?等(多久|多长时间|到什么时候|到啥时候|几天)"
    r"|多久(能|才|会)?(有人|回复|回我|联系|打|处理|接|轮到)"
    r"|(什么时候|啥时候|几点|哪天)(能|会|才)?(有人|回复|回我|联系|打给我|打过来|打电话|处理|接入|轮到|上班)"
    r"|排到我|轮到我|前面还有|排第几|第几(个|位)|怎么还没(有)?(人|回复|打)"
)
NOT_THE_REQUEST = re.compile(r"申诉|审核|解封|解冻|解除|到账|提现|结算|恢复|放款|退款|开通|冻结")
# "我的问题是…", "补充一下…", "麻烦客服打电话的时候直接说这个".
ADD = re.compile(
    r"^(我的问题是|问题是|具体(情况|问题)?是|情况是|补充(一下|一点|说明)?|再补充|还有(一件事|个事|就是)"
    r"|帮我(加上|记上|补上|补充|加一句|转告)|麻烦(你)?(跟|和|帮我)?客服(说|讲)|跟客服说|告诉客服|转告客服)"
    r"|麻烦客服[^。]{0,16}(说这个|直接说|说一下|注意)"
    r"|(加|补|写|记)(到|进|在)留言"
    # "问题写的不对啊，帮我补一句：……", "你都没问我啥问题。。就是……".
    r"|(帮我|给我|麻烦(你)?)(补|加|添)(一句|一下|上|充)|问题(写|记)(的|得)?不对"
    r"|没问(我)?(啥|什么)问题"
)

# Bot messages after which a bare "算了" is about the request (queued / message left).
HANDOFF_MESSAGES = frozenset({
    "utter_handoff_queued", "utter_handoff_queued_next", "utter_handoff_waiting",
    "utter_handoff_waiting_next", "utter_handoff_waiting_unknown", "utter_handoff_ticket",
})
# Set in a bot message's metadata by the handoff's own answers (actions.handoff).
ANSWER_KEY = "handoff_answer"


def _text(text: str) -> str:
    return normalize(text or "").text.strip()


def is_handoff_message(metadata: Mapping[str, Any] | None) -> bool:
    metadata = metadata or {}
    return metadata.get("utter_action") in HANDOFF_MESSAGES or bool(metadata.get(ANSWER_KEY))


# "你是不是人工？", "不是真人吗": a question about the assistant, not a refusal.
ASKS_IF_PERSON = re.compile(r"是不是|不是(人工|真人)(吧|吗|么|呢)?[?？]?$")


def wants_no_person(text: str) -> bool:
    """"我没要转人工啊", "不用转人工了": a request for a person it is not."""
    value = _text(text)
    return bool(NOT_PERSON.search(value)) and not ASKS_IF_PERSON.search(value)


def cancels_request(text: str, after_handoff: bool = False) -> bool:
    """The merchant calls the request off: no person, no message, no call."""
    value = _text(text)
    if wants_no_person(value) or CANCEL_REQUEST.search(value):
        return True
    if DONT_CALL.search(value) and not REPLY_HERE.search(value):
        return True
    compact = re.sub(r"[\s,，。.!！~～、]+", "", value)
    return after_handoff and bool(BARE_CANCEL.match(compact))


def asks_if_agent_knows(text: str) -> bool:
    """"客服打过来知道我是啥问题吧", "别又让我从头说一遍"."""
    return bool(AGENT_KNOWS.search(_text(text)))


def about_handoff(text: str, after_handoff: bool = False) -> About | None:
    """What ``text`` says about the merchant's request for a person, if anything.
    ``after_handoff``: the bot's latest message was about that request (a bare "算了"
    then calls it off)."""
    value = _text(text)
    if not value or value.startswith("/"):
        return None
    if cancels_request(value, after_handoff):
        return About.CANCEL
    if RECORDED.search(value) or AGENT_KNOWS.search(value):
        return About.RECORDED
    if ADD.search(value):
        return About.ADD
    if WAIT.search(value) and not NOT_THE_REQUEST.search(value):
        return About.WAIT
    return None
