"""The 审核结果通知 panel of a conversation (issue 22, item 3): the notices to the merchant
(core.db.notices) of the conversation's appeals and how each one went.

- Which: the appeals of the conversation's verified merchant, and any appeal whose
  notices go to this conversation's sender (a merchant who consented before verifying).
- Per appeal with a consent: the channel it goes to and *that* a phrase (暗号) is set,
  never the phrase itself: an agent who knew it could pass as the back office. Error
  texts are scrubbed of it as well, and masked like the transcript; so are the
  conversation's lines (``hide``: the merchant typing it, the notices carrying it), in
  the conversation's view (console.views) and the live feed (console.live).
- Per notice: the decision, its status (pending / waiting for WeChat's window / sent /
  failed / given up), attempts, the last error, the next try and how it went when sent.

For whoever may read the conversation (``console.history``: 404 otherwise, the same as
for no conversation). Every function takes an open Session; the caller owns the
transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console import history
from console.service import CHANNEL_LABELS, epoch
from console.transcript import mask_text
from core.db import notices
from core.db.models import Appeal, Handoff
from core.db.notices import DUE_STATUSES, AppealNotice, NoticeConsent, NoticeStatus

STATUS_LABELS = {
    NoticeStatus.pending.value: "待发送",
    NoticeStatus.waiting_window.value: "等待微信48小时窗口",
    NoticeStatus.sent.value: "已发送",
    NoticeStatus.failed.value: "发送失败，将重试",
    NoticeStatus.gave_up.value: "已放弃",
}
KIND_LABELS = {"approved": "审核通过", "rejected": "驳回", "needs_materials": "需补充材料"}
VIA_LABELS = {"conversation": "对话消息", "template": "微信模板消息",
              "subscription": "微信一次性订阅消息"}
MAX_ERROR = 200
HIDDEN_PHRASE = "***"


def hide(text: str, phrases: list[str]) -> str:
    """``text`` without the phrases (longest first: one may contain another)."""
    for phrase in sorted(phrases, key=len, reverse=True):
        text = text.replace(phrase, HIDDEN_PHRASE)
    return text


def hide_lines(lines: list[dict[str, Any]], phrases: list[str]) -> list[dict[str, Any]]:
    """Transcript lines (console.transcript) with the phrases hidden in their text."""
    if phrases:
        for line in lines:
            if isinstance(line.get("text"), str):
                line["text"] = hide(line["text"], phrases)
    return lines


def phrases_of(session: Session, handoff: Handoff) -> list[str]:
    """The phrases an agent of this conversation must not see."""
    return notices.phrases_of(session, handoff.channel, handoff.sender_id,
                              handoff.merchant_id)


def _appeal_ids(session: Session, handoff: Handoff) -> list[str]:
    """The appeals of the panel: the merchant's, and those told to this sender."""
    mine = (NoticeConsent.channel == handoff.channel) & \
        (NoticeConsent.sender_id == handoff.sender_id)
    told = (AppealNotice.channel == handoff.channel) & \
        (AppealNotice.sender_id == handoff.sender_id)
    ids = set(session.execute(select(NoticeConsent.appeal_id).where(mine)).scalars())
    ids |= set(session.execute(select(AppealNotice.appeal_id).where(told)).scalars())
    if handoff.merchant_id:
        ids |= set(session.execute(select(Appeal.id).where(
            Appeal.merchant_id == handoff.merchant_id)).scalars())
    return sorted(ids)


def _scrubbed(text: str | None, phrases: list[str]) -> str | None:
    return mask_text(hide(text, phrases))[:MAX_ERROR] if text else None


def _item(notice: AppealNotice, phrases: list[str]) -> dict[str, Any]:
    code, _, detail = (notice.last_error or "").partition(": ")
    due = notice.status in {s.value for s in DUE_STATUSES}
    return {
        "id": notice.id,
        "appeal_id": notice.appeal_id,
        "kind": notice.kind,
        "kind_label": KIND_LABELS.get(notice.kind, notice.kind),
        "channel": notice.channel,
        "channel_label": CHANNEL_LABELS.get(notice.channel, notice.channel),
        "status": notice.status,
        "status_label": STATUS_LABELS.get(notice.status, notice.status),
        "attempts": notice.attempts or 0,
        "error_code": code or None,
        "error": _scrubbed(detail or notice.last_error, phrases)
        if notice.status != NoticeStatus.sent.value else None,
        "next_attempt_at": epoch(notice.next_attempt_at) if due else None,
        "created_at": epoch(notice.created_at),
        "sent_at": epoch(notice.sent_at),
        "via": notice.via,
        "via_label": VIA_LABELS.get(notice.via or ""),
    }


def panel(session: Session, handoff: Handoff) -> dict[str, Any]:
    """The panel of a conversation the caller may read: per appeal (newest first) the
    consent (without the phrase) and its notices, oldest first."""
    ids = _appeal_ids(session, handoff)
    consents = {c.appeal_id: c for c in session.execute(
        select(NoticeConsent).where(NoticeConsent.appeal_id.in_(ids))).scalars()}
    rows = session.execute(
        select(AppealNotice).where(AppealNotice.appeal_id.in_(ids))
        .order_by(AppealNotice.created_at, AppealNotice.id)).scalars().all()
    phrases = [c.phrase for c in consents.values() if c.phrase]
    appeals = []
    for appeal_id in sorted(ids, reverse=True):
        consent = consents.get(appeal_id)
        items = [_item(n, phrases) for n in rows if n.appeal_id == appeal_id]
        if consent is None and not items:
            continue  # an appeal the merchant did not want to be told about
        appeals.append({
            "appeal_id": appeal_id,
            "consent": consent is not None,
            "phrase_set": bool(consent and consent.phrase),
            "channel_label": CHANNEL_LABELS.get(consent.channel, consent.channel)
            if consent else None,
            "notices": items,
        })
    return {"appeals": appeals}


def for_handoff(session: Session, who: history.Reader, handoff_id: int) -> dict[str, Any]:
    """The panel of handoff ``handoff_id`` if ``who`` may read it (404 otherwise)."""
    handoff = history.readable(session, who, session.get(Handoff, handoff_id))
    return panel(session, handoff)
