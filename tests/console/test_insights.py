"""The report's API (``/console/api/insights/summary`` and ``.csv``) and its page, on
SQLite and PostgreSQL, over the hand-computed day of tests/db/test_insights.py (the
expected figures are worked out in that module's docstring)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from console.app import create_app
from console.routes.insights import _cell
from core.db.models import Agent
from core.db.session import get_engine
from tests.console.conftest import Sleeps, add_agent, settings_for, sign_in
from tests.console.fake_rasa import FakeRasa
from tests.db.test_insights import events_url_for, the_day, write_events, write_merchant_day

SUMMARY = "/console/api/insights/summary"
DAY = {"from": "2026-12-01", "to": "2026-12-01"}


@pytest.fixture()
def service_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    """The day's expectations assume these hours (the console reads them at start)."""
    monkeypatch.setenv("HANDOFF_HOURS", "09:00-21:00")
    monkeypatch.setenv("HANDOFF_DAYS", "1-7")
    monkeypatch.setenv("HANDOFF_TZ", "Asia/Shanghai")


def _client(db_url: str, events_url: str) -> TestClient:
    app = create_app(settings_for(db_url, events_db_url=events_url),
                     rasa_transport=FakeRasa().transport(), sleep=Sleeps(), background=False)
    return TestClient(app)


@pytest.fixture()
def insights_client(db_url: str, tmp_path: Path, service_hours: None) -> Iterator[TestClient]:
    write_merchant_day(db_url)
    events_url = events_url_for(db_url, tmp_path)
    events = create_engine(events_url, future=True)
    write_events(events, the_day())
    events.dispose()
    add_agent(db_url, "zhang", "主管老张", supervisor=True)
    with _client(db_url, events_url) as client:
        yield client


def signed_in(client: TestClient) -> TestClient:
    sign_in(client, "zhang")
    return client


def test_without_a_session_no_figure_is_shown(insights_client: TestClient) -> None:
    for path in (SUMMARY, SUMMARY + ".csv"):
        response = insights_client.get(path, params=DAY)
        assert response.status_code == 401
        assert response.json() == {"detail": "请先登录"}
    insights_client.cookies.set("console_session", "forged", path="/console")
    assert insights_client.get(SUMMARY, params=DAY).status_code == 401
    insights_client.cookies.clear()
    assert signed_in(insights_client).get(SUMMARY, params=DAY).status_code == 200


def test_summary_gives_the_days_figures_as_flat_keys(insights_client: TestClient) -> None:
    response = signed_in(insights_client).get(SUMMARY, params=DAY)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    figures = response.json()
    expected = {
        "from": "2026-12-01", "to": "2026-12-01", "channel": None,
        "events_available": True, "conversations": 7, "contained_rate": 0.4286,
        "handoff_rate": 0.5, "fallback_rate": 0.1538, "did_you_mean_rate": 0.0769,
        "csat_avg": 3.0, "csat_n": 2, "queue_wait_p50_s": 360.0, "queue_wait_p90_s": 552.0,
        "first_response_p50_s": 420.0, "resolution_p50_s": 1800.0,
        "handoffs_by_reason": {"merchant_asked": 3, "not_understood": 1},
        "identity_lockouts": 2,
    }
    assert {key: figures[key] for key in expected} == expected


def test_channel_filter(insights_client: TestClient) -> None:
    figures = signed_in(insights_client).get(
        SUMMARY, params={**DAY, "channel": "wechat"}).json()
    assert figures["channel"] == "wechat"
    assert (figures["conversations"], figures["handoff_rate"], figures["handoffs"],
            figures["identity_lockouts"]) == (2, 1.0, 2, 1)


@pytest.mark.parametrize(("params", "message"), [
    ({"to": "2026-12-01"}, "请选择开始日期（格式 YYYY-MM-DD）"),
    ({"from": "2026-12-01"}, "请选择结束日期（格式 YYYY-MM-DD）"),
    ({"from": "2026-13-01", "to": "2026-12-01"}, "开始日期格式不对，应为 YYYY-MM-DD，例如 2026-12-01"),
    ({"from": "2026/12/01", "to": "2026-12-01"}, "开始日期格式不对，应为 YYYY-MM-DD，例如 2026-12-01"),
    ({"from": "2026-12-01", "to": "20261202"}, "结束日期格式不对，应为 YYYY-MM-DD，例如 2026-12-01"),
    ({"from": "2026-12-02", "to": "2026-12-01"}, "结束日期不能早于开始日期"),
    ({"from": "2025-01-01", "to": "2026-12-01"}, "一次最多统计366天"),
    ({**DAY, "channel": "we chat"}, "渠道不对，例如 wechat、widget、rest"),
])
def test_bad_parameters_are_refused_in_chinese(insights_client: TestClient,
                                               params: dict[str, str], message: str) -> None:
    client = signed_in(insights_client)
    for path in (SUMMARY, SUMMARY + ".csv"):
        response = client.get(path, params=params)
        assert response.status_code == 422
        assert response.json() == {"detail": message}


def _csv(response: Any) -> dict[str, str]:
    assert response.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["metric", "value"]
    return dict(rows[1:])


