"""A merchant leaving: "行 我打95017催一下 谢谢", "好的我先整理快递单，整理好再来，谢谢",
"我没说信用卡啊。。算了 谢谢". The model reads such a message by its middle (a call, an
appeal, a credit card) and answers that topic again; it is thanks for now and goodbye.

Conservative on purpose: a request that ends politely ("帮我看看，谢谢"), a question, a
merchant id, or anything about money handed over or codes given is not a parting (those
go the normal way, where safety comes first).
"""

from __future__ import annotations

import re
import unicodedata

from core.answers import is_question

_END = r"[\s,，。.!！~～…、\u2600-\u27bf\U0001f300-\U0001faff]*$"
THANKS_END = re.compile(
    r"(谢谢|谢了|谢啦|谢谢啦|多谢|感谢|感恩|3q|thx|thanks?( you| u)?|蟹蟹|唔该|xie ?xie|xiexei|xiexi|辛苦(了|啦|你|您)?)"
    r"(你|您|你们|啦|了|啊|哈+|呀|哦|喔|嗷|提醒|帮忙|解答|指点|亲|小助手|助手)*" + _END,
    re.IGNORECASE)
BYE_END = re.compile(r"(拜拜|再见|bye|88|回见)(啦|了|哈)?" + _END, re.IGNORECASE)
# Something that says the conversation is done: an acknowledgement or what they will do.
DONE = re.compile(
    r"^(好|行|嗯|哦|噢|ok|hao|收到|明白|了解|懂了|知道了|清楚了|算了|那就|那我|好吧|行吧)"
    r"|(好的|好滴|好嘞|好吧|行吧|知道了|明白了|了解了|懂了|清楚了|算了|没事了|先这样)"
    r"|我(先|这就|马上|回头|晚点|明天|自己|去|会|就|再)|我(打|让|把|找|等|整理|准备|试试|改)",
    re.IGNORECASE)
# Not a parting, whatever its end: a request, money handed over, codes given.
REQUEST = re.compile(r"帮我|帮忙(看|查|处理)|麻烦|请(你|您)?(帮|查|看|处理)|能否|想问|咨询|查一下|看一下|看看")
# "我先不付了" says no money went anywhere.
AT_RISK = re.compile(r"(?<![不没别])(转|付|交|打|汇|给)(了|过)|验证码|密码|口令|卡号")
PASSWORD_CHANGED = re.compile(r"(改|修改|换|重置|重设)(了|一下|下)?(支付|登录)?密码")
MERCHANT_ID = re.compile(r"\d{8,}")
THANKS_MIDDLE = re.compile(r"(谢谢|谢了|谢啦|多谢|感谢)(你|您|你们|啦|了|啊)*")
# What someone will do now: "我今晚…", "明天去…", "回头再…".
PLAN = re.compile(r"(我|那我|我们)?(今晚|今天|明天|回头|晚点|等会|一会儿?|先|这就|马上|下午|晚上)")
MAX_CHARS = 80
# "行 知道了", "好的 明白了", "ok 懂了": understood, nothing more to ask.
UNDERSTOOD = re.compile(r"^(行|好|好的|嗯|嗯嗯|哦|噢|ok|okay|那|那行|行吧|好吧)?[\s,，。.!！~～…、]*"
                        r"(我)?(知道了|明白了|了解了|懂了|清楚了|收到了?)(啊|哈|哦|啦)?" + _END,
                        re.IGNORECASE)


# "绑的哪个手机我忘了 算了明天再打95017问吧，谢谢": what comes after this decides.
GIVING_UP = re.compile(r"算了|先这样|不问了|不查了")


def is_parting(text: str) -> bool:
    value = unicodedata.normalize("NFKC", text or "").strip()
    if not value or len(value) > MAX_CHARS:
        return False
    if is_question(value):
        last = list(GIVING_UP.finditer(value))
        tail = value[last[-1].start():] if last else ""
        return bool(tail) and not is_question(tail) and is_parting(tail)
    if REQUEST.search(value) or AT_RISK.search(PASSWORD_CHANGED.sub("", value)) or \
            MERCHANT_ID.search(value):
        return False
    if UNDERSTOOD.match(value):
        return True
    ended = THANKS_END.search(value) or BYE_END.search(value)
    if not ended:
        # "行，谢谢，我今晚把截图整理好明天交": thanks, then the plan.
        thanks = THANKS_MIDDLE.search(value)
        return bool(thanks) and bool(PLAN.match(value[thanks.end():].lstrip(" ,，。.!！~～…、")))
    rest = value[:ended.start()].strip(" ,，。.!！~～…、")
    return len(rest) <= 4 or bool(DONE.search(rest))


def parting_kind(text: str) -> str | None:
    """"thank" for thanks for now ("行 我打95017催一下 谢谢"), "goodbye" for a goodbye
    without thanks ("好的 拜拜"), None when the message is not a parting."""
    if not is_parting(text):
        return None
    value = unicodedata.normalize("NFKC", text or "").strip()
    thanked = re.search(r"谢|感谢|感恩|3q|thx|thank|唔该|xie ?xie|xiexei|xiexi|辛苦", value, re.IGNORECASE)
    return "goodbye" if BYE_END.search(value) and not thanked else "thank"
