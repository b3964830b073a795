"""Claiming, replying, transferring and closing through the console API (fake rasa API),
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.delivery import WINDOW_CLOSED
from core.db.models import AgentMessage, AgentPresence, Handoff, HandoffStatus
from core.db.session import get_engine
from tests.console.conftest import (
    add_agent,
    queue_handoff,
    set_presence,
    sign_in,
)
from tests.console.fake_rasa import FakeRasa

API = "/console/api"


def test_two_agents_claiming_at_the_same_moment_one_wins(
        db_url: str, console_app, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    handoff_id = queue_handoff(db_url, "oMerchant1")
    fake_rasa.user_says("oMerchant1", "转人工")

    async def race() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=console_app)
        clients = [httpx.AsyncClient(transport=transport, base_url="http://testserver")
                   for _ in range(2)]
        for client, name in zip(clients, ("wang", "li"), strict=True):
            login = await client.post(f"{API}/login",
                                      json={"username": name, "password": "correct horse battery"})
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        results = await asyncio.gather(*(c.post(f"{API}/handoffs/{handoff_id}/claim")
                                         for c in clients))
        for client in clients:
            await client.aclose()
        return list(results)

    results = asyncio.run(race())
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    winner = "小王" if results[0].status_code == 200 else "小李"
    assert loser.json()["detail"] == f"已被客服{winner}接入"
    notices = fake_rasa.bot_events("oMerchant1")
    assert len(notices) == 1  # the merchant hears of one agent only
    with Session(get_engine(db_url)) as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff.status == HandoffStatus.agent
        assert notices[0]["text"] == f"客服{winner}已接入，正在查看你的问题。"


def test_claim_tells_the_merchant_through_their_channel(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "w-visitor", channel="widget", snapshot=None)
    sign_in(client, "wang")
    response = client.post(f"{API}/handoffs/{handoff_id}/claim")
    assert response.status_code == 200 and response.json()["notice_error"] is None
    [append] = fake_rasa.appends
    assert append["output_channel"] == "widget"
    assert append["event"]["event"] == "bot"
    assert append["event"]["text"] == "客服小王已接入，正在查看你的问题。"


def test_an_agent_cannot_hold_more_than_the_limit(db_url: str, client: TestClient,
                                                  fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王", max_open=1)
    first = queue_handoff(db_url, "w1", channel="widget")
    second = queue_handoff(db_url, "w2", channel="widget")
    sign_in(client, "wang")
    assert client.post(f"{API}/handoffs/{first}/claim").status_code == 200
    refused = client.post(f"{API}/handoffs/{second}/claim")
    assert refused.status_code == 409 and "上限" in refused.json()["detail"]
    queue = client.get(f"{API}/queue").json()
    assert [h["id"] for h in queue["mine"]] == [first]
    assert [h["id"] for h in queue["waiting"]] == [second]


def test_queue_shows_waiting_with_reason_tickets_and_agents(
        db_url: str, client: TestClient) -> None:
    add_agent(db_url, "wang", "小王")
    waiting = queue_handoff(db_url, "w1", channel="widget", reason="not_understood",
                            problem="我的身份证110101199003071234怎么登记")
    ticket = queue_handoff(db_url, "w2", channel="widget", ticket=True,
                           contact_phone="13800000002")
    sign_in(client, "wang")
    queue = client.get(f"{API}/queue").json()
    [item] = queue["waiting"]
    assert item["id"] == waiting and item["reason_label"] == "机器人多次没听懂"
    assert "110101199003071234" not in item["problem"] and "110101" in item["problem"]
    assert item["wait_seconds"] >= 0 and item["merchant"] == "1900****02"
    assert [t["id"] for t in queue["tickets"]] == [ticket]
    assert queue["tickets"][0]["contact_phone"] == "138********"  # masked like every phone
    assert [a["name"] for a in queue["agents"]] == ["小王"]
    assert queue["service_hours"]["describe"]


def test_transfer_to_an_online_agent_with_room(db_url: str, client: TestClient,
                                               make_client, fake_rasa: FakeRasa) -> None:
    wang = add_agent(db_url, "wang", "小王")
    li = add_agent(db_url, "li", "小李", max_open=1)
    zhao = add_agent(db_url, "zhao", "小赵")
    handoff_id = queue_handoff(db_url, "w1", channel="widget")
    sign_in(client, "wang")
    li_client = make_client()
    sign_in(li_client, "li")
    assert client.post(f"{API}/handoffs/{handoff_id}/claim").status_code == 200

    offline = client.post(f"{API}/handoffs/{handoff_id}/transfer", json={"agent_id": zhao})
    assert offline.status_code == 409 and "不在线" in offline.json()["detail"]
    # Li is online with room for one: the transfer works and the merchant is told.
    moved = client.post(f"{API}/handoffs/{handoff_id}/transfer", json={"agent_id": li})
    assert moved.status_code == 200 and moved.json()["agent"] == "小李"
    assert fake_rasa.bot_events("w1")[-1]["text"] == "已为你转接给客服小李，请稍等。"
    # Now only Li may read, reply or transfer it (for Wang it is as if it did not
    # exist, docs/security.md P5 g); Li is full for another transfer.
    assert client.post(f"{API}/handoffs/{handoff_id}/messages",
                       json={"text": "你好"}).status_code == 404
    assert li_client.post(f"{API}/handoffs/{handoff_id}/messages",
                          json={"text": "你好，我是小李"}).status_code == 200
    other = queue_handoff(db_url, "w2", channel="widget")
    assert client.post(f"{API}/handoffs/{other}/claim").status_code == 200
    full = client.post(f"{API}/handoffs/{other}/transfer", json={"agent_id": li})
    assert full.status_code == 409 and "已满" in full.json()["detail"]
    set_presence(db_url, wang, AgentPresence.online)


def test_close_first_in_the_database_then_the_bot_takes_over(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "oMerchant2")
    fake_rasa.user_says("oMerchant2", "转人工")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")
    response = client.post(f"{API}/handoffs/{handoff_id}/close",
                           json={"resolution": "已指导提交申诉", "label": "申诉进度"})
    assert response.status_code == 200 and response.json()["warning"] is None
    assert fake_rasa.triggers == [{"sender": "oMerchant2", "name": "handoff_closed",
                                   "entities": {}, "output_channel": "wechat"}]
    with Session(get_engine(db_url)) as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff.status == HandoffStatus.closed
        assert handoff.resolution == "已指导提交申诉"
    again = client.post(f"{API}/handoffs/{handoff_id}/close", json={"resolution": "x", "label": "其他"})
    assert again.status_code == 409


def test_close_stays_closed_when_the_bot_cannot_be_told(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "w9", channel="widget")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")
    fake_rasa.trigger_down = True
    response = client.post(f"{API}/handoffs/{handoff_id}/close",
                           json={"resolution": "已解答", "label": "其他"})
    assert response.status_code == 200 and "没能接回" in response.json()["warning"]
    with Session(get_engine(db_url)) as session:
        assert session.get(Handoff, handoff_id).status == HandoffStatus.closed


def test_wechat_48_hour_window_is_checked_before_sending(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    old, fresh = "oOldMerchant", "oFreshMerchant"
    fake_rasa.user_says(old, "转人工", ts=time.time() - 49 * 3600)
    fake_rasa.user_says(fresh, "转人工", ts=time.time() - 47 * 3600)
    old_id, fresh_id = queue_handoff(db_url, old), queue_handoff(db_url, fresh)
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{old_id}/claim")
    client.post(f"{API}/handoffs/{fresh_id}/claim")
    assert fake_rasa.bot_events(old) == []  # not even the claim notice was attempted

    view = client.get(f"{API}/handoffs/{old_id}").json()
    assert view["window"]["open"] is False and view["window"]["message"] == WINDOW_CLOSED
    refused = client.post(f"{API}/handoffs/{old_id}/messages", json={"text": "您好"}).json()
    assert refused["status"] == "failed" and refused["error"] == WINDOW_CLOSED
    assert [a for a in fake_rasa.appends if a["sender"] == old] == []

    assert client.get(f"{API}/handoffs/{fresh_id}").json()["window"]["open"] is True
    sent = client.post(f"{API}/handoffs/{fresh_id}/messages", json={"text": "您好"}).json()
    assert sent["status"] == "sent"


def test_failed_delivery_is_shown_and_a_retry_sends_once(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oM", "转人工")
    handoff_id = queue_handoff(db_url, "oM")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")

    fake_rasa.next_appends = ["channel_error"]
    failed = client.post(f"{API}/handoffs/{handoff_id}/messages",
                         json={"text": "您的申诉在审核中"}).json()
    assert failed["status"] == "failed"
    assert "45015" in failed["error"] and WINDOW_CLOSED in failed["error"]
    assert "response out of time limit" in failed["error"]  # WeChat's own words kept
    agent_events = [e for e in fake_rasa.bot_events("oM") if "agent_message_id" in e["metadata"]]
    assert agent_events == []  # Rasa stores nothing when the channel raised

    retried = client.post(f"{API}/messages/{failed['id']}/retry").json()
    assert retried["status"] == "sent" and retried["error"] is None
    again = client.post(f"{API}/messages/{failed['id']}/retry")
    assert again.status_code == 409  # only failed messages are retried
    delivered = [e for e in fake_rasa.bot_events("oM")
                 if e["metadata"].get("agent_message_id") == failed["id"]]
    assert len(delivered) == 1 and delivered[0]["metadata"]["agent"] == "小王"


def test_an_unknown_outcome_is_settled_by_the_tracker_never_sent_twice(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "w5", channel="widget")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")

    # Rasa stored and sent it, but the answer was lost: the tracker shows it was sent.
    fake_rasa.next_appends = ["timeout_after_store"]
    first = client.post(f"{API}/handoffs/{handoff_id}/messages", json={"text": "第一条"}).json()
    assert first["status"] == "sent"

    # Same, and the tracker cannot be read at that moment: failed, "not confirmed".
    fake_rasa.next_appends = ["timeout_after_store"]
    fake_rasa.tracker_failures = 1
    second = client.post(f"{API}/handoffs/{handoff_id}/messages", json={"text": "第二条"}).json()
    assert second["status"] == "failed" and "没能确认" in second["error"]
    attempts = len(fake_rasa.appends)
    # The retry finds it in the tracker: marked sent, nothing posted again.
    retried = client.post(f"{API}/messages/{second['id']}/retry").json()
    assert retried["status"] == "sent"
    assert len(fake_rasa.appends) == attempts
    texts = [e["text"] for e in fake_rasa.bot_events("w5") if "agent_message_id" in e["metadata"]]
    assert texts == ["第一条", "第二条"]
    with Session(get_engine(db_url)) as session:
        statuses = session.execute(select(AgentMessage.status).order_by(AgentMessage.id))
        assert [s.value for s in statuses.scalars()] == ["sent", "sent"]
        assert session.get(Handoff, handoff_id).first_reply_at is not None


def test_messages_left_pending_are_settled_by_the_tracker(
        db_url: str, console_app, fake_rasa: FakeRasa) -> None:
    import datetime as dt

    wang = add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "w6", channel="widget")
    delivery = console_app.state.console.delivery
    with Session(get_engine(db_url)) as session, session.begin():
        from console import service
        service.claim(session, handoff_id, wang)
    delivered = delivery.create(handoff_id, wang, "送到了")
    lost = delivery.create(handoff_id, wang, "没送到")
    fake_rasa.trackers["w6"] = [{"event": "bot", "text": "送到了", "timestamp": time.time(),
                                 "metadata": {"agent_message_id": delivered}}]
    assert delivery.reconcile(dt.timedelta(seconds=-1)) == 2
    with Session(get_engine(db_url)) as session:
        assert session.get(AgentMessage, delivered).status.value == "sent"
        assert session.get(AgentMessage, lost).status.value == "failed"


def test_rest_replies_are_written_to_the_tracker_for_the_integration(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    handoff_id = queue_handoff(db_url, "api-user-1", channel="rest")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")
    view = client.get(f"{API}/handoffs/{handoff_id}").json()
    assert view["can_push"] is False
    sent = client.post(f"{API}/handoffs/{handoff_id}/messages", json={"text": "请稍等"}).json()
    assert sent["status"] == "sent"
    assert fake_rasa.appends[-1]["output_channel"] == "rest"


def test_conversation_view_masks_and_keeps_notes_internal(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    fake_rasa.user_says("oM3", "我的商户号1900000002，手机13800000002，卡号6222020200112233445")
    fake_rasa.trackers["oM3"].append({"event": "bot", "text": "好的，我帮你转人工。",
                                      "timestamp": time.time(), "metadata": {}})
    handoff_id = queue_handoff(db_url, "oM3")
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{handoff_id}/claim")
    appends_before = len(fake_rasa.appends)
    note = client.post(f"{API}/handoffs/{handoff_id}/notes", json={"text": "商户情绪急，先安抚"})
    assert note.status_code == 200
    assert len(fake_rasa.appends) == appends_before  # a note never goes to the merchant

    view = client.get(f"{API}/handoffs/{handoff_id}").json()
    merchant_line = view["transcript"][0]
    assert merchant_line["role"] == "merchant"
    text = merchant_line["text"]
    assert "1900000002" not in text and "1900****02" in text
    assert "13800000002" not in text and "138********" in text
    assert "6222020200112233445" not in text
    # The join notice is a system line, not the bot speaking.
    assert [line["role"] for line in view["transcript"]] == ["merchant", "bot", "system"]
    # A choice shows what the merchant typed or clicked, not the payload (when the bot
    # offered it just before: test_transcript_integrity.py).
    offer = {"event": "bot", "text": "要先核对身份吗？", "timestamp": time.time(),
             "metadata": {}, "data": {"buttons": [
                 {"title": "1 先核对身份", "payload": "/affirm"},
                 {"title": "2 帮我挑一个", "payload": "/inform"}]}}
    fake_rasa.trackers["oM3"] += [
        {"event": "user", "text": "/deny", "timestamp": time.time(), "input_channel": "wechat",
         "metadata": {"wechat": {"choice": {"number": 2, "typed": "2"}}}},
        offer,
        {"event": "user", "text": "/affirm", "timestamp": time.time(), "input_channel": "widget",
         "metadata": {"widget": {"display": "1 先核对身份"}}},
        offer,
        {"event": "user", "text": "/inform", "timestamp": time.time(), "input_channel": "rest",
         "metadata": {"choice": {"typed": "帮我挑一个", "number": 2, "payload": "/inform"}}},
        {"event": "user", "text": "/affirm", "timestamp": time.time(), "metadata": {}}]
    later = [line for line in client.get(f"{API}/handoffs/{handoff_id}").json()["transcript"]
             if line["role"] != "bot"]
    assert [line["text"] for line in later[-4:]] == ["2", "1 先核对身份", "帮我挑一个",
                                                     "商户点了一个按钮"]
    assert view["account"]["state_label"] == "限制收款"
    assert view["account"]["appeals"][0]["id"] == "AP20261120001"
    assert [n["text"] for n in view["notes"]] == ["商户情绪急，先安抚"]
    assert view["handoff"]["reason_label"] == "商户要求转人工"


def test_canned_replies_start_from_the_assistants_faq_topics(client: TestClient,
                                                             db_url: str) -> None:
    """The team's own list now (tests/console/test_team_tools.py), seeded with them."""
    add_agent(db_url, "wang", "小王")
    sign_in(client, "wang")
    canned = {c["title"]: c for c in client.get(f"{API}/canned").json()["items"]}
    assert {"客服电话95017怎么打", "申诉步骤和材料", "多久能解除", "钱会不会没了"} <= canned.keys()
    assert "95017" in canned["客服电话95017怎么打"]["text"]
    assert all(len(c["text"]) <= 600 for c in canned.values())


def test_only_the_agent_holding_a_ticket_sees_the_whole_call_back_number(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    add_agent(db_url, "li", "小李")
    fake_rasa.user_says("oM9", "转人工，申诉一个月了还没结果")
    ticket = queue_handoff(db_url, "oM9", ticket=True, contact_phone="13900001111")
    sign_in(client, "li")
    before = client.get(f"{API}/handoffs/{ticket}").json()
    assert before["callback_phone"] is None  # nobody holds it yet
    sign_in(client, "wang")
    client.post(f"{API}/handoffs/{ticket}/claim")
    held = client.get(f"{API}/handoffs/{ticket}").json()
    assert held["callback_phone"] == "13900001111"  # the holder has to call back
    assert held["handoff"]["contact_phone"] == "139********"  # lists stay masked
