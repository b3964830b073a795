"""Notices to the merchant (core.db.notices, console.notices): a decision recorded
through the signed back-office API is queued once for a merchant who consented, and
the worker appends it once to their conversation through the (fake) rasa API, within
WeChat's rules, with backoff, and to a signed REST webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from console import notices as console_notices
from console.notices import NoticeWorker, has_notice
from console.rasa_client import RasaClient
from core.db import forget, notices
from core.db.models import utcnow
from core.db.notices import AppealNotice, NoticeConsent, NoticeStatus
from core.db.session import get_engine
from tests.console.fake_rasa import TOKEN, FakeRasa
from tests.console.test_appeal_events import (  # noqa: F401 (backoffice_secret: autouse)
    APPROVED,
    MATERIALS,
    OPEN_APPEAL,
    backoffice_secret,
    post,
)

WECHAT = "oWxFakeOpenId0001"
PHRASE = "蓝色杯子"


def consent(db_url: str, channel: str = "wechat", sender: str = WECHAT) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        notices.remember_consent(session, OPEN_APPEAL, channel, sender, PHRASE)


def rows(db_url: str) -> list[AppealNotice]:
    with Session(get_engine(db_url)) as session:
        found = session.execute(select(AppealNotice).order_by(AppealNotice.id)).scalars().all()
        session.expunge_all()
        return list(found)


def make_due(db_url: str) -> None:
    """Time passes: every notice is due now."""
    with Session(get_engine(db_url)) as session, session.begin():
        session.execute(update(AppealNotice).values(next_attempt_at=utcnow()))


def worker(db_url: str, fake_rasa: FakeRasa, **kwargs: Any) -> NoticeWorker:
    rasa = RasaClient("http://rasa.test", TOKEN, transport=fake_rasa.transport())
    return NoticeWorker(get_engine(db_url), rasa, webhook_url=kwargs.pop("webhook_url", ""),
                        **kwargs)


def test_a_decision_with_consent_queues_one_notice_and_a_replay_none_more(
        db_url: str, client: TestClient) -> None:
    consent(db_url)
    assert post(client, OPEN_APPEAL, "evt-n-1", APPROVED).status_code == 200
    retry = post(client, OPEN_APPEAL, "evt-n-1", APPROVED, offset=-5)  # the same event
    assert retry.headers["idempotent-replayed"] == "true"
    queued = rows(db_url)
    assert [(n.event_id, n.kind, n.channel, n.sender_id, n.status) for n in queued] == [
        ("evt-n-1", "approved", "wechat", WECHAT, "pending")]


def test_no_consent_no_notice(db_url: str, client: TestClient) -> None:
    assert post(client, OPEN_APPEAL, "evt-n-2", MATERIALS).status_code == 200
    assert rows(db_url) == []


def test_the_phrase_is_sealed_at_rest_and_replaced_by_a_later_consent(db_url: str) -> None:
    consent(db_url)
    with Session(get_engine(db_url)) as session, session.begin():
        notices.remember_consent(session, OPEN_APPEAL.lower(), "widget", "web-1", "新暗号")
    with Session(get_engine(db_url)) as session:
        raw = session.execute(text("SELECT phrase FROM notice_consents")).scalars().all()
        assert len(raw) == 1 and "新暗号" not in raw[0]
        assert notices.consent_for(session, OPEN_APPEAL) == notices.Consent(
            OPEN_APPEAL, "widget", "web-1", "新暗号")


@pytest.mark.parametrize("phrase", ["猫", "一二三四五六七八九", "  ", "两行\n暗号"])
def test_a_phrase_must_be_two_to_eight_characters(db_url: str, phrase: str) -> None:
    with Session(get_engine(db_url)) as session, pytest.raises(notices.InvalidPhrase):
        notices.remember_consent(session, OPEN_APPEAL, "wechat", WECHAT, phrase)


def test_delivered_once_even_when_the_answer_times_out(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    consent(db_url, "widget", "web-visitor-1")
    post(client, OPEN_APPEAL, "evt-n-3", MATERIALS)
    fake_rasa.next_appends = ["timeout_after_store"]
    work = worker(db_url, fake_rasa)
    assert work.run_once() == 1
    assert rows(db_url)[0].status == "failed"
    assert rows(db_url)[0].last_error.startswith("timeout")
    assert work.run_once() == 0  # not due yet (backoff)
    make_due(db_url)
    assert work.run_once() == 1
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.sent_at is not None
    assert json.loads(notice.errors) == ["timeout", "ok"]
    assert len(fake_rasa.appends) == 1  # looked up, never sent again
    [event] = fake_rasa.bot_events("web-visitor-1")
    assert event["metadata"]["appeal_notice_id"] == notice.id
    assert fake_rasa.appends[0]["output_channel"] == "widget"
    assert OPEN_APPEAL in event["text"] and f"“{PHRASE}”" in event["text"]
    assert "营业执照" in event["text"] and "不是我们发的" in event["text"]
    make_due(db_url)
    assert work.run_once() == 0  # sent is never due again


def test_wechat_window_closed_waits_and_is_sent_after_the_merchant_writes(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    consent(db_url)
    fake_rasa.user_says(WECHAT, "你好", ts=time.time() - 50 * 3600)  # window closed
    post(client, OPEN_APPEAL, "evt-n-4", APPROVED)
    work = worker(db_url, fake_rasa)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.waiting_window.value
    assert notice.last_error.startswith("45015")
    assert fake_rasa.appends == []  # not even tried against WeChat
    # The window looks open, but WeChat says 45015 anyway: still waiting, never dropped.
    fake_rasa.user_says(WECHAT, "在吗", ts=time.time() - 47.9 * 3600)
    fake_rasa.next_appends = ["channel_error"]
    make_due(db_url)
    work.run_once()
    assert rows(db_url)[0].status == NoticeStatus.waiting_window.value
    fake_rasa.user_says(WECHAT, "结果出来了吗")
    make_due(db_url)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent"
    assert json.loads(notice.errors) == ["45015", "45015", "ok"]
    assert len(fake_rasa.bot_events(WECHAT)) == 1
    assert fake_rasa.appends[-1]["output_channel"] == "wechat"


def test_over_quota_backs_off_and_gives_up_with_a_warning(
        db_url: str, client: TestClient, fake_rasa: FakeRasa,
        caplog: pytest.LogCaptureFixture) -> None:
    consent(db_url)
    fake_rasa.user_says(WECHAT, "你好")
    fake_rasa.channel_error = ("WeChat message/custom/send failed: errcode=45047 "
                               "errmsg=out of response count limit")
    fake_rasa.next_appends = ["channel_error"] * 20
    post(client, OPEN_APPEAL, "evt-n-5", APPROVED)
    work = worker(db_url, fake_rasa)
    delays = []
    with caplog.at_level(logging.WARNING, logger="console.notices"):
        for _ in range(len(notices.BACKOFF_MINUTES) + 1):
            before = utcnow()
            assert work.run_once() == 1
            notice = rows(db_url)[0]
            delays.append(round((notice.next_attempt_at - before).total_seconds() / 60))
            make_due(db_url)
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.gave_up.value
    assert delays[:-1] == list(notices.BACKOFF_MINUTES)
    assert json.loads(notice.errors) == ["45047"] * (len(notices.BACKOFF_MINUTES) + 1)
    assert notice.last_error.startswith("45047")
    assert work.run_once() == 0  # given up: not tried again
    assert any("gave up notice" in r.message and r.levelno == logging.WARNING
               for r in caplog.records)
    assert fake_rasa.bot_events(WECHAT) == []


def test_rest_notices_go_to_a_signed_webhook(
        db_url: str, client: TestClient, fake_rasa: FakeRasa) -> None:
    consent(db_url, "rest", "shop-1")
    post(client, OPEN_APPEAL, "evt-n-6", APPROVED)
    received: list[httpx.Request] = []
    answers = [httpx.Response(503), httpx.Response(200)]

    def hook(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return answers.pop(0)

    work = worker(db_url, fake_rasa, webhook_url="https://shop.example/notices",
                  webhook_secret="hook-secret", http_transport=httpx.MockTransport(hook))
    work.run_once()
    assert rows(db_url)[0].status == "failed" and rows(db_url)[0].last_error.startswith("http503")
    make_due(db_url)
    work.run_once()
    assert rows(db_url)[0].status == "sent"
    assert len(fake_rasa.appends) == 1 and len(received) == 2  # the append is not repeated
    request = received[-1]
    stamp = request.headers["X-Notice-Timestamp"]
    expected = hmac.new(b"hook-secret", stamp.encode() + b"\n" + request.content,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Notice-Signature"], expected)
    assert abs(int(stamp) - time.time()) < 60
    body = json.loads(request.content)
    assert {k: body[k] for k in ("appeal_id", "kind", "reason", "phrase")} == {
        "appeal_id": OPEN_APPEAL, "kind": "approved", "reason": APPROVED["reason"],
        "phrase": PHRASE}
    assert PHRASE in body["text"] and body["sent_at"].endswith("Z")
    assert has_notice(fake_rasa.trackers["shop-1"] and {"events": fake_rasa.trackers["shop-1"]},
                      rows(db_url)[0].id)


def test_deleting_my_records_removes_the_consent_and_pending_notices(
        db_url: str, client: TestClient) -> None:
    consent(db_url)
    post(client, OPEN_APPEAL, "evt-n-7", MATERIALS)
    assert len(rows(db_url)) == 1
    with Session(get_engine(db_url)) as session, session.begin():
        forget.forget(session, "wechat", WECHAT)
    with Session(get_engine(db_url)) as session:
        assert session.execute(select(func.count()).select_from(NoticeConsent)).scalar() == 0
        assert notices.consent_for(session, OPEN_APPEAL) is None
    assert rows(db_url) == []
    post(client, OPEN_APPEAL, "evt-n-8", APPROVED)  # no consent any more: nothing queued
    assert rows(db_url) == []


def test_deliver_once_from_the_command_line(
        db_url: str, client: TestClient, fake_rasa: FakeRasa,
        monkeypatch: pytest.MonkeyPatch) -> None:
    consent(db_url, "widget", "web-visitor-2")
    post(client, OPEN_APPEAL, "evt-n-9", APPROVED)
    monkeypatch.setenv("MERCHANT_DB_URL", db_url)
    monkeypatch.setenv("RASA_URL", "http://rasa.test")
    monkeypatch.setenv("RASA_TOKEN", TOKEN)
    real_client = console_notices.RasaClient

    def fake_client(*args: Any, **kwargs: Any) -> RasaClient:
        return real_client(*args, transport=fake_rasa.transport(), **kwargs)

    monkeypatch.setattr(console_notices, "RasaClient", fake_client)
    assert console_notices.main(["deliver", "--once"]) == 0
    assert rows(db_url)[0].status == "sent"
    assert len(fake_rasa.bot_events("web-visitor-2")) == 1
