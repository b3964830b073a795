"""Real servers for the console's end-to-end tests: the session's shared stack
(tests/stack.py: the action server and the rasa server with REST, WeChat against the fake
WeChat API and the widget, Rasa's SQL event broker on) and the console itself as its own
process (`python -m console`) following that broker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import VENV_BIN, Servers, _stop, _wait, free_port
from tests.stack import SharedStack
from tests.wechat.client import TOKEN as WECHAT_TOKEN
from tests.wechat.client import wechat_send
from tests.wechat.fake_wechat import FakeWeChat


def merchant_side_on_main() -> bool:
    """The lead engineer's handoff flow (queueing on 转人工, the silent-bot policy, the
    satisfaction question on ``handoff_closed``) is in this tree."""
    paths = [PROJECT_ROOT / "domain.yml", *sorted((PROJECT_ROOT / "domain").rglob("*.yml"))]
    for path in paths:
        if path.exists():
            intents = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("intents")
            if any((i if isinstance(i, str) else next(iter(i))) == "handoff_closed"
                   for i in intents or []):
                return True
    return False


@dataclass
class Stack:
    rasa: Servers
    wechat: FakeWeChat
    console_url: str
    db_url: str
    events_db: Path
    logs: dict[str, Path]

    def wechat_says(self, openid: str, text: str) -> str | None:
        """A signed plaintext message to the WeChat webhook; the passive reply's text."""
        query, body = wechat_send.signed_request(wechat_send.text_xml(openid, text),
                                                 WECHAT_TOKEN, "", "")
        response = requests.post(f"{self.rasa.rasa_url}/webhooks/wechat/webhook",
                                 params=query, data=body, timeout=30,
                                 headers={"Content-Type": "text/xml"})
        assert response.status_code == 200, response.text
        if response.text == "success":
            return None
        return wechat_send.reply_field(response.text)

    def append_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        response = requests.post(
            f"{self.rasa.rasa_url}/conversations/{sender}/tracker/events",
            params={"token": self.rasa.token}, json=events, timeout=30)
        response.raise_for_status()

    def last_bot_text(self, sender: str) -> str:
        """The newest bot message of a conversation (whichever way it was delivered)."""
        events = self.rasa.tracker(sender)["events"]
        return next((e.get("text") or "" for e in reversed(events) if e["event"] == "bot"), "")

    def log_tails(self, chars: int = 4000) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}"
                         for name, path in self.logs.items() if path.exists())


@contextmanager
def running_console(workdir: Path, db_url: str, rasa_url: str, token: str,
                    events_db: Path, base_env: Mapping[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    log = workdir / "console.log"
    env = {
        **{k: v for k, v in (base_env or os.environ).items()
           if not k.startswith(("CONSOLE_", "WECHAT_"))},
        "MERCHANT_DB_URL": db_url, "RASA_URL": rasa_url, "RASA_TOKEN": token,
        "CONSOLE_PORT": str(port), "CONSOLE_EVENTS_DB_URL": f"sqlite:///{events_db}",
        "CONSOLE_POLL_S": "0.2",
        # Around the clock: the tests must not depend on the hour they run at.
        "HANDOFF_HOURS": "00:00-24:00",
    }
    process = subprocess.Popen([str(VENV_BIN / "python"), "-m", "console"], cwd=PROJECT_ROOT,
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{port}/console/", process, log, seconds=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop([process])


@contextmanager
def running_stack(shared: SharedStack) -> Iterator[Stack]:
    """The console (its own process) on the shared stack's database, rasa and broker."""
    rasa = shared.servers
    with running_console(shared.workdir, rasa.db_url, rasa.rasa_url, rasa.token,
                         shared.events_db, shared.base_env) as url:
        yield Stack(rasa, shared.fake_wechat, url, rasa.db_url, shared.events_db,
                    {**rasa.logs, "console": shared.workdir / "console.log"})


def wait_until(check: Any, timeout: float = 20, interval: float = 0.1) -> Any:
    """Polls ``check`` until it returns something truthy (fails with the last value)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        with suppress(AssertionError):
            value = check()
            if value:
                return value
        time.sleep(interval)
    return value
