"""Reading a merchant's answer to a yes/no or multiple-choice question, with negation and
conditions.

Merchants answer with more than "有" or "没有": "有网站但没备案", "有是有但是没备案",
"还没", "不确定", "没有小程序但想做", "不是本地的", "不是很急", "不到一万", "不用改了，
提交". Every question has its own reader, because the same words mean different things at
different steps: "有，但没开通支付" still has a mini-program, "有，但没备案" has no
website the payment API can use. Each reader returns

- the value of the answer,
- ``UNSURE`` for "not sure" (the form decides how it counts, and says so), or
- ``None``: not an answer to this question (a question back, "继续", "好的" to a question
  about what the merchant has); the form asks again instead of guessing.

When in doubt a reader says ``None`` or takes the reading that cannot lead to wrong
advice: a website without an ICP filing is never a website the payment API can use.
Pure functions of the text (and, for button payloads, the intent): no Rasa here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

import cn2an

from core.choices import pick
from core.privacy import find_mobile


class _Unsure:
    def __repr__(self) -> str:
        return "UNSURE"


UNSURE: Final = _Unsure()

# --- shared pieces ----------------------------------------------------------------------

_PARTICLES = re.compile(r"[啊呀哦噢哈吧呢嘛啦咯哟喔~～。.!！\s]+$")
_SPACES = re.compile(r"\s+")
CLAUSE = re.compile(r"[，,。.！!；;、\s]+|但是|但|不过|可是|只是|就是说|然而")
CONTRAST = re.compile(r"但是|但|不过|可是|只是|然而")
# A question back ("小程序是什么？", "有没有都行吗"): never an answer.
QUESTION = re.compile(
    r"[?？]|吗|什么|啥|怎么|为什么|为啥|如何|哪|多少|能不能|可不可以|是不是|要不要|会不会"
    r"|需不需要|有没有(?!都)"
)
UNSURE_WORDS = re.compile(
    r"不确定|不知道|不清楚|不记得|记不清|忘了|忘记|说不好|说不准|不好说|说不上来|搞不清|没印象"
    r"|可能有|好像有|应该有吧|也许|大概有吧"
)
# "继续", "好的", "知道了": an acknowledgement or "go on", not a yes to "do you have ...".
CONTINUE = re.compile(
    r"^(继续|接着|接着来|继续吧|继续问|下一个|下一步|往下|好|好的|好滴|好吧|行|行吧|ok|okay|嗯好"
    r"|知道了|明白了|收到|了解)$",
    re.IGNORECASE,
)
NEGATORS = ("没有", "没", "无需", "无", "未", "不用", "不要", "不需要", "不必", "不", "别", "非",
            "还没", "尚未", "从没", "从来没")
# Words between a negator and what it negates: "没(有)(做)(过)备案", "不(是)(很)急".
_FILLER = "有做办弄搞过去在是很太那么怎么这个那个的了"
YES_WORDS = frozenset({
    "有", "有的", "有啊", "有呀", "有呢", "有了", "有一个", "有个", "是", "是的", "是啊", "对",
    "对的", "对啊", "嗯", "嗯嗯", "恩", "恩恩", "早就有了", "已经有了", "当然有", "有有有",
    "都有", "都有的",
    "yes", "y", "1",
})
NO_WORDS = frozenset({
    "没", "没有", "没有的", "无", "否", "不是", "不", "还没", "还没有", "暂时没有", "目前没有",
    "暂时没", "没呢", "还没呢", "没有呢", "并没有", "都没有", "都没", "没弄", "没做", "没搞",
    "没开", "还没弄", "还没做", "还没开", "木有", "no", "n", "2",
})
# "有是有", "有倒是有", "是倒是": a yes that a condition follows.
GRUDGING_YES = re.compile(r"^(有|是|对)(是|倒是|到是)\1")


def normalize(text: str) -> str:
    """Half-width, lower case, no spaces inside, no trailing particles."""
    value = unicodedata.normalize("NFKC", text or "").strip().lower()
    value = _SPACES.sub(" ", value)
    return _PARTICLES.sub("", value)


def clauses(text: str) -> list[str]:
    return [part for part in CLAUSE.split(text) if part]


def first_clause(text: str) -> str:
    parts = clauses(text)
    return parts[0] if parts else ""


def is_question(text: str) -> bool:
    return bool(QUESTION.search(text))


def payload_answer(text: str, intent: str | None) -> bool | None:
    """A yes/no button (/affirm, /deny)."""
    if text.startswith("/"):
        if intent == "affirm" or text.startswith("/affirm"):
            return True
        if intent == "deny" or text.startswith("/deny"):
            return False
    return None


def _negated_before(text: str, start: int) -> bool:
    """A negator right before ``start`` in the same clause ("没(有)备案", "不(是很)急")."""
    before = text[:start]
    clause_start = max((m.end() for m in CLAUSE.finditer(before)), default=0)
    window = before[clause_start:]
    stripped = window.rstrip(_FILLER)
    # "不只/不止/不光/不仅" (not only) and "有没有" (a question) do not negate.
    if re.search(r"(不只|不止|不光|不仅|有没有|是不是)$", window):
        return False
    return any(stripped.endswith(word) for word in NEGATORS) or any(
        window.endswith(word) for word in NEGATORS)


def _negated_after(text: str, end: int) -> bool:
    """A negation right after: "备案没有", "备案还没办", "网站没"."""
    return bool(re.match(r"(还|也|都|暂时|目前)?(没|没有|未|不是|木有)", text[end:end + 4]))


POS, NEG, MENTION = "pos", "neg", "mention"


def polarity(text: str, words: re.Pattern[str], possession: re.Pattern[str] | None = None,
             ignore_after: re.Pattern[str] | None = None) -> str | None:
    """How ``text`` speaks of ``words``: NEG if every mention is negated, POS if one is
    affirmed (by ``possession`` words before it in its clause, or always when no
    ``possession`` pattern is given), MENTION if named without either, None if absent.
    ``ignore_after``: what a following negation is about instead ("小程序没开支付")."""
    found: list[str] = []
    for match in words.finditer(text):
        after_negated = _negated_after(text, match.end())
        if after_negated and ignore_after and ignore_after.match(text, match.end()):
            after_negated = False
        if _negated_before(text, match.start()) or after_negated:
            found.append(NEG)
            continue
        if possession is None:
            found.append(POS)
            continue
        before = text[:match.start()]
        clause_start = max((m.end() for m in CLAUSE.finditer(before)), default=0)
        own_clause = text[clause_start:match.end() + 4]
        found.append(POS if possession.search(own_clause) else MENTION)
    if not found:
        return None
    if POS in found:
        return POS
    if MENTION in found:
        return MENTION if NEG not in found else NEG
    return NEG


def read_yes_no(text: str, intent: str | None = None, confidence: float = 0.0) -> Any:
    """A generic yes/no: a numbered choice (1 = yes), the first clause when it is a plain
    yes or no ("有，无需备案" is a yes), a yes/no beginning; the model's affirm/deny only
    for short messages that are not "继续"-like acknowledgements."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    button = payload_answer(raw, intent)
    if button is not None:
        return button
    value = normalize(raw)
    choice = pick(value, ["yes", "no"])
    if choice:
        return choice == "yes"
    if is_question(value):
        return None
    if UNSURE_WORDS.search(value):
        return UNSURE
    if CONTINUE.match(value):
        return None
    first = first_clause(value)
    if first in YES_WORDS or GRUDGING_YES.match(first):
        return True
    if first in NO_WORDS:
        return False
    if re.match(r"^我?(没|无|不是|不|否|还没|暂时没)", value):
        return False
    if re.match(r"^我?(有|是|对|嗯|已经|已|做了|开通了|备案了)", value):
        return True
    if intent in ("affirm", "deny") and confidence >= 0.9 and len(value) <= 6:
        return intent == "affirm"
    return None


