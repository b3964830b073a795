"""Fixtures of the chat widget tests: real servers with the widget channel, Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import Servers, free_port, running_servers

CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium as root, with no network but loopback: no sandbox, no background
# traffic, nothing downloaded.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = PROJECT_ROOT / "results" / "screenshots"

CREDENTIALS = """\
rest:
addons.channels.widget.WidgetInput:
  max_message_chars: 500
"""


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


@pytest.fixture(scope="module")
def widget_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Servers, ShopSite]]:
    """Action server + rasa server with the widget channel (``--cors "*"`` as `make run`
    has it), a tracker store on disk (the conversation must survive a restart of the
    rasa server) and a shop website on another origin that is allowed to embed it."""
    workdir = Path(tmp_path_factory.mktemp("widget-e2e"))
    db_url = f"sqlite:///{workdir / 'merchant.db'}"
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    tracker_store = (f"tracker_store:\n  type: SQL\n  dialect: sqlite\n"
                     f"  db: {workdir / 'tracker.db'}\n")
    rasa_port = free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    site_dir = workdir / "shop"
    site_dir.mkdir()
    shop = ShopSite(site_dir, rasa_url)
    env = {"WIDGET_REDIS_URL": "", "WIDGET_WELCOME": "",
           # The demo page on the rasa server itself, and the shop.
           "WIDGET_ALLOWED_ORIGINS": f"{rasa_url},{shop.origin}"}
    try:
        with running_servers(workdir, db_url, CREDENTIALS, extra_env=env,
                             extra_endpoints=tracker_store, rasa_port=rasa_port,
                             extra_rasa_args=["--cors", "*"]) as servers:
            yield servers, shop
    finally:
        shop.stop()


@pytest.fixture(scope="module")
def widget_servers(widget_env: tuple[Servers, ShopSite]) -> Servers:
    return widget_env[0]


@pytest.fixture(scope="module")
def shop(widget_env: tuple[Servers, ShopSite]) -> ShopSite:
    return widget_env[1]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("!!! /usr/bin/chromium is missing (apt-get install chromium): "
                    "chat widget BROWSER TESTS SKIPPED !!!")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On a failed browser test, attach the tails of the server logs to the report."""
    outcome = yield
    report = outcome.get_result()
    servers = getattr(item, "funcargs", {}).get("widget_servers")
    if report.failed and isinstance(servers, Servers):
        for name, path in servers.logs.items():
            if path.exists():
                report.sections.append((f"{name} server log (tail)",
                                        path.read_text(errors="replace")[-6000:]))

