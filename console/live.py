"""Live updates for the UI (server-sent events).

Two feeds go into one hub:
- the database watcher compares the open handoffs, their agent messages and the
  agents' presence every ``poll_s`` and announces what changed (a new waiting
  conversation, a claim, a transfer, a ticket, a visitor who left, an end, a delivery
  state, presence): it sees the changes of every console replica and of the action
  server alike;
- the event follower reads Rasa's event broker and forwards each merchant (and bot)
  message of a conversation that has an open handoff.

The watcher also keeps the queue honest (``QueueKeeper``): nobody waits in a queue
nobody serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from console import notice_panel, service
from console.delivery import QUEUE_END_KIND, Delivery, queue_end_notice
from console.events import EventSource
from console.transcript import entry, follow_turn
from core.db import handoffs
from core.db.models import (
    Agent,
    AgentMessage,
    AgentPresence,
    AgentSession,
    Handoff,
    HandoffStatus,
    QueueEnd,
    utcnow,
)
from core.service_hours import ServiceHours

logger = logging.getLogger(__name__)


class Hub:
    """Fans events out to the connected agents; ``publish`` is safe from any thread."""

    def __init__(self) -> None:
        self._subscribers: dict[int, tuple[int, asyncio.Queue[dict[str, Any]]]] = {}
        self._next = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, agent_id: int) -> tuple[int, asyncio.Queue[dict[str, Any]]]:
        self.loop = asyncio.get_running_loop()
        self._next += 1
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers[self._next] = (agent_id, queue)
        return self._next, queue

    def unsubscribe(self, key: int) -> None:
        self._subscribers.pop(key, None)

    def connected_agents(self) -> set[int]:
        return {agent_id for agent_id, _ in self._subscribers.values()}

    def _put(self, event: dict[str, Any], agent_id: int | None) -> None:
        for target, queue in list(self._subscribers.values()):
            if agent_id is None or target == agent_id:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event)

    def publish(self, event: dict[str, Any], agent_id: int | None = None) -> None:
        loop = self.loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._put(event, agent_id)
        else:
            loop.call_soon_threadsafe(self._put, event, agent_id)


@dataclass
class Snapshot:
    handoffs: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    senders: dict[str, tuple[int, str]] = field(default_factory=dict)  # sender → id, channel
    messages: dict[int, str] = field(default_factory=dict)
    presence: dict[int, str] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)  # open handoffs whose visitor left

    def has_waiting(self) -> bool:
        return any(status == "waiting" for status, _ in self.handoffs.values())


def read_snapshot(engine: Engine) -> Snapshot:
    with Session(engine) as session:
        rows = session.execute(
            select(Handoff.id, Handoff.status, Handoff.agent_id, Handoff.sender_id,
                   Handoff.channel, Handoff.left_at).where(Handoff.status.in_(handoffs.OPEN))
        ).all()
        ids = [row.id for row in rows]
        messages = session.execute(
            select(AgentMessage.id, AgentMessage.status)
            .where(AgentMessage.handoff_id.in_(ids))
        ).all() if ids else []
        presence = session.execute(select(Agent.id, Agent.presence)).all()
    return Snapshot(
        handoffs={r.id: (r.status.value, r.agent_id) for r in rows},
        senders={r.sender_id: (r.id, r.channel) for r in rows},
        messages={m.id: m.status.value for m in messages},
        presence={a.id: a.presence.value for a in presence},
        left={r.id for r in rows if r.left_at is not None},
    )


def changes(before: Snapshot, after: Snapshot) -> list[dict[str, Any]]:
    """What the UI must hear about, from two snapshots."""
    events: list[dict[str, Any]] = []
    for handoff_id, (status, agent_id) in after.handoffs.items():
        old = before.handoffs.get(handoff_id)
        if old is None:
            events.append({"type": "queued", "handoff_id": handoff_id, "status": status})
        elif old[0] != "agent" and status == "agent":
            events.append({"type": "claimed", "handoff_id": handoff_id, "agent_id": agent_id})
        elif status == "agent" and old[1] != agent_id:
            events.append({"type": "transferred", "handoff_id": handoff_id,
                           "from_agent_id": old[1], "agent_id": agent_id})
        elif old[0] == "waiting" and status == "ticket":
            events.append({"type": "ticketed", "handoff_id": handoff_id})
    for handoff_id in before.handoffs.keys() - after.handoffs.keys():
        events.append({"type": "ended", "handoff_id": handoff_id})
    changed = [mid for mid, status in after.messages.items()
               if before.messages.get(mid) != status]
    if changed:
        events.append({"type": "delivery", "message_ids": sorted(changed)})
    if before.presence != after.presence:
        events.append({"type": "agents"})
    if events or before.left != after.left:  # "访客已离开" shown or taken away
        events.append({"type": "queue"})
    return events


# A notice that did not go out is tried again this often, for this long.
NOTICE_RETRY = dt.timedelta(seconds=30)
NOTICE_WINDOW = dt.timedelta(hours=1)


class QueueKeeper:
    """Nobody waits in a queue nobody serves. When nobody is online any more or the
    service hours end, every waiting handoff becomes a ticket (留言); a widget visitor
    gone for longer than ``left_grace`` too, or is closed when they cannot be reached.
    Each merchant is told once on their channel (``delivery.queue_end_notice``; a
    system line in the transcript). Safe with several consoles: letting go and sending
    the notice are conditional UPDATEs only one wins (``core.db.handoffs.let_go``); a
    notice that failed is tried again every ``retry`` for an hour."""

    def __init__(self, engine: Engine, delivery: Delivery, hours: ServiceHours,
                 left_grace: dt.timedelta, clock: Callable[[], dt.datetime] = utcnow,
                 retry: dt.timedelta = NOTICE_RETRY) -> None:
        self.engine = engine
        self.delivery = delivery
        self.hours = hours
        self.left_grace = left_grace
        self.clock = clock
        self.retry = retry
        self._next_retry = clock() + retry

    def settle(self, waiting: bool = True) -> list[int]:
        """One round: lets go of what nobody will serve (``waiting``: anything may be
        waiting) and tells those merchants; due notices every ``retry``. The ids let go."""
        now = self.clock()
        ended = self._let_go(now) if waiting else []
        for handoff_id in ended:
            self._tell(handoff_id, now)
        if now >= self._next_retry:
            self._next_retry = now + self.retry
            self._retry(now)
        return ended

    def _let_go(self, now: dt.datetime) -> list[int]:
        left_before = now - self.left_grace
        with Session(self.engine) as session:
            found = handoffs.to_let_go(session, self.hours.is_open(now), left_before)
        ended: list[int] = []
        for handoff_id, end in found:
            # One transaction each: committed before the merchant hears of it.
            with Session(self.engine) as session, session.begin():
                won = handoffs.let_go(session, handoff_id, end, now, left_before)
            if won is not None:
                logger.info("queue: handoff %s let go (%s)", handoff_id, end.value)
                ended.append(handoff_id)
        return ended

    def _tell(self, handoff_id: int, now: dt.datetime) -> None:
        with Session(self.engine) as session:
            handoff = session.get(Handoff, handoff_id)
            still = handoff is not None and handoff.queue_end is not None and (
                handoff.status == HandoffStatus.ticket or (
                    handoff.status == HandoffStatus.cancelled
                    and handoff.queue_end == QueueEnd.left))
            if not still:
                return  # claimed or withdrawn since: the notice would be wrong now
            text, metadata = queue_end_notice(handoff, self.hours.when_answered(now))
        try:
            error = self.delivery.notify(handoff_id, text, QUEUE_END_KIND, metadata=metadata)
        except Exception as failure:  # noqa: BLE001 - told later instead
            error = type(failure).__name__
        if error is None:
            return
        logger.warning("queue: the merchant of handoff %s was not told yet (%s)",
                       handoff_id, error)
        with Session(self.engine) as session, session.begin():
            handoffs.release_notice(session, handoff_id)

    def _retry(self, now: dt.datetime) -> None:
        with Session(self.engine) as session:
            due = handoffs.notices_due(session, now - NOTICE_WINDOW)
        for handoff_id in due:
            with Session(self.engine) as session, session.begin():
                mine = handoffs.claim_notice(session, handoff_id, now)
            if mine:
                self._tell(handoff_id, now)


class Watcher:
    """Announces the database's changes every ``poll_s``; with ``delivery`` (how the
    console reaches merchants) it also keeps the queue honest (``QueueKeeper``)."""

    def __init__(self, engine: Engine, hub: Hub, poll_s: float,
                 delivery: Delivery | None = None, hours: ServiceHours | None = None,
                 left_grace_s: float = 120.0) -> None:
        self.engine = engine
        self.hub = hub
        self.poll_s = poll_s
        self.snapshot = Snapshot()
        # How long a widget visitor may be gone before they have left the queue
        # (Settings.left_grace_s, CONSOLE_LEFT_GRACE_S).
        grace = dt.timedelta(seconds=left_grace_s)
        # Without a way to tell merchants, nobody is let go of silently.
        self.keeper = None if delivery is None else QueueKeeper(
            engine, delivery, hours or ServiceHours.from_env(), grace)

    def _describe(self, event: dict[str, Any]) -> dict[str, Any]:
        """Adds what the UI shows (names, the problem) to a change."""
        if event["type"] in {"queued", "claimed", "transferred", "ticketed"}:
            with Session(self.engine) as session:
                handoff = session.get(Handoff, event["handoff_id"])
                names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
                if handoff is not None:
                    event["handoff"] = service.handoff_summary(handoff, names, utcnow())
        if event["type"] == "delivery":
            with Session(self.engine) as session:
                names = dict(session.execute(select(Agent.id, Agent.display_name)).all())
                event["messages"] = [
                    service.message_view(m, names) for m in session.execute(
                        select(AgentMessage).where(AgentMessage.id.in_(event["message_ids"]))
                    ).scalars()]
        return event

    def _open_handoff(self, sender_id: str, channel: str | None) -> tuple[int, str] | None:
        query = select(Handoff.id, Handoff.channel).where(
            Handoff.sender_id == sender_id, Handoff.status.in_(handoffs.OPEN))
        if channel:
            query = query.where(Handoff.channel == channel)
        with Session(self.engine) as session:
            row = session.execute(query.limit(1)).first()
        return (row.id, row.channel) if row else None

    def phrases(self, handoff_id: int) -> list[str]:
        """The merchant's 暗号 of this conversation, hidden from agents (notice_panel)."""
        with Session(self.engine) as session:
            handoff = session.get(Handoff, handoff_id)
            return notice_panel.phrases_of(session, handoff) if handoff else []

    async def conversation_of(self, event: dict[str, Any]) -> tuple[int, str] | None:
        """The open handoff (id, channel) a broker event belongs to. The snapshot can be
        up to one interval old: a conversation queued (and claimed) since is looked up
        in the database, so its merchant's messages are not dropped meanwhile."""
        sender_id = str(event.get("sender_id"))
        found = self.snapshot.senders.get(sender_id)
        if found is not None:
            return found
        metadata = event.get("metadata") or {}
        console_line = event.get("event") == "bot" and (
            "handoff_notice" in metadata or "agent_message_id" in metadata)
        if event.get("event") != "user" and not console_line:
            return None  # the bot answering a conversation nobody handed over
        found = await asyncio.to_thread(self._open_handoff, sender_id,
                                        event.get("input_channel") or None)
        if found is not None:
            self.snapshot.senders[sender_id] = found
        return found

    async def run(self) -> None:
        self.snapshot = await asyncio.to_thread(read_snapshot, self.engine)
        while True:
            await asyncio.sleep(self.poll_s)
            if self.keeper is not None:
                try:
                    await asyncio.to_thread(self.keeper.settle, self.snapshot.has_waiting())
                except Exception:  # noqa: BLE001 - try again next round
                    logger.exception("console watcher: keeping the queue failed")
            try:
                after = await asyncio.to_thread(read_snapshot, self.engine)
                found = changes(self.snapshot, after)
                self.snapshot = after
                for event in found:
                    self.hub.publish(await asyncio.to_thread(self._describe, event))
            except Exception:  # noqa: BLE001 - keep watching through a database hiccup
                logger.exception("console watcher: reading the handoffs failed")