# --- the advisor ----------------------------------------------------------------------

SITE = re.compile(r"网站|网页|官网|站点|独立站|域名|web", re.IGNORECASE)
FILING = re.compile(r"icp|备案", re.IGNORECASE)
FILING_IN_PROGRESS = re.compile(
    r"备案中|在备案|正在备案|备案.{0,3}(还在|在办|办理中|审核中|没下来|没批|没通过|没过)"
    r"|还在(办|弄|做|审|申请)|快(好|办好|下来)了|申请中|刚提交备案"
    # "备案又要时间", "备案得等好久": a filing still to be done.
    r"|备案[^，。,.]{0,3}(要|得|需要)[^，。,.]{0,3}(时间|好久|很久|等|几天|几周|一阵)"
)
# Plans and work in progress are not what the merchant has today.
PLANNED = re.compile(r"想做|想弄|想搞|想开|打算|准备|计划|以后|将来|考虑|要做|正在做|在做|在建|在弄|在搞")
POSSESSION = re.compile(r"有|已经|已|做了|做好|弄了|搞了|开了|开通|在用|用着|上线|建了|建好")


# "哪有什么网站", "我哪来的小程序啊": a no asked as a question.
NONE_AT_ALL = re.compile(r"(哪有|哪来|哪里有|哪儿有|哪会有)(的)?(什么|啥)?(网站|网页|官网|小程序|域名)"
                         r"|(啥|什么)(网站|小程序)(啊|呀)?[,，\s]*(没|没有)")


