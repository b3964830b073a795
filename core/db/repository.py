"""Queries and writes on the merchant database. Every function takes an open Session;
the caller owns the transaction (``with Session(engine) as s, s.begin(): ...``)."""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import (
    AccountState,
    Appeal,
    AppealStatus,
    IdentityBinding,
    Merchant,
    VerificationAttempt,
    utcnow,
)

MAX_FAILED_ATTEMPTS = 5
# Senders are chosen by the client on REST: a guesser can rotate them, so failures
# against one merchant id are limited across all senders too. The owner's existing
# binding keeps working, and 95017 stays open.
MAX_FAILED_PER_MERCHANT = 10
LOCKOUT_WINDOW = dt.timedelta(hours=1)
# And per day: someone trying 10 answers an hour on many ids would otherwise find about
# one account per 1,000 ids every hour (4 digits); 20 a day cuts that twelvefold.
MAX_FAILED_PER_MERCHANT_DAY = 20
DAY = dt.timedelta(days=1)
BINDING_TTL = dt.timedelta(days=float(os.environ.get("IDENTITY_BINDING_DAYS", "90")))
# Failed checks across all ids in an hour above which enumeration is suspected (logged).
ENUMERATION_ALERT = 200
# Concurrent filings on one day may collide on the daily sequence number.
MAX_ID_ATTEMPTS = 5


def get_merchant(session: Session, merchant_id: str) -> Merchant | None:
    return session.get(Merchant, merchant_id)


def current_state(session: Session, merchant_id: str) -> AccountState | None:
    return session.execute(
        select(AccountState)
        .where(AccountState.merchant_id == merchant_id)
        .order_by(AccountState.since.desc(), AccountState.id.desc())
        .limit(1)
    ).scalar_one_or_none()


# --- identity -------------------------------------------------------------------


def failed_attempts(session: Session, channel: str, sender_id: str, now: dt.datetime) -> int:
    return session.execute(
        select(func.count(VerificationAttempt.id)).where(
            VerificationAttempt.channel == channel,
            VerificationAttempt.sender_id == sender_id,
            VerificationAttempt.success.is_(False),
            VerificationAttempt.attempted_at > now - LOCKOUT_WINDOW,
        )
    ).scalar_one()


def is_locked(session: Session, channel: str, sender_id: str, now: dt.datetime | None = None) -> bool:
    return failed_attempts(session, channel, sender_id, now or utcnow()) >= MAX_FAILED_ATTEMPTS


def merchant_id_locked(session: Session, merchant_id: str, now: dt.datetime | None = None) -> bool:
    """Too many failed checks against this merchant id (existing or not), from anyone:
    in the last hour, or in the last day."""
    now = now or utcnow()
    recent = VerificationAttempt.attempted_at > now - LOCKOUT_WINDOW
    failures_hour, failures_day = session.execute(
        select(func.count(VerificationAttempt.id).filter(recent),
               func.count(VerificationAttempt.id)).where(
            VerificationAttempt.merchant_id == merchant_id,
            VerificationAttempt.success.is_(False),
            VerificationAttempt.attempted_at > now - DAY,
        )
    ).one()
    return failures_hour >= MAX_FAILED_PER_MERCHANT or failures_day >= MAX_FAILED_PER_MERCHANT_DAY


def failures_last_hour(session: Session, now: dt.datetime | None = None) -> int:
    """Failed identity checks across every merchant id and sender in the last hour."""
    now = now or utcnow()
    return session.execute(
        select(func.count(VerificationAttempt.id)).where(
            VerificationAttempt.success.is_(False),
            VerificationAttempt.attempted_at > now - LOCKOUT_WINDOW,
        )
    ).scalar_one()


