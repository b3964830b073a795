"""Who owns a conversation, and the handoff's life: queue → agent → closed.

Shared by the action server (queueing, cancelling, the satisfaction score) and the agent
console (claiming, replying, closing). Every function takes an open Session; the caller
owns the transaction. Free text agents write is stored with personal numbers masked;
the call-back number is sealed at rest (``models.Sealed``). The database enforces the
races that matter: one open handoff per conversation (a partial unique index), one
agent per claim, and one console letting go of a waiting handoff nobody serves
(conditional UPDATEs that only one transaction can win).

The honest queue: a wait is estimated from the median handling time of the last week
and the agents online (nobody online: no minutes at all); a waiting handoff nobody will
serve (nobody online, the service hours over, a widget visitor who left) is let go of
as a ticket, or closed when the visitor left and cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import (
    Agent,
    AgentPresence,
    Handoff,
    HandoffStatus,
    QueueEnd,
    utcnow,
)
from core.privacy import mask_personal_data

OPEN = (HandoffStatus.waiting, HandoffStatus.agent, HandoffStatus.ticket)
# Without enough history, a conversation is assumed to take this long for one agent.
DEFAULT_HANDLING = dt.timedelta(minutes=6)
HANDLING_WINDOW = dt.timedelta(days=7)
# Fewer closed conversations than this in the window: the default (one long or short
# conversation says little about the next).
MIN_HANDLED = 5
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


def median_handling(session: Session, now: dt.datetime | None = None) -> dt.timedelta:
    """How long agents took per conversation lately (claim to close): the median of the
    last week's (the newest 200), ``DEFAULT_HANDLING`` with fewer than ``MIN_HANDLED``."""
    now = now or utcnow()
    rows = session.execute(
        select(Handoff.claimed_at, Handoff.closed_at).where(
            Handoff.status == HandoffStatus.closed,
            Handoff.claimed_at.is_not(None),
            Handoff.closed_at > now - HANDLING_WINDOW,
        ).order_by(Handoff.closed_at.desc()).limit(200)
    ).all()
    durations = [closed - claimed for claimed, closed in rows if closed and claimed]
    if len(durations) < MIN_HANDLED:
        return DEFAULT_HANDLING
    return statistics.median(durations)


@dataclass(frozen=True)
class Wait:
    position: int
    minutes: int
    agents: int = 1

    @property
    def nobody_online(self) -> bool:
        """No agent online: ``minutes`` is no promise, the merchant is told so."""
        return self.agents <= 0


