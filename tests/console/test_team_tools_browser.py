"""The team tools in Chromium (issue 20, items 5 and 7): a supervisor adds a canned reply
on /console/team; an agent types its shortcut in the reply box and gets it with the
conversation's values filled, then closes with a 会话小结 label that history shows and
filters by. The console runs as its own process under its strict CSP (no rasa behind
it: notices and transcripts fail visibly, which is not what is checked here)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.db import handoffs
from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine
from tests.console.conftest import PASSWORD, SNAPSHOT, add_agent

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("CONSOLE_SHOTS_DIR", "")) if os.environ.get("CONSOLE_SHOTS_DIR") \
    else None


def sign_in(page, url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/console/")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#app-view:not([hidden])")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_a_shortcut_fills_a_canned_reply_and_the_close_needs_a_label(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("!!! /usr/bin/chromium missing: browser test SKIPPED !!!")
    from playwright.sync_api import expect, sync_playwright

    from tests.console.servers import running_console

    db_url = f"sqlite:///{tmp_path / 'merchant.db'}"
    upgrade(db_url)
    seed_demo_data(get_engine(db_url))
    add_agent(db_url, "zhang", "老张", supervisor=True)
    add_agent(db_url, "wang", "小王")
    with Session(get_engine(db_url)) as session, session.begin():
        # 1900000003: frozen, appeal AP20261120001 under review (the demo data).
        handoffs.queue(session, "wechat", "oBrowser1", "merchant_asked", "申诉多久有结果",
                       merchant_id="1900000003",
                       account_snapshot=json.dumps(SNAPSHOT, ensure_ascii=False))
    get_engine(db_url).dispose()
    with running_console(tmp_path, db_url, "http://127.0.0.1:9", "token-unused",
                         tmp_path / "events.db") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"])
        errors: list[str] = []
        try:
            # The supervisor adds a reply in the agent's voice, with a variable.
            boss = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
            page = boss.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            sign_in(page, url, "zhang")
            expect(page.locator("#team-link")).to_be_visible()
            page.click("#team-link")
            page.wait_for_selector("#tools:not([hidden])")
            expect(page.locator("#canned-rows tr[data-shortcut='/95017']")).to_have_count(1)
            page.click("#canned-save")  # empty: every problem said
            expect(page.locator("#canned-problems li")).to_have_count(3)
            page.fill("#canned-title-input", "补充材料")
            page.fill("#canned-shortcut", "/补材料")
            page.fill("#canned-text", "我是客服")
            page.click("#variables button:has-text('{客服}')")
            page.locator("#canned-text").press("End")
            page.locator("#canned-text").type("，麻烦您补一张门头照片。")
            page.click("#canned-save")
            expect(page.locator("#canned-rows tr[data-shortcut='/补材料']")).to_have_count(1)
            expect(page.locator("#changes li").first).to_contain_text("老张：新建常用回复 /补材料")
            shot(page, "team-1440")
            page.set_viewport_size({"width": 375, "height": 800})
            shot(page, "team-375")
            boss.close()

            agent = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
            page = agent.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            sign_in(page, url, "wang")
            expect(page.locator("#team-link")).to_be_hidden()
            # Queued while nobody was online: the watcher made it a ticket (留言).
            page.click(".sidebar .card button:has-text('接入')")
            page.wait_for_selector("#reply-form:not([hidden])")
            box = page.locator("#reply-text")
            # "/950" lists /95017 first; Enter inserts it (and does not send).
            box.click()
            box.type("/950")
            expect(page.locator("#canned-suggest li").first).to_contain_text("/95017")
            box.press("Enter")
            expect(box).to_have_value(re.compile(r"^微信支付官方客服电话是95017，"))
            assert "/950" not in box.input_value()
            # Variables come from this conversation: the masked merchant id, its appeal,
            # the agent's own name.
            box.fill("")
            box.type("/核对")
            box.press("Tab")
            expect(box).to_have_value("我这边看到的商户号是1900****03，请您确认一下是不是这个商户号。")
            box.fill("")
            box.type("/进度")
            box.press("Enter")
            expect(box).to_have_value(re.compile(r"^我查到您的申诉单号是AP20261120001，"))
            box.fill("")
            box.type("/补材")
            box.press("Enter")
            expect(box).to_have_value("我是客服小王，麻烦您补一张门头照片。")
            expect(page.locator("#reply-send")).to_be_enabled()
            shot(page, "reply-1440")

            # Closing offers the labels and needs one.
            page.click("#close-open")
            expect(page.locator("#close-label option")).to_have_count(10)  # 9 + the prompt
            page.fill("#close-resolution", "已告知审核时间")
            page.click("#close-form button[type=submit]")
            expect(page.locator("#close-form")).to_be_visible()  # refused without a label
            page.select_option("#close-label", label="申诉进度")
            page.click("#close-form button[type=submit]")
            expect(page.locator("#close-form")).to_be_hidden()
            card = page.locator("#history-list .history-card").first
            expect(card.locator(".tag.label")).to_have_text("申诉进度")
            card.click()
            expect(page.locator("#summary")).to_contain_text("申诉进度")
            shot(page, "closed-1440")
            page.select_option("#history-label", label="防骗")
            page.click("#history-form button[type=submit]")
            expect(page.locator("#history-list")).to_contain_text("没有找到结束的会话")
            page.select_option("#history-label", label="申诉进度")
            page.click("#history-form button[type=submit]")
            expect(page.locator("#history-list .history-card")).to_have_count(1)
            page.set_viewport_size({"width": 375, "height": 800})
            shot(page, "closed-375")
            assert not [text for text in errors if "Content Security Policy" in text], errors
        finally:
            browser.close()
