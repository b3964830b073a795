"""The outbox of WeChat media downloads (issue 22): a file a verified merchant sent that
could not be fetched from WeChat at once (the API down or answering an error) is kept
here and fetched again, within WeChat's 3-day media window, instead of asking the
merchant to send it again (the channel's worker: ``addons.channels.wechat_media``).

One row per source message (``source_ref``, the material's own: WeChat's retries of a
push never add a second row). A row goes ``pending`` (a fetch is due at
``next_attempt_at``) → ``telling`` (the outcome is known: ``reply`` is due to the
merchant) → ``done`` (told once), or ``untold`` when even telling failed until the
customer-service window closed (logged as a WARNING: the file itself is kept either way
when it was fetched). Rows are claimed with a lease, so two replicas never take the same.

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
from core.db.models import Base, Sealed, utcnow


class DownloadStatus(str, enum.Enum):
    pending = "pending"  # the fetch is due at next_attempt_at
    telling = "telling"  # the outcome is known; telling the merchant is due
    done = "done"  # told (once)
    untold = "untold"  # the merchant could not be told before the window closed


DUE_STATUSES = (DownloadStatus.pending, DownloadStatus.telling)
# Seconds before the next try after the 1st, 2nd… failed one; then every last step.
BACKOFF = tuple(dt.timedelta(seconds=s) for s in (30, 60, 120, 300, 600, 1800, 3600))
# A worker that claimed a row and died: the row is due again after this (more than one
# fetch, scan and store take).
CLAIM_LEASE = dt.timedelta(minutes=5)


class MediaDownload(Base):
    """One WeChat file still to fetch, or whose outcome is still to tell."""

    __tablename__ = "wechat_media_downloads"

    id = Column(Integer, primary_key=True, autoincrement=True)
    account = Column(String(64), nullable=False)  # the official account's AppID
    openid = Column(String(128), nullable=False)
    msg_type = Column(String(10), nullable=False)  # image / file
    media_id = Column(String(256), nullable=False)
    source_ref = Column(String(128), nullable=False)  # the material's (one per message)
    # The name the merchant gave the file (sealed at rest, like the material's).
    file_name = Column(Sealed)
    merchant_id = Column(String(10), nullable=False)
    appeal_id = Column(String(13), ForeignKey("appeals.id", ondelete="CASCADE"),
                       nullable=False)
    sent_at = Column(DateTime, nullable=False)  # the message's CreateTime
    fetch_until = Column(DateTime, nullable=False)  # no fetch is tried after this
    tell_until = Column(DateTime, nullable=False)  # the customer-service window closes
    status = Column(String(20), nullable=False, default=DownloadStatus.pending.value)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    last_error = Column(Text)
    errors = Column(Text, nullable=False, default="[]")  # JSON: every attempt's code
    outcome = Column(String(20))  # accepted / quarantined / refused / failed
    material_id = Column(String(32))
    reply = Column(Sealed)  # what the merchant is told (it names the file)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    told_at = Column(DateTime)

    __table_args__ = (
        UniqueConstraint("source_ref", name="uq_wechat_media_downloads_source"),
        Index("ix_wechat_media_downloads_due", "status", "next_attempt_at"),
    )


@dataclass(frozen=True)
class Due:
    """A claimed row, with what the worker needs."""

    id: int
    status: str
    openid: str
    msg_type: str
    media_id: str
    source_ref: str
    file_name: str
    merchant_id: str
    appeal_id: str
    sent_at: dt.datetime
    fetch_until: dt.datetime
    tell_until: dt.datetime
    attempts: int
    reply: str


def backoff(attempts: int) -> dt.timedelta:
    """The wait after ``attempts`` failed tries (1 = the first)."""
    return delay_after(BACKOFF, attempts)


def enqueue(session: Session, *, account: str, openid: str, msg_type: str, media_id: str,
            source_ref: str, file_name: str, merchant_id: str, appeal_id: str,
            sent_at: dt.datetime, fetch_until: dt.datetime, tell_until: dt.datetime,
            error: str, now: dt.datetime | None = None) -> MediaDownload:
    """The row of a first fetch that failed (``error``): the next try after the first
    backoff step. The same message again (a retry of the push): its existing row."""
    existing = session.execute(select(MediaDownload).where(
        MediaDownload.source_ref == source_ref)).scalar_one_or_none()
    if existing is not None:
        return existing
    now = now or utcnow()
    row = MediaDownload(
        account=account, openid=openid, msg_type=msg_type, media_id=media_id,
        source_ref=source_ref, file_name=file_name, merchant_id=merchant_id,
        appeal_id=appeal_id, sent_at=sent_at, fetch_until=fetch_until,
        tell_until=tell_until, status=DownloadStatus.pending.value, attempts=1,
        next_attempt_at=now + backoff(1), last_error=error[:300],
        errors=json.dumps([_code(error)]), created_at=now)
    session.add(row)
    session.flush()
    return row


def claim_due(session: Session, account: str, now: dt.datetime | None = None,
              limit: int = 20) -> list[Due]:
    """Due rows of this account, each claimed for CLAIM_LEASE."""
    now = now or utcnow()
    rows = session.execute(
        select(MediaDownload).where(
            MediaDownload.account == account,
            MediaDownload.status.in_([s.value for s in DUE_STATUSES]),
            MediaDownload.next_attempt_at <= now)
        .order_by(MediaDownload.next_attempt_at, MediaDownload.id).limit(limit)
    ).scalars().all()
    claimed: list[Due] = []
    for row in rows:
        won = session.execute(
            update(MediaDownload)
            .where(MediaDownload.id == row.id, MediaDownload.status == row.status,
                   MediaDownload.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=now + CLAIM_LEASE)
            .execution_options(synchronize_session=False)).rowcount
        if won != 1:
            continue
        claimed.append(Due(row.id, row.status, row.openid, row.msg_type, row.media_id,
                           row.source_ref, row.file_name or "", row.merchant_id,
                           row.appeal_id, row.sent_at, row.fetch_until, row.tell_until,
                           row.attempts, row.reply or ""))
    return claimed


def _code(error: str) -> str:
    return error.split(":", 1)[0][:40] or "error"


def _attempted(session: Session, row_id: int, error: str | None,
               values: dict[str, object]) -> None:
    row = session.get(MediaDownload, row_id)
    if row is None:  # deleted meanwhile ("删除我的记录")
        return
    if error is not None:
        errors = json.loads(row.errors or "[]")
        errors.append(_code(error))
        row.errors = json.dumps(errors[-50:])
        row.last_error = error[:300]
    for key, value in values.items():
        setattr(row, key, value)


def fetch_failed(session: Session, due: Due, error: str,
                 now: dt.datetime | None = None) -> None:
    """Another failed fetch: the next one after the backoff (the caller decides when
    it is the last: ``finished``)."""
    now = now or utcnow()
    attempts = due.attempts + 1
    _attempted(session, due.id, error, {"attempts": attempts,
                                        "next_attempt_at": now + backoff(attempts)})


def finished(session: Session, due: Due, outcome: str, reply: str,
             material_id: str | None = None, error: str | None = None,
             now: dt.datetime | None = None) -> None:
    """The fetch is over (the file taken or refused, or given up): ``reply`` is to be
    told. The caller tells it at once, so the row stays held for CLAIM_LEASE (due again
    only if that caller dies before it is told)."""
    now = now or utcnow()
    values: dict[str, object] = {"status": DownloadStatus.telling.value, "outcome": outcome,
                                 "reply": reply, "material_id": material_id,
                                 "next_attempt_at": now + CLAIM_LEASE}
    if error is not None:
        values["attempts"] = due.attempts + 1
    _attempted(session, due.id, error, values)


def told(session: Session, due: Due, now: dt.datetime | None = None) -> None:
    _attempted(session, due.id, None, {"status": DownloadStatus.done.value,
                                       "told_at": now or utcnow(), "reply": None})


def tell_failed(session: Session, due: Due, error: str, closed: bool,
                now: dt.datetime | None = None) -> DownloadStatus:
    """Telling failed: tried again after the backoff while the window is open; ``untold``
    once it is closed (``closed``: WeChat said so, or its time is over)."""
    now = now or utcnow()
    attempts = due.attempts + 1
    retry_at = now + backoff(attempts)
    status = DownloadStatus.untold if closed or retry_at >= due.tell_until \
        else DownloadStatus.telling
    _attempted(session, due.id, error, {"status": status.value, "attempts": attempts,
                                        "next_attempt_at": retry_at})
    return status


def forget_sender(session: Session, openid: str) -> None:
    """"删除我的记录": every download row of the sender goes (a file already fetched is a
    material of the appeal and stays, as all materials do). An OpenID is one person."""
    session.execute(delete(MediaDownload).where(MediaDownload.openid == openid)
                    .execution_options(synchronize_session=False))
