"""Fixtures of the chat widget tests: the shared stack's widget channel, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.servers import Servers
from tests.stack import SharedStack, ShopSite

CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium as root, with no network but loopback: no sandbox, no background
# traffic, nothing downloaded.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = PROJECT_ROOT / "results" / "screenshots"


@pytest.fixture(scope="session")
def widget_servers(shared_stack: SharedStack) -> Servers:
    """The session's shared stack (tests/stack.py): the widget channel, ``--cors "*"`` as
    `make run` has it, a tracker store on disk (a conversation survives a restart of the
    rasa server: ``widget_servers.rasa.stop()`` / ``.start()``)."""
    return shared_stack.servers


@pytest.fixture(scope="session")
def shop(shared_stack: SharedStack) -> ShopSite:
    """A shop website on another origin that is allowed to embed the widget."""
    return shared_stack.shop


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

