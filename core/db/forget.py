"""What "删除我的记录" deletes from the merchant database, after a confirmation (the tracker
store and the event broker delete the conversation itself: addons.stores.tracker_store).

Every copy of what the merchant typed or was told there goes, and every link from the
sender to the merchant; what the operators need stays, without text and without the
sender (docs/security.md P5 k):

- the binding (``identity_bindings``): deleted;
- handoffs: kept for the report (reason, channel, status, times, agent, score), with the
  problem, the account panel, the call-back number and the resolution removed, no
  merchant id, and a sender name of their own (``forgotten:<random>``, one per handoff)
  instead of the sender's; an open one (queued, a message left, held) ends as cancelled:
  nothing is left to claim or call back;
- agents' notes on them: deleted; agents' replies: kept as rows (first response and
  per-agent figures count them) with their text replaced by ``REMOVED`` and the sealed
  typed text and the delivery error removed;
- ``handoff_reads``: kept (the audit of which agent opened which handoff; they name the
  agent and the handoff, never the sender);
- identity checks (``verification_attempts``): the failed ones that still count toward
  the sender's lock-out (those of the last hour, and any within an hour before one kept)
  stay as they are, so that deleting cannot reset a guesser's lock-out; every other
  check of the sender gets one name of its own for this deletion (the report's lock-out
  figure counts the same), and loses the merchant id unless it is a failure of the last
  day (the merchant id's own limits count those);
- the inbox: the sender's triage marks (``inbox_triaged``) are deleted; the triage
  actions that took out any of the sender's messages keep who did what, when, on how
  many messages and which draft it made, without the questions they copied (``added``)
  and their note;
- appeal materials (``materials``): the files stay with their appeal (the business's
  records), but the reference to the message or upload they came from names the sender
  (``wechat:<openid>:…``, ``upload:<session>:…``) and gets a name of its own instead;
  WeChat files still to fetch again or to tell about (``wechat_media_downloads``): deleted;
- WeChat one-time subscription consents of the OpenID (``wechat_subscriptions``): deleted;
- kept as they are: the merchant's own records (account, states and filed appeals with
  their contact phone: the business's records, named by the merchant id and by no
  sender; the confirmation says so), and the knowledge base's drafts (the team's own
  text, named by no sender).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.db import media_downloads, notices, repository, subscriptions
from core.db.inbox import InboxAction, InboxTriaged
from core.db.models import (
    AgentMessage,
    Handoff,
    HandoffNote,
    HandoffStatus,
    Material,
    VerificationAttempt,
    utcnow,
)

# Read by the tracker store (addons.stores.tracker_store): delete instead of saving.
FORGET_SLOT = "forget_me"
# What an agent's reply reads as once the merchant deleted the records.
REMOVED = "（商户已删除记录）"
OPEN = (HandoffStatus.waiting, HandoffStatus.agent, HandoffStatus.ticket)


def anonymous() -> str:
    """A sender name that is nobody's (fits ``sender_id`` and is never a channel's id)."""
    return f"forgotten:{secrets.token_hex(12)}"


def forget(session: Session, channel: str, sender_id: str,
           now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    repository.unbind(session, channel, sender_id)
    _handoffs(session, channel, sender_id, now)
    _identity_checks(session, channel, sender_id, now)
    _inbox(session, channel, sender_id)
    _materials(session, channel, sender_id)
    _notices(session, channel, sender_id)
    if channel == "wechat":
        # WeChat files still to fetch or to tell about name the sender: deleted.
        media_downloads.forget_sender(session, sender_id)
        # One-time subscription consents name the OpenID: deleted.
        subscriptions.forget_sender(session, sender_id)


def _handoffs(session: Session, channel: str, sender_id: str, now: dt.datetime) -> None:
    theirs = list(session.execute(select(Handoff.id).where(
        Handoff.channel == channel, Handoff.sender_id == sender_id)).scalars())
    if not theirs:
        return
    session.execute(delete(HandoffNote).where(HandoffNote.handoff_id.in_(theirs))
                    .execution_options(synchronize_session=False))
    session.execute(update(AgentMessage).where(AgentMessage.handoff_id.in_(theirs))
                    .values(text=REMOVED, outgoing=None, error=None)
                    .execution_options(synchronize_session=False))
    session.execute(update(Handoff).where(Handoff.id.in_(theirs), Handoff.status.in_(OPEN))
                    .values(status=HandoffStatus.cancelled, closed_at=now)
                    .execution_options(synchronize_session=False))
    for handoff_id in theirs:
        session.execute(
            update(Handoff).where(Handoff.id == handoff_id)
            .values(sender_id=anonymous(), merchant_id=None, problem=None,
                    account_snapshot=None, contact_phone=None, resolution=None,
                    updated_at=now)
            .execution_options(synchronize_session=False))


def _identity_checks(session: Session, channel: str, sender_id: str,
                     now: dt.datetime) -> None:
    attempts = session.execute(
        select(VerificationAttempt).where(VerificationAttempt.channel == channel,
                                          VerificationAttempt.sender_id == sender_id)
        .order_by(VerificationAttempt.attempted_at.desc(), VerificationAttempt.id.desc())
    ).scalars().all()
    alias = anonymous()
    # Newest first: a failure within the lock-out window of the newest kept one (or of
    # now) still counts toward the lock, and so do the failures in its own window.
    counts_after = now - repository.LOCKOUT_WINDOW
    for attempt in attempts:
        if not attempt.success and attempt.attempted_at > counts_after:
            counts_after = attempt.attempted_at - repository.LOCKOUT_WINDOW
            continue
        attempt.sender_id = alias
        if attempt.success or attempt.attempted_at <= now - repository.DAY:
            attempt.merchant_id = None


def _inbox(session: Session, channel: str, sender_id: str) -> None:
    # The broker's events name a sender either way, with or without the channel.
    senders = [sender_id, f"{channel}:{sender_id}"]
    actions = select(InboxTriaged.action_id).where(InboxTriaged.sender_id.in_(senders))
    session.execute(update(InboxAction).where(InboxAction.id.in_(actions))
                    .values(added="[]", note=None)
                    .execution_options(synchronize_session=False))
    session.execute(delete(InboxTriaged).where(InboxTriaged.sender_id.in_(senders))
                    .execution_options(synchronize_session=False))


# How each channel names the source of a material (core.materials callers).
MATERIAL_SOURCES = {"wechat": "wechat:", "widget": "upload:"}


def _materials(session: Session, channel: str, sender_id: str) -> None:
    prefix = MATERIAL_SOURCES.get(channel)
    if prefix is None:
        return
    theirs = session.execute(select(Material).where(
        Material.channel == channel,
        Material.source_ref.startswith(f"{prefix}{sender_id}:", autoescape=True))).scalars()
    for material in theirs:
        material.source_ref = anonymous()


def _notices(session: Session, channel: str, sender_id: str) -> None:
    # Consents (with the phrase) and notices not yet sent: deleted; sent ones lose the
    # sender (core.db.notices.forget_sender).
    notices.forget_sender(session, channel, sender_id)
