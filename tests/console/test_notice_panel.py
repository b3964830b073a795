"""The 审核结果通知 panel (``GET /console/api/handoffs/{id}/notices``, console.notice_panel):
each appeal's consent (that a phrase is set, never the phrase) and its notices' status,
attempts, error and next try, for whoever may read the conversation."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from console.live import Hub, Watcher, follow
from console.wechat_templates import TemplateSender, TemplateSettings
from core.db import appeal_events, handoffs, notices
from core.db.appeal_events import DecisionKind
from core.db.migrate import upgrade
from core.db.models import Handoff
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.console.conftest import PASSWORD, SNAPSHOT, add_agent, queue_handoff, sign_in
from tests.console.fake_rasa import FakeRasa
from tests.console.test_appeal_events import (  # noqa: F401 (backoffice_secret: autouse)
    APPROVED,
    MATERIALS,
    OPEN_APPEAL,
    backoffice_secret,
    post,
)
from tests.console.test_materials import make_supervisor
from tests.console.test_notices import PHRASE, WECHAT, consent, make_due, rows, worker
from tests.console.test_team_tools_browser import CHROMIUM, SHOTS

API = "/console/api"
MERCHANT = "1900000003"  # the seed's merchant of OPEN_APPEAL


def held(db_url: str, make_client: Any, fake_rasa: FakeRasa, sender: str = WECHAT,
         merchant: str | None = None) -> tuple[int, TestClient]:
    """A conversation of ``sender`` held by 小王 (of ``merchant`` when given)."""
    add_agent(db_url, "wang", "小王")
    wang = make_client()
    sign_in(wang, "wang")
    fake_rasa.user_says(sender, "审核结果出来了吗", ts=time.time() - 50 * 3600)
    handoff = queue_handoff(db_url, sender, reason="appeal_help")
    with Session(get_engine(db_url)) as session, session.begin():
        session.execute(update(Handoff).where(Handoff.id == handoff)
                        .values(merchant_id=merchant))
    assert wang.post(f"{API}/handoffs/{handoff}/claim").status_code == 200
    return handoff, wang


def test_each_notice_shows_its_status_and_the_phrase_only_as_set(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    consent(db_url)
    fake_rasa.user_says(WECHAT, f"暗号 {PHRASE}", ts=time.time() - 51 * 3600)
    handoff, wang = held(db_url, make_client, fake_rasa)
    empty = wang.get(f"{API}/handoffs/{handoff}/notices").json()
    assert empty["appeals"] == [{"appeal_id": OPEN_APPEAL, "consent": True,
                                 "phrase_set": True, "channel_label": "微信",
                                 "notices": []}]
    post(client, OPEN_APPEAL, "evt-p-1", MATERIALS)
    pending = wang.get(f"{API}/handoffs/{handoff}/notices").json()
    [item] = pending["appeals"][0]["notices"]
    assert (item["kind_label"], item["status"], item["status_label"], item["attempts"]) == (
        "需补充材料", "pending", "待发送", 0)
    assert item["next_attempt_at"] and item["error"] is None

    # No template configured and the window closed: waiting for the window.
    work = worker(db_url, fake_rasa)
    work.run_once()
    [item] = wang.get(f"{API}/handoffs/{handoff}/notices").json()["appeals"][0]["notices"]
    assert (item["status"], item["status_label"], item["attempts"]) == (
        "waiting_window", "等待微信48小时窗口", 1)
    assert item["error_code"] == "45015" and "48小时" in item["error"]
    assert item["next_attempt_at"] > time.time()

    # WeChat over quota: failed, with the error, the attempts and the next try.
    fake_rasa.user_says(WECHAT, "在吗")
    fake_rasa.channel_error = "WeChat message/custom/send failed: errcode=45047 errmsg=limit"
    fake_rasa.next_appends = ["channel_error"]
    make_due(db_url)
    work.run_once()
    answer = wang.get(f"{API}/handoffs/{handoff}/notices")
    [item] = answer.json()["appeals"][0]["notices"]
    assert (item["status"], item["status_label"], item["attempts"]) == (
        "failed", "发送失败，将重试", 2)
    assert item["error_code"] == "45047" and "limit" in item["error"]
    assert 0 < item["next_attempt_at"] - time.time() <= 5 * 60 + 5

    make_due(db_url)
    work.run_once()
    answer = wang.get(f"{API}/handoffs/{handoff}/notices")
    [item] = answer.json()["appeals"][0]["notices"]
    assert (item["status"], item["status_label"], item["via_label"]) == (
        "sent", "已发送", "对话消息")
    assert item["sent_at"] and item["next_attempt_at"] is None and item["error"] is None
    # The phrase never reaches an agent, in no answer of the console: neither the one
    # the merchant typed nor the one the notice carries, in the conversation's view.
    view = wang.get(f"{API}/handoffs/{handoff}")
    for text in (empty, pending, answer.text, view.text):
        assert PHRASE not in str(text)
    lines = [line["text"] for line in view.json()["transcript"]]
    assert "暗号 ***" in lines and any("暗号：“***”" in line for line in lines)
    work.close()


async def test_the_live_feed_hides_the_phrase(db_url: str, fake_rasa: FakeRasa) -> None:
    consent(db_url)
    handoff = queue_handoff(db_url, WECHAT, reason="appeal_help")
    hub = Hub()
    _, queue = hub.subscribe(1)
    watcher = Watcher(get_engine(db_url), hub, poll_s=0.05)

    class Source:
        async def events(self) -> AsyncIterator[dict[str, Any]]:
            yield {"event": "user", "sender_id": WECHAT, "text": f"暗号：{PHRASE}",
                   "timestamp": time.time(), "input_channel": "wechat"}

        async def close(self) -> None:
            return None

    await follow(Source(), watcher, hub)
    message = await asyncio.wait_for(queue.get(), 5)
    assert message["handoff_id"] == handoff
    assert message["entry"]["text"] == "暗号：***"


def test_a_template_message_and_an_error_naming_the_phrase_are_shown_masked(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    consent(db_url)
    handoff, wang = held(db_url, make_client, fake_rasa, merchant=MERCHANT)
    post(client, OPEN_APPEAL, "evt-p-2", APPROVED)
    fake_rasa.user_says(WECHAT, "在吗")
    fake_rasa.channel_error = f"WeChat failed: errcode=47003 errmsg=bad data {PHRASE}"
    fake_rasa.next_appends = ["channel_error"]
    work = worker(db_url, fake_rasa)
    work.run_once()
    answer = wang.get(f"{API}/handoffs/{handoff}/notices")
    [item] = answer.json()["appeals"][0]["notices"]
    assert item["error_code"] == "47003" and "***" in item["error"]
    assert PHRASE not in answer.text and PHRASE in rows(db_url)[0].last_error
    work.close()


def test_the_merchant_s_other_conversation_sees_the_notices_too(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    consent(db_url)
    post(client, OPEN_APPEAL, "evt-p-3", APPROVED)
    # The same verified merchant on the widget: their appeal's notices, by merchant.
    handoff, wang = held(db_url, make_client, fake_rasa, sender="web-merchant-3",
                         merchant=MERCHANT)
    appeals = wang.get(f"{API}/handoffs/{handoff}/notices").json()["appeals"]
    assert [(a["appeal_id"], a["channel_label"], len(a["notices"])) for a in appeals] == [
        (OPEN_APPEAL, "微信", 1)]


def test_who_may_not_read_the_conversation_gets_404_and_no_session_401(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    consent(db_url)
    post(client, OPEN_APPEAL, "evt-p-4", APPROVED)
    handoff, _ = held(db_url, make_client, fake_rasa)
    add_agent(db_url, "li", "小李")
    make_supervisor(db_url, add_agent(db_url, "boss", "组长"))
    li, boss, stranger = make_client(), make_client(), make_client()
    sign_in(li, "li")
    sign_in(boss, "boss")
    url = f"{API}/handoffs/{handoff}/notices"
    answer = stranger.get(url)
    assert answer.status_code == 401 and answer.json() == {"detail": "请先登录"}
    refused = li.get(url)  # a colleague not holding the conversation
    missing = li.get(f"{API}/handoffs/{handoff + 1000}/notices")
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json()
    assert OPEN_APPEAL not in refused.text
    assert boss.get(url).status_code == 200  # a supervisor reads every conversation
    assert len(boss.get(url).json()["appeals"][0]["notices"]) == 1


def test_a_conversation_without_consents_says_so(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    post(client, OPEN_APPEAL, "evt-p-5", APPROVED)  # no consent: no notice
    handoff, wang = held(db_url, make_client, fake_rasa, merchant=MERCHANT)
    assert wang.get(f"{API}/handoffs/{handoff}/notices").json() == {"appeals": []}


def test_a_template_message_is_shown_as_such(
        db_url: str, client: TestClient, make_client: Any, fake_rasa: FakeRasa) -> None:
    from tests.wechat.fake_wechat import FakeWeChat  # noqa: PLC0415

    fake = FakeWeChat(app_id="wx1", app_secret="s").start()
    try:
        consent(db_url)
        handoff, wang = held(db_url, make_client, fake_rasa)
        post(client, OPEN_APPEAL, "evt-p-6", APPROVED)
        sender = TemplateSender(TemplateSettings("TPL-APPEAL-RESULT", "wx1", "s", fake.url))
        work = worker(db_url, fake_rasa, templates=sender)
        work.run_once()
        work.close()
        [item] = wang.get(f"{API}/handoffs/{handoff}/notices").json()["appeals"][0]["notices"]
        assert (item["status"], item["via"], item["via_label"]) == (
            "sent", "template", "微信模板消息")
    finally:
        fake.stop()


@pytest.mark.browser
def test_the_panel_in_the_console_page(tmp_path: Path) -> None:
    """The 审核结果通知 panel as an agent sees it: the status and error, never the phrase."""
    if not CHROMIUM.exists():
        pytest.skip("!!! /usr/bin/chromium missing: browser test SKIPPED !!!")
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    from tests.console.servers import running_console  # noqa: PLC0415

    db_url = f"sqlite:///{tmp_path / 'merchant.db'}"
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    add_agent(db_url, "zhang", "老张", supervisor=True)
    with Session(get_engine(db_url)) as session, session.begin():
        handoffs.queue(session, "wechat", WECHAT, "appeal_help", "申诉多久有结果",
                       merchant_id=MERCHANT,
                       account_snapshot=json.dumps(SNAPSHOT, ensure_ascii=False))
    consent(db_url)
    with Session(get_engine(db_url)) as session, session.begin():
        appeal_events.record_event(session, OPEN_APPEAL, "evt-b-1", DecisionKind.approved,
                                   "交易真实", [], dt.datetime(2026, 11, 24, 1, 30))
        [due] = notices.claim_due(session)
        notices.mark_failed(session, due, "45047", f"errcode=45047 errmsg=limit {PHRASE}")
    get_engine(db_url).dispose()
    with running_console(tmp_path, db_url, "http://127.0.0.1:9", "token-unused",
                         tmp_path / "events.db") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"])
        errors: list[str] = []
        try:
            page = browser.new_context(locale="zh-CN",
                                       viewport={"width": 1440, "height": 900}).new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(f"{url}/console/")
            page.fill("#login-username", "zhang")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.locator(".sidebar .card").first.click()
            panel = page.locator("#notices")
            expect(panel).to_contain_text(OPEN_APPEAL)
            expect(panel).to_contain_text("已设暗号（不显示）")
            expect(panel).to_contain_text("发送失败，将重试")
            expect(panel).to_contain_text("45047：errcode=45047 errmsg=limit ***")
            expect(panel).to_contain_text("1 次尝试 · 下次")
            assert PHRASE not in page.content()
            if SHOTS is not None:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / "notices-1440.png"), full_page=True)
        finally:
            browser.close()
        assert not [e for e in errors if "notices" in e], errors