def estimate_wait(position: int, agents: int, handling: dt.timedelta) -> Wait:
    """A realistic wait: everyone ahead and this conversation shared among the agents
    online, rounded up to whole minutes (at least one). With nobody online the minutes
    are those of one agent, and ``nobody_online`` says they are no promise."""
    per_agent = max(1, agents)
    seconds = handling.total_seconds() * position / per_agent
    return Wait(position, max(1, int(-(-seconds // 60))), max(0, agents))


def wait_for(session: Session, handoff: Handoff) -> Wait:
    """Where a waiting handoff stands: its place in the queue and the realistic wait."""
    return estimate_wait(position(session, handoff), online_agents(session),
                         median_handling(session))


# --- letting go of a queue nobody serves -----------------------------------------------


def mark_left(session: Session, channel: str, sender_id: str,
              now: dt.datetime | None = None) -> bool:
    """The visitor's last socket went away: their waiting handoff is marked (the console
    lets it go after a grace period). False when nothing is waiting (or already marked)."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.channel == channel, Handoff.sender_id == sender_id,
               Handoff.status == HandoffStatus.waiting, Handoff.left_at.is_(None))
        .values(left_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def mark_back(session: Session, channel: str, sender_id: str) -> bool:
    """The same visitor is back before an agent claimed: the mark goes."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.channel == channel, Handoff.sender_id == sender_id,
               Handoff.status.in_([HandoffStatus.waiting, HandoffStatus.ticket]),
               Handoff.left_at.is_not(None))
        .values(left_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def reachable(handoff: Handoff) -> bool:
    """A way to reach a visitor who left: a call-back number, or WeChat (a reply there
    arrives later; a closed web page never sees one)."""
    return bool(handoff.contact_phone) or handoff.channel == "wechat"


def to_let_go(session: Session, open_now: bool,
              left_before: dt.datetime) -> list[tuple[int, QueueEnd]]:
    """The waiting handoffs nobody will serve, oldest first, and why: visitors who left
    before ``left_before``; everyone when the hours are over or nobody is online."""
    rows = session.execute(
        select(Handoff.id, Handoff.left_at).where(Handoff.status == HandoffStatus.waiting)
        .order_by(Handoff.queued_at)
    ).all()
    if not rows:
        return []
    everyone = QueueEnd.hours_ended if not open_now else (
        QueueEnd.no_agent if online_agents(session) == 0 else None)
    found: list[tuple[int, QueueEnd]] = []
    for handoff_id, left_at in rows:
        if left_at is not None and left_at <= left_before:
            found.append((handoff_id, QueueEnd.left))
        elif everyone is not None:
            found.append((handoff_id, everyone))
    return found


def let_go(session: Session, handoff_id: int, end: QueueEnd, now: dt.datetime,
           left_before: dt.datetime | None = None) -> Handoff | None:
    """A waiting handoff leaves the queue without an agent: a ticket (留言) that keeps the
    problem, merchant and channel, answered in the conversation or by the call-back
    number; a visitor who left with no way to reach them is closed instead (nobody's
    miss: no agent). Only while still waiting (a claim, a cancel or another console
    first: None) and, for ``left``, still gone since before ``left_before``. The
    winner has the notice to send (``queue_notified_at``; ``release_notice`` on failure)."""
    handoff = session.get(Handoff, handoff_id)
    if handoff is None or handoff.status != HandoffStatus.waiting:
        return None
    conditions = [Handoff.id == handoff_id, Handoff.status == HandoffStatus.waiting]
    values: dict[str, object] = {"queue_end": end, "queue_ended_at": now,
                                 "queue_notified_at": now, "updated_at": now}
    if end == QueueEnd.left:
        conditions += [Handoff.left_at.is_not(None),
                       Handoff.left_at <= (left_before or now)]
    if end == QueueEnd.left and not reachable(handoff):
        values.update(status=HandoffStatus.cancelled, closed_at=now)
    else:
        values.update(status=HandoffStatus.ticket, contact_method=handoff.contact_method or (
            "phone" if handoff.contact_phone else "chat"))
    result = session.execute(
        update(Handoff).where(*conditions).values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    session.refresh(handoff)
    return handoff


def notices_due(session: Session, since: dt.datetime) -> list[int]:
    """Handoffs let go of since ``since`` whose merchant was not told yet, and still as
    they were let go of (not claimed or withdrawn since)."""
    return list(session.execute(
        select(Handoff.id).where(
            Handoff.queue_end.is_not(None), Handoff.queue_notified_at.is_(None),
            Handoff.queue_ended_at >= since,
            or_(Handoff.status == HandoffStatus.ticket,
                and_(Handoff.status == HandoffStatus.cancelled,
                     Handoff.queue_end == QueueEnd.left)),
        ).order_by(Handoff.queue_ended_at)
    ).scalars())


def claim_notice(session: Session, handoff_id: int, now: dt.datetime) -> bool:
    """One console sends a due notice: the one whose UPDATE matched."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.queue_notified_at.is_(None))
        .values(queue_notified_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_notice(session: Session, handoff_id: int) -> None:
    """The notice did not go out: due again."""
    session.execute(
        update(Handoff).where(Handoff.id == handoff_id).values(queue_notified_at=None)
        .execution_options(synchronize_session=False)
    )


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


def close(session: Session, handoff_id: int, agent_id: int, resolution: str,
          label_id: int | None = None) -> Handoff:
    """Hands the conversation back to the bot. The resolution is stored with its
    personal numbers masked (the call-back number has its own, sealed, column), with
    the 会话小结 label the agent chose (the console requires one)."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.agent_id == agent_id,
               Handoff.status == HandoffStatus.agent)
        .values(status=HandoffStatus.closed, resolution=mask_personal_data(resolution),
                label_id=label_id, closed_at=utcnow(),
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
