"""Access token cache and the customer-service API; the output channel used outside requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from addons.channels.wechat import WeChatOutput
from addons.channels.wechat_api import WeChatApi, WeChatApiError, WeChatWindowExpired
from addons.channels.wechat_store import ChannelState, MemoryStore
from tests.wechat.client import APP_ID, openid
from tests.wechat.fake_wechat import FakeWeChat

_opened: list[WeChatApi] = []


def make_api(fake: FakeWeChat | None, state: ChannelState | None = None,
             **kwargs: Any) -> WeChatApi:
    api_base = kwargs.pop("api_base", None) or (fake.url if fake else "")
    api = WeChatApi(kwargs.pop("app_id", APP_ID), kwargs.pop("app_secret", "secret"),
                    state or ChannelState(MemoryStore()), api_base, **kwargs)
    _opened.append(api)
    return api


@pytest.fixture(autouse=True)
async def close_apis() -> AsyncIterator[None]:
    yield
    while _opened:
        await _opened.pop().close()


async def test_token_is_fetched_once_and_cached(fake_wechat: FakeWeChat) -> None:
    api, user = make_api(fake_wechat), openid()
    await asyncio.gather(*(api.send_text(user, f"消息{i}") for i in range(5)))
    assert fake_wechat.token_calls == 1
    assert sorted(m.content for m in fake_wechat.sent_to(user)) == [f"消息{i}" for i in range(5)]
    assert {m.access_token for m in fake_wechat.sent} == {"TOKEN-1"}


async def test_one_session_serves_every_call(
    fake_wechat: FakeWeChat, client_sessions: list[Any]
) -> None:
    api, user = make_api(fake_wechat), openid()
    for i in range(3):
        await api.send_text(user, f"消息{i}")
    fake_wechat.revoked_tokens.add("TOKEN-1")  # a refresh and a retry: still the same session
    await api.send_text(user, "换了令牌")
    assert fake_wechat.token_calls == 2 and len(fake_wechat.sent_to(user)) == 4
    [session] = client_sessions
    assert not session.closed
    await api.close()
    assert session.closed
    await api.send_text(user, "关闭之后")  # closed (server stop): a new session on demand
    assert len(client_sessions) == 2 and len(fake_wechat.sent_to(user)) == 5


def test_a_new_event_loop_gets_its_own_session_and_the_old_one_is_closed(
    fake_wechat: FakeWeChat, client_sessions: list[Any]
) -> None:
    api, user = make_api(fake_wechat), openid()
    asyncio.run(api.send_text(user, "第一个事件循环"))
    [first] = client_sessions

    async def on_a_new_loop() -> None:
        await api.send_text(user, "第二个事件循环")
        await api.close()

    asyncio.run(on_a_new_loop())
    assert len(client_sessions) == 2
    assert first.closed and client_sessions[1].closed
    assert [m.content for m in fake_wechat.sent_to(user)] == ["第一个事件循环", "第二个事件循环"]


async def test_token_is_cached_until_shortly_before_expiry(fake_wechat: FakeWeChat) -> None:
    store = MemoryStore()
    api = make_api(fake_wechat, ChannelState(store))
    fake_wechat.expires_in = 7200
    await api.access_token()
    [(key, (_, expires))] = store._data.items()
    remaining = expires - time.monotonic()
    assert key.endswith(f"token:{APP_ID}")
    assert 6850 < remaining <= 6901  # 7200 s minus the 300 s margin


async def test_rejected_token_is_refreshed_once_and_the_send_retried(
    fake_wechat: FakeWeChat,
) -> None:
    api, user = make_api(fake_wechat), openid()
    await api.send_text(user, "第一条")
    fake_wechat.revoked_tokens.add("TOKEN-1")  # e.g. another tool refreshed the token
    await api.send_text(user, "第二条")
    assert fake_wechat.token_calls == 2
    assert [(m.content, m.access_token) for m in fake_wechat.sent_to(user)] == [
        ("第一条", "TOKEN-1"), ("第二条", "TOKEN-2")]


async def test_a_token_that_keeps_failing_is_raised_not_looped(fake_wechat: FakeWeChat) -> None:
    api = make_api(fake_wechat)
    fake_wechat.revoked_tokens.update({"TOKEN-1", "TOKEN-2", "TOKEN-3"})
    with pytest.raises(WeChatApiError) as raised:
        await api.send_text(openid(), "你好")
    assert raised.value.errcode == 40001
    assert fake_wechat.token_calls == 2 and fake_wechat.send_attempts == 2


async def test_closed_48_hour_window_is_raised_and_logged(
    fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    user = openid()
    fake_wechat.closed_windows.add(user)
    output = WeChatOutput(make_api(fake_wechat), ChannelState(MemoryStore()), 2000)
    with pytest.raises(WeChatWindowExpired) as raised:
        await output.send_text_message(user, "客服回复")
    assert raised.value.errcode == 45015
    assert "45015" in caplog.text and user in caplog.text


async def test_token_endpoint_errors_are_raised(fake_wechat: FakeWeChat) -> None:
    fake_wechat.token_errcode = 40164  # caller IP not on the whitelist
    with pytest.raises(WeChatApiError) as raised:
        await make_api(fake_wechat).send_text(openid(), "你好")
    assert raised.value.errcode == 40164


async def test_unreachable_api_is_an_error_not_a_hang() -> None:
    api = make_api(None, api_base="http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(WeChatApiError) as raised:
        await api.send_text(openid(), "你好")
    assert raised.value.errcode is None


async def test_missing_credentials_are_an_error(fake_wechat: FakeWeChat) -> None:
    with pytest.raises(WeChatApiError):
        await make_api(fake_wechat, app_secret="").send_text(openid(), "你好")
    assert fake_wechat.token_calls == 0


async def test_output_channel_renders_buttons_as_numbered_choices(
    fake_wechat: FakeWeChat,
) -> None:
    state, user = ChannelState(MemoryStore()), openid()
    output = WeChatOutput(make_api(fake_wechat, state), state, 2000)
    assert output.name() == "wechat"
    await output.send_response(user, {"text": "客服：请选择", "buttons": [
        {"title": "查状态", "payload": "/check_account_status"},
        {"title": "申诉", "payload": "/ask_appeal_process"}]})
    [sent] = fake_wechat.sent_to(user)
    assert "1. 查状态\n2. 申诉" in sent.content


async def test_output_channel_splits_long_agent_messages(fake_wechat: FakeWeChat) -> None:
    state, user = ChannelState(MemoryStore()), openid()
    output = WeChatOutput(make_api(fake_wechat, state), state, 2000)
    text = "请准备营业执照和订单记录。" * 200
    await output.send_text_message(user, text)
    sent = [m.content for m in fake_wechat.sent_to(user)]
    assert len(sent) > 1 and "".join(sent) == text
