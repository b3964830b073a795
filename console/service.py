"""What the console reads and changes in the database: only its own tables (agents,
agent_sessions, handoffs, handoff_notes, agent_messages), through core.db.handoffs
and the models. Every function takes an open Session; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.errors import Refused
from console.transcript import mask_text
from core.db import handoffs
from core.db.models import (
    Agent,
    AgentMessage,
    AgentPresence,
    AgentSession,
    Handoff,
    HandoffNote,
    HandoffStatus,
    utcnow,
)
from core.privacy import is_sealed, mask_merchant_id, mask_personal_data

REASON_LABELS = {
    "merchant_asked": "商户要求转人工",
    "not_understood": "机器人多次没听懂",
    "locked_out": "身份核验被锁定",
    "appeal_help": "需要申诉帮助",
    "form_stuck": "填写步骤卡住了",
}
CHANNEL_LABELS = {"widget": "网页", "wechat": "微信", "rest": "REST 接口"}
STATUS_LABELS = {
    "waiting": "排队中", "agent": "处理中", "ticket": "留言", "closed": "已结束",
    "cancelled": "已取消",
}
PRESENCE_LABELS = {"online": "在线", "away": "暂时离开", "offline": "离线"}
# Why the queue let go of a handoff without an agent (core.db.handoffs.let_go).
QUEUE_END_LABELS = {"no_agent": "无人在线转留言", "hours_ended": "下班转留言",
                    "left": "访客已离开"}
LEFT_LABEL = "访客已离开"

logger = logging.getLogger(__name__)


def epoch(value: dt.datetime | None) -> float | None:
    """Naive UTC datetime → Unix seconds (what the UI and the tracker use)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).timestamp()


def held_count(session: Session, agent_id: int) -> int:
    return int(session.execute(
        select(func.count(Handoff.id)).where(Handoff.agent_id == agent_id,
                                             Handoff.status == HandoffStatus.agent)
    ).scalar_one())


def agent_summary(session: Session, agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id, "username": agent.username, "name": agent.display_name,
        "presence": agent.presence.value,
        "presence_label": PRESENCE_LABELS[agent.presence.value],
        "max_open": agent.max_open, "open": held_count(session, agent.id),
        "supervisor": bool(agent.supervisor),
    }


def _contact_phone(value: str | None) -> str | None:
    """A ticket's call-back number, masked like every phone (stored sealed; one that
    does not open with this console's key stays sealed)."""
    if not value:
        return None
    if is_sealed(value):
        return "已加密保存"
    return mask_personal_data(value)


def handoff_summary(handoff: Handoff, names: dict[int, str],
                    now: dt.datetime) -> dict[str, Any]:
    since = handoff.claimed_at if handoff.status == HandoffStatus.agent else handoff.queued_at
    queue_end = handoff.queue_end.value if handoff.queue_end else None
    # A visitor who left is shown as such while queued, and as the reason it ended.
    left = handoff.left_at is not None and handoff.status in (HandoffStatus.waiting,
                                                               HandoffStatus.ticket)
    status_label = LEFT_LABEL if handoff.status == HandoffStatus.cancelled \
        and queue_end == "left" else STATUS_LABELS[handoff.status.value]
    return {
        "id": handoff.id,
        "channel": handoff.channel,
        "channel_label": CHANNEL_LABELS.get(handoff.channel, handoff.channel),
        "sender": mask_text(handoff.sender_id),
        "status": handoff.status.value,
        "status_label": status_label,
        "left": left,
        "left_label": LEFT_LABEL if left else None,
        "left_at": epoch(handoff.left_at) if left else None,
        "queue_end": queue_end,
        "queue_end_label": QUEUE_END_LABELS.get(queue_end) if queue_end else None,
        "reason": handoff.reason,
        "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
        "problem": mask_text(handoff.problem or ""),
        "merchant": mask_merchant_id(handoff.merchant_id) if handoff.merchant_id else None,
        "queued_at": epoch(handoff.queued_at),
        "claimed_at": epoch(handoff.claimed_at),
        "closed_at": epoch(handoff.closed_at),
        "wait_seconds": int(((handoff.claimed_at or now) - handoff.queued_at).total_seconds()),
        "since_seconds": int((now - (since or handoff.queued_at)).total_seconds()),
        "agent_id": handoff.agent_id,
        "agent": names.get(handoff.agent_id) if handoff.agent_id else None,
        "contact_method": handoff.contact_method,
        "contact_phone": _contact_phone(handoff.contact_phone),
        "resolution": mask_text(handoff.resolution) if handoff.resolution else None,
        "satisfaction": handoff.satisfaction,
    }


