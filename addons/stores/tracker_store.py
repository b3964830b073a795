"""The SQL tracker store, minus the personal data.

``PrivateSQLTrackerStore`` is Rasa's ``SQLTrackerStore`` with two differences:

- Every string of every event is masked before it is written or streamed to the event
  broker: phone, ID-card and bank-card numbers that merchants type never reach the
  tracker database, the broker, or the agent console. The actions still get the
  unmasked text in the turn it was typed (Rasa hands them the in-memory tracker); a
  value an action needs in a later turn is sealed (``actions.privacy.seal``) and left
  alone here, because only the action server can open it.
- A merchant who confirms "删除我的记录" gets the conversation deleted: the action sets
  the ``forget_me`` slot, and this store deletes every stored event of the sender
  instead of saving the turn.

Configured in endpoints.yml as ``type: addons.stores.tracker_store.PrivateSQLTrackerStore``
with the usual SQL keys.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from actions.forget import FORGET_SLOT
from actions.privacy import SEALED_PREFIX, mask_personal_data

logger = logging.getLogger(__name__)


def mask_event_data(value: Any) -> Any:
    """Masks personal data in every string of an event's data (sealed values excepted)."""
    if isinstance(value, str):
        return value if value.startswith(SEALED_PREFIX) else mask_personal_data(value)
    if isinstance(value, dict):
        return {key: mask_event_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_event_data(item) for item in value]
    return value


def forget_requested(tracker: DialogueStateTracker) -> bool:
    """The merchant confirmed deletion in this turn."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, SlotSet) and event.key == FORGET_SLOT and event.value is True:
            return True
    return False


class PrivateSQLTrackerStore(SQLTrackerStore):
    async def save(self, tracker: DialogueStateTracker) -> None:
        if forget_requested(tracker):
            await self.delete(tracker.sender_id)
            return
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = mask_event_data(event.as_dict())
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(
                        INTENT_NAME_KEY),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                ))
            session.commit()

    async def _stream_new_events(self, event_broker: EventBroker, new_events: list[Event],
                                 sender_id: str) -> None:
        for event in new_events:
            event_broker.publish({"sender_id": sender_id, **mask_event_data(event.as_dict())})

    async def delete(self, sender_id: str) -> int:
        """Deletes every stored event of ``sender_id`` (also the copies an SQL event
        broker kept); the number of tracker events deleted."""
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(
                self.SQLEvent.sender_id == sender_id).delete(synchronize_session=False)
            session.commit()
        if isinstance(self.event_broker, SQLEventBroker):
            with self.event_broker.session_scope() as session:
                session.query(SQLEventBroker.SQLBrokerEvent).filter(
                    SQLEventBroker.SQLBrokerEvent.sender_id == sender_id
                ).delete(synchronize_session=False)
                session.commit()
        logger.info("tracker store: deleted the conversation of one sender (%d events)",
                    deleted)
        return int(deleted)
