"""What still works: a verified merchant's question about collecting or withdrawing
("现在还能收款吗", "能先提一部分吗", "那两万块提现要多久能到") answered from their own
account state and appeal, instead of the general entry or the appeal status block again.

Pure text building over the facts, so every shape is unit-tested without a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COLLECT_ASK = re.compile(
    r"(还|能|可以|可不可以|能不能|会不会|让不让)[^，。？?！!]{0,4}(收款|收钱|收账|扫码|收款码|收)"
    r"|收款[^，。？?]{0,4}(吗|么|不|没)|收不了|收不到|(客人|顾客|客户|买家)[^，。？?]{0,6}(扫|付)")
WITHDRAW_ASK = re.compile(r"(什么时候|啥时候|多久|几时|哪天)(才)?(能|可以)提|钱(能|可以)提|提现|提出来|提不出|提不了|取不出|取不了|提钱|取出|取钱|转出来|转出去|提一部分|提点|先提|提一点|提一些|提些|提到(银行)?卡|拿出来|提走")
WHAT_WORKS = re.compile(r"还能用(什么|啥|哪些)|哪些(功能)?还能用|什么(功能)?还能用|还能干(嘛|什么|啥)|还剩(什么|啥)能用")
WHEN = re.compile(r"多久|几天|什么时候|啥时候|多长时间|哪天|何时|多少天|要多长")
NEW_CODE = re.compile(r"换(个|一个|张)?(新)?(码|收款码|二维码)|重新(申请|办|弄)(个|一个)?码|新码")
PARTIAL = re.compile(r"一部分|部分|一点|先提|提一些|少量|一半|小额|少提")
# Questions for another answer: why it happened, how to appeal, a person.
NOT_CAPABILITY = re.compile(r"为什么|为啥|怎么会|原因|凭什么|怎么申诉|如何申诉|申诉(怎么|要|需要)|人工|客服电话"
                            r"|申请|开通|办理|收费|收不收费|费率|手续费|多少钱|服务商|多通道|聚合|小程序|网站|接口"
                            r"|银行卡|信用卡|换卡|结算卡|永久|再(被)?驳回|意思|提示|提醒|通知|弹出|降"
                            r"|以后|今后|下次|才不会|避免|防止|违规|哪里错"
                            # "能不能先用我自己的微信收款码收": another code, not this account.
                            r"|个人(的)?(微信)?(收款)?码|个人码|自己的(微信|个人)(收款)?码|别人的码|经营码"
                            # "要不要先让客人转账给我个人微信": transfers, not this account.
                            r"|转账|转给我|红包|个人微信"
                            # "昨天提现了2000多 一直显示处理中": a withdrawal made, not whether one can.
                            r"|提现了|提了现|提的现|已经提|处理中|没到(账|卡)")
# The ability itself is asked about, not just named ("收款码后台弹出提醒" is not).
ABILITY = re.compile(r"吗|么|能不能|能否|可以|可不可以|行不行|会怎样|会不会|怎么样|多久|什么时候|啥时候|几天|"
                     r"还能|能用|能收|能提|成功|不了|不出|不到|一部分")


@dataclass(frozen=True)
class Capabilities:
    merchant: str  # masked
    can_collect: bool
    can_withdraw: bool
    appeal_id: str | None = None  # the open appeal, if any
    appeal_days: int = 0  # working days it has waited
    appeal_overdue: bool = False
    rejected_last: bool = False  # no open appeal and the latest one was rejected
    appeal_said: bool = False  # the appeal's status is already on screen this session


def asks_capability(text: str) -> bool:
    if NOT_CAPABILITY.search(text) or not ABILITY.search(text):
        return False
    return bool(COLLECT_ASK.search(text) or WITHDRAW_ASK.search(text) or WHAT_WORKS.search(text))


def question_kind(text: str) -> str:
    """Which what-works question this is, so only the same question counts as asked again."""
    collect = bool(COLLECT_ASK.search(text))
    withdraw = bool(WITHDRAW_ASK.search(text))
    if WHAT_WORKS.search(text) or collect == withdraw:
        return "all"
    if collect:
        return "collect"
    return "withdraw" + (":part" if PARTIAL.search(text) else "") + (":when" if WHEN.search(text) else "")


def _state(facts: Capabilities, collect: bool, withdraw: bool) -> str:
    if collect and not withdraw:
        return "收款正常，可以照常收。" if facts.can_collect else "暂时收不了款。"
    if withdraw and not collect:
        return "余额现在就能提现。" if facts.can_withdraw else "提现目前是暂停的。"
    if facts.can_collect and facts.can_withdraw:
        return "收款和提现都还能用。"
    if facts.can_collect:
        return "还能收款，但暂时不能提现。"
    if facts.can_withdraw:
        return "暂时不能收款，但余额还能提现。"
    return "收款和提现目前都暂停了。"


def _next_step(facts: Capabilities) -> str:
    if facts.appeal_id and facts.appeal_said and facts.appeal_overdue:
        return f"恢复要等申诉{facts.appeal_id}的结果；它已经超时，打95017报编号催最直接。"
    if facts.appeal_id and facts.appeal_said:
        return f"恢复要等申诉{facts.appeal_id}的结果，有变化我这边能查到。"
    if facts.appeal_id and facts.appeal_overdue:
        return (f"申诉{facts.appeal_id}已经等了{facts.appeal_days}个工作日，超过一般的1到3个工作日，"
                "建议打95017报申诉编号催一下。")
    if facts.appeal_id:
        return (f"申诉{facts.appeal_id}还在审核（已{facts.appeal_days}个工作日，一般1到3个），"
                "通过后就会恢复。")
    if facts.rejected_last:
        return "上次申诉没通过，按驳回原因补好材料再申诉，说“我要申诉”我帮你提交。"
    return "要恢复得先申诉，说“我要申诉”我帮你提交。"


def capability_answer(text: str, facts: Capabilities, *, again: bool = False) -> str | None:
    """The answer to a what-still-works question, or None when ``text`` is not one."""
    if not asks_capability(text):
        return None
    collect = bool(COLLECT_ASK.search(text))
    withdraw = bool(WITHDRAW_ASK.search(text))
    everything = bool(WHAT_WORKS.search(text)) or collect == withdraw
    if everything:
        collect = withdraw = True
    parts = [f"查到商户{facts.merchant}" + _state(facts, collect, withdraw)]
    blocked_withdraw = withdraw and not facts.can_withdraw
    if blocked_withdraw and PARTIAL.search(text):
        parts.append("提现是整体暂停的，先提一部分也不行。")
    if blocked_withdraw and WHEN.search(text):
        parts.append("什么时候能提要看审核结果，我没法给你准确日期，也没人能保证。")
    if blocked_withdraw and not again:
        parts.append("钱还在你的账户里，不会因此被没收。")
    if collect and not facts.can_collect and NEW_CODE.search(text):
        parts.append("顾客扫码会付款失败，换个码也没用：限制针对的是商户号，不是某一个码。")
    if facts.can_collect and facts.can_withdraw:
        return "".join(parts)
    if again:
        parts.append("情况没有变化。要我帮你转人工客服跟进吗？也可以直接打95017。")
        return "".join(parts)
    parts.append(_next_step(facts))
    return "".join(parts)
