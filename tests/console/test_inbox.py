"""The inbox's API (``/console/api/inbox`` and ``/actions``) on SQLite and PostgreSQL,
over the seeded day of tests/db/test_inbox.py (two groups and two noise messages; the
fake topic embedder stands in for e5): signed-in agents only, Chinese 422s, audited
actions, triaged messages gone, "add as similar question" only ever a draft."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from console.app import create_app
from core.db.session import get_engine
from core.knowledge import store
from tests.console.conftest import Sleeps, add_agent, settings_for, sign_in
from tests.console.fake_rasa import FakeRasa
from tests.db.test_inbox import (
    GROUP_A,
    GROUP_B,
    seed_entries,
    texts,
    the_inbox_day,
    topic_embed,
)
from tests.db.test_insights import events_url_for, write_events

INBOX = "/console/api/inbox"
ACTIONS = "/console/api/inbox/actions"
DAY = {"from": "2026-12-01", "to": "2026-12-01"}


@pytest.fixture(autouse=True)
def fake_embedder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The topic embedder instead of e5, and a private vector cache it cannot spoil."""
    monkeypatch.setattr("core.knowledge.vectors.CACHE_FILE", tmp_path / "v.sqlite")
    monkeypatch.setattr("core.knowledge.vectors.default_embed", topic_embed)


