"""Issue 20, item 4 (and the widget part of item 1): in the widget an agent is a person.

An agent's reply carries the agent's name, joining and leaving are system lines, the
widget knows who answers now (live and after a reload), and nothing the merchant did not
type (``EXTERNAL: handoff_closed``, ``/handoff_closed``) comes back as their line."""

from __future__ import annotations

import json
from typing import Any

from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.channels.wechat_store import MemoryStore
from addons.channels.widget import (
    DEFAULT_TOPICS,
    WidgetConfig,
    WidgetInput,
    WidgetOutput,
    answering_agent,
    session_id_for,
    transcript_messages,
)
from console.delivery import agent_metadata, notice_metadata
from tests.widget.test_channel import SECRET, FakeApp, RecordingServer

JOINED = "客服小王已接入，正在查看你的问题。"
LEFT = "客服小王已结束会话，之后由智能助手回复。"


def agent_reply(text: str, name: str = "小王", message_id: int = 7) -> BotUttered:
    """A bot event exactly as the console appends an agent's reply."""
    return BotUttered(text, metadata=agent_metadata(name, message_id))


def notice(text: str, kind: str, name: str | None = "小王") -> BotUttered:
    """A bot event exactly as the console appends a join / transfer / leave notice."""
    return BotUttered(text, metadata=notice_metadata(kind, name))


def external_close() -> UserUttered:
    """What Rasa 3.6 stores for the console's trigger_intent (UserUttered.create_external)."""
    return UserUttered("EXTERNAL: handoff_closed",
                       {"name": "handoff_closed", "confidence": 1.0})


def a_handed_over_conversation() -> list[Any]:
    return [
        ActionExecuted("action_listen"),
        UserUttered("转人工", metadata={"widget": {"message_id": "m-00000001"}}),
        BotUttered("好的，正在帮你转人工。"),
        notice(JOINED, "claimed"),
        agent_reply("您好，我看到您的账户被限制收款了。"),
        UserUttered("好的谢谢", metadata={"widget": {"message_id": "m-00000002"}}),
        notice(LEFT, "closed"),
        external_close(),
        BotUttered("方便的话，给刚才的人工服务打个分吧（1-5分，5分最满意）。",
                   data={"buttons": [{"title": "5 很满意", "payload": "5"}]}),
    ]


# --- what is pushed live ---------------------------------------------------------------
async def test_an_agents_reply_and_the_notices_are_pushed_as_people_not_as_the_bot() -> None:
    server = RecordingServer()
    output = WidgetOutput(server, "bot_uttered")
    sent: list[dict[str, Any]] = []

    async def emit(event: str, data: Any, room: str | None = None, **_: Any) -> None:
        sent.append(data)

    server.emit = emit  # type: ignore[method-assign]
    for event in (notice(JOINED, "claimed"), agent_reply("您好，我是小王。"),
                  notice("已为你转接给客服小李，请稍等。", "transferred", "小李"),
                  notice(LEFT, "closed"),
                  BotUttered("电话 95017", metadata={"utter_action": "utter_phone"})):
        # What Rasa's execute_side_effects passes the output channel: BotUttered.message().
        await output.send_response("session-1", event.message())
    assert [{k: v for k, v in m.items() if k != "ts"} for m in sent] == [
        {"text": JOINED, "type": "system", "notice": "claimed", "agent": "小王"},
        {"text": "您好，我是小王。", "type": "agent", "agent": "小王"},
        {"text": "已为你转接给客服小李，请稍等。", "type": "system", "notice": "transferred",
         "agent": "小李"},
        {"text": LEFT, "type": "system", "notice": "closed", "agent": "小王"},
        {"text": "电话 95017"},  # the bot's own message: as before
    ]
    assert all(isinstance(m["ts"], float) for m in sent)


