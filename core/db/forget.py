"""What "删除我的记录" deletes: after a confirmation, the conversation is deleted and the sender
unbound. Kept: the appeal records (filed appeals are the business's records) and the
failed identity checks (they protect the merchant's account from guessing)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.db import repository
from core.db.inbox import InboxTriaged
from core.db.models import AgentMessage, Handoff, HandoffNote

# Read by the tracker store (addons.stores.tracker_store): delete instead of saving.
FORGET_SLOT = "forget_me"


def forget(session: Session, channel: str, sender_id: str) -> None:
    repository.unbind(session, channel, sender_id)
    # Handoff statistics stay; what was said in them (by the merchant, to the merchant
    # and about the merchant in agents' notes) does not.
    theirs = select(Handoff.id).where(Handoff.channel == channel,
                                      Handoff.sender_id == sender_id).scalar_subquery()
    for table in (AgentMessage, HandoffNote):
        session.execute(delete(table).where(table.handoff_id.in_(theirs))
                        .execution_options(synchronize_session=False))
    session.execute(
        update(Handoff)
        .where(Handoff.channel == channel, Handoff.sender_id == sender_id)
        .values(problem=None, contact_phone=None, account_snapshot=None)
        .execution_options(synchronize_session=False)
    )
    # The inbox's triage marks keep the sender id (the messages go with the events).
    session.execute(delete(InboxTriaged).where(InboxTriaged.sender_id.in_(
        [sender_id, f"{channel}:{sender_id}"])).execution_options(synchronize_session=False))
