"""Leaving the queue for a person: "不等了", as a request of its own or inside a form."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DatabaseUnavailable, run_in_session, sender_key, utter_busy
from core.db import handoffs


async def stop_waiting(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Cancels a queued handoff (an agent already on it is not taken away)."""
    channel, sender_id = sender_key(tracker)
    try:
        cancelled = await run_in_session(lambda s: handoffs.cancel(s, channel, sender_id))
    except DatabaseUnavailable:
        utter_busy(dispatcher)
        return
    dispatcher.utter_message(
        response="utter_handoff_cancelled" if cancelled else "utter_handoff_not_waiting")
