"""Low item of issue 25 (docs/security.md P5 i): the Origin check compares the Origin
with the Host the console was reached by; a client-sent ``X-Forwarded-Host`` counts
only when the address that connected is one of ``CONSOLE_TRUSTED_PROXIES`` (none by
default), also behind uvicorn's proxy headers, which rewrite the client address."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from console.__main__ import served
from console.app import create_app
from console.config import Settings
from tests.console.conftest import PASSWORD, add_agent, settings_for
from tests.console.fake_rasa import FakeRasa

EVIL = "evil.example"


async def presence_from(app: Any, peer: str, headers: dict[str, str]) -> int:
    """Signs in and changes presence from ``peer``; the status of the change."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.local") as web:
        login = await web.post("/console/api/login",
                               json={"username": "wang", "password": PASSWORD})
        assert login.status_code == 200, login.text
        response = await web.put("/console/api/me/presence", json={"presence": "away"},
                                 headers={"X-CSRF-Token": login.json()["csrf_token"],
                                          **headers})
        return response.status_code


def app_for(db_url: str, fake_rasa: FakeRasa, **settings: Any) -> Any:
    return create_app(settings_for(db_url, **settings), rasa_transport=fake_rasa.transport(),
                      background=False)


async def test_a_client_sent_forwarded_host_does_not_pass_the_origin_check(
        db_url: str, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    app = app_for(db_url, fake_rasa)
    forged = {"Origin": f"http://{EVIL}", "X-Forwarded-Host": EVIL}
    assert await presence_from(app, "127.0.0.1", forged) == 403
    assert await presence_from(app, "203.0.113.7", forged) == 403
    assert await presence_from(app, "127.0.0.1", {"Origin": "http://console.local"}) == 200


async def test_a_configured_proxy_may_name_the_host(db_url: str, fake_rasa: FakeRasa) -> None:
    add_agent(db_url, "wang", "小王")
    app = app_for(db_url, fake_rasa, trusted_proxies=("10.1.0.0/16", "127.0.0.1"))
    proxied = {"Origin": "https://console.example.com",
               "X-Forwarded-Host": "console.example.com"}
    assert await presence_from(app, "10.1.2.3", proxied) == 200
    assert await presence_from(app, "127.0.0.1", proxied) == 200
    assert await presence_from(app, "10.2.0.1", proxied) == 403  # not in the list
    # As `python -m console` serves it: uvicorn's proxy headers rewrite the client to the
    # X-Forwarded-For address; the trust still goes by the address that connected.
    through = {**proxied, "X-Forwarded-For": "203.0.113.7"}
    assert await presence_from(served(app), "127.0.0.1", through) == 200
    forged = {"Origin": f"http://{EVIL}", "X-Forwarded-Host": EVIL,
              "X-Forwarded-For": "127.0.0.1"}
    assert await presence_from(served(app), "203.0.113.7", forged) == 403


def test_the_proxy_list_comes_from_the_environment() -> None:
    env = {"MERCHANT_DB_URL": "sqlite://", "RASA_TOKEN": "t"}
    assert Settings.from_env(env).trusted_proxies == ()
    listed = Settings.from_env({**env, "CONSOLE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    assert listed.trusted_proxies == ("127.0.0.1", "10.0.0.0/8")
    with pytest.raises(ValueError, match="CONSOLE_TRUSTED_PROXIES"):
        Settings.from_env({**env, "CONSOLE_TRUSTED_PROXIES": "proxy.internal"})