# The site is not live yet ("有网站 还没上线", "网站还在做").
SITE_UNFINISHED = re.compile(r"没上线|还没上线|未上线|还没做好|没做好|还在(做|建|搭|开发)|在建|搭建中|开发中")
# A question about filing itself ("不知道备案怎么弄") is not "I don't know if it is filed".
_FILING_HOW = re.compile(r"[?？]|怎么|如何|什么|啥|为什么|哪里|去哪")


def _unsure_of_filing(value: str) -> bool:
    return any(UNSURE_WORDS.search(clause) and FILING.search(clause)
               and not _FILING_HOW.search(clause) for clause in clauses(value))


def read_website_icp(text: str, intent: str | None = None) -> Any:
    """"你有自己的网站，并且已经完成ICP备案吗？" True only for a website that is filed:
    "有网站但没备案", "有是有但是没备案", "有，无需备案", "备案还在办" are all False;
    "有网站" alone says nothing about the filing (None: the form asks about it)."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    button = payload_answer(raw, intent)
    if button is not None:
        return button
    value = normalize(raw)
    choice = pick(value, ["yes", "no"])
    if choice:
        return choice == "yes"
    if NONE_AT_ALL.search(value) and SITE.search(value):
        return False
    if _unsure_of_filing(value):
        return UNSURE  # "有个网站 不确定备案没", "不知道有没有备案": where to look it up
    if is_question(value):
        # "有个网站 但是没备案。。能先用吗": the no stated before the question still counts.
        stated = [c for c in re.split(r"[，,。.!！？?\s]+", value) if c and not is_question(c)]
        if any(polarity(c, FILING) == NEG or FILING_IN_PROGRESS.search(c) for c in stated):
            return False
        return None
    if SITE_UNFINISHED.search(value):
        return False  # "有网站 还没上线": not a site the payment API can use today
    filed = polarity(value, FILING)
    site = polarity(value, SITE, POSSESSION)
    if filed == NEG or FILING_IN_PROGRESS.search(value) or site == NEG:
        return False
    if UNSURE_WORDS.search(value):
        return UNSURE
    if filed == POS:
        return True  # "有备案的网站", "备案过了", "已经备案"
    if PLANNED.search(value):
        return False
    first = first_clause(value)
    grudging = bool(GRUDGING_YES.match(first))
    if CONTRAST.search(value) or grudging:
        # "有是有但是……", "有，不过……": a condition the filing may not survive.
        tail = CONTRAST.split(value, maxsplit=1)[-1]
        if grudging or any(n in tail for n in ("没", "不", "未", "无")):
            return False
        return None
    if site in (POS, MENTION):
        return None  # a website, but is it filed? The form asks.
    if first in YES_WORDS:
        return True
    if first in NO_WORDS or re.match(r"^我?(没|无|不是|还没|暂时没)", value):
        return False
    return None


def site_without_filing(text: str) -> bool:
    """"有网站但没备案", "有，无需备案", "有是有但是没备案": a website the payment API
    cannot use yet (the advisor says why it goes on without it)."""
    value = normalize(text)
    if read_website_icp(text) is not False:
        return False
    first = first_clause(value)
    return (polarity(value, SITE, POSSESSION) == POS or bool(GRUDGING_YES.match(first))
            or first in YES_WORDS)


MINIPROGRAM = re.compile(r"小程序|小程序商城|小商城|微商城")
# Payment not switched on yet: the mini-program is still there ("有，但没开通支付").
PAYMENT_OFF = re.compile(r"(还|也)?(没|没有|未|不)(开通?|开|接|弄|做|上|申请)?(支付|收款|付款)")
MINIPROGRAM_UNFINISHED = re.compile(
    r"开发中|在开发|正在(做|开发|弄|搞)|还在(做|弄|搞|开发|审)|没上线|还没上线|未上线|没发布|审核中"
    r"|在审核|没做好|还没做好|没弄好|做了一半|快(做)?好了"
)


# "不知道 小程序是啥": a question about the thing asked of, not an answer.
WHAT_IS = re.compile(r"是啥|是什么|什么意思|啥意思|干嘛的|干什么的|啥玩意")


def read_miniprogram(text: str, intent: str | None = None) -> Any:
    """"你有自己的小程序或小程序商城吗？" "没有小程序但想做", "还在开发" and "有公众号
    没有小程序" are False; "有是有但是没开通支付" is True (opening payment is the advice)."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    button = payload_answer(raw, intent)
    if button is not None:
        return button
    value = normalize(raw)
    choice = pick(value, ["yes", "no"])
    if choice:
        return choice == "yes"
    if NONE_AT_ALL.search(value) and MINIPROGRAM.search(value):
        return False
    if UNSURE_WORDS.match(first_clause(value)) and not WHAT_IS.search(value):
        return UNSURE  # "不确定 我侄子好像弄过个啥小店 不知道算不算": unsure, then why
    if is_question(value):
        return None
    without_payment = PAYMENT_OFF.sub("，", value)
    own = polarity(without_payment, MINIPROGRAM, POSSESSION)
    if own == NEG or MINIPROGRAM_UNFINISHED.search(value):
        return False
    if UNSURE_WORDS.search(value):
        return UNSURE
    if own == POS or (own == MENTION and PAYMENT_OFF.search(value)):
        return True  # "小程序没开支付": there is one
    if PLANNED.search(value):
        return False
    first = first_clause(without_payment)
    if GRUDGING_YES.match(first) or first in YES_WORDS:
        return True
    if first in NO_WORDS or re.match(r"^我?(没|无|不是|还没|暂时没)", value):
        return False
    if own == MENTION:
        return None
    return None