@pytest.fixture()
def inbox_client(db_url: str, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HANDOFF_TZ", "Asia/Shanghai")
    seed_entries(db_url)
    events_url = events_url_for(db_url, tmp_path)
    events = create_engine(events_url, future=True)
    write_events(events, the_inbox_day())
    events.dispose()
    add_agent(db_url, "zhang", "主管老张", supervisor=True)
    app = create_app(settings_for(db_url, events_db_url=events_url),
                     rasa_transport=FakeRasa().transport(), sleep=Sleeps(), background=False)
    with TestClient(app) as client:
        yield client


def signed_in(client: TestClient) -> TestClient:
    sign_in(client, "zhang")
    return client


def groups(client: TestClient) -> list[dict[str, Any]]:
    response = client.get(INBOX, params=DAY)
    assert response.status_code == 200, response.text
    return response.json()["groups"]


def test_without_a_session_nothing_is_shown_or_done(inbox_client: TestClient) -> None:
    assert inbox_client.get(INBOX, params=DAY).json() == {"detail": "请先登录"}
    assert inbox_client.get(INBOX, params=DAY).status_code == 401
    response = inbox_client.post(ACTIONS, json={"action": "ignore", "message_ids": [1]})
    assert response.status_code == 401
    assert inbox_client.get(ACTIONS).status_code == 401


def test_the_groups_of_the_day(inbox_client: TestClient) -> None:
    found = groups(signed_in(inbox_client))
    assert [g["count"] for g in found] == [5, 3, 1, 1]
    assert texts(found[0]) == GROUP_A and texts(found[1]) == GROUP_B
    assert found[0]["suggestions"][0]["entry_id"] == "qr_code_blocked"
    assert "13912345678" not in str(found)


@pytest.mark.parametrize(("params", "message"), [
    ({"to": "2026-12-01"}, "请选择开始日期（格式 YYYY-MM-DD）"),
    ({"from": "2026-12-1", "to": "2026-12-01"}, "开始日期格式不对，应为 YYYY-MM-DD，例如 2026-12-01"),
    ({"from": "2026-12-02", "to": "2026-12-01"}, "结束日期不能早于开始日期"),
    ({"from": "2025-01-01", "to": "2026-12-01"}, "一次最多统计366天"),
])
def test_bad_periods_are_refused_in_chinese(inbox_client: TestClient, params: dict[str, str],
                                           message: str) -> None:
    response = signed_in(inbox_client).get(INBOX, params=params)
    assert response.status_code == 422
    assert response.json() == {"detail": message}


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "delete", "message_ids": [4]},
     "操作不对，应为 similar（加为相似问）、out_of_scope（超出范围）或 ignore（忽略）"),
    ({"action": "ignore", "message_ids": []}, "请选择要处理的消息（1到500条）"),
    ({"action": "ignore", "message_ids": [0]}, "请选择要处理的消息（1到500条）"),
    ({"action": "similar", "message_ids": [4]}, "请选择要加入相似问的知识条目"),
    ({"action": "similar", "message_ids": [4], "entry_id": "qr_code_blocked",
      "question": " "}, "相似问不能为空"),
    ({"action": "ignore", "message_ids": [4], "entry_id": "qr_code_blocked"},
     "只有“加为相似问”需要知识条目"),
])
def test_bad_actions_are_refused_in_chinese(inbox_client: TestClient, body: dict[str, Any],
                                           message: str) -> None:
    response = signed_in(inbox_client).post(ACTIONS, json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": message}


def test_an_action_needs_the_csrf_token(inbox_client: TestClient) -> None:
    client = signed_in(inbox_client)
    ids = groups(client)[-1]["message_ids"]
    del client.headers["X-CSRF-Token"]
    assert client.post(ACTIONS, json={"action": "ignore", "message_ids": ids}).status_code == 403
    assert len(groups(client)) == 4


def test_unknown_messages_and_entries_are_404(inbox_client: TestClient) -> None:
    client = signed_in(inbox_client)
    assert client.post(ACTIONS, json={"action": "ignore", "message_ids": [99999]}
                       ).status_code == 404
    ids = groups(client)[0]["message_ids"]
    response = client.post(ACTIONS, json={"action": "similar", "message_ids": ids,
                                          "entry_id": "no_such_entry"})
    assert response.status_code == 404 and response.json() == {"detail": "没有这个知识条目"}


def test_add_as_similar_makes_a_draft_and_the_group_leaves(inbox_client: TestClient,
                                                           db_url: str) -> None:
    client = signed_in(inbox_client)
    a = groups(client)[0]
    with Session(get_engine(db_url)) as session:
        version = store.version(session)
        before = store.published_entries(session, ["qr_code_blocked"])["qr_code_blocked"]
    response = client.post(ACTIONS, json={"action": "similar", "message_ids": a["message_ids"],
                                          "entry_id": "qr_code_blocked"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["draft_revision"] == 2
    assert set(answer["added"]) == GROUP_A
    with Session(get_engine(db_url)) as session:
        revisions = store.history(session, "qr_code_blocked")
        assert [(r.number, r.status.value, r.author) for r in revisions] == [
            (1, "published", "seed"), (2, "draft", "zhang")]
        assert set(store.entry_of(revisions[-1]).similar) >= GROUP_A
        # Nothing is answered differently until the supervisor publishes.
        assert store.version(session) == version
        assert store.published_entries(session, ["qr_code_blocked"])["qr_code_blocked"] == before
    remaining = groups(client)
    assert [g["count"] for g in remaining] == [3, 1, 1]
    audit = client.get(ACTIONS).json()["actions"]
    assert [(x["action"], x["agent"], x["entry_id"], x["revision"], x["messages"])
            for x in audit] == [("similar", "zhang", "qr_code_blocked", 2, 5)]
    again = client.post(ACTIONS, json={"action": "similar", "message_ids": a["message_ids"],
                                       "entry_id": "qr_code_blocked"})
    assert again.status_code == 409
    assert again.json() == {"detail": "有的消息已经处理过了，请刷新后重试"}
    with Session(get_engine(db_url)) as session:
        assert len(store.history(session, "qr_code_blocked")) == 2  # no second draft


def test_one_message_out_of_scope_and_an_edited_question(inbox_client: TestClient,
                                                         db_url: str) -> None:
    client = signed_in(inbox_client)
    b = groups(client)[1]
    first, *rest = b["message_ids"]
    response = client.post(ACTIONS, json={"action": "out_of_scope", "message_ids": [first],
                                          "note": "结算组负责"})
    assert response.status_code == 200, response.text
    assert response.json()["draft_revision"] is None
    left = groups(client)
    assert [g["count"] for g in left] == [5, 2, 1, 1]
    assert left[1]["message_ids"] == rest
    edited = client.post(ACTIONS, json={"action": "similar", "message_ids": rest,
                                        "entry_id": "withdraw_time", "question": "提现一直不到账"})
    assert edited.status_code == 200 and edited.json()["added"] == ["提现一直不到账"]
    with Session(get_engine(db_url)) as session:
        latest = store.history(session, "withdraw_time")[-1]
        assert latest.status.value == "draft"
        assert store.entry_of(latest).similar[-1] == "提现一直不到账"
    audit = client.get(ACTIONS).json()["actions"]
    assert [(x["action"], x["note"]) for x in audit] == [
        ("similar", None), ("out_of_scope", "结算组负责")]


def test_the_page_is_served_under_the_strict_policy(inbox_client: TestClient) -> None:
    response = inbox_client.get("/console/inbox")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert '<script src="/console/static/inbox.js"' in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    for name in ("inbox.js", "inbox.css"):
        assert inbox_client.get(f"/console/static/{name}").status_code == 200
    # The page writes every text with textContent: nothing a message says becomes HTML.
    script = inbox_client.get("/console/static/inbox.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_a_supervisor_triages_groups_in_chromium(tmp_path: Path) -> None:
    """The console as its own process (the shipped e5 model groups the day), the page in
    Chromium under the console's CSP: a group turned into a draft, another ignored."""
    if not CHROMIUM.exists():
        pytest.skip("!!! /usr/bin/chromium missing: browser test SKIPPED !!!")
    from playwright.sync_api import expect, sync_playwright

    from core.db.migrate import upgrade
    from tests.console.servers import running_console

    db_url = f"sqlite:///{tmp_path / 'merchant.db'}"
    upgrade(db_url)
    seed_entries(db_url)
    add_agent(db_url, "zhang", "主管老张", supervisor=True)
    events_db = tmp_path / "events.db"
    engine = create_engine(f"sqlite:///{events_db}", future=True)
    write_events(engine, the_inbox_day())
    engine.dispose()
    with running_console(tmp_path, db_url, "http://127.0.0.1:9", "token-unused",
                         events_db) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            errors: list[str] = []
            page.on("console", lambda message: message.type == "error"
                    and errors.append(message.text))
            page.goto(f"{url}/console/inbox")
            page.wait_for_selector("#signin:not([hidden])")  # not signed in yet
            page.goto(f"{url}/console/")
            page.fill("#login-username", "zhang")
            page.fill("#login-password", "correct horse battery")
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.goto(f"{url}/console/inbox")
            page.fill("#from", "2026-12-01")
            page.fill("#to", "2026-12-01")
            page.click("#period button[type=submit]")
            page.wait_for_selector("#status:has-text('10 条消息')")
            groups = page.locator("section.group")
            before = groups.count()
            assert before >= 2
            assert "13912345678" not in page.inner_text("#groups")
            first = groups.first
            first.locator("select").select_option("qr_code_blocked")
            first.locator("button:text-is('加为相似问')").click()
            page.wait_for_selector("#status:has-text('qr_code_blocked 的草稿')")
            expect(groups).to_have_count(before - 1)
            groups.last.locator("button:text-is('忽略')").click()
            expect(groups).to_have_count(before - 2)
            page.fill("#to", "2026-11-30")
            page.click("#period button[type=submit]")
            page.wait_for_selector("#error:has-text('结束日期不能早于开始日期')")
            assert not [text for text in errors if "Content Security Policy" in text], errors
        finally:
            browser.close()
    with Session(get_engine(db_url)) as session:
        assert store.history(session, "qr_code_blocked")[-1].status.value == "draft"


def test_an_agent_who_is_not_a_supervisor_cannot_triage(inbox_client: TestClient,
                                                        db_url: str) -> None:
    add_agent(db_url, "chen_agent", "小陈")
    sign_in(inbox_client, "chen_agent")
    assert inbox_client.get("/console/api/inbox").status_code == 403
    assert inbox_client.post("/console/api/inbox/actions",
                             json={"action": "ignore", "message_ids": ["1:x"]}).status_code == 403
