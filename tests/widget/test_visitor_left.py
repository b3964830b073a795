"""A widget visitor waiting for a person who closes the page: the last socket of the
session going away marks the waiting handoff as left (the console lets it go after a
grace period); the same session coming back removes the mark."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from addons.channels.widget import QueueVisitors, WidgetInput, session_id_for
from core.db import handoffs
from core.db.models import Handoff
from core.db.session import get_engine
from tests.widget.test_channel import SECRET, FakeApp, RecordingServer, make_channel


def queued(db_url: str, sender: str) -> int:
    with Session(get_engine(db_url)) as session, session.begin():
        return handoffs.queue(session, "widget", sender, "merchant_asked", "钱冻结了").id


def left_at(db_url: str, handoff_id: int) -> dt.datetime | None:
    with Session(get_engine(db_url)) as session:
        return session.get(Handoff, handoff_id).left_at


async def joined(channel: object, server: RecordingServer, eio_sid: str) -> str:
    sid = await server.connect_client(eio_sid)
    await channel.handle_session_request(sid, {"secret": SECRET})  # type: ignore[attr-defined]
    return sid


async def gone(channel: object, server: RecordingServer, sid: str) -> None:
    """As python-socketio does it: the handler first, then the socket leaves its rooms."""
    await channel.handle_disconnect(sid)  # type: ignore[attr-defined]
    await server.manager.disconnect(sid, "/")


async def test_the_last_tab_closing_marks_the_visitor_left_and_coming_back_clears_it(
        db_url: str) -> None:
    server = RecordingServer()
    channel = make_channel(server, FakeApp())
    channel.visitors = QueueVisitors(db_url)
    channel.blueprint(lambda _: None)  # type: ignore[arg-type, return-value]
    handoff_id = queued(db_url, session_id_for(SECRET))
    first = await joined(channel, server, "eio-1")
    second = await joined(channel, server, "eio-2")
    await gone(channel, server, first)
    assert left_at(db_url, handoff_id) is None  # another tab is still open
    await gone(channel, server, second)
    assert left_at(db_url, handoff_id) is not None
    await joined(channel, server, "eio-3")  # the same session, back
    assert left_at(db_url, handoff_id) is None


async def test_a_visitor_with_nothing_queued_leaves_nothing_behind(db_url: str) -> None:
    server = RecordingServer()
    channel = make_channel(server, FakeApp())
    channel.visitors = QueueVisitors(db_url)
    channel.blueprint(lambda _: None)  # type: ignore[arg-type, return-value]
    other = queued(db_url, "someone-else")
    sid = await joined(channel, server, "eio-1")
    await gone(channel, server, sid)
    assert left_at(db_url, other) is None


async def test_a_database_that_is_down_never_breaks_the_socket(tmp_path: object) -> None:
    server = RecordingServer()
    channel = make_channel(server, FakeApp())
    channel.visitors = QueueVisitors("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    channel.blueprint(lambda _: None)  # type: ignore[arg-type, return-value]
    sid = await joined(channel, server, "eio-1")
    assert ("session_confirm", session_id_for(SECRET)) in server.events_to("eio-1")
    await gone(channel, server, sid)  # logged, not raised


async def test_without_a_queue_to_tell_the_channel_records_nothing() -> None:
    server = RecordingServer()
    channel = make_channel(server, FakeApp())
    assert channel.visitors is None  # built directly (tests): rasa's from_credentials sets it
    assert isinstance(WidgetInput.from_credentials({}).visitors, QueueVisitors)
    channel.blueprint(lambda _: None)  # type: ignore[arg-type, return-value]
    sid = await joined(channel, server, "eio-1")
    await gone(channel, server, sid)