def check_identity(
    session: Session, channel: str, sender_id: str, merchant_id: str, phone_last4: str
) -> bool:
    """Records the attempt; on success binds the sender to the merchant."""
    merchant = get_merchant(session, merchant_id)
    success = merchant is not None and merchant.bound_phone[-4:] == phone_last4
    session.add(VerificationAttempt(channel=channel, sender_id=sender_id,
                                    merchant_id=merchant_id, success=success))
    if success:
        binding = session.get(IdentityBinding, (channel, sender_id))
        if binding is None:
            session.add(
                IdentityBinding(channel=channel, sender_id=sender_id, merchant_id=merchant_id)
            )
        else:
            binding.merchant_id = merchant_id
            binding.verified_at = utcnow()
    return success


def bound_merchant_id(session: Session, channel: str, sender_id: str,
                      now: dt.datetime | None = None) -> str | None:
    """The merchant this sender verified for, unless that was longer ago than
    IDENTITY_BINDING_DAYS (default 90): then the check is asked again."""
    binding = session.get(IdentityBinding, (channel, sender_id))
    if binding is None or binding.verified_at < (now or utcnow()) - BINDING_TTL:
        return None
    return binding.merchant_id


def unbind(session: Session, channel: str, sender_id: str) -> None:
    session.execute(
        delete(IdentityBinding).where(
            IdentityBinding.channel == channel, IdentityBinding.sender_id == sender_id
        )
    )


# --- appeals --------------------------------------------------------------------


def get_appeal(session: Session, appeal_id: str) -> Appeal | None:
    return session.get(Appeal, appeal_id.upper())


def latest_appeal(session: Session, merchant_id: str) -> Appeal | None:
    return session.execute(
        select(Appeal)
        .where(Appeal.merchant_id == merchant_id)
        .order_by(Appeal.created_at.desc(), Appeal.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def open_appeal(session: Session, merchant_id: str) -> Appeal | None:
    return session.execute(
        select(Appeal)
        .where(
            Appeal.merchant_id == merchant_id,
            Appeal.status.in_([AppealStatus.submitted, AppealStatus.reviewing]),
        )
        .order_by(Appeal.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def next_appeal_id(session: Session, today: dt.date) -> str:
    prefix = f"AP{today:%Y%m%d}"
    last = session.execute(
        select(func.max(Appeal.id)).where(Appeal.id.like(f"{prefix}%"))
    ).scalar_one()
    sequence = int(last[-3:]) + 1 if last else 1
    if sequence > 999:
        raise RuntimeError("daily appeal sequence exhausted")
    return f"{prefix}{sequence:03d}"


class DuplicateAppeal(Exception):
    def __init__(self, appeal: Appeal) -> None:
        super().__init__(appeal.id)
        self.appeal = appeal


def file_appeal(
    session: Session,
    merchant_id: str,
    category: str,
    description: str,
    contact_phone: str,
    now: dt.datetime | None = None,
) -> Appeal:
    """Writes a new appeal; refuses while another one is still open.

    The database enforces both rules that concurrent filings could break: the primary
    key (two filings on the same day may pick the same id: retry with the next number)
    and one open appeal per merchant (a concurrent filing for the same merchant won:
    DuplicateAppeal). Each attempt runs in a savepoint, so a refused insert leaves the
    surrounding transaction usable.
    """
    existing = open_appeal(session, merchant_id)
    if existing is not None:
        raise DuplicateAppeal(existing)
    now = now or utcnow()
    for _ in range(MAX_ID_ATTEMPTS):
        appeal = Appeal(
            id=next_appeal_id(session, now.date()),
            merchant_id=merchant_id,
            category=category,
            description=description,
            contact_phone=contact_phone,
            status=AppealStatus.submitted,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(appeal)
            return appeal
        except IntegrityError:
            existing = open_appeal(session, merchant_id)
            if existing is not None:
                raise DuplicateAppeal(existing) from None
            # Otherwise the id was taken: try the next number.
    raise RuntimeError("could not allocate an appeal id")


def appeals_of(session: Session, merchant_id: str, limit: int = 20) -> list[Appeal]:
    """The merchant's appeals, newest first (which one is meant is decided by the caller)."""
    return list(session.execute(
        select(Appeal)
        .where(Appeal.merchant_id == merchant_id)
        .order_by(Appeal.created_at.desc(), Appeal.id.desc())
        .limit(limit)
    ).scalars())
