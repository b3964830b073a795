"""Notices to the merchant (issue 22, item 3): a decision of the back office told on the
merchant's own channel, with the phrase (暗号) they chose at filing.

``notice_consents``: at most one per appeal: where to tell (channel + sender) and the
phrase, sealed at rest. No consent: nothing is sent (the merchant said no).
``appeal_notices``: the outbox. A row is added in the same transaction that records a
new decision event (``core.db.appeal_events.record_event`` calls ``enqueue``), so a
decision is never recorded without its notice, and a replayed event adds none. The
console's worker (``console.notices``) sends due rows and records every attempt: in the
merchant's conversation, or (WeChat, window closed) as a template message or a one-time
subscription message (core.db.subscriptions).

Every function takes an open Session; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Session

from core.db.backoff import delay_after
from core.db.models import Appeal, Base, Sealed, utcnow

PHRASE_MIN, PHRASE_MAX = 2, 8


class NoticeStatus(str, enum.Enum):
    pending = "pending"  # due at next_attempt_at
    sent = "sent"
    waiting_window = "waiting_window"  # WeChat's 48-hour window is closed: retried later
    failed = "failed"  # the last attempt failed: retried with backoff
    gave_up = "gave_up"  # retries exhausted (logged as a WARNING)


DUE_STATUSES = (NoticeStatus.pending, NoticeStatus.failed, NoticeStatus.waiting_window)

# Minutes before the next try after the 1st, 2nd… failed attempt; one more failure after
# the last gives up.
BACKOFF_MINUTES = (1, 5, 30, 120, 360)
BACKOFF = tuple(dt.timedelta(minutes=m) for m in BACKOFF_MINUTES)
# A closed WeChat window: looked at again every WINDOW_RETRY, for up to WINDOW_MAX after
# the notice was created (the window reopens when the merchant writes again).
WINDOW_RETRY = dt.timedelta(minutes=10)
WINDOW_MAX = dt.timedelta(days=7)
# A worker that claimed a row and died: the row is due again after this.
CLAIM_LEASE = dt.timedelta(minutes=5)

# How a sent notice went (``appeal_notices.via``, migration 0016).
VIA_CONVERSATION = "conversation"  # a bot event in the merchant's conversation
VIA_TEMPLATE = "template"  # a WeChat template message (the 48-hour window was closed)
VIA_SUBSCRIPTION = "subscription"  # a WeChat one-time subscription message (likewise)

# The wording, in one place (simplified Chinese). ``{reason}`` / ``{materials}``: from the
# decision event.
TEXTS = {
    "approved": "你的申诉{appeal_id}已审核通过，账户限制已解除。{reason_line}",
    "rejected": "你的申诉{appeal_id}没有通过审核。原因：{reason}。"
                "如有疑问，可以在这里回复“转人工”。",
    "needs_materials": "你的申诉{appeal_id}需要补充材料：{materials}。{reason_line}"
                       "请在这里直接发送，补齐后会继续审核。",
}
REASON_LINE = "说明：{reason}。"
SIGNATURE = ("暗号：“{phrase}”。没有这个暗号的“审核通过”消息都不是我们发的，"
             "请不要付款，也不要提供验证码。")
# A WeChat template message: short values for the template's fields (console.notices
# maps these names to the template's keys).
TEMPLATE_HEAD = "你的申诉有了审核结果"
TEMPLATE_RESULTS = {"approved": "审核通过", "rejected": "没有通过",
                    "needs_materials": "需要补充材料"}
TEMPLATE_NOTE = ("{detail}暗号“{phrase}”：没有这个暗号的消息都不是我们发的，"
                 "请不要付款或提供验证码。")
# A one-time subscription message: a title of at most 15 characters and the notice's
# text in at most 200 (the reason and the materials are shortened, never the phrase).
SUBSCRIBE_TITLE = "申诉审核结果"
SUBSCRIBE_MAX_CHARS = 200


class InvalidPhrase(ValueError):
    pass


class NoticeConsent(Base):
    """Where and how the merchant agreed to be told about one appeal."""

    __tablename__ = "notice_consents"

    appeal_id = Column(String(13), ForeignKey("appeals.id", ondelete="CASCADE"),
                       primary_key=True)
    channel = Column(String(40), nullable=False)
    sender_id = Column(String(128), nullable=False)
    phrase = Column(Sealed, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_notice_consents_sender", "channel", "sender_id"),)


class AppealNotice(Base):
    """One decision to tell one merchant: the outbox row and its attempts."""

    __tablename__ = "appeal_notices"

    id = Column(Integer, primary_key=True, autoincrement=True)
    appeal_id = Column(String(13), ForeignKey("appeals.id", ondelete="CASCADE"),
                       nullable=False)
    event_id = Column(String(64), nullable=False)  # the decision (appeal_events)
    kind = Column(String(20), nullable=False)
    channel = Column(String(40), nullable=False)
    sender_id = Column(String(128), nullable=False)
    status = Column(String(20), nullable=False, default=NoticeStatus.pending.value)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    last_error = Column(Text)  # "<code>: <short text>" of the last failed attempt
    errors = Column(Text, nullable=False, default="[]")  # JSON list: every attempt's code
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)
    via = Column(String(20))  # VIA_CONVERSATION / VIA_TEMPLATE / VIA_SUBSCRIPTION once sent
    wechat_msgid = Column(String(40))  # WeChat's msgid of a template message

    __table_args__ = (
        UniqueConstraint("event_id", "channel", "sender_id", name="uq_appeal_notices_event"),
        Index("ix_appeal_notices_due", "status", "next_attempt_at"),
    )


@dataclass(frozen=True)
class Consent:
    appeal_id: str
    channel: str
    sender_id: str
    phrase: str


def valid_phrase(phrase: str) -> str:
    """The phrase stripped; InvalidPhrase unless 2–8 characters without line breaks."""
    phrase = (phrase or "").strip()
    if not PHRASE_MIN <= len(phrase) <= PHRASE_MAX or any(c in phrase for c in "\r\n\t"):
        raise InvalidPhrase(phrase)
    return phrase


def remember_consent(session: Session, appeal_id: str, channel: str, sender_id: str,
                     phrase: str) -> None:
    """Records (or replaces) the consent of an appeal; InvalidPhrase for a bad phrase."""
    phrase = valid_phrase(phrase)
    appeal_id = appeal_id.upper()
    existing = session.get(NoticeConsent, appeal_id)
    if existing is None:
        session.add(NoticeConsent(appeal_id=appeal_id, channel=channel,
                                  sender_id=sender_id, phrase=phrase, created_at=utcnow()))
    else:
        existing.channel, existing.sender_id, existing.phrase = channel, sender_id, phrase
        existing.created_at = utcnow()
    session.flush()


def consent_for(session: Session, appeal_id: str) -> Consent | None:
    row = session.get(NoticeConsent, appeal_id.upper())
    if row is None:
        return None
    return Consent(row.appeal_id, row.channel, row.sender_id, row.phrase)


def phrases_of(session: Session, channel: str, sender_id: str,
               merchant_id: str | None = None) -> list[str]:
    """The phrases of the consents given from this conversation or for the merchant's
    appeals: what the console hides from agents (one who knew it could pass as us)."""
    where = (NoticeConsent.channel == channel) & (NoticeConsent.sender_id == sender_id)
    if merchant_id:
        where = where | NoticeConsent.appeal_id.in_(
            select(Appeal.id).where(Appeal.merchant_id == merchant_id))
    found = session.execute(select(NoticeConsent.phrase).where(where)).scalars()
    return sorted({p for p in found if p}, key=len, reverse=True)


def enqueue(session: Session, appeal_id: str, event_id: str, kind: str,
            now: dt.datetime | None = None) -> AppealNotice | None:
    """A pending notice of a newly recorded decision, if the appeal has a consent."""
    consent = session.get(NoticeConsent, appeal_id.upper())
    if consent is None:
        return None
    now = now or utcnow()
    notice = AppealNotice(appeal_id=consent.appeal_id, event_id=event_id, kind=kind,
                          channel=consent.channel, sender_id=consent.sender_id,
                          status=NoticeStatus.pending.value, attempts=0,
                          next_attempt_at=now, errors="[]", created_at=now)
    session.add(notice)
    session.flush()
    return notice


def render(kind: str, appeal_id: str, phrase: str, reason: str,
           missing_materials: list[str] | tuple[str, ...] = ()) -> str:
    """The notice's text: the decision, the appeal id and the phrase, and the warning."""
    reason = reason.strip().rstrip("。.")
    body = TEXTS[kind].format(
        appeal_id=appeal_id, reason=reason or "未说明",
        reason_line=REASON_LINE.format(reason=reason) if reason else "",
        materials="、".join(missing_materials) or "见审核说明")
    return body + SIGNATURE.format(phrase=phrase)