REMOTE_WORDS = re.compile(r"外地|异地|远程|全国|各地|外省|省外|外市|网上|线上|网购|快递|邮寄|发货|别的城市|其他城市")
LOCAL_WORDS = re.compile(r"本地|当地|店里|到店|进店|当面|附近|门店|线下|周边|街坊|同城|本市|本城")
BOTH_WORDS = re.compile(r"都有|两种|两边|都会有|各一半|一半一半|也有|都不少|都挺多")
NOT_ONLY = re.compile(r"(不只|不止|不光|不仅)(是)?(本地|当地|店里|到店|线下|附近|外地|网上)")


BARE_NEGATION_SPACE = re.compile(r"(?:^|(?<=\s))(没有|没|不是|无|并没有|也没有|都没有)\s+")


def read_payer_location(text: str) -> Any:
    """"你的付款客户主要在哪里？" local / remote / both, with negation: "不是本地的" is
    remote, "没有外地客户" is local, "不只是本地的" and "外地的也有" are both."""
    # A negation typed apart belongs to what follows: "没有 外地客户 都是街坊".
    value = BARE_NEGATION_SPACE.sub(r"\1", normalize(text))
    if value in ("local", "remote", "both"):
        return value
    picked = pick(value, ["local", "remote", "both"])
    if picked:
        return picked
    if is_question(value):
        return None
    if NOT_ONLY.search(value):
        return "both"
    remote = polarity(value, REMOTE_WORDS)
    local = polarity(value, LOCAL_WORDS)
    if remote is None and local is None:
        if UNSURE_WORDS.search(value):
            return UNSURE
        return "both" if re.search(r"都有|两种都|两边都", value) else None
    if remote == POS and local == POS:
        return "both"
    if remote == POS and local is None and re.search(r"全国|各地|各省|天南海北", value):
        return "remote"  # "全国各地都有" is everywhere but here
    if (remote == POS or local == POS) and BOTH_WORDS.search(value) and not re.search(
            r"都是|全是|全部是|只有", value):
        return "both"
    if remote == POS or (local == NEG and remote != NEG):
        return "remote"
    if local == POS or (remote == NEG and local != NEG):
        return "local"
    return None


