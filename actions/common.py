"""Helpers shared by the actions: database calls off the event loop, who is asking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import repository
from core.db.session import get_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The merchant database could not answer (down, slow or broken)."""


def sender_key(tracker: Tracker) -> tuple[str, str]:
    """(channel, sender id): the identity a binding and the attempt counter belong to."""
    return tracker.get_latest_input_channel() or "rest", tracker.sender_id


def latest_text(tracker: Tracker) -> str:
    """The normalized text of the latest user message."""
    message = tracker.latest_message or {}
    return (message.get("text") or "").strip()


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


async def about_bound_merchant(tracker: Tracker, look_up: Callable[[Session, str], T | None]
                               ) -> T | None:
    """``look_up(session, merchant_id)`` for the merchant this sender is verified for;
    None when nobody is verified or the database is down (the general answer still helps)."""
    channel, sender_id = sender_key(tracker)

    def work(session: Session) -> T | None:
        merchant_id = repository.bound_merchant_id(session, channel, sender_id)
        return look_up(session, merchant_id) if merchant_id else None

    try:
        return await run_in_session(work)
    except DatabaseUnavailable:
        return None


def session_events(tracker: Tracker) -> list[dict[str, Any]]:
    """The events of the current session, oldest first."""
    events: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        events.append(event)
    return events[::-1]

