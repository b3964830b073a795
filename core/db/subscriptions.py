"""WeChat one-time subscription consents (一次性订阅消息) for appeal notices (issue 22,
item 3; migration 0017): a merchant who agreed on the consent page
(console.routes.notice_consent) may be sent one message for that appeal through
``message/template/subscribe`` when the 48-hour window is closed (console.notices).

``wechat_subscriptions``: one row per confirmed consent: the appeal, the OpenID, the
template and scene it was given for, and its status: ``ready`` → ``held`` (a notice is
being sent with it; kept held after a lost answer, so the retry uses the same consent)
→ ``used`` (the message went; ``notice_id`` says which) or ``void`` (WeChat refused it).
At most one ``ready`` or ``held`` consent per appeal and OpenID.
``wechat_consent_nonces``: the nonces of the flow's state/reserved values already used
(single use), kept until they expire.

Every function takes an open Session; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import repository
from core.db.models import Appeal, Base, utcnow
from core.db.notices import NoticeConsent


class SubscriptionStatus(str, enum.Enum):
    ready = "ready"
    held = "held"
    used = "used"
    void = "void"


OPEN_STATUSES = (SubscriptionStatus.ready.value, SubscriptionStatus.held.value)


class NonceUsed(Exception):
    """The state/reserved value was used before (a replay)."""


class WeChatSubscription(Base):
    """One confirmed one-time subscription: one message for one appeal."""

    __tablename__ = "wechat_subscriptions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    appeal_id = Column(String(13), ForeignKey("appeals.id", ondelete="CASCADE"),
                       nullable=False)
    openid = Column(String(128), nullable=False)
    template_id = Column(String(128), nullable=False)
    scene = Column(Integer, nullable=False)
    status = Column(String(10), nullable=False, default=SubscriptionStatus.ready.value)
    notice_id = Column(Integer)  # appeal_notices.id it is held for / was used by
    created_at = Column(DateTime, nullable=False, default=utcnow)
    used_at = Column(DateTime)

    __table_args__ = (
        Index("ix_wechat_subscriptions_appeal", "appeal_id", "openid", "status"),
    )


class WeChatConsentNonce(Base):
    __tablename__ = "wechat_consent_nonces"

    nonce = Column(String(32), primary_key=True)
    expires_at = Column(DateTime, nullable=False)


@dataclass(frozen=True)
class Subscription:
    id: int
    appeal_id: str
    openid: str
    template_id: str
    scene: int


def _view(row: WeChatSubscription) -> Subscription:
    return Subscription(row.id, row.appeal_id, row.openid, row.template_id, row.scene)


def use_nonce(session: Session, nonce: str, expires_at: dt.datetime,
              now: dt.datetime | None = None) -> None:
    """Marks a state/reserved nonce used (NonceUsed if it was); forgets expired ones."""
    now = now or utcnow()
    session.execute(delete(WeChatConsentNonce).where(WeChatConsentNonce.expires_at < now)
                    .execution_options(synchronize_session=False))
    try:
        with session.begin_nested():
            session.add(WeChatConsentNonce(nonce=nonce, expires_at=expires_at))
    except IntegrityError:
        raise NonceUsed(nonce) from None


def nonce_used(session: Session, nonce: str) -> bool:
    """Whether the nonce was used already (a read; ``use_nonce`` is what claims it)."""
    return session.get(WeChatConsentNonce, nonce) is not None


def is_appeal_owner(session: Session, appeal_id: str, openid: str,
                    now: dt.datetime | None = None) -> bool:
    """Whether this WeChat OpenID belongs to the appeal's merchant: verified for it
    (identity_bindings) or the sender the merchant chose for the appeal's notices."""
    appeal = session.get(Appeal, appeal_id.upper())
    if appeal is None or not openid:
        return False
    if repository.bound_merchant_id(session, "wechat", openid, now) == appeal.merchant_id:
        return True
    consent = session.get(NoticeConsent, appeal.id)
    return consent is not None and (consent.channel, consent.sender_id) == ("wechat", openid)


