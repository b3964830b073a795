"""WeChat one-time subscription messages for appeal notices (console.routes.notice_consent,
console.wechat_subscribe, core.db.subscriptions): the merchant consents on our page
(OAuth snsapi_base, then WeChat's subscribe confirm page, both through the fake WeChat),
and a notice whose 48-hour window is closed goes under that consent, using it up.
Forged, expired, used values and another user's OpenID end on a polite page with
nothing stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import notice_tokens
from core.db import forget, notices, subscriptions
from core.db.models import IdentityBinding
from core.db.session import get_engine
from core.db.subscriptions import SubscriptionStatus, WeChatSubscription
from core.notice_tokens import notice_consent_link
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

APP_ID, APP_SECRET = "wx-subscribe", "subscribe-secret"
TEMPLATE = "TPL-SUBSCRIBE"
PUBLIC = "https://console.example"
MERCHANT = "1900000003"  # OPEN_APPEAL's merchant
OTHER = "oWxFakeOpenIdOther"  # verified for another merchant


@pytest.fixture()
def fake_wechat(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeChat]:
    fake = FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET).start()
    fake.template_ids.add(TEMPLATE)
    for name, value in {"WECHAT_SUBSCRIBE_TEMPLATE_ID": TEMPLATE, "WECHAT_APP_ID": APP_ID,
                        "WECHAT_APP_SECRET": APP_SECRET, "WECHAT_API_BASE": fake.url,
                        "WECHAT_SUBSCRIBE_SCENE": "1200", "CONSOLE_PUBLIC_URL": PUBLIC,
                        "WECHAT_CONSENT_SECRET": "test-consent-secret"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WECHAT_NOTICE_TEMPLATE_ID", raising=False)
    yield fake
    fake.stop()


@pytest.fixture()
def merchant(db_url: str) -> None:
    """The appeal's merchant verified on WeChat, with a 暗号 for its notices; another
    merchant's WeChat user."""
    consent(db_url)
    with Session(get_engine(db_url)) as session, session.begin():
        session.add(IdentityBinding(channel="wechat", sender_id=WECHAT, merchant_id=MERCHANT))
        session.add(IdentityBinding(channel="wechat", sender_id=OTHER,
                                    merchant_id="1900000002"))


def visit(client: TestClient, url: str) -> httpx.Response:
    """The merchant's browser opening one of our URLs (no redirects followed)."""
    parsed = urlparse(url)
    assert f"{parsed.scheme}://{parsed.netloc}" == PUBLIC, url
    return client.get(f"{parsed.path}?{parsed.query}", follow_redirects=False)


def consents(db_url: str) -> list[WeChatSubscription]:
    with Session(get_engine(db_url)) as session:
        found = session.execute(select(WeChatSubscription)
                                .order_by(WeChatSubscription.id)).scalars().all()
        session.expunge_all()
        return list(found)


def to_confirm_page(client: TestClient, fake: FakeWeChat, openid: str = WECHAT) -> str:
    """From the link to WeChat's subscribe confirm page: its URL."""
    link = notice_consent_link(OPEN_APPEAL)
    assert link is not None
    start = visit(client, link)
    assert start.status_code == 302, start.text
    back = visit(client, fake.authorize(start.headers["location"], openid))
    assert back.status_code == 302, back.text
    return back.headers["location"]


def subscribe(client: TestClient, fake: FakeWeChat, action: str = "confirm") -> httpx.Response:
    return visit(client, fake.confirm(to_confirm_page(client, fake), WECHAT, action))


def closed_window(fake_rasa: FakeRasa) -> None:
    fake_rasa.user_says(WECHAT, "你好", ts=time.time() - 50 * 3600)


