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
import re
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


# The slot that holds the second factor of the identity check (actions/verification.py).
SECRET_SLOT = "phone_last4"
LAST4 = re.compile(r"^\d{4}$")


def mask_event_data(value: Any, secrets: frozenset[str] = frozenset()) -> Any:
    """Masks personal data in every string of an event's data (sealed values excepted),
    and the identity check's answers (``secrets``: the phone digits typed this turn)."""
    if isinstance(value, str):
        if value.startswith(SEALED_PREFIX):
            return value
        value = mask_personal_data(value)
        for secret in secrets:
            value = re.sub(rf"(?<!\d){secret}(?!\d)", "****", value)
        return value
    if isinstance(value, dict):
        return {key: mask_event_data(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_event_data(item, secrets) for item in value]
    return value


def typed_secrets(events: list[Event]) -> frozenset[str]:
    """The phone digits the identity check received in these events: they are used in the
    turn they are typed and must not be readable afterwards (tracker, broker, console)."""
    return frozenset(
        str(event.value) for event in events
        if isinstance(event, SlotSet) and event.key == SECRET_SLOT
        and LAST4.match(str(event.value or ""))
    )


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
            new_events = list(self._additional_events(session, tracker))
            secrets = typed_secrets(new_events)
            for event in new_events:
                data = mask_event_data(event.as_dict(), secrets)
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
        secrets = typed_secrets(new_events)
        for event in new_events:
            event_broker.publish({"sender_id": sender_id,
                                  **mask_event_data(event.as_dict(), secrets)})

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
