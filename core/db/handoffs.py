"""Who owns a conversation, and the handoff's life: queue → agent → closed.

Shared by the action server (queueing, cancelling, the satisfaction score) and the agent
console (claiming, replying, closing). Every function takes an open Session; the caller
owns the transaction. Free text agents write is stored with personal numbers masked;
the call-back number is sealed at rest (``models.Sealed``). The database enforces the
two races that matter: one open handoff
per conversation (a partial unique index) and one agent per claim (a conditional
UPDATE that only one transaction can win).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import (
    Agent,
    AgentPresence,
    Handoff,
    HandoffStatus,
    utcnow,
)
from core.privacy import mask_personal_data

OPEN = (HandoffStatus.waiting, HandoffStatus.agent, HandoffStatus.ticket)
# Without history, a conversation is assumed to take this long for one agent.
DEFAULT_HANDLING = dt.timedelta(minutes=6)
HANDLING_WINDOW = dt.timedelta(days=7)
# A satisfaction score is only taken shortly after the close.
SCORE_WINDOW = dt.timedelta(hours=24)


class AlreadyOpen(Exception):
    def __init__(self, handoff: Handoff) -> None:
        super().__init__(handoff.id)
        self.handoff = handoff


class ClaimRefused(Exception):
    """Somebody else claimed it first, it is no longer waiting, or the agent is full."""


def open_handoff_for(session: Session, channel: str, sender_id: str) -> Handoff | None:
    return session.execute(
        select(Handoff).where(Handoff.channel == channel, Handoff.sender_id == sender_id,
                              Handoff.status.in_(OPEN))
    ).scalar_one_or_none()


def owner(session: Session, channel: str, sender_id: str) -> HandoffStatus | None:
    """waiting / agent / ticket while a handoff is open, else None (the bot)."""
    return session.execute(
        select(Handoff.status).where(Handoff.channel == channel,
                                     Handoff.sender_id == sender_id,
                                     Handoff.status.in_(OPEN))
    ).scalar_one_or_none()


def queue(
    session: Session,
    channel: str,
    sender_id: str,
    reason: str,
    problem: str | None,
    merchant_id: str | None = None,
    account_snapshot: str | None = None,
    ticket: bool = False,
    contact_method: str | None = None,
    contact_phone: str | None = None,
    now: dt.datetime | None = None,
) -> Handoff:
    """Queues the conversation for an agent (or leaves a ticket); refuses a second open
    handoff for the same conversation, also when two requests race."""
    existing = open_handoff_for(session, channel, sender_id)
    if existing is not None:
        raise AlreadyOpen(existing)
    now = now or utcnow()
    handoff = Handoff(
        channel=channel, sender_id=sender_id, merchant_id=merchant_id, reason=reason,
        problem=problem, account_snapshot=account_snapshot,
        status=HandoffStatus.ticket if ticket else HandoffStatus.waiting,
        contact_method=contact_method, contact_phone=contact_phone,
        queued_at=now, updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(handoff)
    except IntegrityError:
        existing = open_handoff_for(session, channel, sender_id)
        if existing is None:
            raise
        raise AlreadyOpen(existing) from None
    return handoff


def cancel(session: Session, channel: str, sender_id: str) -> Handoff | None:
    """The merchant stopped waiting: a queued handoff (not one an agent holds) ends."""
    handoff = open_handoff_for(session, channel, sender_id)
    if handoff is None or handoff.status != HandoffStatus.waiting:
        return None
    handoff.status = HandoffStatus.cancelled
    handoff.closed_at = utcnow()
    return handoff


def position(session: Session, handoff: Handoff) -> int:
    """1 for the next in line."""
    ahead = session.execute(
        select(func.count(Handoff.id)).where(
            Handoff.status == HandoffStatus.waiting,
            Handoff.queued_at < handoff.queued_at,
        )
    ).scalar_one()
    return int(ahead) + 1


def online_agents(session: Session) -> int:
    return int(session.execute(
        select(func.count(Agent.id)).where(Agent.presence == AgentPresence.online)
    ).scalar_one())


def average_handling(session: Session, now: dt.datetime | None = None) -> dt.timedelta:
    """How long agents took per conversation lately (claim to close)."""
    now = now or utcnow()
    rows = session.execute(
        select(Handoff.claimed_at, Handoff.closed_at).where(
            Handoff.status == HandoffStatus.closed,
            Handoff.claimed_at.is_not(None),
            Handoff.closed_at > now - HANDLING_WINDOW,
        ).limit(200)
    ).all()
    durations = [closed - claimed for claimed, closed in rows if closed and claimed]
    if not durations:
        return DEFAULT_HANDLING
    return sum(durations, dt.timedelta()) / len(durations)


@dataclass(frozen=True)
class Wait:
    position: int
    minutes: int


def estimate_wait(position: int, agents: int, handling: dt.timedelta) -> Wait:
    """A realistic wait: everyone ahead and this conversation shared among the agents
    online, rounded up to whole minutes (at least one)."""
    per_agent = max(1, agents)
    seconds = handling.total_seconds() * position / per_agent
    return Wait(position, max(1, int(-(-seconds // 60))))


def wait_for(session: Session, handoff: Handoff) -> Wait:
    """Where a waiting handoff stands: its place in the queue and the realistic wait."""
    return estimate_wait(position(session, handoff), online_agents(session),
                         average_handling(session))


def claim(session: Session, handoff_id: int, agent_id: int,
          now: dt.datetime | None = None) -> Handoff:
    """Gives a waiting handoff (or a ticket) to one agent. Of two agents claiming at the
    same moment exactly one wins: the UPDATE only matches while it is unclaimed."""
    agent = session.execute(
        select(Agent).where(Agent.id == agent_id).with_for_update()
    ).scalar_one()
    held = session.execute(
        select(func.count(Handoff.id)).where(Handoff.agent_id == agent_id,
                                             Handoff.status == HandoffStatus.agent)
    ).scalar_one()
    if held >= agent.max_open:
        raise ClaimRefused("limit")
    now = now or utcnow()
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id,
               Handoff.status.in_([HandoffStatus.waiting, HandoffStatus.ticket]))
        .values(status=HandoffStatus.agent, agent_id=agent_id, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ClaimRefused("taken")
    handoff = session.get(Handoff, handoff_id)
    session.refresh(handoff)
    return handoff


def transfer(session: Session, handoff_id: int, from_agent: int, to_agent: int) -> Handoff:
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.agent_id == from_agent,
               Handoff.status == HandoffStatus.agent)
        .values(agent_id=to_agent, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ClaimRefused("not yours")
    handoff = session.get(Handoff, handoff_id)
    session.refresh(handoff)
    return handoff


def close(session: Session, handoff_id: int, agent_id: int, resolution: str) -> Handoff:
    """Hands the conversation back to the bot. The resolution is stored with its
    personal numbers masked (the call-back number has its own, sealed, column)."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.agent_id == agent_id,
               Handoff.status == HandoffStatus.agent)
        .values(status=HandoffStatus.closed, resolution=mask_personal_data(resolution),
                closed_at=utcnow(),
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ClaimRefused("not yours")
    handoff = session.get(Handoff, handoff_id)
    session.refresh(handoff)
    return handoff


def record_first_reply(session: Session, handoff_id: int, now: dt.datetime | None = None) -> None:
    session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.first_reply_at.is_(None))
        .values(first_reply_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def record_satisfaction(session: Session, channel: str, sender_id: str, score: int,
                        now: dt.datetime | None = None) -> Handoff | None:
    """The 1-5 score for the conversation's latest closed handoff, once."""
    now = now or utcnow()
    handoff = session.execute(
        select(Handoff).where(
            Handoff.channel == channel, Handoff.sender_id == sender_id,
            Handoff.status == HandoffStatus.closed, Handoff.satisfaction.is_(None),
            Handoff.closed_at > now - SCORE_WINDOW,
        ).order_by(Handoff.closed_at.desc()).limit(1)
    ).scalar_one_or_none()
    if handoff is not None:
        handoff.satisfaction = score
    return handoff
