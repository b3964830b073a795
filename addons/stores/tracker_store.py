"""The SQL tracker store, minus the personal data.

``PrivateSQLTrackerStore`` is Rasa's ``SQLTrackerStore`` with two differences:

- Every string of every event is masked before it is written or streamed to the event
  broker: phone, ID-card and bank-card numbers that merchants type (found as spans of the
  typed text, in any grouping) never reach the tracker database, the broker, the HTTP
  API (it reads this store) or the agent console, nor does any entity, ``parse_data``
  string or slot value that overlaps one (a ``\\d{4}`` entity on each group of
  "6228 4812 3456 7890"). The actions still get the unmasked text in the turn it was
  typed (Rasa hands them the in-memory tracker); a value an action needs in a later turn
  is sealed (``core.privacy.seal``) and left alone here, because only the action server
  can open it.
- A merchant who confirms "删除我的记录" gets the conversation deleted: the action sets
  the ``forget_me`` slot, and this store deletes every stored event of the sender
  instead of saving the turn.

Configured in endpoints.yml as ``type: addons.stores.tracker_store.PrivateSQLTrackerStore``
with the usual SQL keys.

A database that fails is never papered over. Rasa's agent wraps every tracker store in
``FailSafeTrackerStore``: a failed read returns no tracker (the turn runs on a brand-new
conversation), a failed write goes to an in-memory store that nothing ever reads again
(history lost, memory grows). ``install()`` swaps that wrapper for
``NoFallbackTrackerStore``, which raises ``TrackerStoreUnavailable`` instead: the
channels answer "busy, try again shortly" (REST: 503, WeChat and the widget: their
error text), nothing is kept in memory, and once the database is back the conversation
continues with its history. On PostgreSQL the store also pings pooled connections before
use (a restarted server costs no failed turn) and bounds connect and statement time, so a
hung database cannot freeze a replica's event loop.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
    TrackerStore,
    create_engine_kwargs,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from addons import rasa_compat
from core.db.forget import FORGET_SLOT
from core.privacy import mask_events

logger = logging.getLogger(__name__)

# What a merchant reads when the conversation store is unreachable.
STORE_DOWN_TEXT = "系统有点忙，刚才这条消息没有处理，请过一会儿再发一次。着急的话可以拨打微信支付客服 95017。"
# PostgreSQL: give up connecting / on one statement after this long (seconds).
CONNECT_TIMEOUT_S = int(os.environ.get("TRACKER_DB_CONNECT_TIMEOUT_S", "3"))
STATEMENT_TIMEOUT_S = float(os.environ.get("TRACKER_DB_STATEMENT_TIMEOUT_S", "5"))


# The slot that holds the second factor of the identity check (actions/verification.py).
SECRET_SLOT = "phone_last4"
LAST4 = re.compile(r"^\d{4}$")


def typed_secrets(events: list[Event]) -> frozenset[str]:
    """The phone digits the identity check received in these events: they are used in the
    turn they are typed and must not be readable afterwards (tracker, broker, console).
    A slot mapped from several entities holds all their values (a list)."""
    found = set()
    for event in events:
        if isinstance(event, SlotSet) and event.key == SECRET_SLOT:
            values = event.value if isinstance(event.value, list) else [event.value]
            found.update(str(value) for value in values if LAST4.match(str(value or "")))
    return frozenset(found)


def masked_turn(events: list[Event]) -> list[dict[str, Any]]:
    """The serialised events of one turn as they may be stored, streamed or returned:
    personal numbers found by span in the typed text, every entity, ``parse_data``
    string and slot value overlapping one, and the identity check's answers masked. The
    events themselves (what the actions read this turn) are left untouched."""
    return mask_events([event.as_dict() for event in events], typed_secrets(events))


def forget_requested(tracker: DialogueStateTracker) -> bool:
    """The merchant confirmed deletion in this turn."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, SlotSet) and event.key == FORGET_SLOT and event.value is True:
            return True
    return False


class TrackerStoreUnavailable(RuntimeError):
    """The conversation store failed: the turn must not run (or be stored) without it."""


class PrivateSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        rasa_compat.check(rasa_compat.PRIVATE_SQL_TRACKER_STORE)
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "postgresql":
            self._bound_postgresql_engine()

    def _bound_postgresql_engine(self) -> None:
        """Rasa's engine, plus pre-ping and connect / statement timeouts."""
        url = self.engine.url
        self.engine.dispose()
        # Pool sizes from SQL_POOL_SIZE / SQL_MAX_OVERFLOW. As a string: Rasa checks a URL
        # object's drivername for exactly "postgresql" and would miss "+psycopg2".
        engine_kwargs = create_engine_kwargs(url.render_as_string(hide_password=False))
        connect_args = dict(engine_kwargs.pop("connect_args", {}))
        options = " ".join(filter(None, [
            connect_args.get("options", ""),
            f"-c statement_timeout={int(STATEMENT_TIMEOUT_S * 1000)}",
        ]))
        connect_args.update(connect_timeout=CONNECT_TIMEOUT_S, options=options)
        self.engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args,
                                       **engine_kwargs)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if forget_requested(tracker):
            await self.delete(tracker.sender_id)
            return
        # Rasa's stream_events() would first re-read and rebuild the whole tracker to
        # find the new events; the events stored below are exactly those. They go to
        # the broker once they are stored: a failed write publishes nothing.
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
            masked = masked_turn(new_events)
            for event, data in zip(new_events, masked, strict=True):
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
        if self.event_broker is not None:
            for data in masked:
                self.event_broker.publish({"sender_id": tracker.sender_id, **data})

    async def _stream_new_events(self, event_broker: EventBroker, new_events: list[Event],
                                 sender_id: str) -> None:
        for data in masked_turn(new_events):
            event_broker.publish({"sender_id": sender_id, **data})

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


class NoFallbackTrackerStore(FailSafeTrackerStore):
    """Rasa's ``FailSafeTrackerStore`` without the fallback: every failure of the real
    store raises ``TrackerStoreUnavailable`` (logged once here)."""

    def _unavailable(self, operation: str, error: Exception) -> TrackerStoreUnavailable:
        logger.error("tracker store %s failed (%s: %s): the turn is refused, nothing is "
                     "kept in memory", operation, type(error).__name__, error)
        return TrackerStoreUnavailable(f"tracker store {operation} failed")

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        try:
            return await self._tracker_store.retrieve(sender_id)
        except Exception as error:
            raise self._unavailable("retrieve", error) from error

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        try:
            return await self._tracker_store.retrieve_full_tracker(sender_id)
        except Exception as error:
            raise self._unavailable("retrieve_full_tracker", error) from error

    async def save(self, tracker: DialogueStateTracker) -> None:
        try:
            await self._tracker_store.save(tracker)
        except Exception as error:
            raise self._unavailable("save", error) from error

    async def keys(self) -> Iterable[str]:
        try:
            return await self._tracker_store.keys()
        except Exception as error:
            raise self._unavailable("keys", error) from error

    @property
    def fallback_tracker_store(self) -> TrackerStore:
        raise RuntimeError("NoFallbackTrackerStore has no fallback store by design")


# FailSafeTrackerStore's own methods that NoFallbackTrackerStore knowingly leaves alone
# (they log, or manage the domain); any other method Rasa adds there may hide a fallback.
_REVIEWED = {"domain", "fallback_tracker_store", "on_tracker_store_error",
             "on_tracker_store_retrieve_error"}


def create_tracker_store(store: TrackerStore | None, domain: Domain) -> TrackerStore:
    """``Agent._create_tracker_store`` without the in-memory fallback."""
    if store is not None:
        store.domain = domain
    else:
        store = InMemoryTrackerStore(domain)
    return NoFallbackTrackerStore(store)


def install() -> None:
    """Makes every agent use ``NoFallbackTrackerStore``; refuses to start when the Rasa
    internals it replaces changed (the fallback could silently come back)."""
    rasa_compat.check(rasa_compat.NO_FALLBACK_TRACKER_STORE)  # refuses on a changed Rasa
    if not callable(getattr(Agent, "_create_tracker_store", None)):
        raise RuntimeError(
            "rasa.core.agent.Agent._create_tracker_store is gone: "
            "addons/stores/tracker_store.py no longer disables the in-memory fallback")
    public = {name for name, value in vars(FailSafeTrackerStore).items()
              if not name.startswith("_") and (callable(value) or isinstance(value, property))}
    unreviewed = public - _REVIEWED - set(vars(NoFallbackTrackerStore))
    if unreviewed:
        raise RuntimeError(
            f"rasa's FailSafeTrackerStore has new methods {sorted(unreviewed)}: review "
            "NoFallbackTrackerStore (addons/stores/tracker_store.py) before starting")
    Agent._create_tracker_store = staticmethod(create_tracker_store)  # type: ignore[method-assign]