def test_csv_has_one_row_per_figure_and_group(insights_client: TestClient) -> None:
    response = signed_in(insights_client).get(SUMMARY + ".csv",
                                              params={**DAY, "channel": "widget"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == \
        'attachment; filename="insights_2026-12-01_2026-12-01_widget.csv"'
    rows = _csv(response)
    assert rows["conversations"] == "5" and rows["contained_rate"] == "0.6"
    assert rows["handoffs_by_reason.merchant_asked"] == "1"
    assert rows["handoffs_by_reason.not_understood"] == "1"
    assert rows["top_entries.frozen_funds"] == "1"
    assert rows["funnel_identity_asked.phone_last4"] == "1"
    assert rows["csat_avg"] == "4.0" and rows["resolution_p90_s"] == "900.0"
    assert rows["queue_wait_p90_s"] == "120.0"
    assert rows["csat_response_rate"] == "1.0"


def test_exported_text_is_masked_and_never_a_formula(insights_client: TestClient,
                                                     db_url: str) -> None:
    with Session(get_engine(db_url)) as session, session.begin():
        agent = session.query(Agent).filter_by(username="li").one()
        agent.display_name = "=HYPERLINK 13812345678"
    client = signed_in(insights_client)
    figures = client.get(SUMMARY, params=DAY).json()
    assert figures["conversations_per_agent"] == {"=HYPERLINK 138********": 1, "小王": 2}
    text = client.get(SUMMARY + ".csv", params=DAY).text
    assert "13812345678" not in text
    assert "conversations_per_agent.=HYPERLINK 138********,1" in text
    # A cell that would start a formula in a spreadsheet is quoted as text.
    assert [_cell(value) for value in ("=1+1", "+1", "-1", "@x", "ok", None, True, -2)] == \
        ["'=1+1", "'+1", "'-1", "'@x", "ok", "", "true", "-2"]


def test_without_the_event_broker_file_the_handoff_figures_still_come(
        db_url: str, tmp_path: Path, service_hours: None) -> None:
    write_merchant_day(db_url)
    add_agent(db_url, "zhang", "主管老张", supervisor=True)
    missing = tmp_path / "nowhere" / "events.db"
    with _client(db_url, f"sqlite:///{missing}") as client:
        figures = signed_in(client).get(SUMMARY, params=DAY).json()
    assert figures["events_available"] is False and figures["conversations"] is None
    assert figures["handoffs"] == 4 and figures["csat_n"] == 2
    assert not missing.exists()  # reading never creates an empty broker database


def test_the_page_is_served_under_the_strict_policy(insights_client: TestClient) -> None:
    response = insights_client.get("/console/insights")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert '<script src="/console/static/insights.js"' in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    for name in ("insights.js", "insights.css"):
        assert insights_client.get(f"/console/static/{name}").status_code == 200


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_a_supervisor_reads_the_figures_in_chromium(tmp_path: Path) -> None:
    """The console as its own process (around the clock: every conversation of the day
    could hand off, so 3 of 7), the page in Chromium under the console's CSP."""
    if not CHROMIUM.exists():
        pytest.skip("!!! /usr/bin/chromium missing: browser test SKIPPED !!!")
    from playwright.sync_api import sync_playwright

    from core.db.migrate import upgrade
    from tests.console.servers import running_console

    db_url = f"sqlite:///{tmp_path / 'merchant.db'}"
    upgrade(db_url)
    write_merchant_day(db_url)
    add_agent(db_url, "zhang", "主管老张", supervisor=True)
    events_db = tmp_path / "events.db"
    engine = create_engine(f"sqlite:///{events_db}", future=True)
    write_events(engine, the_day())
    engine.dispose()
    with running_console(tmp_path, db_url, "http://127.0.0.1:9", "token-unused",
                         events_db) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            errors: list[str] = []
            page.on("console", lambda message: message.type == "error"
                    and errors.append(message.text))
            page.goto(f"{url}/console/insights")
            page.wait_for_selector("#signin:not([hidden])")  # not signed in yet
            page.goto(f"{url}/console/")
            page.fill("#login-username", "zhang")
            page.fill("#login-password", "correct horse battery")
            page.click("#login-submit")
            page.wait_for_selector("#app-view:not([hidden])")
            page.goto(f"{url}/console/insights")
            page.fill("#from", "2026-12-01")
            page.fill("#to", "2026-12-01")
            page.click("#period button[type=submit]")
            page.wait_for_selector("#status:has-text('2026-12-01 至 2026-12-01')")

            def value(label: str) -> str:
                return page.locator(f"tr:has(td:text-is('{label}')) td.value").inner_text()

            assert value("对话数") == "7"
            assert value("机器人独立解决率") == "42.9%"
            assert value("转人工率") == "42.9%"  # around the clock: 3 of 7 could and did
            assert value("排队时长 中位数") == "6.0 分钟"
            assert value("平均分（1-5）") == "3.00"
            assert "商户要求转人工：3" in value("转人工原因")
            href = page.get_attribute("#csv", "href")
            assert href == "/console/api/insights/summary.csv?from=2026-12-01&to=2026-12-01"
            page.fill("#to", "2026-11-30")
            page.click("#period button[type=submit]")
            page.wait_for_selector("#error:has-text('结束日期不能早于开始日期')")
            assert not [text for text in errors if "Content Security Policy" in text], errors
        finally:
            browser.close()


def test_an_agent_who_is_not_a_supervisor_sees_no_figure(insights_client: TestClient,
                                                         db_url: str) -> None:
    """The figures show colleagues' workloads: supervisors only."""
    add_agent(db_url, "chen_agent", "小陈")
    sign_in(insights_client, "chen_agent")
    for path in ("/console/api/insights/summary", "/console/api/insights/summary.csv"):
        response = insights_client.get(path, params={"from": "2026-11-30", "to": "2026-11-30"})
        assert response.status_code == 403, path