WAIT_IMPOSSIBLE = re.compile(r"等不了|不能等|没法等|等不起|不能再等|不想等|等不及|拖不了|不能拖|耽误不起")
NOT_URGENT = re.compile(
    r"(不|没)(是|太|是很|是特别|是太|怎么|那么|有那么|很|算|算太|用太|用那么)?(急|着急|赶|紧急)"
    r"|不赶时间|可以等|能等|等得(起|了)|慢慢(来)?|一两周|两三周|几周|一个月|半个月|不用太快"
    r"|不用那么快|还好吧?$"
)
URGENT = re.compile(r"急|马上|尽快|越快越好|今天|明天|这几天|立刻|立即|赶紧|这周|本周|很快就要|火烧眉毛")


def read_urgency(text: str) -> Any:
    """"多快需要用上？" fast / normal: "不是很急", "没那么急" are normal, "等不了" fast."""
    value = normalize(text)
    if value in ("fast", "normal"):
        return value
    picked = pick(value, ["fast", "normal"])
    if picked:
        return picked
    if is_question(value):
        return None
    if WAIT_IMPOSSIBLE.search(value):
        return "fast"
    if NOT_URGENT.search(value):
        return "normal"
    if URGENT.search(value):
        return "fast"
    if UNSURE_WORDS.search(value):
        return UNSURE
    return None


AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万|w|千|k|元|块)?", re.IGNORECASE)
CHINESE_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万]+")
UNITS = {"万": 10000, "w": 10000, "千": 1000, "k": 1000}
BELOW = re.compile(r"不到|不足|少于|低于|没到|没有到|没超过|不超过|不过|以下|以内|之内|最多")
ABOVE = re.compile(r"以上|超过|多于|不止|不少于|起码|至少|往上|多点|出头")
SMALL_WORDS = re.compile(r"没多少|不多|很少|一点点|几千|几百|刚开始|刚起步|还没(开始)?收|零星"
                         r"|(一两|两三|二三|三四|四五|五六|六七|七八|八九)(千|百)")
# "两三万", "七八千", "三四十万": a range of two neighbouring numbers.
_PAIR = r"(一两|两三|二三|三四|四五|五六|六七|七八|八九)"
LARGE_WORDS = re.compile(rf"几十万|上百万|几百万|百万|好几十万|{_PAIR}十万")
MEDIUM_WORDS = re.compile(rf"几万|好几万|{_PAIR}万")


def monthly_amount(text: str) -> float | None:
    """Yuan per month in "5万", "1.5w", "3000块", "两万", "八千左右", "一万二"; None when
    the text names no amount (a stray "一" in "一般" is not one)."""
    for match in AMOUNT.finditer(text):
        unit = (match.group(2) or "").lower()
        if unit or match.group(0).strip() == text.strip():
            return float(match.group(1)) * UNITS.get(unit, 1)
    for match in CHINESE_NUMBER.finditer(text):
        token = match.group(0)
        follows = text[match.end(): match.end() + 1]
        if not (set(token) & set("百千万") or follows in ("元", "块")):
            continue
        try:
            return float(cn2an.cn2an(token.replace("两", "二"), "smart"))
        except ValueError:
            continue
    return None


