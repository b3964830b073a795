"""The inbox's triage in the merchant database: every action a supervisor takes on
unanswered messages (who, when, what) and the messages it took out of the open inbox
(migration 0009). The messages themselves stay in the event broker's database
(core.inbox reads them); only their keys are kept here. Every function takes an open
Session; the caller owns the transaction."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    select,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import Base, utcnow

# (event id in the broker's ``events`` table, sender id): one merchant message.
MessageKey = tuple[int, str]


class ActionKind(str, enum.Enum):
    similar = "similar"  # added as a similar question of a knowledge entry (a draft)
    out_of_scope = "out_of_scope"  # not ours to answer
    ignore = "ignore"  # noise: nothing to learn


class InboxAction(Base):
    """One triage action, as audited."""

    __tablename__ = "inbox_actions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    action = Column(Enum(ActionKind, name="inbox_action_kind", native_enum=False,
                         create_constraint=True), nullable=False)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False)
    agent_username = Column(String(40), nullable=False)
    entry_id = Column(String(64))
    revision = Column(Integer)  # the draft revision created, if any
    added = Column(Text, nullable=False, default="[]")  # JSON list of the questions added
    messages = Column(Integer, nullable=False)
    note = Column(String(500))
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action.value, "agent": self.agent_username,
                "entry_id": self.entry_id, "revision": self.revision,
                "added": json.loads(self.added), "messages": self.messages,
                "note": self.note,
                "created_at": self.created_at.replace(microsecond=0).isoformat() + "Z"}


class InboxTriaged(Base):
    """A message out of the open inbox, and the action that took it out."""

    __tablename__ = "inbox_triaged"

    event_id = Column(BigInteger, primary_key=True)
    sender_id = Column(String(255), primary_key=True)
    action_id = Column(Integer, ForeignKey("inbox_actions.id"), nullable=False, index=True)


class AlreadyTriaged(Exception):
    """One of the messages was triaged before (perhaps by someone else just now)."""


def triaged(session: Session, keys: Iterable[MessageKey]) -> set[MessageKey]:
    """Which of ``keys`` are already triaged."""
    wanted = list(dict.fromkeys(keys))
    found: set[MessageKey] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update((int(e), str(s)) for e, s in session.execute(
            select(InboxTriaged.event_id, InboxTriaged.sender_id)
            .where(tuple_(InboxTriaged.event_id, InboxTriaged.sender_id).in_(chunk))))
    return found


def record(session: Session, action: ActionKind, agent_id: int, agent_username: str,
           keys: Sequence[MessageKey], entry_id: str | None = None,
           revision: int | None = None, added: Sequence[str] = (),
           note: str | None = None) -> InboxAction:
    """Audits the action and takes its messages out of the inbox (AlreadyTriaged when
    any of them was taken out before: nothing is recorded then)."""
    if triaged(session, keys):
        raise AlreadyTriaged()
    row = InboxAction(action=action, agent_id=agent_id, agent_username=agent_username[:40],
                      entry_id=entry_id, revision=revision,
                      added=json.dumps(list(added), ensure_ascii=False),
                      messages=len(keys), note=note, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            session.add_all(InboxTriaged(event_id=event_id, sender_id=sender_id,
                                         action_id=row.id) for event_id, sender_id in keys)
            session.flush()
    except IntegrityError:  # triaged by someone else between the check and now
        raise AlreadyTriaged() from None
    return row


def recent(session: Session, limit: int = 50) -> list[InboxAction]:
    return list(session.scalars(select(InboxAction)
                                .order_by(InboxAction.id.desc()).limit(limit)))
