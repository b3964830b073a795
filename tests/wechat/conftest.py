"""Fixtures of the WeChat channel tests: fake WeChat API, Redis, real servers (session)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import redis

from addons.channels.wechat import WeChatConfig, WeChatInput
from addons.channels.wechat_store import MemoryStore, RedisStore
from tests.stack import SharedStack
from tests.wechat.client import APP_ID, TOKEN
from tests.wechat.fake_wechat import FakeWeChat
from tests.wechat.servers import WeChatServers, wechat_view

REDIS_URL = os.environ.get("WECHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(autouse=True)
def no_wechat_environment(monkeypatch: pytest.MonkeyPatch,
                          tmp_path_factory: pytest.TempPathFactory) -> None:
    """The channel reads WECHAT_* variables (docs/wechat.md): none from the developer's
    shell may leak into a test (WECHAT_TEST_REDIS_URL has been read already)."""
    for name in list(os.environ):
        if name.upper().startswith("WECHAT_"):
            monkeypatch.delenv(name)
    # Generated secrets (the default token) go to a directory of the test's own.
    monkeypatch.setenv("LOCAL_SECRETS_DIR", str(tmp_path_factory.mktemp("secrets")))


@pytest.fixture()
def fake_wechat() -> Iterator[FakeWeChat]:
    fake = FakeWeChat(app_id=APP_ID, app_secret="secret").start()
    yield fake
    fake.stop()


@pytest.fixture()
async def make_channel(fake_wechat: FakeWeChat) -> AsyncIterator[Any]:
    """Builds an in-process channel (in-memory state unless a store is given); closes it."""
    channels: list[WeChatInput] = []

    def build(store: Any = None, channel_class: type[WeChatInput] = WeChatInput,
              **settings: Any) -> WeChatInput:
        values: dict[str, Any] = {"token": TOKEN, "app_id": APP_ID, "app_secret": "secret",
                                  "api_base": fake_wechat.url, **settings}
        channel = channel_class(WeChatConfig(**values), store=store or MemoryStore())
        channels.append(channel)
        return channel

    yield build
    for channel in channels:
        await channel.drain()
        await channel.close()


@pytest.fixture()
def client_sessions(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    """Every ``aiohttp.ClientSession`` opened while the test runs, in order."""
    opened: list[aiohttp.ClientSession] = []
    real = aiohttp.ClientSession

    def recorded(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        session = real(*args, **kwargs)
        opened.append(session)
        return session

    monkeypatch.setattr(aiohttp, "ClientSession", recorded)
    return opened


@pytest.fixture(scope="session")
def redis_available() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"!!! Redis is not reachable at {REDIS_URL} ({error}): "
                    "Redis tests of the WeChat channel SKIPPED !!!")
    return REDIS_URL


@pytest.fixture()
async def redis_store(redis_available: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_available)
    yield store
    await store.close()


@pytest.fixture()
def redis_namespace(redis_available: str) -> Iterator[str]:
    """A fresh key prefix; its keys are removed afterwards."""
    namespace = f"wechat-test-{uuid.uuid4().hex[:10]}"
    yield namespace
    client = redis.Redis.from_url(redis_available)
    for key in client.scan_iter(f"*{namespace}*"):
        client.delete(key)


@pytest.fixture(scope="session")
def wechat_servers(shared_stack: SharedStack) -> WeChatServers:
    """The session's shared stack (tests/stack.py), warmed up after every start."""
    return wechat_view(shared_stack)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failed end-to-end test, attach the tails of the server logs to the report."""
    outcome = yield
    report = outcome.get_result()
    servers = getattr(item, "funcargs", {}).get("wechat_servers")
    if report.failed and isinstance(servers, WeChatServers):
        for name, tail in servers.log_tails().items():
            report.sections.append((f"{name} server log (tail)", tail))
