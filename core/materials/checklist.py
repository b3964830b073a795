"""What an appeal of each reason is decided on, and which of it this chat already holds.

The reviewers decide on documents; which ones depends on why the account was limited
(knowledge.md: real transactions, the business behind them, what was changed). A file is
matched to an item by the name the merchant gave it ("营业执照.jpg"); a photo sent on
WeChat has no name, so it counts as received but ticks no item. The list never claims a
file proves anything: it says what was received and what to look at again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Appeal, Material, MaterialStatus


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    pattern: re.Pattern[str]  # a file name (or the description) that covers it


def _item(key: str, label: str, words: str) -> Item:
    return Item(key, label, re.compile(words, re.IGNORECASE))


LICENCE = _item("licence", "营业执照（个体户、个人经营的可用经营场所照片代替）",
                r"执照|营业|license|licence|门头|门店|店铺|场所|店面|shop")
ORDERS = _item("orders", "真实订单或交易记录（和收款一笔笔对得上）",
               r"订单|交易|流水|账单|收据|小票|order|receipt")
CHATS = _item("chats", "和客户的聊天记录", r"聊天|对话|chat|微信记录")
DELIVERY = _item("delivery", "发货的快递单号，或预订、入住、消费记录（不发货的）",
                 r"快递|物流|发货|运单|预订|入住|消费记录|delivery|express")
USE_OF_FUNDS = _item("use_of_funds", "提现资金的用途说明（进货单、房租、工资等）",
                     r"用途|进货|房租|工资|采购|用于|用来")
WHY_MORE = _item("why_more", "交易量上涨的原因（比如促销活动的海报或通知）",
                 r"促销|活动|海报|双十一|双11|618|大促")
CHANGES = _item("changes", "情况说明里写明以后怎么改（外地订单改用网站支付、小程序或正规收款码）",
                r"网站|小程序|经营收款码|改用|以后|整改")

CHECKLISTS: dict[str, tuple[Item, ...]] = {
    "remote_qr_collection": (ORDERS, CHATS, DELIVERY, CHANGES),
    "instant_withdrawal": (LICENCE, ORDERS, USE_OF_FUNDS),
    "high_frequency": (WHY_MORE, ORDERS, DELIVERY, LICENCE),
    "other": (LICENCE, ORDERS, CHATS, DELIVERY),
}
# Items the appeal's own description can cover (a written commitment, a reason).
COVERED_BY_DESCRIPTION = {"changes", "use_of_funds", "why_more"}


@dataclass(frozen=True)
class ItemStatus:
    item: Item
    received: bool


def checklist_for(category: str | None) -> tuple[Item, ...]:
    return CHECKLISTS.get(category or "other", CHECKLISTS["other"])


def status(category: str | None, names: Iterable[str | None],
           description: str = "") -> list[ItemStatus]:
    """Each item of the reason's list, ticked when a file's name or (for what is written
    rather than photographed) the appeal's description covers it."""
    names = [n for n in names if n]
    result = []
    for item in checklist_for(category):
        received = any(item.pattern.search(name) for name in names) or (
            item.key in COVERED_BY_DESCRIPTION and bool(item.pattern.search(description)))
        result.append(ItemStatus(item, received))
    return result


def offer_text(category: str | None) -> str:
    """The list offered right after filing."""
    lines = [f"{n}. {item.label}" for n, item in enumerate(checklist_for(category), start=1)]
    return ("这类申诉审核时主要看这几项材料：\n" + "\n".join(lines) +
            "\n可以直接发在这个对话里（图片或PDF），文件名写清是哪一项更好（比如“订单记录.pdf”）。"
            "想知道还缺什么，随时问我“还缺什么材料”。")


def status_text(appeal_id: str, category: str | None, names: list[str | None],
                description: str = "") -> str:
    """"还缺什么材料" for an appeal filed here: what arrived, what to look at again."""
    items = status(category, names, description)
    count = len(names)
    head = (f"申诉 {appeal_id} 在这里收到了 {count} 份文件。" if count else
            f"申诉 {appeal_id} 在这里还没收到文件。")
    lines = [f"{'✓' if s.received else '□'} {s.item.label}" for s in items]
    missing = [s for s in items if not s.received]
    if not missing:
        tail = "清单上的几项都对上了。审核要补别的，会另外通知。"
    elif count:
        tail = ("打□的几项还没从文件名或情况说明里对上：已经发了的不用重发，没发的补上就行。"
                "没有名字的照片（比如公众号里发的）也都收到了，审核时都能看到。")
    else:
        tail = "把打□的材料拍照或导出PDF发在这里就行。"
    return "\n".join([head, *lines, tail])


def status_for_appeal(session: Session, appeal_id: str) -> str | None:
    """``status_text`` of an appeal from what the database holds (None: no such appeal)."""
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        return None
    names = session.execute(
        select(Material.original_name).where(
            Material.appeal_id == appeal_id,
            Material.status.in_([MaterialStatus.clean, MaterialStatus.quarantined]))
        .order_by(Material.created_at)
    ).scalars().all()
    return status_text(appeal.id, appeal.category, list(names), appeal.description or "")
