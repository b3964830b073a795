"""A go-ahead to file again: "行 那你帮我重新提一个", "好 再交一次吧".

Said right after a rejection's reason, such a line names no appeal and starts with the
words of a goodbye ("行", "那"), so the model reads it as one (or as the rejection's topic)
and the merchant gets advice instead of the appeal. Short, no question, and about filing
again: it is the request to file.
"""

from __future__ import annotations

import re
import unicodedata

from core.answers import is_question

MAX_CHARS = 16
REFILE = re.compile(
    r"(重新|再)(帮我|给我|替我)?(提|交|递交|提交|申请|申诉|发起|弄)(一个|一份|一次|一下|个|份|次|一遍)?"
    r"|(帮我|给我|替我)(重新|再)(提|交|递交|提交|申请|申诉|弄)")
# Not the appeal: a person, an order, a password, a code, a ticket, a review of a store.
OTHER_THING = re.compile(r"人工|客服|工单|订单|密码|验证码|二维码|收款码|材料|照片|截图|资料")
# A question without a question mark ("重新交以后多久出结果").
ASKS = re.compile(r"多久|多长时间|几天|什么|怎么|咋|吗|么|能不能|会不会|可不可以|要不要|是不是|以后|之后")


def is_refile_request(text: str) -> bool:
    value = unicodedata.normalize("NFKC", text or "").strip()
    compact = re.sub(r"\s+", "", value)
    if not compact or len(compact) > MAX_CHARS or is_question(value):
        return False
    return bool(REFILE.search(compact)) and not OTHER_THING.search(compact) \
        and not ASKS.search(compact)
