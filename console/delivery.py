"""Agent → merchant: every reply is recorded as pending, appended to the conversation
as a bot event through the rasa HTTP API (sent by the merchant's own channel), then
marked sent or failed.

Why a retry never duplicates: Rasa 3.6 (server.py, ``append_events``) sends first and
saves the tracker after, so an output channel that raises leaves no event behind and
the API answers 500 with the channel's error. Every event carries
``metadata.agent_message_id``; before a retry, and whenever the outcome is unknown
(timeout, connection lost), the console looks for that id in the tracker: found means
delivered, and nothing is sent again.

What is kept (docs/security.md P5 h): ``agent_messages.text`` has personal numbers
masked (the console, history and exports show it); what the agent typed is sent to the
merchant as typed, and kept sealed in ``agent_messages.outgoing`` only until it is
delivered (a failed reply is retried with it).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from console import service
from console.errors import Refused
from console.rasa_client import RasaClient, RasaError
from console.transcript import has_agent_message, last_user_time
from core.db import handoffs
from core.db.models import (
    Agent,
    AgentMessage,
    DeliveryStatus,
    Handoff,
    HandoffStatus,
    QueueEnd,
    utcnow,
)
from core.privacy import is_sealed, mask_personal_data, mask_phone

WINDOW_CLOSED = "超过48小时，微信不允许再主动发消息"
NO_PUSH_CHANNELS = {"rest"}  # appended to the tracker; the integration fetches it
MAX_CHARS = 600  # one WeChat customer-service message (2048 bytes), never split
NO_MESSAGE = "没有这条消息"
UNREADABLE = "这条回复的原文无法解密（密钥不一致），请重新输入后发送"
# What the merchant hears when a person joins, is replaced and leaves (each once).
JOINED_NOTICE = "客服{agent}已接入，正在查看你的问题。"
TRANSFERRED_NOTICE = "已为你转接给客服{agent}，请稍等。"
LEFT_NOTICE = "客服{agent}已结束会话，之后由智能助手回复。"
# What the merchant hears when the queue lets go of them (console.live.QueueKeeper):
# the same promise as a message left outside the hours (actions.handoff), said once.
QUEUE_END_KIND = "queue_ended"
QUEUE_END_LEAD = {
    QueueEnd.no_agent: "现在没有客服在线了，排队先停下。",
    QueueEnd.hours_ended: "人工服务时间已经结束了，排队先停下。",
    QueueEnd.left: "你离开了页面，排队先停下。",
}
QUEUE_END_TICKET = ("你的问题已经记成留言{problem}，{when}会{contact}，不用再说一遍。"
                    "着急的话可以拨打95017；不需要了，回复“不用了”。")
QUEUE_END_CLOSED = "你离开了页面，这次排队已经结束。之后需要的话，再说“转人工”就行。"

WECHAT_ERROR = re.compile(r"errcode=(-?\d+|None)\s*errmsg=(.*)$", re.S)
WECHAT_HINTS = {
    "45015": WINDOW_CLOSED,
    "45047": "微信限制：商户发言后最多只能连续收到20条客服消息，等商户回复后再发",
    "48001": "公众号没有发客服消息的权限",
    "40001": "微信的 access_token 无效（已自动重取一次仍失败）",
    "43004": "商户已取消关注公众号，发不出去",
}


def describe_failure(channel: str, message: str) -> str:
    """The error for the agent: WeChat's own errcode/errmsg kept, with a hint."""
    if channel == "wechat":
        match = WECHAT_ERROR.search(message)
        if match:
            code, errmsg = match.group(1), match.group(2).strip()
            hint = WECHAT_HINTS.get(code, "微信接口拒绝了这条消息")
            return f"{hint}（微信返回 errcode {code}：{errmsg}）"
    return f"发送失败：{message}"


def agent_metadata(agent: str, message_id: int) -> dict[str, Any]:
    """The metadata of an agent's reply: the merchant's channel shows it as this person's
    (widget: a name label; WeChat: "【客服小王】"), the tracker finds it by id."""
    return {"agent": agent, "agent_message_id": message_id}


def notice_metadata(kind: str, agent: str | None) -> dict[str, Any]:
    """The metadata of a notice (``claimed``, ``transferred``, ``closed``,
    ``queue_ended``): the widget shows it as a system line and knows from it who
    answers now."""
    return {"handoff_notice": kind, **({"agent": agent} if agent else {})}


