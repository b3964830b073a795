"""One rasa stack for the whole test session (the ``shared_stack`` fixture, tests/conftest.py).

Loading the model takes 30-60 s on two cores, so the end-to-end tests of every area (REST,
WeChat, the chat widget, the channels kept apart, the console) talk to one action server
and one rasa server, started on first use and stopped when the session ends:

- one credentials file with every channel the tests need: REST as ``make run`` has it;
  ``rest_locked`` (the same class with a shared secret and a rate limit of 5); WeChat in
  compatible mode with a test EncodingAESKey and, as ``wechat_slow``, with a 0.05 s reply
  deadline, both against one local fake WeChat API; the chat widget;
- one merchant database (migrated and seeded once), Rasa's SQL tracker store on disk (a
  conversation survives a restart of the rasa server) and its SQL event broker (the
  console follows it); HANDOFF_HOURS around the clock;
- a merchant's website on another origin that embeds the widget.

The areas' own fixtures are thin views over it. Tests keep apart by using their own
sender ids, OpenIDs and widget sessions; what a test leaves behind per merchant (appeals,
failed identity checks) is removed after it (``merchant_state_restored``), so no test
depends on another's order. A stack that must differ (a dead database, `make run`
itself) is started by its own test module.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import Servers, free_port, running_servers, warm_up
from tests.wechat.fake_wechat import FakeWeChat
from tests.wechat.servers import API_TOKEN, APP_SECRET
from tests.wechat.servers import credentials as wechat_credentials

# The environment of the session as it started: a test's monkeypatch (WECHAT_*,
# LOCAL_SECRETS_DIR, HANDOFF_HOURS, ...) must not reach the servers, whichever test
# happens to start them.
BASE_ENV = dict(os.environ)

REST_SECRET = "rest-secret-for-tests"
LOCKED_REST_LIMIT = 5
WIDGET_CHANNEL = "addons.channels.widget.WidgetInput:\n  max_message_chars: 500\n"


class ShopSite:
    """A merchant's own website on another origin, embedding the widget with one tag."""

    def __init__(self, directory: Path, rasa_url: str) -> None:
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        (directory / "shop.html").write_text(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<title>某某水果店</title></head><body><h1>某某水果店</h1><p>新鲜水果，当天配送。</p>"
            f"<script src=\"{rasa_url}/widget/widget.js\" defer></script></body></html>",
            encoding="utf-8",
        )
        handler = partial(SimpleHTTPRequestHandler, directory=str(directory))
        handler.log_message = lambda *_: None  # type: ignore[method-assign]
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def page_url(self) -> str:
        return f"{self.origin}/shop.html"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SharedStack:
    servers: Servers  # rasa_url, actions_url, token, logs, rasa (restartable), db_url
    fake_wechat: FakeWeChat
    shop: ShopSite
    workdir: Path
    events_db: Path
    base_env: dict[str, str]


def credentials(fake_wechat_url: str) -> str:
    return (
        wechat_credentials(fake_wechat_url)
        + "tests.security.locked_rest.LockedRestInput:\n"
        + f"  shared_secret: {REST_SECRET}\n"
        + f"  rate_limit_messages: {LOCKED_REST_LIMIT}\n"
        + WIDGET_CHANNEL
    )


@contextmanager
def running_shared_stack(workdir: Path) -> Iterator[SharedStack]:
    db_url = f"sqlite:///{workdir / 'merchant.db'}"
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    events_db = workdir / "events.db"
    endpoints = (f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {workdir / 'tracker.db'}\n"
                 f"event_broker:\n  type: SQL\n  dialect: sqlite\n  db: {events_db}\n")
    rasa_port = free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    site_dir = workdir / "shop"
    site_dir.mkdir()
    fake = FakeWeChat(app_secret=APP_SECRET).start()
    shop = ShopSite(site_dir, rasa_url)
    # The test-only channel classes live in tests/, which is not an installed package.
    python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), BASE_ENV.get("PYTHONPATH")]))
    env = {
        "PYTHONPATH": python_path,
        # Around the clock: no test may depend on the hour it runs at.
        "HANDOFF_HOURS": "00:00-24:00",
        "LOCAL_SECRETS_DIR": str(workdir / "secrets"),
        "WIDGET_REDIS_URL": "", "WIDGET_WELCOME": "",
        # The demo page on the rasa server itself, and the shop.
        "WIDGET_ALLOWED_ORIGINS": f"{rasa_url},{shop.origin}",
    }
    try:
        # `--cors "*"` as `make run` has it for the widget on other websites.
        with running_servers(workdir, db_url, credentials(fake.url), token=API_TOKEN,
                             extra_env=env, extra_endpoints=endpoints, rasa_port=rasa_port,
                             extra_rasa_args=["--cors", "*"], base_env=BASE_ENV,
                             warm_up=warm_up) as servers:
            yield SharedStack(servers, fake, shop, workdir, events_db, BASE_ENV)
    finally:
        shop.stop()
        fake.stop()