def agent_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Agent.id, Agent.display_name)).all())


def queue_snapshot(session: Session, agent_id: int, now: dt.datetime | None = None,
                   supervisor: bool = False) -> dict[str, Any]:
    """Waiting conversations and tickets (every agent may claim them), the agent's own,
    and who is online with how many; what another agent's conversations are about only
    for supervisors (console.history: a held handoff is its agent's to read)."""
    now = now or utcnow()
    names = agent_names(session)
    rows = session.execute(
        select(Handoff).where(Handoff.status.in_(handoffs.OPEN)).order_by(Handoff.queued_at)
    ).scalars().all()
    agents = session.execute(
        select(Agent).where(Agent.presence != AgentPresence.offline)
        .order_by(Agent.display_name)
    ).scalars().all()
    open_by_agent: dict[int, list[dict[str, Any]]] = {}
    for handoff in rows:
        if handoff.status == HandoffStatus.agent and handoff.agent_id is not None:
            open_by_agent.setdefault(handoff.agent_id, []).append(
                handoff_summary(handoff, names, now))
    return {
        "waiting": [handoff_summary(h, names, now) for h in rows
                    if h.status == HandoffStatus.waiting],
        "tickets": [handoff_summary(h, names, now) for h in rows
                    if h.status == HandoffStatus.ticket],
        "mine": open_by_agent.get(agent_id, []),
        "agents": [
            {**agent_summary(session, a),
             "conversations": [{"id": h["id"], "since_seconds": h["since_seconds"],
                                **({"problem": h["problem"]}
                                   if supervisor or a.id == agent_id else {})}
                               for h in open_by_agent.get(a.id, [])]}
            for a in agents
        ],
    }