def _quoted_problem(problem: str | None) -> str:
    """"：“钱冻结了…”", or nothing for no problem (the placeholder the assistant stores,
    "（商户没有说明…）", is for agents)."""
    if not problem or (problem.startswith("（") and problem.endswith("）")):
        return ""
    problem = mask_personal_data(problem)
    return f"：“{problem if len(problem) <= 60 else problem[:59] + '…'}”"


def queue_end_notice(handoff: Handoff, when: str) -> tuple[str, dict[str, Any]]:
    """What a merchant the queue let go of is told, and its metadata. A ticket: why, that
    the problem is kept, ``when`` and how they will be answered, and "不用了" to call it
    off (``handoff_answer``: a bare "不用了" right after it withdraws the message, as
    after the assistant's own ticket message); a visitor who left, closed: that it ended."""
    end = QueueEnd(handoff.queue_end)
    metadata = {**notice_metadata(QUEUE_END_KIND, None), "queue_end": end.value}
    if handoff.status != HandoffStatus.ticket:
        return QUEUE_END_CLOSED, metadata
    phone = handoff.contact_phone
    contact = f"电话联系你（{mask_phone(phone)}）" if handoff.contact_method == "phone" \
        and phone and not is_sealed(phone) else "在这里回复你"
    text = QUEUE_END_LEAD[end] + QUEUE_END_TICKET.format(
        problem=_quoted_problem(handoff.problem), when=when, contact=contact)
    return text, {**metadata, "handoff_answer": "ticket"}


@dataclass
class Outcome:
    status: DeliveryStatus
    error: str | None = None