def read_monthly_volume(text: str) -> Any:
    """"每月大概收多少钱？" small (< 1万) / medium (1万-10万) / large (> 10万), with
    bounds: "不到一万" is small, "十万以上" and "不止十万" large, "不到十万" medium."""
    value = normalize(text)
    if value in ("small", "medium", "large"):
        return value
    picked = pick(value, ["small", "medium", "large"])
    if picked:
        return picked
    if LARGE_WORDS.search(value):
        return "large"
    if MEDIUM_WORDS.search(value):
        return "medium"
    amount = monthly_amount(value)
    if amount is None:
        if SMALL_WORDS.search(value):
            return "small"
        if UNSURE_WORDS.search(value) and not is_question(value):
            return UNSURE
        return None
    if BELOW.search(value):
        amount -= 1
    elif ABOVE.search(value):
        amount += 1
    if amount < 10000:
        return "small"
    return "medium" if amount <= 100000 else "large"


# --- confirming an appeal ---------------------------------------------------------------

# "不用改了，提交": a change declined is not the submission declined.
NO_CHANGE = re.compile(r"不用(再)?(改|修改|动|换|补充?)了?|没(有)?(什么|啥)?(要|需要)?(改|修改)的?了?"
                       r"|不改了|不需要(改|修改)")
DECLINE_FILING = re.compile(
    r"不(要)?提交|先不|不要|别(提交|交|发)|不交|暂时不|再想想|还没想好|没想好|想想再说|等等再(说|交)"
    r"|以后再(说|交)|下次再|不了|^不用(交|提交)?了?$|不用(交|提交)|不申诉了|撤回"
)
CONFIRM_FILING = re.compile(
    r"确认|确定|提交|交吧|交了吧|交上去|发出去|没问题|就这样|没错|^对的?$|^是的?$|^好的?$|好滴|^可以$"
    r"|可以提交|^行$|^嗯+$|^ok$|^yes$|^y$"
)
WAIT = re.compile(r"^(等一下|等等|稍等|等会|等下|先等等|我看看|让我看看)")


def read_appeal_confirm(text: str, intent: str | None = None) -> bool | None:
    """"确认提交吗？" True only for a plain go-ahead ("确认", "不用改了，提交"); False for
    "不提交", "先不", "再想想"; None for "不确定", "继续", "等一下" and a go-ahead with a
    condition ("好的，但我想再补充一点"): the form asks again, nothing is filed."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    button = payload_answer(raw, intent)
    if button is not None:
        return button
    value = normalize(raw)
    choice = pick(value, ["yes", "no"])
    if choice:
        return choice == "yes"
    if is_question(value) or UNSURE_WORDS.search(value) or WAIT.match(value) or value in (
            "继续", "接着", "继续吧"):
        return None
    value = NO_CHANGE.sub("，", value).strip("，")
    if not value:
        return True  # "不用改了": nothing to change
    if DECLINE_FILING.search(value):
        return False
    if CONTRAST.search(value):
        return None  # "可以，但是……": a condition first
    if CONFIRM_FILING.search(value):
        return True
    return None


# --- the handoff ------------------------------------------------------------------------

CANNOT_VERIFY = re.compile(
    r"(不记得|记不得|记不清|忘了|忘记|不知道|没有|找不到|查不到|没带)(我的)?(商户号|商户id|手机号?|号码|尾号|账号)"
    r"|(商户号|手机号?|号码|尾号)(我)?(不记得|记不清|忘了|不知道|找不到|换了)"
)
SKIP_VERIFY = re.compile(
    r"^不用|^不要|不需要|不必|没必要|不核对|别核对|不用核对|不想核对|直接(转|找|人工|排队|帮我转)|跳过"
    r"|^先不|^不了|^算了"
)
DO_VERIFY = re.compile(r"^(好|行|可以|要|需要|嗯|恩|对|是|ok|yes)|核对|核实|验证|查一下吧")


def read_handoff_verify(text: str, intent: str | None = None) -> Any:
    """"要先核对身份吗？" (1 先核对身份, 2 直接转人工). "好，但我不记得商户号" is a no
    (go on to the queue); "继续" is not an answer."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    button = payload_answer(raw, intent)
    if button is not None:
        return button
    value = normalize(raw)
    choice = pick(value, ["yes", "no"])
    if choice:
        return choice == "yes"
    if is_question(value):
        # "不核对 直接人工 你们人工几点上班？": the choice first, then a question.
        head = first_clause(value)
        if head != value and not is_question(head) and (
                CANNOT_VERIFY.search(head) or SKIP_VERIFY.search(head)):
            return False
        return None
    if CONTINUE.match(value) and value not in ("好", "好的", "行", "ok"):
        return None
    if CANNOT_VERIFY.search(value) or SKIP_VERIFY.search(value):
        return False
    if UNSURE_WORDS.search(value):
        return UNSURE
    if DO_VERIFY.search(value):
        return True
    return None


