"""How a form asks for a slot: in full, briefly after a digression, or not at all when a
hint just said what is needed (see ``actions.forms``).

Rasa's form runs ``action_ask_<slot>`` when the domain lists it; one class serves every
slot of every form (a subclass per slot only sets the name).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import REPAIR_STATE

FORM_SLOTS = (
    "merchant_id", "phone_last4",
    "appeal_category", "appeal_description", "appeal_contact", "appeal_confirm",
    "payer_location", "has_website_icp", "has_miniprogram", "urgency", "monthly_volume",
    "handoff_problem", "handoff_verify", "handoff_contact", "satisfaction_score",
)
# Slots whose full question needs values computed by their own action.
CUSTOM_QUESTIONS = {"appeal_confirm", "handoff_contact"}


class AskForSlot(Action):
    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def full_question(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> None:
        dispatcher.utter_message(response=f"utter_ask_{self.slot}")

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        state = tracker.get_slot(REPAIR_STATE)
        if state == "remind":
            dispatcher.utter_message(response=f"utter_remind_{self.slot}")
        elif state != "quiet":
            self.full_question(dispatcher, tracker, domain)
        return []


def _ask_class(slot: str) -> type[AskForSlot]:
    attributes: dict[str, Any] = {"slot": slot, "__module__": __name__}
    return type(f"AskFor_{slot}", (AskForSlot,), attributes)


# The appeal summary and the handoff's working hours: see actions.appeal, actions.handoff.
ASK_ACTIONS = {slot: _ask_class(slot) for slot in FORM_SLOTS if slot not in CUSTOM_QUESTIONS}
