"""The back-office API (POST /api/v1/appeals/{id}/events) on SQLite and PostgreSQL:
signatures, stale timestamps, replays, idempotency, conflicts, unknown appeals, body
validation, and the appeal's status the assistant reads."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.routes.appeal_events import WINDOW_S
from core.db import appeal_events
from core.db.appeal_events import AppealEvent, DecisionKind
from core.db.models import Appeal, AppealStatus
from core.db.session import get_engine

SECRET = "test-backoffice-secret"
OPEN_APPEAL = "AP20261120001"  # seed: reviewing (instant_withdrawal)
REJECTED_APPEAL = "AP20261118002"  # seed: rejected
MATERIALS = {"kind": "needs_materials", "reason": "需要补充与提现对应的真实交易记录",
             "missing_materials": ["营业执照", "近30天订单截图"],
             "decided_at": "2026-11-23T10:00:00+08:00"}
APPROVED = {"kind": "approved", "reason": "交易真实，已解除限制",
            "decided_at": "2026-11-24T09:30:00+08:00"}


@pytest.fixture(autouse=True)
def backoffice_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKOFFICE_SECRET", SECRET)


def signed(body: bytes, appeal_id: str, event_id: str, offset: int = 0,
           secret: str = SECRET) -> dict[str, str]:
    """The headers the risk system sends (docs/backoffice.md); ``offset``: seconds off
    the current time."""
    stamp = str(int(time.time()) + offset)
    message = f"{stamp}\n{event_id}\n{appeal_id}\n".encode() + body
    return {"Content-Type": "application/json", "X-Backoffice-Timestamp": stamp,
            "X-Backoffice-Event-Id": event_id,
            "X-Backoffice-Signature": hmac.new(secret.encode(), message,
                                               hashlib.sha256).hexdigest()}


def post(client: TestClient, appeal_id: str, event_id: str, payload: dict[str, Any],
         **signing: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return client.post(f"/api/v1/appeals/{appeal_id}/events", content=body,
                       headers=signed(body, appeal_id, event_id, **signing))


def appeal_row(db_url: str, appeal_id: str) -> tuple[AppealStatus, str | None]:
    with Session(get_engine(db_url)) as session:
        appeal = session.get(Appeal, appeal_id)
        return appeal.status, appeal.decision_note


def event_count(db_url: str) -> int:
    with Session(get_engine(db_url)) as session:
        return session.execute(select(func.count(AppealEvent.event_id))).scalar_one()


def test_a_signed_decision_moves_the_appeal_and_the_assistant_reads_it(
        db_url: str, client: TestClient) -> None:
    response = post(client, OPEN_APPEAL, "evt-1", MATERIALS)
    assert response.status_code == 200, response.text
    assert response.json()["appeal_status"] == "reviewing"
    assert response.headers["cache-control"] == "no-store"
    assert appeal_row(db_url, OPEN_APPEAL) == (AppealStatus.reviewing, MATERIALS["reason"])
    with Session(get_engine(db_url)) as session:
        decision = appeal_events.latest_decision(session, OPEN_APPEAL.lower())
    assert decision is not None
    assert (decision.kind, decision.reason, decision.missing_materials) == (
        DecisionKind.needs_materials, MATERIALS["reason"], ("营业执照", "近30天订单截图"))
    assert decision.decided_at.isoformat() == "2026-11-23T02:00:00"  # stored in UTC

    response = post(client, OPEN_APPEAL, "evt-2", APPROVED)
    assert response.status_code == 200, response.text
    assert response.json() == {**response.json(), "event_id": "evt-2",
                               "appeal_id": OPEN_APPEAL, "kind": "approved",
                               "appeal_status": "approved"}
    assert appeal_row(db_url, OPEN_APPEAL) == (AppealStatus.approved, APPROVED["reason"])
    with Session(get_engine(db_url)) as session:
        latest = appeal_events.latest_decisions(session, [OPEN_APPEAL, REJECTED_APPEAL])
    assert set(latest) == {OPEN_APPEAL}
    assert latest[OPEN_APPEAL].kind == DecisionKind.approved


def test_the_same_event_again_gets_the_same_answer_and_changes_nothing(
        db_url: str, client: TestClient) -> None:
    first = post(client, OPEN_APPEAL, "evt-same", MATERIALS)
    assert first.status_code == 200
    # Signed afresh (another timestamp), the body serialised differently: a retry.
    retry_body = json.dumps(dict(reversed(list(MATERIALS.items()))), indent=2,
                            ensure_ascii=False).encode()
    retry = client.post(f"/api/v1/appeals/{OPEN_APPEAL}/events", content=retry_body,
                        headers=signed(retry_body, OPEN_APPEAL, "evt-same",
                                       offset=-5))
    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert event_count(db_url) == 1


def test_the_same_event_id_with_other_content_is_a_conflict(
        db_url: str, client: TestClient) -> None:
    assert post(client, OPEN_APPEAL, "evt-c", MATERIALS).status_code == 200
    changed = post(client, OPEN_APPEAL, "evt-c", {**MATERIALS, "reason": "另一个原因"})
    assert changed.status_code == 409
    assert changed.json()["error"] == "event_conflict"
    elsewhere = post(client, REJECTED_APPEAL, "evt-c", {**APPROVED})
    assert elsewhere.status_code == 409
    assert event_count(db_url) == 1
    assert appeal_row(db_url, OPEN_APPEAL) == (AppealStatus.reviewing, MATERIALS["reason"])
    assert appeal_row(db_url, REJECTED_APPEAL)[0] == AppealStatus.rejected


def test_a_replayed_request_is_refused(db_url: str, client: TestClient) -> None:
    body = json.dumps(APPROVED).encode()
    headers = signed(body, OPEN_APPEAL, "evt-r")
    url = f"/api/v1/appeals/{OPEN_APPEAL}/events"
    assert client.post(url, content=body, headers=headers).status_code == 200
    replay = client.post(url, content=body, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"] == "replayed_request"
    # Nor can the captured signature be used on another appeal.
    moved = client.post(f"/api/v1/appeals/{REJECTED_APPEAL}/events", content=body,
                        headers=headers)
    assert moved.status_code == 401 and moved.json()["error"] == "bad_signature"
    assert event_count(db_url) == 1


@pytest.mark.parametrize(("change", "error"), [
    ({"secret": "wrong-secret"}, "bad_signature"),
    # A few seconds past the window each way: a slow machine between signing and
    # checking must not bring a just-too-late stamp back inside it.
    ({"offset": -(WINDOW_S + 5)}, "stale_timestamp"),
    ({"offset": WINDOW_S + 5}, "stale_timestamp"),
])
def test_bad_signatures_and_stale_timestamps_are_refused(
        db_url: str, client: TestClient, change: dict[str, Any], error: str) -> None:
    response = post(client, OPEN_APPEAL, "evt-bad", APPROVED, **change)
    assert response.status_code == 401
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert event_count(db_url) == 0
    assert appeal_row(db_url, OPEN_APPEAL)[0] == AppealStatus.reviewing


def test_stale_timestamp_says_what_is_wrong(client: TestClient) -> None:
    response = post(client, OPEN_APPEAL, "evt-old", APPROVED,
                    offset=-3600)
    assert response.status_code == 401
    assert response.json()["error"] == "stale_timestamp"
    assert "behind" in response.json()["detail"] and "300 s" in response.json()["detail"]


@pytest.mark.parametrize("missing", ["X-Backoffice-Timestamp", "X-Backoffice-Event-Id",
                                     "X-Backoffice-Signature"])
def test_unsigned_requests_are_refused(client: TestClient, missing: str) -> None:
    body = json.dumps(APPROVED).encode()
    headers = signed(body, OPEN_APPEAL, "evt-u")
    del headers[missing]
    response = client.post(f"/api/v1/appeals/{OPEN_APPEAL}/events", content=body,
                           headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "missing_signature"


def test_an_unknown_appeal_is_not_found(db_url: str, client: TestClient) -> None:
    response = post(client, "AP20260101999", "evt-404", APPROVED)
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_appeal"
    assert event_count(db_url) == 0


@pytest.mark.parametrize("payload", [
    {**APPROVED, "kind": "maybe"},
    {**APPROVED, "reason": "  "},
    {key: value for key, value in APPROVED.items() if key != "decided_at"},
    {**APPROVED, "decided_at": "2026-11-24T09:30:00"},  # no time zone
    {**APPROVED, "decided_at": "2999-01-01T00:00:00Z"},  # in the future
    {**APPROVED, "missing_materials": ["营业执照"]},  # an approval misses nothing
    {**MATERIALS, "missing_materials": "营业执照"},
    {**APPROVED, "extra": 1},
])
def test_bodies_that_do_not_fit_are_refused(db_url: str, client: TestClient,
                                            payload: dict[str, Any]) -> None:
    response = post(client, OPEN_APPEAL, "evt-422", payload)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_body"
    assert event_count(db_url) == 0


def test_malformed_json_and_event_ids_are_refused(client: TestClient) -> None:
    body = b"{not json"
    response = client.post(f"/api/v1/appeals/{OPEN_APPEAL}/events", content=body,
                           headers=signed(body, OPEN_APPEAL, "evt-j"))
    assert response.status_code == 422 and response.json()["error"] == "invalid_body"
    response = post(client, OPEN_APPEAL, "evt with spaces", APPROVED)
    assert response.status_code == 422 and response.json()["error"] == "invalid_event_id"


def test_materials_cannot_be_asked_after_the_final_decision(
        db_url: str, client: TestClient) -> None:
    late = {**MATERIALS, "decided_at": "2026-11-30T10:00:00+08:00"}
    assert post(client, OPEN_APPEAL, "evt-ok", APPROVED).status_code == 200
    response = post(client, OPEN_APPEAL, "evt-late", late)
    assert response.status_code == 409 and response.json()["error"] == "appeal_decided"
    assert appeal_row(db_url, OPEN_APPEAL)[0] == AppealStatus.approved


def test_an_older_event_arriving_late_is_kept_but_does_not_undo_the_newer(
        db_url: str, client: TestClient) -> None:
    assert post(client, OPEN_APPEAL, "evt-new", APPROVED).status_code == 200
    older = post(client, OPEN_APPEAL, "evt-older", MATERIALS)  # decided the day before
    assert older.status_code == 200
    assert older.json()["appeal_status"] == "approved"
    assert appeal_row(db_url, OPEN_APPEAL) == (AppealStatus.approved, APPROVED["reason"])
    assert event_count(db_url) == 2
    with Session(get_engine(db_url)) as session:
        assert appeal_events.latest_decision(session, OPEN_APPEAL).kind == DecisionKind.approved


def test_a_rejected_appeal_can_be_approved_on_review(db_url: str, client: TestClient) -> None:
    response = post(client, REJECTED_APPEAL, "evt-review", APPROVED)
    assert response.status_code == 200
    assert appeal_row(db_url, REJECTED_APPEAL) == (AppealStatus.approved, APPROVED["reason"])


def test_the_api_is_not_behind_the_agent_session_or_the_page_router(
        client: TestClient) -> None:
    """No cookie is needed, and an unsigned request is a JSON refusal, not a page."""
    response = client.post(f"/api/v1/appeals/{OPEN_APPEAL}/events", json=APPROVED)
    assert response.status_code == 401
    assert response.json()["error"] == "missing_signature"


def test_the_same_event_sent_twice_at_once_is_recorded_once(
        db_url: str, client: TestClient) -> None:
    """Two signed copies (different timestamps) racing: one record, the same answer."""
    body = json.dumps(MATERIALS, ensure_ascii=False).encode()
    copies = [signed(body, OPEN_APPEAL, "evt-race", offset=offset) for offset in (0, -1)]
    url = f"/api/v1/appeals/{OPEN_APPEAL}/events"
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda headers: client.post(url, content=body,
                                                            headers=headers), copies))
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.headers.get("idempotent-replayed", "") for a in answers) == ["", "true"]
    assert event_count(db_url) == 1
