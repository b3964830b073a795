"""Who may read a handoff; ended conversations (closed or cancelled): the history list
and its search (merchant, dates, agent, 会话小结 label, text), one conversation with its timings, and the part of the transcript that
belongs to it.

The access rule (docs in README, "Agent console"; docs/security.md P5 f, g):
- a queued handoff (waiting, or a ticket nobody holds) is previewed by every agent:
  any of them may claim it and needs to see what it is about (the whole call-back
  number excepted: ``service.callback_phone``);
- a handoff an agent holds is read, and changed, only by that agent and supervisors
  (after a transfer: by the receiving agent);
- an ended handoff is read only by
- the agent who handled it,
- a supervisor (``agents.supervisor``), or
- the agent now holding an open handoff of the same conversation (a merchant coming
  back: the earlier conversations are that agent's context).
Anyone else gets the answer for a handoff that does not exist, whether they use the
sequential id or the opaque ``ref`` that history hands out. Every read of an ended one
is recorded in ``handoff_reads``. Ended handoffs are read-only: no notes after the end.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from console import labels, service
from console.errors import Refused
from console.transcript import mask_text
from core.db.models import Agent, Handoff, HandoffNote, HandoffRead, HandoffStatus, utcnow
from core.privacy import mask_personal_data
from core.system_lines import external_intent

ENDED = (HandoffStatus.closed, HandoffStatus.cancelled)
QUEUED = (HandoffStatus.waiting, HandoffStatus.ticket)
PAGE = 50
MERCHANT_ID = re.compile(r"^\d{10}$")
NOT_FOUND = "没有这个会话"
# The close's system line is written right after the close is committed.
CLOSE_LINE_S = 60.0


@dataclass(frozen=True)
class Reader:
    agent_id: int
    supervisor: bool


def reader(session: Session, agent_id: int) -> Reader:
    agent = session.get(Agent, agent_id)
    return Reader(agent_id, bool(agent and agent.supervisor))


def _serving_same_conversation(agent_id: int) -> ColumnElement[bool]:
    """The agent holds an open handoff of the same conversation right now."""
    current = aliased(Handoff)
    return exists().where(current.channel == Handoff.channel,
                          current.sender_id == Handoff.sender_id,
                          current.status == HandoffStatus.agent,
                          current.agent_id == agent_id)


def visible(who: Reader) -> ColumnElement[bool]:
    """The ended handoffs ``who`` may read, as a WHERE clause."""
    ended = Handoff.status.in_(ENDED)
    if who.supervisor:
        return ended
    return and_(ended, or_(Handoff.agent_id == who.agent_id,
                           _serving_same_conversation(who.agent_id)))


def may_read(session: Session, who: Reader, handoff: Handoff) -> bool:
    if handoff.status in QUEUED:
        return True  # the queue is everyone's: an agent sees what they are about to claim
    if handoff.status == HandoffStatus.agent:
        return who.supervisor or handoff.agent_id == who.agent_id
    return bool(session.execute(
        select(Handoff.id).where(Handoff.id == handoff.id, visible(who))
    ).first())


def visible_or_absent(session: Session, who: Reader, handoff: Handoff | None) -> Handoff:
    """Like ``readable`` for a change (note, reply, transfer, close): refused as absent,
    not audited."""
    if handoff is None or not may_read(session, who, handoff):
        raise Refused(NOT_FOUND, status=404)
    return handoff


def readable_ids(session: Session, agent_id: int, handoff_ids: set[int]) -> set[int]:
    """Those of ``handoff_ids`` the agent may read (the live feed's filter)."""
    who = reader(session, agent_id)
    return {h.id for h in session.execute(
        select(Handoff).where(Handoff.id.in_(handoff_ids))).scalars()
        if may_read(session, who, h)}


def check_visible(session: Session, agent_id: int, handoff_id: int) -> Handoff:
    """``visible_or_absent`` for the agent ``agent_id`` and the handoff ``handoff_id``."""
    return visible_or_absent(session, reader(session, agent_id), session.get(Handoff, handoff_id))


def readable(session: Session, who: Reader, handoff: Handoff | None) -> Handoff:
    """The handoff if ``who`` may read it; else the same refusal as for no handoff.
    A read of an ended one is audited."""
    if handoff is None or not may_read(session, who, handoff):
        raise Refused(NOT_FOUND, status=404)
    if not handoff.status.is_open:
        session.add(HandoffRead(handoff_id=handoff.id, agent_id=who.agent_id,
                                read_at=utcnow()))
    return handoff


def by_ref(session: Session, who: Reader, ref: str) -> Handoff:
    handoff = session.execute(select(Handoff).where(Handoff.ref == ref)).scalar_one_or_none()
    return readable(session, who, handoff)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def timings(handoff: Handoff) -> dict[str, int | None]:
    """wait: queued → claimed; first reply: claimed → the agent's first reply;
    handling: claimed → closed (None where it did not happen)."""
    return {
        "wait_seconds": _seconds(handoff.queued_at, handoff.claimed_at or handoff.closed_at),
        "first_reply_seconds": _seconds(handoff.claimed_at, handoff.first_reply_at),
        "handling_seconds": _seconds(handoff.claimed_at, handoff.closed_at),
    }


def item(handoff: Handoff, names: dict[int, str],
         label_names: dict[int, str] | None = None) -> dict[str, Any]:
    """One ended conversation as history lists it (masked; named by its ``ref`` only),
    with the 会话小结 label chosen at close (console.labels)."""
    summary = service.handoff_summary(handoff, names, handoff.closed_at or utcnow())
    for internal in ("id", "agent_id", "since_seconds", "wait_seconds", "contact_phone"):
        summary.pop(internal, None)
    label = (label_names or {}).get(handoff.label_id) if handoff.label_id else None
    return {**summary, "ref": handoff.ref,
            "resolution": mask_text(handoff.resolution) if handoff.resolution else None,
            "label_id": handoff.label_id, "label": label,
            "timings": timings(handoff)}


@dataclass(frozen=True)
class Filters:
    merchant: str | None = None
    agent_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None
    label_id: int | None = None


def check_filters(filters: Filters) -> None:
    if filters.merchant and not MERCHANT_ID.match(filters.merchant):
        raise Refused("商户号是10位数字", status=422)
    if filters.q and mask_personal_data(filters.q) != filters.q:
        # A number's presence in a conversation is itself personal data.
        raise Refused("搜索内容不能包含手机号、证件号或银行卡号", status=422)


def _utc(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Midnight of ``day`` where the team works, as naive UTC (how times are stored)."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def search(session: Session, who: Reader, filters: Filters, tz: ZoneInfo,
           page: int = 0) -> list[dict[str, Any]]:
    """Ended conversations ``who`` may read, newest first, ``PAGE`` at a time."""
    check_filters(filters)
    query = select(Handoff).where(visible(who))
    if filters.merchant:
        query = query.where(Handoff.merchant_id == filters.merchant)
    if filters.agent_id is not None:
        query = query.where(Handoff.agent_id == filters.agent_id)
    if filters.label_id is not None:
        query = query.where(Handoff.label_id == filters.label_id)
    if filters.date_from:
        query = query.where(Handoff.closed_at >= _utc(filters.date_from, tz))
    if filters.date_to:  # inclusive: until the end of that day
        query = query.where(Handoff.closed_at < _utc(filters.date_to + dt.timedelta(days=1), tz))
    if filters.q:
        noted = exists().where(HandoffNote.handoff_id == Handoff.id,
                               HandoffNote.text.contains(filters.q, autoescape=True))
        query = query.where(or_(Handoff.problem.contains(filters.q, autoescape=True),
                                Handoff.resolution.contains(filters.q, autoescape=True),
                                noted))
    rows = session.execute(
        query.order_by(Handoff.closed_at.desc(), Handoff.id.desc())
        .offset(max(0, page) * PAGE).limit(PAGE)
    ).scalars().all()
    names = service.agent_names(session)
    return [item(h, names, labels.names(session)) for h in rows]


def earlier(session: Session, who: Reader, handoff: Handoff) -> list[dict[str, Any]]:
    """The conversation's ended handoffs before this one that ``who`` may read."""
    rows = session.execute(
        select(Handoff).where(visible(who), Handoff.channel == handoff.channel,
                              Handoff.sender_id == handoff.sender_id,
                              Handoff.id != handoff.id)
        .order_by(Handoff.closed_at.desc()).limit(20)
    ).scalars().all()
    names = service.agent_names(session)
    return [item(h, names, labels.names(session)) for h in rows]


def window(session: Session, handoff: Handoff) -> tuple[float, float]:
    """(after, until) in Unix seconds: the transcript part that belongs to this ended
    handoff, from the end of the conversation's previous handoff to its own end."""
    previous = session.execute(
        select(Handoff.closed_at).where(
            Handoff.channel == handoff.channel, Handoff.sender_id == handoff.sender_id,
            Handoff.id != handoff.id, Handoff.closed_at.is_not(None),
            Handoff.closed_at <= handoff.queued_at)
        .order_by(Handoff.closed_at.desc()).limit(1)
    ).scalar_one_or_none()
    return service.epoch(previous) or 0.0, service.epoch(handoff.closed_at) or 0.0


def events_within(events: list[dict[str, Any]], after: float,
                  until: float) -> list[dict[str, Any]]:
    """The tracker events of one ended handoff: nothing the merchant said after it (the
    close's own system line, written a moment after the close, is kept)."""
    kept: list[dict[str, Any]] = []
    for event in events:
        ts = float(event.get("timestamp") or 0)
        closing = external_intent(str(event.get("text") or "")) == "handoff_closed"
        if ts <= after or (closing and after and ts <= after + CLOSE_LINE_S):
            continue  # before it, or the previous handoff's own close line
        if ts > until:
            if closing and ts <= until + CLOSE_LINE_S:
                kept.append(event)
            break
        kept.append(event)
    return kept
