"""WeChat template messages for notices (console.wechat_templates, console.notices): with
WECHAT_NOTICE_TEMPLATE_ID set, a notice whose 48-hour window has closed goes as a
template message through the (fake) WeChat API, with the appeal id and the merchant's
phrase; each refusal is recorded and handled by its meaning, never dropped."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.notices import next_quota_reset
from console.wechat_templates import TemplateSender, TemplateSettings, parse_fields
from core.db.notices import NoticeStatus
from tests.console.fake_rasa import FakeRasa
from tests.console.test_appeal_events import (  # noqa: F401 (backoffice_secret: autouse)
    APPROVED,
    MATERIALS,
    OPEN_APPEAL,
    backoffice_secret,
    post,
)
from tests.console.test_notices import PHRASE, WECHAT, consent, make_due, rows, worker
from tests.wechat.fake_wechat import FakeWeChat

APP_ID, APP_SECRET = "wx-notices", "notice-secret"
TEMPLATE = "TPL-APPEAL-RESULT"


@pytest.fixture()
def fake_wechat() -> Iterator[FakeWeChat]:
    fake = FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET).start()
    yield fake
    fake.stop()


def templates(fake: FakeWeChat, template_id: str = TEMPLATE) -> TemplateSender:
    return TemplateSender(TemplateSettings(template_id, APP_ID, APP_SECRET, fake.url))


def closed_window(db_url: str, client: TestClient, fake_rasa: FakeRasa,
                  payload: dict[str, Any] = APPROVED, event: str = "evt-t-1") -> None:
    """A consented WeChat merchant who last wrote 50 hours ago, and a decision."""
    consent(db_url)
    fake_rasa.user_says(WECHAT, "你好", ts=time.time() - 50 * 3600)
    assert post(client, OPEN_APPEAL, event, payload).status_code == 200


def test_outside_the_window_a_template_message_carries_the_appeal_id_and_the_phrase(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Configured as in production: the environment, the API base of the fake server.
    for name, value in {"WECHAT_NOTICE_TEMPLATE_ID": TEMPLATE, "WECHAT_APP_ID": APP_ID,
                        "WECHAT_APP_SECRET": APP_SECRET,
                        "WECHAT_API_BASE": fake_wechat.url}.items():
        monkeypatch.setenv(name, value)
    closed_window(db_url, client, fake_rasa, MATERIALS)
    work = worker(db_url, fake_rasa)
    assert work.run_once() == 1
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.sent.value and notice.sent_at is not None
    assert notice.via == "template" and json.loads(notice.errors) == ["ok"]
    [sent] = fake_wechat.templates
    assert notice.wechat_msgid == str(sent.msgid)
    assert (sent.touser, sent.template_id, sent.access_token) == (WECHAT, TEMPLATE, "TOKEN-1")
    assert sent.data["keyword1"] == OPEN_APPEAL and sent.data["keyword3"] == PHRASE
    assert sent.data["keyword2"] == "需要补充材料" and sent.data["first"]
    assert f"暗号“{PHRASE}”" in sent.data["remark"] and "不是我们发的" in sent.data["remark"]
    assert "营业执照、近30天订单截图" in sent.data["remark"]
    assert sent.raw["client_msg_id"] == f"appeal-notice-{notice.id}"
    assert fake_rasa.appends == []  # no customer-service message was tried
    make_due(db_url)
    assert work.run_once() == 0  # sent is never due again
    assert len(fake_wechat.templates) == 1
    work.close()


def test_the_field_names_follow_the_setting_and_a_refused_token_is_refreshed_once(
        db_url: str, client: TestClient, fake_rasa: FakeRasa,
        fake_wechat: FakeWeChat) -> None:
    closed_window(db_url, client, fake_rasa)
    settings = TemplateSettings(TEMPLATE, APP_ID, APP_SECRET, fake_wechat.url,
                                parse_fields("appeal_id=character_string1, phrase=thing3"))
    sender = TemplateSender(settings)
    sender.access_token()
    fake_wechat.revoked_tokens.add("TOKEN-1")  # refreshed away by another client
    work = worker(db_url, fake_rasa, templates=sender)
    work.run_once()
    assert rows(db_url)[0].status == "sent"
    [sent] = fake_wechat.templates
    assert sent.access_token == "TOKEN-2"
    assert sent.data == {"character_string1": OPEN_APPEAL, "thing3": PHRASE}
    with pytest.raises(ValueError, match="WECHAT_NOTICE_TEMPLATE_FIELDS"):
        parse_fields("secret=thing1")
    work.close()


def test_43101_refused_waits_for_the_window_without_trying_the_template_again(
        db_url: str, client: TestClient, fake_rasa: FakeRasa,
        fake_wechat: FakeWeChat) -> None:
    closed_window(db_url, client, fake_rasa)
    fake_wechat.refused_templates.add(WECHAT)
    work = worker(db_url, fake_rasa, templates=templates(fake_wechat))
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.waiting_window.value
    assert notice.last_error.startswith("43101") and json.loads(notice.errors) == ["43101"]
    make_due(db_url)
    work.run_once()
    notice = rows(db_url)[0]
    assert fake_wechat.template_attempts == 1  # the merchant said no: not asked again
    assert notice.status == NoticeStatus.waiting_window.value
    assert "拒收模板消息（43101）" in notice.last_error
    fake_rasa.user_says(WECHAT, "审核好了吗")  # the window opens again
    make_due(db_url)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.via == "conversation"
    assert json.loads(notice.errors) == ["43101", "45015", "ok"]
    assert len(fake_rasa.bot_events(WECHAT)) == 1 and fake_wechat.templates == []
    work.close()


def test_40037_invalid_template_is_reported_and_turns_templates_off_until_a_restart(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        caplog: pytest.LogCaptureFixture) -> None:
    closed_window(db_url, client, fake_rasa)
    work = worker(db_url, fake_rasa, templates=templates(fake_wechat, "TPL-WRONG"))
    with caplog.at_level(logging.ERROR, logger="console.notices"):
        work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.waiting_window.value  # kept, not dropped
    assert notice.last_error.startswith("40037") and json.loads(notice.errors) == ["40037"]
    assert any("WECHAT_NOTICE_TEMPLATE_ID" in r.message and r.levelno == logging.ERROR
               for r in caplog.records)
    make_due(db_url)
    work.run_once()
    assert fake_wechat.template_attempts == 1  # off in this process
    assert "模板ID无效（40037）" in rows(db_url)[0].last_error
    work.close()
    # Restarted with the right template id: the waiting notice goes.
    make_due(db_url)
    fixed = worker(db_url, fake_rasa, templates=templates(fake_wechat))
    fixed.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.via == "template"
    assert json.loads(notice.errors) == ["40037", "45015", "ok"]
    fixed.close()


def test_45009_over_quota_pauses_templates_until_midnight_in_beijing(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        caplog: pytest.LogCaptureFixture) -> None:
    closed_window(db_url, client, fake_rasa)
    fake_wechat.template_errcodes = [45009]
    now = [time.time()]
    work = worker(db_url, fake_rasa, templates=templates(fake_wechat), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="console.notices"):
        work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.waiting_window.value
    assert notice.last_error.startswith("45009") and json.loads(notice.errors) == ["45009"]
    assert any("45009" in r.message for r in caplog.records)
    make_due(db_url)
    work.run_once()
    assert fake_wechat.template_attempts == 1  # paused: the quota is used up today
    assert "额度已用完（45009）" in rows(db_url)[0].last_error
    now[0] = next_quota_reset(now[0]) + 1
    make_due(db_url)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.via == "template"
    assert json.loads(notice.errors) == ["45009", "45015", "ok"]
    work.close()


def test_system_busy_is_retried_with_backoff(
        db_url: str, client: TestClient, fake_rasa: FakeRasa,
        fake_wechat: FakeWeChat) -> None:
    closed_window(db_url, client, fake_rasa)
    fake_wechat.template_errcodes = [-1]
    work = worker(db_url, fake_rasa, templates=templates(fake_wechat))
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.failed.value and notice.last_error.startswith("-1")
    assert 50 < (notice.next_attempt_at - notice.created_at).total_seconds() < 90
    assert work.run_once() == 0  # not due yet
    make_due(db_url)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and json.loads(notice.errors) == ["-1", "ok"]
    assert len(fake_wechat.templates) == 1
    work.close()


def test_wechat_unreachable_is_retried_and_45015_from_the_channel_sends_the_template(
        db_url: str, client: TestClient, fake_rasa: FakeRasa,
        fake_wechat: FakeWeChat) -> None:
    consent(db_url)
    # The window looks open, but the channel answers 45015: the template goes instead.
    fake_rasa.user_says(WECHAT, "在吗", ts=time.time() - 47.9 * 3600)
    fake_rasa.next_appends = ["channel_error"]
    post(client, OPEN_APPEAL, "evt-t-2", APPROVED)
    down = TemplateSender(TemplateSettings(TEMPLATE, APP_ID, APP_SECRET,
                                           "http://127.0.0.1:9"))  # nothing listens
    work = worker(db_url, fake_rasa, templates=down)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.failed.value
    assert notice.last_error.startswith("timeout")
    work.close()
    fake_rasa.next_appends = ["channel_error"]
    make_due(db_url)
    work = worker(db_url, fake_rasa, templates=templates(fake_wechat))
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.via == "template"
    assert json.loads(notice.errors) == ["timeout", "ok"]
    assert fake_rasa.bot_events(WECHAT) == [] and len(fake_wechat.templates) == 1
    work.close()


def test_without_a_template_id_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WECHAT_NOTICE_TEMPLATE_ID", raising=False)
    assert TemplateSettings.from_env() is None
    assert TemplateSettings.from_env({"WECHAT_NOTICE_TEMPLATE_ID": " T1 "}) == \
        TemplateSettings("T1", "", "", "https://api.weixin.qq.com")


def test_a_malformed_field_setting_stops_the_console_at_startup() -> None:
    from console.config import Settings  # noqa: PLC0415

    env = {"MERCHANT_DB_URL": "sqlite:///unused.db", "RASA_TOKEN": "t",
           "WECHAT_NOTICE_TEMPLATE_ID": TEMPLATE,
           "WECHAT_NOTICE_TEMPLATE_FIELDS": "appeal_id=keyword1,password=keyword2"}
    with pytest.raises(ValueError, match="WECHAT_NOTICE_TEMPLATE_FIELDS"):
        Settings.from_env(env)


def test_without_app_credentials_the_notice_waits_and_the_error_is_logged(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        caplog: pytest.LogCaptureFixture) -> None:
    closed_window(db_url, client, fake_rasa)
    sender = TemplateSender(TemplateSettings(TEMPLATE, "", "", fake_wechat.url))
    work = worker(db_url, fake_rasa, templates=sender)
    with caplog.at_level(logging.ERROR, logger="console.notices"):
        work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == NoticeStatus.waiting_window.value
    assert json.loads(notice.errors) == ["config"]
    assert fake_wechat.token_calls == 0 and fake_wechat.template_attempts == 0
    assert any("WECHAT_APP_ID" in r.message for r in caplog.records)
    work.close()
