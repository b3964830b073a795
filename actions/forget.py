""""删除我的记录": the action that deletes (core.db.forget has what is deleted)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import DatabaseUnavailable, run_in_session, sender_key, utter_busy
from core.db.forget import FORGET_SLOT, forget


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