def test_consent_end_to_end_and_the_notice_goes_once_under_it(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        merchant: None) -> None:
    link = notice_consent_link(OPEN_APPEAL)
    assert link is not None and link.startswith(f"{PUBLIC}/console/wechat/notice-consent?")
    start = visit(client, link)
    assert start.status_code == 302
    authorize = urlparse(start.headers["location"])
    query = parse_qs(authorize.query)
    assert query["redirect_uri"] == [f"{PUBLIC}/console/wechat/notice-consent/oauth"]
    assert query["scope"] == ["snsapi_base"] and query["appid"] == [APP_ID]
    back = visit(client, fake_wechat.authorize(start.headers["location"], WECHAT))
    assert back.status_code == 302 and fake_wechat.oauth_calls == 1
    confirm = urlparse(back.headers["location"])
    query = parse_qs(confirm.query)
    assert (query["template_id"], query["scene"]) == ([TEMPLATE], ["1200"])
    assert query["redirect_url"] == [f"{PUBLIC}/console/wechat/notice-consent/subscribed"]
    done = visit(client, fake_wechat.confirm(back.headers["location"], WECHAT))
    assert done.status_code == 200 and "已订阅审核结果通知" in done.text
    assert done.headers["cache-control"] == "no-store"
    [row] = consents(db_url)
    assert (row.appeal_id, row.openid, row.template_id, row.scene, row.status) == (
        OPEN_APPEAL, WECHAT, TEMPLATE, 1200, "ready")

    # Two decisions while the window is closed: the consent carries exactly one.
    closed_window(fake_rasa)
    assert post(client, OPEN_APPEAL, "evt-s-1", MATERIALS).status_code == 200
    assert post(client, OPEN_APPEAL, "evt-s-2", APPROVED).status_code == 200
    work = worker(db_url, fake_rasa)
    assert work.run_once() == 2
    first, second = rows(db_url)
    assert first.status == "sent" and first.via == notices.VIA_SUBSCRIPTION
    assert json.loads(first.errors) == ["ok"]
    assert second.status == notices.NoticeStatus.waiting_window.value
    assert json.loads(second.errors) == ["45015"]
    [sent] = fake_wechat.subscriptions
    assert (sent.touser, sent.template_id, sent.scene) == (WECHAT, TEMPLATE, "1200")
    assert sent.title == notices.SUBSCRIBE_TITLE and sent.access_token == "TOKEN-1"
    assert OPEN_APPEAL in sent.content and f"“{PHRASE}”" in sent.content
    assert "营业执照" in sent.content and len(sent.content) <= 200
    [row] = consents(db_url)
    assert row.status == SubscriptionStatus.used.value and row.notice_id == first.id
    assert fake_rasa.appends == []  # no customer-service message was tried
    make_due(db_url)
    work.run_once()
    assert len(fake_wechat.subscriptions) == 1 and fake_wechat.subscribe_attempts == 1
    assert rows(db_url)[1].status == notices.NoticeStatus.waiting_window.value
    work.close()


