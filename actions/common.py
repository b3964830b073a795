"""Helpers shared by the actions: database calls off the event loop, who is asking."""

from __future__ import annotations

import abc
import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.db.session import get_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")

# "算了" / "取消" / "不办了" stop whatever form is running.
CANCEL_PATTERN = re.compile(r"^\s*(算了|取消|不办了|不弄了|不查了|不申诉了|不用了|停止|退出|结束)")


class DatabaseUnavailable(Exception):
    """The merchant database could not answer (down, slow or broken)."""


def sender_key(tracker: Tracker) -> tuple[str, str]:
    """(channel, sender id): the identity a binding and the attempt counter belong to."""
    return tracker.get_latest_input_channel() or "rest", tracker.sender_id


def latest_text(tracker: Tracker) -> str:
    """The normalized text of the latest user message."""
    message = tracker.latest_message or {}
    return (message.get("text") or "").strip()


def wants_to_cancel(tracker: Tracker) -> bool:
    return bool(CANCEL_PATTERN.match(latest_text(tracker)))


async def run_in_session(work: Callable[[Session], T]) -> T:
    """Runs ``work`` in its own transaction in a worker thread.

    Commit on success, rollback on any error, close always; database errors become
    DatabaseUnavailable so callers answer politely instead of crashing.
    """

    def call() -> T:
        with Session(get_engine(), expire_on_commit=False) as session, session.begin():
            return work(session)

    try:
        return await asyncio.to_thread(call)
    except SQLAlchemyError as error:
        logger.error("merchant database unavailable: %s", type(error).__name__)
        raise DatabaseUnavailable() from error


def utter_busy(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    dispatcher.utter_message(response="utter_system_busy")
    return []


def format_date(value: Any) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


class CancellableFormValidation(FormValidationAction, abc.ABC):
    """Form validation where "算了" / "取消" ends the form.

    The validation sets ``form_cancelled``; ``required_slots`` then returns nothing,
    the form ends, and the action after the form says it stopped.
    """

    @abc.abstractmethod
    def name(self) -> str: ...

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if wants_to_cancel(tracker):
            tracker.slots["form_cancelled"] = True
            return [SlotSet("form_cancelled", True)]
        return await super().get_validation_events(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("form_cancelled"):
            return []
        return await self.form_slots(domain_slots, dispatcher, tracker, domain)

    async def form_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """The slots still to ask for; override for dynamic forms."""
        return domain_slots