def subscribe_text(kind: str, appeal_id: str, phrase: str, reason: str,
                   missing_materials: list[str] | tuple[str, ...] = (),
                   limit: int = SUBSCRIBE_MAX_CHARS) -> str:
    """The notice's text (``render``) in at most ``limit`` characters: the reason and the
    missing materials are cut (with "…") as needed; the appeal id, the decision, the
    phrase and the warning always stay."""
    text = render(kind, appeal_id, phrase, reason, missing_materials)
    reason = reason.strip().rstrip("。.")
    materials = "、".join(missing_materials)
    while len(text) > limit and (reason or materials):
        excess = len(text) - limit + 1  # one more for the "…"
        if len(materials) >= len(reason):
            materials = materials[:max(0, len(materials) - excess)]
        else:
            reason = reason[:max(0, len(reason) - excess)]
        text = render(kind, appeal_id, phrase, f"{reason}…" if reason else "",
                      [f"{materials}…"] if materials else [])
    return text


def template_values(kind: str, appeal_id: str, phrase: str, reason: str,
                    missing_materials: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """The values of a template message, by name: head, appeal_id, result, phrase and
    note (the reason or the missing materials, then the phrase and the warning)."""
    reason = reason.strip().rstrip("。.")
    if kind == "needs_materials":
        detail = f"请补充：{'、'.join(missing_materials) or '见审核说明'}，在对话里直接发送。"
    elif kind == "rejected":
        detail = f"原因：{reason or '未说明'}。"
    else:
        detail = f"说明：{reason}。" if reason else ""
    return {"head": TEMPLATE_HEAD, "appeal_id": appeal_id,
            "result": TEMPLATE_RESULTS[kind], "phrase": phrase,
            "note": TEMPLATE_NOTE.format(detail=detail, phrase=phrase)}


@dataclass(frozen=True)
class Due:
    """A claimed notice, with what its text needs."""

    id: int
    appeal_id: str
    kind: str
    channel: str
    sender_id: str
    attempts: int
    created_at: dt.datetime
    phrase: str
    reason: str
    missing_materials: tuple[str, ...]
    errors: tuple[str, ...] = ()  # the codes of the earlier attempts

    @property
    def text(self) -> str:
        return render(self.kind, self.appeal_id, self.phrase, self.reason,
                      self.missing_materials)

    @property
    def subscribe_text(self) -> str:
        return subscribe_text(self.kind, self.appeal_id, self.phrase, self.reason,
                              self.missing_materials)

    @property
    def template_values(self) -> dict[str, str]:
        return template_values(self.kind, self.appeal_id, self.phrase, self.reason,
                               self.missing_materials)


def claim_due(session: Session, now: dt.datetime | None = None,
              limit: int = 50) -> list[Due]:
    """Due notices, each claimed for CLAIM_LEASE (two workers never take the same row)."""
    from core.db.appeal_events import AppealEvent  # noqa: PLC0415 (it imports this module)

    now = now or utcnow()
    rows = session.execute(
        select(AppealNotice).where(AppealNotice.status.in_([s.value for s in DUE_STATUSES]),
                                   AppealNotice.next_attempt_at <= now)
        .order_by(AppealNotice.next_attempt_at, AppealNotice.id).limit(limit)
    ).scalars().all()
    claimed: list[Due] = []
    for row in rows:
        won = session.execute(
            update(AppealNotice)
            .where(AppealNotice.id == row.id, AppealNotice.next_attempt_at == row.next_attempt_at,
                   AppealNotice.status == row.status)
            .values(next_attempt_at=now + CLAIM_LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount
        consent = session.get(NoticeConsent, row.appeal_id)
        event = session.get(AppealEvent, row.event_id)
        if won != 1 or consent is None or event is None:
            continue
        claimed.append(Due(row.id, row.appeal_id, row.kind, row.channel, row.sender_id,
                           row.attempts, row.created_at, consent.phrase, event.reason,
                           tuple(json.loads(event.missing_materials or "[]")),
                           tuple(json.loads(row.errors or "[]"))))
    return claimed


def _attempted(session: Session, notice_id: int, code: str | None,
               values: dict[str, object]) -> None:
    notice = session.get(AppealNotice, notice_id)
    if notice is None:  # deleted meanwhile ("删除我的记录")
        return
    errors = json.loads(notice.errors or "[]")
    errors.append(code or "ok")
    notice.errors = json.dumps(errors[-50:])
    notice.attempts = (notice.attempts or 0) + 1
    for key, value in values.items():
        setattr(notice, key, value)


def mark_sent(session: Session, notice_id: int, now: dt.datetime | None = None,
              via: str = VIA_CONVERSATION, wechat_msgid: str | None = None) -> None:
    now = now or utcnow()
    _attempted(session, notice_id, None, {"status": NoticeStatus.sent.value, "sent_at": now,
                                          "last_error": None, "via": via,
                                          "wechat_msgid": wechat_msgid})


def mark_window_closed(session: Session, notice: Due, error: str,
                       now: dt.datetime | None = None, code: str = "45015") -> NoticeStatus:
    """WeChat's window is closed and no template message went (``code`` says why: 45015,
    or the template's own error such as 43101): looked at again every WINDOW_RETRY, up to
    WINDOW_MAX."""
    now = now or utcnow()
    status = (NoticeStatus.waiting_window if now - notice.created_at < WINDOW_MAX
              else NoticeStatus.gave_up)
    _attempted(session, notice.id, code, {
        "status": status.value, "last_error": f"{code}: {error}"[:300],
        "next_attempt_at": now + WINDOW_RETRY})
    return status


def mark_failed(session: Session, notice: Due, code: str, error: str,
                now: dt.datetime | None = None) -> NoticeStatus:
    """A failed attempt: retried after the next backoff step, or given up after the last."""
    now = now or utcnow()
    step = notice.attempts  # attempts before this one
    status = NoticeStatus.failed if step < len(BACKOFF_MINUTES) else NoticeStatus.gave_up
    delay = delay_after(BACKOFF, step + 1)
    _attempted(session, notice.id, code, {
        "status": status.value, "last_error": f"{code}: {error}"[:300],
        "next_attempt_at": now + delay})
    return status


def forget_sender(session: Session, channel: str, sender_id: str) -> None:
    """"删除我的记录": the sender's consents and every notice to them not yet sent go;
    sent ones lose the sender (they stay as the record that the decision was told)."""
    session.execute(delete(NoticeConsent).where(NoticeConsent.channel == channel,
                                                NoticeConsent.sender_id == sender_id)
                    .execution_options(synchronize_session=False))
    theirs = (AppealNotice.channel == channel) & (AppealNotice.sender_id == sender_id)
    session.execute(delete(AppealNotice).where(
        theirs, AppealNotice.status != NoticeStatus.sent.value)
        .execution_options(synchronize_session=False))
    from core.db.forget import anonymous  # noqa: PLC0415 (forget imports this module)

    for notice in session.execute(select(AppealNotice).where(theirs)).scalars():
        notice.sender_id = anonymous()