def test_cancel_records_nothing_and_says_so_politely(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    answer = subscribe(client, fake_wechat, "cancel")
    assert answer.status_code == 200 and "不订阅也没关系" in answer.text
    assert consents(db_url) == []


def test_a_second_confirm_while_one_is_unused_records_no_second(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    assert subscribe(client, fake_wechat).status_code == 200
    again = subscribe(client, fake_wechat)
    assert again.status_code == 200 and "已经订阅过" in again.text
    assert len(consents(db_url)) == 1


@pytest.mark.parametrize("change", ["tampered", "other_appeal", "other_purpose", "garbage"])
def test_a_forged_link_is_refused(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None,
        change: str) -> None:
    token = notice_tokens.issue(notice_tokens.LINK, OPEN_APPEAL, 600)
    appeal = OPEN_APPEAL
    if change == "tampered":
        token = token[:-1] + ("0" if token[-1] != "0" else "1")
    elif change == "other_appeal":
        appeal = "AP20261118002"
    elif change == "other_purpose":  # a state is not a link
        token = notice_tokens.issue(notice_tokens.STATE, OPEN_APPEAL, 600)
    else:
        token = "<script>"
    answer = client.get("/console/wechat/notice-consent",
                        params={"appeal": appeal, "token": token}, follow_redirects=False)
    assert answer.status_code == 400 and "链接无效" in answer.text
    assert "<script>" not in answer.text and fake_wechat.oauth_calls == 0


def test_an_expired_link_and_an_expired_state_are_refused(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    old = time.time() - notice_tokens.LINK_TTL_S - 5
    link = notice_consent_link(OPEN_APPEAL, now=old)
    assert link is not None
    answer = visit(client, link)
    assert answer.status_code == 400 and "已经过期" in answer.text
    state = notice_tokens.issue(notice_tokens.STATE, OPEN_APPEAL, notice_tokens.STEP_TTL_S,
                                now=time.time() - notice_tokens.STEP_TTL_S - 5)
    answer = client.get("/console/wechat/notice-consent/oauth",
                        params={"code": "CODE0001", "state": state})
    assert answer.status_code == 400 and "已经过期" in answer.text
    assert fake_wechat.oauth_calls == 0 and consents(db_url) == []


def test_replayed_state_and_reserved_are_refused(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    start = visit(client, notice_consent_link(OPEN_APPEAL) or "")
    callback = fake_wechat.authorize(start.headers["location"], WECHAT)
    confirm_page = visit(client, callback).headers["location"]
    replayed = visit(client, callback)
    assert replayed.status_code == 400 and "已经用过" in replayed.text
    back = fake_wechat.confirm(confirm_page, WECHAT)
    assert visit(client, back).status_code == 200
    replayed = visit(client, back)
    assert replayed.status_code == 400 and "已经用过" in replayed.text
    assert len(consents(db_url)) == 1


def test_a_reserved_moved_to_another_openid_or_scene_is_refused(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    back = urlparse(fake_wechat.confirm(to_confirm_page(client, fake_wechat), WECHAT))
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    for changed in ({"openid": OTHER}, {"scene": "7"}, {"template_id": "TPL-APPEAL-RESULT"}):
        forged = f"{back.path}?{urlencode({**query, **changed})}"
        answer = client.get(forged)
        assert answer.status_code == 400 and "链接无效" in answer.text
    assert consents(db_url) == []


def test_another_merchants_wechat_user_cannot_subscribe(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    start = visit(client, notice_consent_link(OPEN_APPEAL) or "")
    answer = visit(client, fake_wechat.authorize(start.headers["location"], OTHER))
    assert answer.status_code == 403 and "商户本人" in answer.text
    stranger = visit(client, fake_wechat.authorize(
        visit(client, notice_consent_link(OPEN_APPEAL) or "").headers["location"],
        "oWxNobodyKnowsMe"))
    assert stranger.status_code == 403
    assert consents(db_url) == []


def test_a_bad_oauth_code_and_wechat_down_end_politely(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    state = notice_tokens.issue(notice_tokens.STATE, OPEN_APPEAL, 600)
    answer = client.get("/console/wechat/notice-consent/oauth",
                        params={"code": "NOT-A-CODE", "state": state})
    assert answer.status_code == 400 and "链接无效" in answer.text
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:9")  # nothing listens
    state = notice_tokens.issue(notice_tokens.STATE, OPEN_APPEAL, 600)
    answer = client.get("/console/wechat/notice-consent/oauth",
                        params={"code": "CODE0001", "state": state})
    assert answer.status_code == 502 and "微信暂时没有响应" in answer.text
    assert consents(db_url) == []


def test_without_a_consent_the_notice_waits_as_before(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        merchant: None) -> None:
    closed_window(fake_rasa)
    post(client, OPEN_APPEAL, "evt-s-3", APPROVED)
    work = worker(db_url, fake_rasa)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == notices.NoticeStatus.waiting_window.value
    assert json.loads(notice.errors) == ["45015"] and fake_wechat.subscribe_attempts == 0
    fake_rasa.user_says(WECHAT, "结果呢")  # the merchant writes: the window is open
    make_due(db_url)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.via == notices.VIA_CONVERSATION
    work.close()


def test_a_consent_wechat_refuses_is_void_and_the_notice_waits(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        merchant: None) -> None:
    # Recorded here, but WeChat knows no authorization for it: 43101.
    with Session(get_engine(db_url)) as session, session.begin():
        subscriptions.record(session, OPEN_APPEAL, WECHAT, TEMPLATE, 1200)
    closed_window(fake_rasa)
    post(client, OPEN_APPEAL, "evt-s-4", APPROVED)
    work = worker(db_url, fake_rasa)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == notices.NoticeStatus.waiting_window.value
    assert json.loads(notice.errors) == ["subscribe:43101"]
    assert notice.last_error.startswith("subscribe:43101")
    assert consents(db_url)[0].status == SubscriptionStatus.void.value
    make_due(db_url)
    work.run_once()
    assert fake_wechat.subscribe_attempts == 1  # a void consent is never tried again
    assert json.loads(rows(db_url)[0].errors) == ["subscribe:43101", "45015"]
    work.close()


def test_busy_and_lost_answers_are_retried_with_the_same_consent(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        merchant: None) -> None:
    assert subscribe(client, fake_wechat).status_code == 200
    closed_window(fake_rasa)
    post(client, OPEN_APPEAL, "evt-s-5", APPROVED)
    fake_wechat.subscribe_errcodes = [-1]
    work = worker(db_url, fake_rasa)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == notices.NoticeStatus.failed.value
    assert notice.last_error.startswith("subscribe:-1")
    assert consents(db_url)[0].status == SubscriptionStatus.ready.value  # released
    work.close()
    # WeChat unreachable: the consent stays held for this notice.
    down = worker(db_url, fake_rasa)
    down.subscribe.api.api_base = "http://127.0.0.1:9"  # type: ignore[union-attr]
    make_due(db_url)
    down.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "failed" and notice.last_error.startswith("subscribe:timeout")
    assert consents(db_url)[0].status == SubscriptionStatus.held.value
    down.close()
    make_due(db_url)
    work = worker(db_url, fake_rasa)
    work.run_once()
    notice = rows(db_url)[0]
    assert notice.status == "sent" and notice.via == notices.VIA_SUBSCRIPTION
    assert json.loads(notice.errors) == ["subscribe:-1", "subscribe:timeout", "ok"]
    assert len(fake_wechat.subscriptions) == 1
    assert consents(db_url)[0].status == SubscriptionStatus.used.value
    work.close()


def test_without_the_setting_the_feature_is_off(
        db_url: str, client: TestClient, fake_rasa: FakeRasa, fake_wechat: FakeWeChat,
        merchant: None, monkeypatch: pytest.MonkeyPatch) -> None:
    token = notice_tokens.issue(notice_tokens.LINK, OPEN_APPEAL, 600)
    monkeypatch.delenv("WECHAT_SUBSCRIBE_TEMPLATE_ID")
    assert notice_consent_link(OPEN_APPEAL) is None
    answer = client.get("/console/wechat/notice-consent",
                        params={"appeal": OPEN_APPEAL, "token": token})
    assert answer.status_code == 404 and "暂时不能订阅" in answer.text
    with Session(get_engine(db_url)) as session, session.begin():
        subscriptions.record(session, OPEN_APPEAL, WECHAT, TEMPLATE, 1200)
    closed_window(fake_rasa)
    post(client, OPEN_APPEAL, "evt-s-6", APPROVED)
    work = worker(db_url, fake_rasa)
    assert work.subscribe is None
    work.run_once()
    assert rows(db_url)[0].status == notices.NoticeStatus.waiting_window.value
    assert fake_wechat.subscribe_attempts == 0
    work.close()


def test_a_bad_scene_setting_stops_the_console_at_startup() -> None:
    from console.config import Settings  # noqa: PLC0415

    env = {"MERCHANT_DB_URL": "sqlite:///unused.db", "RASA_TOKEN": "t",
           "WECHAT_SUBSCRIBE_TEMPLATE_ID": TEMPLATE, "WECHAT_SUBSCRIBE_SCENE": "20000"}
    with pytest.raises(ValueError, match="WECHAT_SUBSCRIBE_SCENE"):
        Settings.from_env(env)


def test_the_text_fits_200_characters_and_keeps_the_phrase() -> None:
    text = notices.subscribe_text("rejected", OPEN_APPEAL, PHRASE, "交易记录不完整" * 80,
                                  ["营业执照"] * 20)
    assert len(text) <= notices.SUBSCRIBE_MAX_CHARS
    assert OPEN_APPEAL in text and f"“{PHRASE}”" in text and "不是我们发的" in text
    assert "…" in text
    text = notices.subscribe_text("needs_materials", OPEN_APPEAL, PHRASE, "说明" * 200,
                                  ["近30天订单截图"] * 20)
    assert len(text) <= notices.SUBSCRIBE_MAX_CHARS and f"“{PHRASE}”" in text
    short = notices.subscribe_text("approved", OPEN_APPEAL, PHRASE, "已核实")
    assert short == notices.render("approved", OPEN_APPEAL, PHRASE, "已核实")


def test_deleting_my_records_removes_the_openids_consents(
        db_url: str, client: TestClient, fake_wechat: FakeWeChat, merchant: None) -> None:
    assert subscribe(client, fake_wechat).status_code == 200
    with Session(get_engine(db_url)) as session, session.begin():
        forget.forget(session, "wechat", WECHAT)
    assert consents(db_url) == []


def test_migration_0017_goes_down_and_up(db_url: str) -> None:
    from alembic import command  # noqa: PLC0415
    from sqlalchemy import inspect  # noqa: PLC0415

    from core.db.migrate import alembic_config, upgrade  # noqa: PLC0415

    tables = {"wechat_subscriptions", "wechat_consent_nonces"}
    command.downgrade(alembic_config(db_url), "0016")
    get_engine(db_url).dispose()
    assert not tables & set(inspect(get_engine(db_url)).get_table_names())
    upgrade(db_url)
    get_engine(db_url).dispose()
    assert tables <= set(inspect(get_engine(db_url)).get_table_names())
    indexes = inspect(get_engine(db_url)).get_indexes("wechat_subscriptions")
    assert [i["column_names"] for i in indexes] == [["appeal_id", "openid", "status"]]
