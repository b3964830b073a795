""""还要等多久" while queued for a person: the place in the queue and a wait measured
from the agents online; with nobody online the merchant is told so, never "约1分钟"."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.handoff import ActionHandoff, ActionStopWaiting
from core.db import handoffs
from core.db.models import Agent, AgentPresence
from core.db.session import get_engine

SENDER = "queued-visitor"


def tracker(text: str) -> Tracker:
    latest = {"text": text, "intent": {"name": "ask_appeal_review_time", "confidence": 0.9},
              "entities": []}
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": "widget"}]
    return Tracker(SENDER, {}, latest, events, False, None, {}, "action_listen")


def queue(db_url: str, sender: str = SENDER) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.queue(session, "widget", sender, "merchant_asked", "钱冻结了")


def online(db_url: str) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        session.add(Agent(username="wang", display_name="小王", password_hash="x",
                          presence=AgentPresence.online, max_open=3, failed_logins=0))


async def answer(action: Any, text: str) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker(text), {})
    return dispatcher.messages


@pytest.mark.parametrize("text", ["还要等多久", "排到我了吗"])
async def test_how_long_while_queued_is_the_queue_wait(merchant_db: str, text: str) -> None:
    online(merchant_db)
    queue(merchant_db, "ahead")
    queue(merchant_db)
    [message] = await answer(ActionStopWaiting(), text)
    assert message["response"] == "utter_handoff_waiting"
    assert message["ahead"] == 1 and message["minutes"] == 12  # two shares of 6 minutes


async def test_how_long_with_nobody_online_says_so(merchant_db: str) -> None:
    queue(merchant_db)
    [message] = await answer(ActionStopWaiting(), "还要等多久")
    text = message.get("text") or ""
    assert message.get("response") is None, message
    assert "没有客服在线" in text and "分钟" not in text, text
    assert "下一个就是你" in text and "不等了" in text


async def test_asking_for_a_person_again_with_nobody_online_says_so(merchant_db: str) -> None:
    queue(merchant_db)
    [message] = await answer(ActionHandoff(), "转人工")
    assert "没有客服在线" in (message.get("text") or ""), message


async def test_a_bare_no_after_the_queue_let_go_withdraws_the_message(merchant_db: str) -> None:
    """The console's notice ("…记成留言…不需要了，回复“不用了”") is about the request:
    "不用了" right after it files nothing (the message is withdrawn)."""
    from console.delivery import queue_end_notice
    from core.db.models import Handoff, HandoffStatus, QueueEnd, utcnow

    queue(merchant_db)
    with Session(get_engine(merchant_db)) as session, session.begin():
        handoff = session.execute(
            select(Handoff).where(Handoff.sender_id == SENDER)).scalar_one()
        handoffs.let_go(session, handoff.id, QueueEnd.no_agent, utcnow())
        text, metadata = queue_end_notice(handoff, "有客服上线后")
    latest = {"text": "不用了", "intent": {"name": "deny", "confidence": 0.9}, "entities": []}
    events = [{"event": "user", "text": "转人工", "input_channel": "widget"},
              {"event": "bot", "text": text, "metadata": metadata},
              {"event": "user", "text": "不用了", "parse_data": latest,
               "input_channel": "widget"}]
    dispatcher = CollectingDispatcher()
    await ActionStopWaiting().run(
        dispatcher, Tracker(SENDER, {}, latest, events, False, None, {}, "action_listen"), {})
    assert "撤回" in (dispatcher.messages[0].get("text") or ""), dispatcher.messages
    with Session(get_engine(merchant_db)) as session:
        assert session.execute(select(Handoff.status).where(
            Handoff.sender_id == SENDER)).scalar_one() == HandoffStatus.cancelled
