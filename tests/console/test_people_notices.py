"""Issue 20, item 4: what the console sends says which person it comes from.

Every notice (joined, transferred, left) and every reply names the agent in its
metadata, so the merchant's channel can show a person (widget: a name label and system
lines; WeChat: "【客服小王】"); closing says once that the agent left, before the bot
takes over (so the bot's score question, with its buttons, stays the latest turn)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from console import service
from console.delivery import LEFT_NOTICE, agent_metadata, notice_metadata
from core.db.models import Handoff
from core.db.session import get_engine
from tests.console.conftest import add_agent, queue_handoff, sign_in
from tests.console.fake_rasa import FakeRasa

API = "/console/api"


def test_the_metadata_of_replies_and_notices() -> None:
    assert agent_metadata("小王", 12) == {"agent": "小王", "agent_message_id": 12}
    assert notice_metadata("claimed", "小王") == {"handoff_notice": "claimed", "agent": "小王"}
    assert notice_metadata("closed", None) == {"handoff_notice": "closed"}
    assert LEFT_NOTICE.format(agent="小王") == "客服小王已结束会话，之后由智能助手回复。"


def test_join_transfer_reply_and_leave_all_name_the_agent(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    li = add_agent(db_url, "li", "小李")
    handoff_id = queue_handoff(db_url, "w-people", channel="widget", snapshot=None)
    fake_rasa.user_says("w-people", "转人工", channel="widget")
    sign_in(client, "wang")
    assert client.post(f"{API}/handoffs/{handoff_id}/claim").json()["notice_error"] is None
    assert client.post(f"{API}/handoffs/{handoff_id}/messages",
                       json={"text": "您好，我是小王"}).json()["status"] == "sent"

    li_client = make_client()
    sign_in(li_client, "li")
    moved = client.post(f"{API}/handoffs/{handoff_id}/transfer", json={"agent_id": li})
    assert moved.status_code == 200
    closed = li_client.post(f"{API}/handoffs/{handoff_id}/close",
                            json={"resolution": "已解答", "label": "其他"})
    assert closed.status_code == 200
    assert closed.json()["warning"] is None and closed.json()["notice_error"] is None

    bots = [(e["text"], e["metadata"]) for e in fake_rasa.bot_events("w-people")]
    assert bots == [
        ("客服小王已接入，正在查看你的问题。", {"handoff_notice": "claimed", "agent": "小王"}),
        ("您好，我是小王", {"agent": "小王", "agent_message_id": bots[1][1]["agent_message_id"]}),
        ("已为你转接给客服小李，请稍等。", {"handoff_notice": "transferred", "agent": "小李"}),
        ("客服小李已结束会话，之后由智能助手回复。", {"handoff_notice": "closed", "agent": "小李"}),
    ]
    assert {a["output_channel"] for a in fake_rasa.appends} == {"widget"}
    # The leave notice comes before the bot takes over: the close event is the last.
    events = fake_rasa.trackers["w-people"]
    assert events[-1]["text"] == "EXTERNAL: handoff_closed"
    assert events[-2]["text"] == "客服小李已结束会话，之后由智能助手回复。"


def test_a_leave_notice_that_cannot_be_sent_does_not_stop_the_close(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oOld", "转人工", ts=time.time() - 40 * 3600)
    handoff_id = queue_handoff(db_url, "oOld")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")
    fake_rasa.next_appends.append("channel_error")  # WeChat refuses the leave notice
    closed = client.post(f"{API}/handoffs/{handoff_id}/close",
                         json={"resolution": "已解答", "label": "其他"})
    assert closed.status_code == 200 and "45015" in closed.json()["notice_error"]
    assert closed.json()["warning"] is None
    assert [t["name"] for t in fake_rasa.triggers] == ["handoff_closed"]


def test_the_leave_notice_belongs_to_the_handoff_it_ends(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    """Stamped with the close's own time: the ended conversation's history (cut at
    ``closed_at``, console/history.py) keeps it and the close line after it."""
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oLeave", "转人工")
    handoff_id = queue_handoff(db_url, "oLeave")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")
    client.post(f"{API}/handoffs/{handoff_id}/messages", json={"text": "您好"})
    assert client.post(f"{API}/handoffs/{handoff_id}/close",
                       json={"resolution": "已解答", "label": "其他"}).status_code == 200
    [item] = client.get(f"{API}/history").json()["items"]
    view = client.get(f"{API}/history/{item['ref']}").json()
    lines = [(line["role"], line["text"]) for line in view["transcript"]]
    # The close is said once, as the system line the merchant was sent.
    assert lines[-2:] == [("agent", "您好"), ("system", "客服小王已结束会话，之后由智能助手回复。")]
    with Session(get_engine(db_url)) as session:
        closed_at = service.epoch(session.get(Handoff, handoff_id).closed_at)
    [leave] = [e for e in fake_rasa.bot_events("oLeave")
               if (e.get("metadata") or {}).get("handoff_notice") == "closed"]
    assert leave["timestamp"] == closed_at
