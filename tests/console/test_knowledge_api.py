"""The knowledge base's API: signed-in agents only, drafts change nothing, publishing is
checked, rollback brings the last answer back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from core.db.session import get_engine
from core.knowledge import store
from tests.console.conftest import add_agent, sign_in
from tests.knowledge.conftest import fake_embed, make_entry


@pytest.fixture(autouse=True)
def no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.knowledge.vectors.CACHE_FILE", tmp_path / "v.sqlite")
    monkeypatch.setattr("core.knowledge.vectors.default_embed", fake_embed)


@pytest.fixture()
def seeded(merchant_db: str) -> str:
    entries = [make_entry("fee_rate", "费率是多少", "一般0.6%左右。", "手续费多少", "扣几个点",
                          "费率怎么算", "收款手续费", "费率高不高"),
               make_entry("contact_support", "客服电话", "打95017。", "客服号码", "人工电话",
                          "怎么联系客服", "95017是客服吗", "客服热线")]
    with Session(get_engine(merchant_db)) as session, session.begin():
        store.sync(session, entries, embed=fake_embed)
    return merchant_db


def content(answer: str, **extra: Any) -> dict[str, Any]:
    return {"question": "费率是多少", "answer": answer,
            "similar": ["手续费多少", "扣几个点", "费率怎么算", "收款手续费", "费率高不高"],
            **extra}


def test_without_a_session_nothing_is_shown_or_changed(client: TestClient, seeded: str) -> None:
    assert client.get("/console/api/knowledge").status_code == 401
    assert client.put("/console/api/knowledge/fee_rate",
                      json={"content": content("x")}).status_code == 401


def test_draft_publish_and_rollback(client: TestClient, seeded: str) -> None:
    add_agent(seeded, "wang", "小王")
    sign_in(client, "wang")
    listed = client.get("/console/api/knowledge").json()
    assert {e["id"] for e in listed["entries"]} == {"fee_rate", "contact_support"}
    version = listed["version"]
    saved = client.put("/console/api/knowledge/fee_rate",
                       json={"content": content("以合同为准。"), "note": "clearer"})
    assert saved.status_code == 200 and saved.json()["status"] == "draft"
    assert client.get("/console/api/knowledge/fee_rate").json()["content"]["answer"] == "一般0.6%左右。"
    published = client.post("/console/api/knowledge/fee_rate/publish", json={})
    assert published.status_code == 200 and published.json()["version"] == version + 1
    shown = client.get("/console/api/knowledge/fee_rate").json()
    assert shown["content"]["answer"] == "以合同为准。"
    assert [r["author"] for r in shown["revisions"]] == ["seed", "wang"]
    back = client.post("/console/api/knowledge/fee_rate/rollback")
    assert back.status_code == 200
    assert client.get("/console/api/knowledge/fee_rate").json()["content"]["answer"] == "一般0.6%左右。"


def test_invalid_or_conflicting_entries_are_refused_with_every_reason(
        client: TestClient, seeded: str) -> None:
    add_agent(seeded, "wang", "小王")
    sign_in(client, "wang")
    bad = client.put("/console/api/knowledge/fee_rate",
                     json={"content": {"question": "", "answer": "", "similar": ["a"]}})
    assert bad.status_code == 422
    problems = bad.json()["detail"]["problems"]
    assert len(problems) >= 3
    clash = client.put("/console/api/knowledge/new_entry", json={"content": {
        "question": "新问题", "answer": "新答案",
        "similar": ["客服号码", "n1", "n2", "n3", "n4"]}})
    assert clash.status_code == 200
    refused = client.post("/console/api/knowledge/new_entry/publish", json={})
    assert refused.status_code == 409
    assert "contact_support" in " ".join(refused.json()["detail"]["problems"])
    assert client.post("/console/api/knowledge/nothing/rollback").status_code == 409
    assert client.get("/console/api/knowledge/nothing").status_code == 404


def test_a_change_is_committed_before_the_answer_is_sent(
        client: TestClient, seeded: str, console_app: Any) -> None:
    """The moment the answer starts, another connection sees the saved draft and the
    published revision: an agent (or the assistant) acting on the answer finds them."""
    add_agent(seeded, "wang", "小王")
    csrf = sign_in(client, "wang")
    cookie = client.cookies.get("console_session")
    # Not the app's engine: on SQLite it begins every transaction IMMEDIATE, and this
    # reader must not wait for the request's own write lock.
    reader = create_engine(seeded)

    def revisions() -> list[str]:
        with Session(reader) as session:
            return [r.status.value for r in store.history(session, "fee_rate")]

    async def call(method: str, path: str, body: dict[str, Any]) -> tuple[int, list[str]]:
        seen: list[tuple[int, list[str]]] = []
        payload = json.dumps(body).encode()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("testclient", 50000),
            "server": ("testserver", 80),
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                        (b"cookie", f"console_session={cookie}".encode()),
                        (b"x-csrf-token", csrf.encode())],
        }

        requests = [{"type": "http.request", "body": payload, "more_body": False}]
        answered = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if requests:
                return requests.pop()
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen.append((message["status"], revisions()))
            elif not message.get("more_body"):
                answered.set()

        await console_app(scope, receive, send)
        return seen[0]

    try:
        assert asyncio.run(call("PUT", "/console/api/knowledge/fee_rate",
                                {"content": content("以合同为准。")})) == (
            200, ["published", "draft"])
        assert asyncio.run(call("POST", "/console/api/knowledge/fee_rate/publish", {})) == (
            200, ["superseded", "published"])
    finally:
        reader.dispose()