CHAT_WORDS = re.compile(r"这里|这边|留言|在线|微信|回复|回我|聊天|文字|消息")
PHONE_WORDS = re.compile(r"打(我)?电话|电话|打给我|打我|来电|致电|call")
DECLINE_TICKET = re.compile(
    r"^(不用|不要|不需要|不必|算了|先不|不了|没事|不留|谢谢)|不用了|不要了|不留了|算了|先不|不用留"
    r"|不留言|不需要了|没关系"
)


def read_handoff_contact(text: str) -> str | None:
    """"你希望客服怎么联系你？" at the offer to leave a message: "chat", a phone number, or
    "declined" ("不用了", "算了", "不用留言了": nothing is filed); None to ask again
    ("打我电话" without a number)."""
    value = normalize(text)
    phone = find_mobile(text)
    if phone:
        return phone
    if pick(value, ["chat", "phone"]) == "chat":
        return "chat"
    if is_question(value):
        # "在这里回复我 另外我申诉被驳回了怎么办": the choice first, then a question.
        head = first_clause(value)
        if head != value and not is_question(head) and polarity(head, CHAT_WORDS) == POS:
            return "chat"
        return None
    chat = polarity(value, CHAT_WORDS)
    by_phone = polarity(value, PHONE_WORDS)
    if chat == POS:
        return "chat"
    if chat == NEG or DECLINE_TICKET.search(value):
        return "declined" if by_phone != NEG else "chat"
    if by_phone == NEG:
        return "chat"  # "不用打电话": reply here
    return None


# --- the identity check -------------------------------------------------------------------

_PHONE = r"(绑定|预留|留的|注册)?的?(手机号码|手机号|手机|电话号码|电话|号码|尾号|后四位|后4位)"
_HOLDER = (r"(他|她|老板娘|老板|店主|商户|对方|客户|子商户|商家|人家|别人|法人|他们|那个人|老公|老婆"
           r"|家里人|股东|负责人)")
# The bound phone is someone else's: "没有他手机号", "我没有老板手机号", "手机号不是我的",
# "拿不到", "不知道老板的手机号", "手机在老板那".
PHONE_NOT_MINE = re.compile(
    rf"没有?{_HOLDER}的?{_PHONE}|没有(绑定的?)?(手机号码|手机号|手机|电话|号码)"
    rf"|{_HOLDER}的?{_PHONE}(我)?(也)?(没有|不知道|拿不到|要不到|问不到|不清楚)"
    rf"|(不知道|拿不到|要不到|问不到|查不到|联系不上|不清楚){_HOLDER}的?{_PHONE}"
    rf"|{_PHONE}(不是我的|不是我|是{_HOLDER}的|在{_HOLDER}(那|手上|手里|身上))"
    r"|不是我的?(手机|号)|(手机号?|号码|后四位|尾号)?(拿不到|要不到|问不到)"
)
# The merchant's own phone, forgotten or gone: "忘了", "不记得绑的哪个号", "换号了".
PHONE_FORGOTTEN = re.compile(
    r"忘了|忘记|不记得|记不得|记不清|想不起|不知道|不清楚|换号了|换了号|换手机号了|停机|注销了|不用了的号"
)


def read_phone_unavailable(text: str) -> str | None:
    """At the identity check's digits step: "not_mine" when the bound phone belongs to
    someone else ("没有他手机号", "没有老板手机号", "手机号不是我的", "拿不到"),
    "forgot" when the merchant's own phone is forgotten or gone ("忘了", "换号了"), None
    otherwise ("我还没输手机号呢" is neither: it is about to be typed)."""
    value = normalize(text)
    if re.search(r"还没(输|发|填|说|打)", value):
        return None
    if PHONE_NOT_MINE.search(value):
        return "not_mine"
    if PHONE_FORGOTTEN.search(value):
        return "forgot"
    return None
