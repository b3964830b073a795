"""Tables of the merchant database (SQLAlchemy 1.4, 2.0 style)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class AccountStatus(str, enum.Enum):
    normal = "normal"
    restricted = "restricted"
    risk_controlled = "risk_controlled"
    frozen = "frozen"


# Appeals in these states are "open": a merchant may have one at a time.
OPEN_APPEAL_SQL = "status IN ('submitted', 'reviewing')"


class AppealStatus(str, enum.Enum):
    submitted = "submitted"
    reviewing = "reviewing"
    approved = "approved"
    rejected = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (AppealStatus.submitted, AppealStatus.reviewing)


class Merchant(Base):
    __tablename__ = "merchants"

    id = Column(String(10), primary_key=True)
    name = Column(String(100), nullable=False)
    business_type = Column(String(40), nullable=False)
    bound_phone = Column(String(11), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    states = relationship("AccountState", back_populates="merchant", order_by="AccountState.since")
    appeals = relationship("Appeal", back_populates="merchant", order_by="Appeal.created_at")


class AccountState(Base):
    """One row per state change; the newest row is the current state."""

    __tablename__ = "account_states"

    id = Column(Integer, primary_key=True, autoincrement=True)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    status = Column(Enum(AccountStatus, name="account_status"), nullable=False)
    reason_code = Column(String(40))
    since = Column(DateTime, nullable=False, default=utcnow)
    can_collect = Column(Boolean, nullable=False, default=True)
    can_withdraw = Column(Boolean, nullable=False, default=True)

    merchant = relationship("Merchant", back_populates="states")

    __table_args__ = (Index("ix_account_states_merchant_since", "merchant_id", "since"),)


class Appeal(Base):
    __tablename__ = "appeals"

    # AP + yyyymmdd + 3-digit daily sequence, e.g. AP20261120001
    id = Column(String(13), primary_key=True)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    category = Column(String(40), nullable=False)
    description = Column(Text, nullable=False)
    contact_phone = Column(String(11), nullable=False)
    status = Column(Enum(AppealStatus, name="appeal_status"), nullable=False)
    decision_note = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    merchant = relationship("Merchant", back_populates="appeals")

    __table_args__ = (
        Index("ix_appeals_merchant_created", "merchant_id", "created_at"),
        # One open appeal per merchant, also under concurrent filings (migration 0003).
        Index(
            "uq_appeals_one_open_per_merchant",
            "merchant_id",
            unique=True,
            sqlite_where=text(OPEN_APPEAL_SQL),
            postgresql_where=text(OPEN_APPEAL_SQL),
        ),
    )


class IdentityBinding(Base):
    """A channel user (e.g. a WeChat OpenID) verified as the owner of a merchant."""

    __tablename__ = "identity_bindings"

    channel = Column(String(40), primary_key=True)
    sender_id = Column(String(128), primary_key=True)
    merchant_id = Column(String(10), ForeignKey("merchants.id"), nullable=False)
    verified_at = Column(DateTime, nullable=False, default=utcnow)


class VerificationAttempt(Base):
    __tablename__ = "verification_attempts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(40), nullable=False)
    sender_id = Column(String(128), nullable=False)
    # The merchant id typed, whether it exists or not (limits guessing across senders).
    merchant_id = Column(String(10))
    success = Column(Boolean, nullable=False)
    attempted_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_verification_attempts_sender", "channel", "sender_id", "attempted_at"),
        Index("ix_verification_attempts_merchant", "merchant_id", "attempted_at"),
    )