RECENT_SENDERS = 2000


async def follow(source: EventSource, watcher: Watcher, hub: Hub) -> None:
    """Forwards merchant and bot messages of conversations with an open handoff. A
    merchant's choice is judged by the bot's messages just before it (``entry``), kept
    per conversation for the latest ``RECENT_SENDERS``."""
    recent: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    async for event in source.events():
        sender = str(event.get("sender_id"))
        offered = recent.pop(sender, [])
        recent[sender] = follow_turn(offered, event)
        while len(recent) > RECENT_SENDERS:
            recent.popitem(last=False)
        if event.get("event") not in {"user", "bot"}:
            continue
        try:
            found = await watcher.conversation_of(event)
        except Exception:  # noqa: BLE001 - keep following through a database hiccup
            logger.exception("console follower: looking up a conversation failed")
            continue
        if found is None:
            continue
        handoff_id, channel = found
        input_channel = event.get("input_channel")
        if event.get("event") == "user" and input_channel and input_channel != channel:
            continue
        line = entry(event, offered=offered)
        if line is not None:
            try:
                phrases = await asyncio.to_thread(watcher.phrases, handoff_id)
            except Exception:  # noqa: BLE001 - unsure what to hide: shown on the next open
                logger.exception("console follower: reading the notice phrases failed")
                continue
            notice_panel.hide_lines([line], phrases)
            hub.publish({"type": "message", "handoff_id": handoff_id, "entry": line})


def sweep(engine: Engine, presence_timeout: dt.timedelta,
          connected: set[int] | None = None) -> list[int]:
    """Expired sessions removed; agents with no live session, or unseen for longer than
    ``presence_timeout`` (no page open), go offline. Returns who went offline."""
    now = utcnow()
    with Session(engine) as session, session.begin():
        session.execute(delete(AgentSession).where(AgentSession.expires_at <= now))
        live = set(session.execute(
            select(AgentSession.agent_id).where(AgentSession.expires_at > now)
        ).scalars())
        present = session.execute(
            select(Agent.id, Agent.last_seen_at).where(Agent.presence != AgentPresence.offline)
        ).all()
        gone = [a.id for a in present
                if a.id not in live or (a.id not in (connected or set()) and (
                    a.last_seen_at is None or a.last_seen_at < now - presence_timeout))]
        if gone:
            session.execute(update(Agent).where(Agent.id.in_(gone))
                            .values(presence=AgentPresence.offline)
                            .execution_options(synchronize_session=False))
    return gone


__all__ = ["Hub", "Watcher", "QueueKeeper", "follow", "sweep", "changes", "read_snapshot",
           "HandoffStatus"]