def record(session: Session, appeal_id: str, openid: str, template_id: str, scene: int,
           now: dt.datetime | None = None) -> bool:
    """Records a confirmed consent; False (nothing stored) when one for this appeal and
    OpenID is still unused."""
    appeal_id = appeal_id.upper()
    existing = session.execute(select(WeChatSubscription.id).where(
        WeChatSubscription.appeal_id == appeal_id, WeChatSubscription.openid == openid,
        WeChatSubscription.status.in_(OPEN_STATUSES))).first()
    if existing is not None:
        return False
    session.add(WeChatSubscription(appeal_id=appeal_id, openid=openid,
                                   template_id=template_id, scene=scene,
                                   status=SubscriptionStatus.ready.value,
                                   created_at=now or utcnow()))
    session.flush()
    return True


def hold(session: Session, appeal_id: str, openid: str, template_id: str,
         notice_id: int) -> Subscription | None:
    """A consent for this notice: the one already held for it (a retry after a lost
    answer), else a ready one, now held (two workers never hold the same); None."""
    where = (WeChatSubscription.appeal_id == appeal_id.upper(),
             WeChatSubscription.openid == openid,
             WeChatSubscription.template_id == template_id)
    held = session.execute(select(WeChatSubscription).where(
        *where, WeChatSubscription.status == SubscriptionStatus.held.value,
        WeChatSubscription.notice_id == notice_id)).scalars().first()
    if held is not None:
        return _view(held)
    ready = session.execute(select(WeChatSubscription).where(
        *where, WeChatSubscription.status == SubscriptionStatus.ready.value)
        .order_by(WeChatSubscription.id)).scalars().all()
    for row in ready:
        won = session.execute(
            update(WeChatSubscription)
            .where(WeChatSubscription.id == row.id,
                   WeChatSubscription.status == SubscriptionStatus.ready.value)
            .values(status=SubscriptionStatus.held.value, notice_id=notice_id)
            .execution_options(synchronize_session=False)).rowcount
        if won == 1:
            return _view(row)
    return None


def _finish(session: Session, subscription_id: int, values: dict[str, object]) -> None:
    session.execute(update(WeChatSubscription)
                    .where(WeChatSubscription.id == subscription_id)
                    .values(**values).execution_options(synchronize_session=False))


def consume(session: Session, subscription_id: int, notice_id: int,
            now: dt.datetime | None = None) -> None:
    """The message went: the consent is used up."""
    _finish(session, subscription_id, {"status": SubscriptionStatus.used.value,
                                       "notice_id": notice_id, "used_at": now or utcnow()})


def void(session: Session, subscription_id: int, now: dt.datetime | None = None) -> None:
    """WeChat refused the consent (not valid, or already used up): never tried again."""
    _finish(session, subscription_id, {"status": SubscriptionStatus.void.value,
                                       "used_at": now or utcnow()})


def release(session: Session, subscription_id: int) -> None:
    """Nothing was sent (WeChat busy, quota, settings): the consent is ready again."""
    _finish(session, subscription_id, {"status": SubscriptionStatus.ready.value,
                                       "notice_id": None})


def open_count(session: Session, appeal_id: str, openid: str | None = None) -> int:
    """Consents of the appeal not used yet (ready or held)."""
    query = select(WeChatSubscription.id).where(
        WeChatSubscription.appeal_id == appeal_id.upper(),
        WeChatSubscription.status.in_(OPEN_STATUSES))
    if openid is not None:
        query = query.where(WeChatSubscription.openid == openid)
    return len(session.execute(query).all())


def forget_sender(session: Session, openid: str) -> None:
    """"删除我的记录": the OpenID's consents go, used or not."""
    session.execute(delete(WeChatSubscription).where(WeChatSubscription.openid == openid)
                    .execution_options(synchronize_session=False))
