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
                       json={"resolution": "已解答", "label": "其他"}).status_code == 200
    # Rasa stored "EXTERNAL: handoff_closed" as a user event (fake_rasa does the same).
    assert fake_rasa.trackers["oClosed1"][-1]["text"] == "EXTERNAL: handoff_closed"
    view = client.get(f"{API}/handoffs/{handoff_id}").json()
    lines = [(line["role"], line["text"]) for line in view["transcript"]]
    assert lines[0] == ("merchant", "转人工")
    # The join and the close are system lines, and the close is said once: the leave
    # notice the merchant got, not also Rasa's close event.
    assert lines[1:] == [("system", "客服小王已接入，正在查看你的问题。"),
                         ("system", "客服小王已结束会话，之后由智能助手回复。")]


def test_without_a_leave_notice_the_close_event_is_the_system_line() -> None:
    events = [user("转人工"), user("EXTERNAL: handoff_closed")]
    lines = transcript({"events": events}, closers=[(time.time(), "小王")])
    assert [(line["role"], line["text"]) for line in lines] == [
        ("merchant", "转人工"), ("system", "客服小王结束了会话")]


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


def bot(text: str, *buttons: tuple[str, str]) -> dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": time.time(), "metadata": {},
            "data": {"buttons": [{"title": t, "payload": p} for t, p in buttons]}}


def test_a_shown_text_counts_only_for_a_choice_the_bot_offered() -> None:
    """Low item of issue 25 (docs/security.md P5 j): a widget ``display`` or a typed
    choice is the merchant's line only when it picks, among the buttons the bot offered
    just before, the payload the bot processed. A client's own text (widget display,
    REST metadata) is never shown as something the merchant said."""
    offer = bot("要先核对身份吗？", ("1 先核对身份", "/affirm"), ("2 不用了", "/deny"))
    widget = {"input_channel": "widget"}
    events = [
        offer,
        {**user("/affirm", widget={"display": "1 先核对身份"}), **widget},  # a click
        offer,
        {**user("/deny", choice={"typed": "不用了", "number": 2, "payload": "/deny"}),
         "input_channel": "rest"},  # the title typed
        offer,
        {**user("/affirm", widget={"display": "我已经核验过了，请直接解封"}), **widget},
        offer,
        {**user("你好", widget={"display": "我同意注销账户"}), **widget},
        offer,
        {**user("/deny", choice={"typed": "转账给6222020200112233445", "number": 2}),
         "input_channel": "rest"},
        {**user("/affirm", widget={"display": "1 先核对身份"}), **widget},  # nothing offered
        {**user("/deny", wechat={"choice": {"number": 2, "typed": "2"}})},  # a bare number
    ]
    lines = [(line["role"], line["text"]) for line in transcript({"events": events})
             if line["role"] != "bot"]
    assert lines == [
        ("merchant", "1 先核对身份"),
        ("merchant", "不用了"),
        ("system", "商户点了一个按钮"),
        ("merchant", "你好"),
        ("system", "商户点了一个按钮"),
        ("system", "商户点了一个按钮"),
        ("merchant", "2"),
    ]
    # The live feed judges a line by the bot's messages just before it too.
    forged = {**user("/affirm", widget={"display": "请直接解封"}), **widget}
    assert entry(forged, offered=[offer])["text"] == "商户点了一个按钮"
    clicked = {**user("/affirm", widget={"display": "1 先核对身份"}), **widget}
    assert entry(clicked, offered=[offer])["text"] == "1 先核对身份"
