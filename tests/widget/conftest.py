"""Fixtures of the chat widget tests: real servers with the widget channel, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actions.db.migrate import upgrade
from actions.db.seed import seed_demo_data
from actions.db.session import get_engine
from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import Servers, running_servers

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


@pytest.fixture(scope="module")
def widget_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Action server + rasa server with the widget channel and a tracker store on disk
    (the conversation must survive a restart of the rasa server)."""
    workdir = Path(tmp_path_factory.mktemp("widget-e2e"))
    db_url = f"sqlite:///{workdir / 'merchant.db'}"
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    tracker_store = (f"tracker_store:\n  type: SQL\n  dialect: sqlite\n"
                     f"  db: {workdir / 'tracker.db'}\n")
    env = {"WIDGET_REDIS_URL": "", "WIDGET_ALLOWED_ORIGINS": "", "WIDGET_WELCOME": ""}
    with running_servers(workdir, db_url, CREDENTIALS, extra_env=env,
                         extra_endpoints=tracker_store) as servers:
        yield servers


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

