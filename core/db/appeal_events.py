"""Appeal decisions recorded by the payment provider's back office.

The risk system posts events (需补充材料 / 通过 / 驳回) through the console's
``POST /api/v1/appeals/{id}/events``; this module keeps them and moves the appeal's
status. Each event is stored once under the back office's own event id (a retry with the
same content gets the first answer back; other content under that id is a conflict), and
each accepted signature once (a replayed request is refused, across every console
process, because the database enforces it). Every function takes an open Session; the
caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import notices
from core.db.models import Appeal, AppealStatus, Base, utcnow


class DecisionKind(str, enum.Enum):
    needs_materials = "needs_materials"  # 需补充材料: the review waits for the merchant
    approved = "approved"  # 通过
    rejected = "rejected"  # 驳回


# The appeal's status after each kind (only existing AppealStatus values: an appeal
# waiting for materials is still open and under review).
STATUS_AFTER = {
    DecisionKind.needs_materials: AppealStatus.reviewing,
    DecisionKind.approved: AppealStatus.approved,
    DecisionKind.rejected: AppealStatus.rejected,
}
FINAL_KINDS = (DecisionKind.approved, DecisionKind.rejected)


class AppealEvent(Base):
    """One decision event as the back office sent it, with the answer it was given."""

    __tablename__ = "appeal_events"

    event_id = Column(String(64), primary_key=True)  # the back office's id
    appeal_id = Column(String(13), ForeignKey("appeals.id"), nullable=False)
    kind = Column(Enum(DecisionKind, name="appeal_decision_kind", native_enum=False),
                  nullable=False)
    reason = Column(Text, nullable=False)
    missing_materials = Column(Text, nullable=False, default="[]")  # JSON list of str
    decided_at = Column(DateTime, nullable=False)  # UTC, naive like every other column
    # SHA-256 of the canonical content: tells a retry from a different event.
    content_hash = Column(String(64), nullable=False)
    # The appeal's status right after this event: the answer repeated to a retry.
    appeal_status = Column(String(20), nullable=False)
    recorded_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_appeal_events_appeal_decided", "appeal_id", "decided_at"),)

    def answer(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "appeal_id": self.appeal_id,
                "kind": self.kind.value, "appeal_status": self.appeal_status,
                "recorded_at": self.recorded_at.replace(microsecond=0).isoformat() + "Z"}


class UsedSignature(Base):
    """Signatures of accepted back-office requests, kept for the clock-skew window."""

    __tablename__ = "backoffice_signatures"

    signature = Column(String(64), primary_key=True)  # hex HMAC-SHA256
    used_at = Column(DateTime, nullable=False, default=utcnow, index=True)


@dataclass(frozen=True)
class Decision:
    """The latest decision on an appeal, as the assistant tells it."""

    appeal_id: str
    kind: DecisionKind
    reason: str
    missing_materials: tuple[str, ...]
    decided_at: dt.datetime


@dataclass(frozen=True)
class Recorded:
    answer: dict[str, Any]
    repeated: bool  # the same event was recorded before: nothing changed now


class UnknownAppeal(Exception):
    pass


class EventConflict(Exception):
    """The event id was used before for other content (or another appeal)."""


class AppealAlreadyDecided(Exception):
    """A request for materials newer than the appeal's final decision."""


class SignatureUsed(Exception):
    """This exact signed request was accepted before (a replay)."""