class Delivery:
    def __init__(self, engine: Engine, rasa: RasaClient, window_hours: float = 48.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.rasa = rasa
        self.window_s = window_hours * 3600
        self.clock = clock

    # --- the 48-hour window ----------------------------------------------------------
    def window(self, channel: str, tracker: dict[str, Any]) -> dict[str, Any]:
        """For WeChat: whether the customer-service window is open, and until when."""
        if channel != "wechat":
            return {"applies": False, "open": True}
        last = last_user_time(tracker)
        if last is None:
            return {"applies": True, "open": False, "closes_at": None,
                    "message": WINDOW_CLOSED}
        closes = last + self.window_s
        is_open = self.clock() < closes
        return {"applies": True, "open": is_open, "closes_at": closes,
                "message": None if is_open else WINDOW_CLOSED}

    # --- sending ---------------------------------------------------------------------
    def _push(self, handoff: Handoff, text: str, metadata: dict[str, Any],
              message_id: int | None = None, timestamp: float | None = None) -> Outcome:
        try:
            if handoff.channel == "wechat" and not self.window(
                    handoff.channel, self.rasa.tracker(handoff.sender_id))["open"]:
                return Outcome(DeliveryStatus.failed, WINDOW_CLOSED)
            self.rasa.append_bot_message(handoff.sender_id, handoff.channel, text, metadata,
                                         timestamp)
            return Outcome(DeliveryStatus.sent)
        except RasaError as error:
            if error.ambiguous and message_id is not None:
                try:
                    if has_agent_message(self.rasa.tracker(handoff.sender_id), message_id):
                        return Outcome(DeliveryStatus.sent)
                except RasaError:
                    pass
                return Outcome(DeliveryStatus.failed,
                               f"没能确认是否送达（{error.message}），可以点重试")
            return Outcome(DeliveryStatus.failed,
                           describe_failure(handoff.channel, error.message))

    def notify(self, handoff_id: int, text: str, kind: str, agent: str | None = None,
               timestamp: float | None = None,
               metadata: dict[str, Any] | None = None) -> str | None:
        """A notice to the merchant (an agent joined, was replaced, left; the queue let
        go), naming ``agent``; the error, if any. ``timestamp``: the event's time (the
        leave notice has the close's, so it belongs to the handoff it ends);
        ``metadata``: the notice's own (default ``notice_metadata``)."""
        with Session(self.engine) as session:
            handoff = service.get_handoff(session, handoff_id)
            session.expunge(handoff)
        outcome = self._push(handoff, text, metadata or notice_metadata(kind, agent),
                             timestamp=timestamp)
        return outcome.error

    def create(self, handoff_id: int, agent_id: int, text: str) -> int:
        """The reply recorded as pending: ``text`` masked (what the console shows and
        keeps), what was typed sealed in ``outgoing`` until it is delivered."""
        masked = mask_personal_data(text)
        with Session(self.engine) as session, session.begin():
            service.held_by(session, handoff_id, agent_id)
            message = AgentMessage(handoff_id=handoff_id, agent_id=agent_id, text=masked,
                                   outgoing=text if masked != text else None,
                                   status=DeliveryStatus.pending, created_at=utcnow())
            session.add(message)
            session.flush()
            return message.id

    def deliver(self, message_id: int) -> Outcome:
        with Session(self.engine) as session:
            message = session.get(AgentMessage, message_id)
            handoff = session.get(Handoff, message.handoff_id)
            agent = session.get(Agent, message.agent_id)
            text, name = message.outgoing or message.text, agent.display_name
            session.expunge(handoff)
        if is_sealed(text):  # sealed with a key this console does not have
            outcome = Outcome(DeliveryStatus.failed, UNREADABLE)
            self._finish(message_id, handoff.id, outcome)
            return outcome
        outcome = self._push(handoff, text, agent_metadata(name, message_id), message_id)
        self._finish(message_id, handoff.id, outcome)
        return outcome

    def _finish(self, message_id: int, handoff_id: int, outcome: Outcome) -> None:
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(AgentMessage)
                .where(AgentMessage.id == message_id,
                       AgentMessage.status == DeliveryStatus.pending)
                .values(status=outcome.status, error=outcome.error,
                        sent_at=now if outcome.status == DeliveryStatus.sent else None,
                        # Delivered: what was typed is no longer needed here (the
                        # tracker store keeps its own masked copy).
                        **({"outgoing": None} if outcome.status == DeliveryStatus.sent
                           else {}))
                .execution_options(synchronize_session=False)
            )
            if outcome.status == DeliveryStatus.sent:
                handoffs.record_first_reply(session, handoff_id, now)

    def send(self, handoff_id: int, agent_id: int, text: str) -> int:
        message_id = self.create(handoff_id, agent_id, text)
        self.deliver(message_id)
        return message_id

    def retry(self, message_id: int, agent_id: int) -> Outcome:
        """Failed → pending (only one retry at a time wins), then sent again unless the
        tracker shows it was delivered after all."""
        with Session(self.engine) as session, session.begin():
            message = session.get(AgentMessage, message_id)
            if message is None:
                raise Refused(NO_MESSAGE, status=404)
            handoff = service.held_by(session, message.handoff_id, agent_id)
            claimed = session.execute(
                update(AgentMessage)
                .where(AgentMessage.id == message_id,
                       AgentMessage.status == DeliveryStatus.failed)
                .values(status=DeliveryStatus.pending, error=None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                raise Refused("这条消息正在发送或已经送达")
            sender_id, handoff_id = handoff.sender_id, handoff.id
        try:
            if has_agent_message(self.rasa.tracker(sender_id), message_id):
                outcome = Outcome(DeliveryStatus.sent)
                self._finish(message_id, handoff_id, outcome)
                return outcome
        except RasaError as error:
            outcome = Outcome(DeliveryStatus.failed, f"发送失败：{error.message}")
            self._finish(message_id, handoff_id, outcome)
            return outcome
        return self.deliver(message_id)

    def reconcile(self, older_than: dt.timedelta) -> int:
        """Messages left pending (the console stopped mid-send): settled by the tracker."""
        cutoff = utcnow() - older_than
        with Session(self.engine) as session:
            stale = session.execute(
                AgentMessage.__table__.select()
                .where(AgentMessage.status == DeliveryStatus.pending,
                       AgentMessage.created_at < cutoff)
            ).all()
            handoff_of = {m.id: session.get(Handoff, m.handoff_id) for m in stale}
            senders = {mid: (h.sender_id, h.id) for mid, h in handoff_of.items()}
        for message_id, (sender_id, handoff_id) in senders.items():
            try:
                found = has_agent_message(self.rasa.tracker(sender_id), message_id)
            except RasaError:
                continue
            self._finish(message_id, handoff_id, Outcome(DeliveryStatus.sent) if found else
                         Outcome(DeliveryStatus.failed, "发送中断，没有送达，可以点重试"))
        return len(senders)
