"""No line the merchant did not write is shown as theirs (issue 20, item 1): Rasa's
``trigger_intent`` events, ``/intent`` payloads and WeChat menu clicks become system
lines in the console transcript and the live feed."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from console.transcript import entry, transcript
from tests.console.conftest import add_agent, queue_handoff, sign_in
from tests.console.fake_rasa import FakeRasa

API = "/console/api"


def user(text: str, **metadata: Any) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": time.time(),
            "input_channel": "wechat", "metadata": metadata}


def test_the_close_is_a_system_line_with_the_agents_name(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "oClosed1")
    fake_rasa.user_says("oClosed1", "转人工")
    sign_in(client, "wang")
    assert client.post(f"{API}/handoffs/{handoff_id}/claim").status_code == 200
    assert client.post(f"{API}/handoffs/{handoff_id}/close",
                       json={"resolution": "已解答"}).status_code == 200
    # Rasa stored "EXTERNAL: handoff_closed" as a user event (fake_rasa does the same).
    assert fake_rasa.trackers["oClosed1"][-1]["text"] == "EXTERNAL: handoff_closed"
    view = client.get(f"{API}/handoffs/{handoff_id}").json()
    lines = [(line["role"], line["text"]) for line in view["transcript"]]
    assert lines[0] == ("merchant", "转人工")
    assert ("system", "客服小王结束了会话") in lines
    assert not any("EXTERNAL" in text for _, text in lines)


def test_payloads_and_menu_clicks_are_never_merchant_lines() -> None:
    events = [
        user("EXTERNAL: handoff_closed"),
        user("EXTERNAL: reminder_due"),
        user("/request_human", wechat={"msg_type": "event"}),
        user("/greet", wechat={"msg_type": "event"}),
        user("/affirm"),
        user("/deny", wechat={"choice": {"number": 2, "typed": "2"}}),
        user("我的商户号1900000002"),
    ]
    lines = transcript({"events": events})
    assert [(line["role"], line["text"]) for line in lines] == [
        ("system", "客服结束了会话"),
        ("system", "系统操作：reminder_due"),
        ("system", "商户点了菜单：转人工"),
        ("system", "商户关注了公众号"),
        ("system", "商户点了一个按钮"),
        ("merchant", "2"),  # typed by the merchant
        ("merchant", "我的商户号1900****02"),
    ]


def test_the_live_feed_shows_the_close_as_a_system_line() -> None:
    line = entry({**user("EXTERNAL: handoff_closed"), "sender_id": "oX"})
    assert line is not None and line["role"] == "system"