# --- what a reload restores -----------------------------------------------------------------
def test_the_restored_transcript_shows_agents_as_agents_and_no_system_event_as_a_line() -> None:
    messages = transcript_messages(a_handed_over_conversation())
    assert [(m["type"], m.get("agent"), m["text"]) for m in messages] == [
        ("user", None, "转人工"),
        ("bot", None, "好的，正在帮你转人工。"),
        ("system", "小王", JOINED),
        ("agent", "小王", "您好，我看到您的账户被限制收款了。"),
        ("user", None, "好的谢谢"),
        ("system", "小王", LEFT),  # the close is said once: not again for the EXTERNAL event
        ("bot", None, "方便的话，给刚才的人工服务打个分吧（1-5分，5分最满意）。"),
    ]
    assert [m.get("notice") for m in messages if m["type"] == "system"] == ["claimed", "closed"]
    assert not any("EXTERNAL" in m["text"] or "handoff_closed" in m["text"] for m in messages)


def test_who_answers_follows_joins_transfers_and_closes() -> None:
    events = a_handed_over_conversation()
    assert answering_agent(events[:3]) is None
    assert answering_agent(events[:4]) == "小王"  # joined
    assert answering_agent(events[:6]) == "小王"
    assert answering_agent(events[:7]) is None  # left
    assert answering_agent(events) is None
    moved = [*events[:5], notice("已为你转接给客服小李，请稍等。", "transferred", "小李")]
    assert answering_agent(moved) == "小李"
    # Only the console's close (the EXTERNAL event) without a leave notice: back to the bot.
    assert answering_agent([*events[:5], external_close()]) is None
    # An agent's reply names who holds it even when the join notice is out of sight.
    assert answering_agent([agent_reply("在的", "小李")]) == "小李"


def test_older_conversations_without_names_in_the_metadata_still_read_right() -> None:
    """Notices appended before agents' names were in their metadata, a close with no
    leave notice (the notice could not be sent), a bare ``/handoff_closed``."""
    events = [
        UserUttered("转人工"),
        BotUttered(JOINED, metadata={"handoff_notice": "claimed"}),
        BotUttered("您好", metadata={"agent": "小王", "agent_message_id": 3}),
        external_close(),
        UserUttered("/handoff_closed"),
        UserUttered("EXTERNAL: reminder_due"),
        BotUttered("请打分"),
    ]
    messages = transcript_messages(events)
    assert [(m["type"], m.get("agent"), m["text"]) for m in messages] == [
        ("user", None, "转人工"),
        ("system", "小王", JOINED),
        ("agent", "小王", "您好"),
        ("system", "小王", LEFT),
        ("bot", None, "请打分"),
    ]
    assert answering_agent(events[:2]) == "小王"
    assert answering_agent(events) is None
    nameless = transcript_messages([external_close()])
    assert [(m["type"], m["text"]) for m in nameless] == [
        ("system", "人工客服已结束会话，之后由智能助手回复。")]


def test_payloads_are_never_merchant_lines_a_welcome_topic_shows_its_title() -> None:
    """A welcome topic is the server's own quick reply: its title is what the merchant
    clicked. Any other bare payload is left out, never shown as typed by the merchant."""
    events = [UserUttered("/check_account_status"), BotUttered("请告诉我商户号"),
              UserUttered("/affirm"), UserUttered("/handoff_closed"), BotUttered("好")]
    messages = transcript_messages(events, topics=DEFAULT_TOPICS)
    assert [(m["type"], m["text"]) for m in messages] == [
        ("user", "查我的账户状态"), ("bot", "请告诉我商户号"),
        ("system", "人工客服已结束会话，之后由智能助手回复。"), ("bot", "好")]


async def test_the_transcript_endpoint_says_who_answers_now() -> None:
    app = FakeApp()
    session_id = session_id_for(SECRET)
    events = a_handed_over_conversation()
    channel = WidgetInput(WidgetConfig(), claims=MemoryStore())
    body = json.dumps({"session_id": session_id, "secret": SECRET}).encode()

    await app.store.save(DialogueStateTracker.from_events(session_id, events[:6]))
    status, data = await channel.transcript_for(body, app)
    assert status == 200 and data["agent"] == "小王"
    assert [m["type"] for m in data["messages"]][-3:] == ["system", "agent", "user"]

    await app.store.save(DialogueStateTracker.from_events(session_id, events))
    status, data = await channel.transcript_for(body, app)
    assert status == 200 and data["agent"] is None
    assert not any(m["text"].startswith("EXTERNAL") for m in data["messages"])