def content_hash(appeal_id: str, kind: DecisionKind, reason: str,
                 missing_materials: list[str], decided_at: dt.datetime) -> str:
    """Of the content, not the bytes: a retry serialised differently is the same event."""
    canonical = json.dumps([appeal_id, kind.value, reason, list(missing_materials),
                            decided_at.isoformat()], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim_signature(session: Session, signature: str, window: dt.timedelta,
                    now: dt.datetime | None = None) -> None:
    """Marks the signature used (SignatureUsed if it was); forgets those older than
    ``window``, which the timestamp check refuses anyway."""
    now = now or utcnow()
    session.execute(delete(UsedSignature).where(UsedSignature.used_at < now - window))
    try:
        with session.begin_nested():
            session.add(UsedSignature(signature=signature, used_at=now))
    except IntegrityError:
        raise SignatureUsed(signature) from None


def record_event(session: Session, appeal_id: str, event_id: str, kind: DecisionKind,
                 reason: str, missing_materials: list[str], decided_at: dt.datetime,
                 now: dt.datetime | None = None) -> Recorded:
    """Stores the event and sets the appeal's status and note from its newest event
    (by ``decided_at``: an older event arriving late is kept but changes nothing)."""
    now = now or utcnow()
    appeal = session.execute(
        select(Appeal).where(Appeal.id == appeal_id.upper()).with_for_update()
    ).scalar_one_or_none()
    if appeal is None:
        raise UnknownAppeal(appeal_id)
    digest = content_hash(appeal.id, kind, reason, missing_materials, decided_at)
    existing = session.get(AppealEvent, event_id)
    if existing is not None:
        return _repeat(existing, digest)
    newest = _newest_event(session, appeal.id)
    becomes_newest = newest is None or decided_at >= newest.decided_at
    if (becomes_newest and kind == DecisionKind.needs_materials
            and not appeal.status.is_open):
        raise AppealAlreadyDecided(appeal.id)
    status = STATUS_AFTER[kind] if becomes_newest else appeal.status
    event = AppealEvent(event_id=event_id, appeal_id=appeal.id, kind=kind, reason=reason,
                        missing_materials=json.dumps(list(missing_materials),
                                                     ensure_ascii=False),
                        decided_at=decided_at, content_hash=digest,
                        appeal_status=status.value, recorded_at=now)
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        # The same event id arrived at the same moment through another request.
        session.expire_all()
        concurrent = session.get(AppealEvent, event_id)
        if concurrent is None:
            raise
        return _repeat(concurrent, digest)
    if becomes_newest:
        appeal.status = status
        appeal.decision_note = reason
        appeal.updated_at = now
        # The merchant's notice, in this transaction (none without their consent; an
        # older event arriving late tells nothing new).
        notices.enqueue(session, appeal.id, event_id, kind.value, now)
    return Recorded(event.answer(), repeated=False)


def _repeat(existing: AppealEvent, digest: str) -> Recorded:
    if existing.content_hash != digest:
        raise EventConflict(existing.event_id)
    return Recorded(existing.answer(), repeated=True)


def _newest_event(session: Session, appeal_id: str) -> AppealEvent | None:
    return session.execute(
        select(AppealEvent).where(AppealEvent.appeal_id == appeal_id)
        .order_by(AppealEvent.decided_at.desc(), AppealEvent.recorded_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _decision(event: AppealEvent) -> Decision:
    return Decision(event.appeal_id, event.kind, event.reason,
                    tuple(json.loads(event.missing_materials or "[]")), event.decided_at)


def latest_decision(session: Session, appeal_id: str) -> Decision | None:
    """The back office's newest decision on the appeal, None before any."""
    event = _newest_event(session, appeal_id.upper())
    return _decision(event) if event is not None else None


def latest_decisions(session: Session, appeal_ids: list[str]) -> dict[str, Decision]:
    """The newest decision of each appeal that has one (one query for a merchant's list)."""
    if not appeal_ids:
        return {}
    events = session.execute(
        select(AppealEvent).where(AppealEvent.appeal_id.in_([a.upper() for a in appeal_ids]))
        .order_by(AppealEvent.decided_at, AppealEvent.recorded_at)
    ).scalars()
    return {event.appeal_id: _decision(event) for event in events}  # the newest wins


def first_final_decisions(session: Session, category: str,
                          limit: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """(filed, first approved/rejected) of the most recently decided appeals of a
    category: the history waiting times are estimated from."""
    decided = func.min(AppealEvent.decided_at)
    rows = session.execute(
        select(Appeal.created_at, decided.label("decided"))
        .join(AppealEvent, AppealEvent.appeal_id == Appeal.id)
        .where(Appeal.category == category,
               Appeal.status.in_([AppealStatus.approved, AppealStatus.rejected]),
               AppealEvent.kind.in_(FINAL_KINDS))
        .group_by(Appeal.id, Appeal.created_at)
        .order_by(decided.desc())
        .limit(limit)
    ).all()
    return [(filed, decided_at) for filed, decided_at in rows]