def account_panel(handoff: Handoff) -> dict[str, Any] | None:
    """The masked snapshot written at queue time; strings masked again on the way out."""
    if not handoff.account_snapshot:
        return None
    try:
        snapshot = json.loads(handoff.account_snapshot)
    except ValueError:
        return None

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return mask_text(value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return clean(snapshot) if isinstance(snapshot, dict) else None


def get_handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise Refused("没有这个会话", status=404)
    return handoff


def message_view(message: AgentMessage, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": message.id, "handoff_id": message.handoff_id, "text": mask_text(message.text),
        "status": message.status.value, "error": message.error,
        "agent": names.get(message.agent_id, ""),
        "created_at": epoch(message.created_at), "sent_at": epoch(message.sent_at),
    }


def callback_phone(handoff: Handoff, viewer: int | None) -> str | None:
    """The whole call-back number of a ticket, for the agent who holds it only (an agent
    must be able to call; everyone else sees it masked). Logged, without the number."""
    if viewer is None or handoff.agent_id != viewer or handoff.status != HandoffStatus.agent:
        return None
    phone = handoff.contact_phone  # opened by the column type (models.Sealed)
    if phone and is_sealed(phone):
        return None  # sealed with another key: nothing to show
    if phone:
        logger.info("console: agent %s viewed the call-back number of handoff %s",
                    viewer, handoff.id)
    return phone


def conversation(session: Session, handoff_id: int, viewer: int | None = None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    handoff = get_handoff(session, handoff_id)
    names = agent_names(session)
    notes = session.execute(
        select(HandoffNote).where(HandoffNote.handoff_id == handoff_id)
        .order_by(HandoffNote.id)
    ).scalars().all()
    messages = session.execute(
        select(AgentMessage).where(AgentMessage.handoff_id == handoff_id)
        .order_by(AgentMessage.id)
    ).scalars().all()
    return {
        "handoff": handoff_summary(handoff, names, now),
        "callback_phone": callback_phone(handoff, viewer),
        "account": account_panel(handoff),
        "notes": [{"id": n.id, "text": mask_text(n.text), "agent": names.get(n.agent_id, ""),
                   "created_at": epoch(n.created_at)} for n in notes],
        "messages": [message_view(m, names) for m in messages],
    }


def closers(session: Session, channel: str, sender_id: str) -> list[tuple[float, str]]:
    """(closed_at, agent name) of the conversation's closed handoffs, oldest first: the
    transcript names who ended each one."""
    rows = session.execute(
        select(Handoff.closed_at, Agent.display_name)
        .join(Agent, Agent.id == Handoff.agent_id)
        .where(Handoff.channel == channel, Handoff.sender_id == sender_id,
               Handoff.status == HandoffStatus.closed, Handoff.closed_at.is_not(None))
        .order_by(Handoff.closed_at)
    ).all()
    return [(epoch(closed_at) or 0.0, name) for closed_at, name in rows]


def held_by(session: Session, handoff_id: int, agent_id: int) -> Handoff:
    handoff = get_handoff(session, handoff_id)
    if handoff.status != HandoffStatus.agent or handoff.agent_id != agent_id:
        raise Refused("这个会话不在你手上")
    return handoff


def not_claimable(session: Session, handoff: Handoff, agent_id: int) -> Refused | None:
    """Why a handoff cannot be claimed now, said as it is (None: it can be)."""
    if handoff.status in (HandoffStatus.waiting, HandoffStatus.ticket):
        return None
    if handoff.status == HandoffStatus.cancelled:
        return Refused("商户已取消排队，不用再接入了")
    if handoff.status == HandoffStatus.closed:
        return Refused("这个会话已经结束了")
    if handoff.agent_id == agent_id:
        return Refused("这个会话已经在你手上了")
    holder = session.get(Agent, handoff.agent_id) if handoff.agent_id else None
    return Refused(f"已被客服{holder.display_name}接入" if holder else "已被其他客服接入")


def claim(session: Session, handoff_id: int, agent_id: int) -> Handoff:
    refusal = not_claimable(session, get_handoff(session, handoff_id), agent_id)
    if refusal is not None:
        raise refusal
    try:
        return handoffs.claim(session, handoff_id, agent_id)
    except handoffs.ClaimRefused as refused:
        if str(refused) == "limit":
            agent = session.get(Agent, agent_id)
            limit = agent.max_open if agent else "?"
            raise Refused(f"你同时处理的会话已达上限（{limit}个），先结束一个再接入") from None
        # Lost a race: the row changed since it was read; say what it is now.
        handoff = get_handoff(session, handoff_id)
        session.refresh(handoff)
        raise not_claimable(session, handoff, agent_id) or Refused("已被其他客服接入") from None


def transfer(session: Session, handoff_id: int, from_agent: int, to_agent: int) -> Handoff:
    held_by(session, handoff_id, from_agent)
    if to_agent == from_agent:
        raise Refused("不能转给自己")
    target = session.execute(
        select(Agent).where(Agent.id == to_agent).with_for_update()
    ).scalar_one_or_none()
    if target is None or target.presence != AgentPresence.online:
        raise Refused("对方不在线，不能转接")
    if held_count(session, to_agent) >= target.max_open:
        raise Refused(f"{target.display_name}手上的会话已满，不能转接")
    try:
        return handoffs.transfer(session, handoff_id, from_agent, to_agent)
    except handoffs.ClaimRefused:
        raise Refused("这个会话不在你手上") from None


def close(session: Session, handoff_id: int, agent_id: int, resolution: str,
          label_id: int | None = None) -> Handoff:
    held_by(session, handoff_id, agent_id)
    try:
        return handoffs.close(session, handoff_id, agent_id, resolution, label_id)
    except handoffs.ClaimRefused:
        raise Refused("这个会话不在你手上") from None


def add_note(session: Session, handoff_id: int, agent_id: int, text: str) -> HandoffNote:
    if not get_handoff(session, handoff_id).status.is_open:
        raise Refused("会话已结束，不能再加备注")  # an ended handoff is read-only
    # Stored with personal numbers masked (docs/security.md P5 h): a note is context
    # for the next agent, never where a number is kept.
    note = HandoffNote(handoff_id=handoff_id, agent_id=agent_id,
                       text=mask_personal_data(text), created_at=utcnow())
    session.add(note)
    session.flush()
    return note


def live_sessions(session: Session, agent_id: int, now: dt.datetime) -> int:
    return int(session.execute(
        select(func.count()).select_from(AgentSession)
        .where(AgentSession.agent_id == agent_id, AgentSession.expires_at > now)
    ).scalar_one())
