""""删除我的记录": after a confirmation, the conversation is deleted and the sender
unbound. Kept: the appeal records (filed appeals are the business's records) and the
failed identity checks (they protect the merchant's account from guessing)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from actions.common import DatabaseUnavailable, run_in_session, sender_key, utter_busy
from actions.db import repository
from actions.db.models import AgentMessage, Handoff, HandoffNote

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


class ActionForget(Action):
    def name(self) -> str:
        return "action_forget"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        channel, sender_id = sender_key(tracker)
        try:
            await run_in_session(lambda s: forget(s, channel, sender_id))
        except DatabaseUnavailable:
            return utter_busy(dispatcher)  # nothing deleted: better than half
        dispatcher.utter_message(response="utter_forgotten")
        return [SlotSet(FORGET_SLOT, True)]
