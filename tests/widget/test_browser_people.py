"""Issue 20, item 4 in Chromium: the merchant sees when a person is talking.

The real path end to end: the shared stack (rasa with the widget channel, the action
server, the merchant database), the agent console as its own process, an agent using
its API; the merchant in the widget at 1440 px and, on the same session, at 375 px.
Screenshots go to /tmp/shots/ (looked at by a person, see the report of issue 20)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.agent_client import AgentClient
from tests.console.conftest import add_agent, queue_handoff
from tests.console.servers import Stack, merchant_side_on_main, running_stack, wait_until
from tests.stack import SharedStack
from tests.widget.test_browser import STORAGE_KEY, TURN_MS, Widget

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path("/tmp/shots")
MERCHANT_SIDE = merchant_side_on_main()
JOINED = "客服小王已接入"
LEFT = "客服小王已结束会话，之后由智能助手回复"
REPLY = "您好，我是客服小王。<img src=x onerror=alert(1)> 详情见 https://example.com/help"


@pytest.fixture(scope="module")
def stack(shared_stack: SharedStack) -> Iterator[Stack]:
    with running_stack(shared_stack) as running:
        add_agent(running.db_url, "people_wang", "小王")
        yield running


def header(widget: Widget) -> tuple[str, str, bool]:
    """The header's title, subtitle and whether it is in the agent's colours."""
    return (widget.loc(".header h2").inner_text(), widget.loc(".header p").inner_text(),
            "agent" in (widget.loc(".header").get_attribute("class") or ""))


def typing_label(widget: Widget) -> str:
    return widget.loc(".typing-label").evaluate("node => node.textContent")


def background(locator: Any) -> str:
    return locator.evaluate("node => getComputedStyle(node).backgroundColor")


def phone_page(browser: Any, stack: Stack, session: dict[str, Any]) -> Widget:
    """The same merchant's session on a 375 px phone (the secret in local storage)."""
    context = browser.new_context(viewport={"width": 375, "height": 720}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    context.add_init_script(
        f"localStorage.setItem({json.dumps(STORAGE_KEY)}, {json.dumps(json.dumps(session))})")
    widget = Widget(context.new_page())
    widget.page.goto(f"{stack.rasa.rasa_url}/widget/demo.html")
    widget.open()
    return widget


def test_the_merchant_sees_who_answers(stack: Stack, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    widget = Widget(context.new_page())
    widget.page.goto(f"{stack.rasa.rasa_url}/widget/demo.html")
    widget.open()
    widget.ask("客服电话", "打之前准备好")
    assert header(widget) == ("收款账户助手", "智能助手自动回复 · 收款限制、冻结、申诉", False)
    assert typing_label(widget) == "智能助手正在输入"
    session = widget.session()
    session_id = session["session_id"]

    # An agent takes the conversation over in the console.
    handoff_id = queue_handoff(stack.db_url, session_id, channel="widget", snapshot=None)
    agent = AgentClient(stack.console_url, "people_wang")
    try:
        assert agent.post(f"/handoffs/{handoff_id}/claim")["notice_error"] is None
        joined = widget.loc(".notice").filter(has_text=JOINED)
        widget.expect(joined).to_have_count(1, timeout=TURN_MS)
        widget.expect(widget.loc(".header h2")).to_have_text("客服小王")
        assert header(widget) == ("客服小王", "人工客服 · 正在为你服务", True)
        assert typing_label(widget) == "客服小王正在输入"
        assert widget.bot(JOINED).count() == 0  # a system line, not the bot's bubble

        assert agent.post(f"/handoffs/{handoff_id}/messages", {"text": REPLY})["status"] == "sent"
        reply = widget.loc(".msg.agent").filter(has_text="我是客服小王")
        widget.expect(reply).to_have_count(1, timeout=TURN_MS)
        widget.expect(reply.locator(".sender")).to_have_text("客服小王")
        assert reply.locator(".bubble").inner_text() == REPLY  # text, never markup
        assert widget.loc(".messages img, .messages script").count() == 0
        assert reply.locator("a").get_attribute("href") == "https://example.com/help"
        assert widget.bot("我是客服小王").count() == 0
        assert background(reply.locator(".bubble")) != background(
            widget.bot("打之前准备好").first)

        bot_lines = widget.loc(".msg.bot").count()
        widget.send("好的，我等你的消息")
        widget.expect(widget.loc(".msg.user .status")).to_have_count(0, timeout=TURN_MS)
        widget.expect(widget.loc(".typing")).to_be_hidden(timeout=TURN_MS)
        if MERCHANT_SIDE:  # the bot is silent while the agent holds it
            widget.page.wait_for_timeout(1000)
            assert widget.loc(".msg.bot").count() == bot_lines
        widget.page.screenshot(path=str(SHOTS / "people-1440-agent.png"))

        # A reload restores the agent as a person, and who answers.
        widget.page.reload()
        widget.open()
        widget.expect(widget.loc(".msg.agent .sender")).to_have_text(["客服小王"],
                                                                    timeout=TURN_MS)
        widget.expect(widget.loc(".header h2")).to_have_text("客服小王")
        widget.expect(widget.loc(".notice").filter(has_text=JOINED)).to_have_count(1)
        widget.page.screenshot(path=str(SHOTS / "people-1440-agent-reload.png"))
        phone = phone_page(browser, stack, session)
        phone.expect(phone.loc(".msg.agent .sender")).to_have_text(["客服小王"],
                                                                  timeout=TURN_MS)
        phone.expect(phone.loc(".header h2")).to_have_text("客服小王")
        box = phone.panel.bounding_box()
        assert box is not None and box["width"] <= 375
        phone.page.screenshot(path=str(SHOTS / "people-375-agent.png"))

        # The agent ends it: one line says so, the assistant is back in the header.
        closed = agent.post(f"/handoffs/{handoff_id}/close", {"resolution": "已说明客服电话",
                                                            "label": "其他"})
        assert closed["notice_error"] is None and closed["warning"] is None
        left = widget.loc(".notice").filter(has_text=LEFT)
        widget.expect(left).to_have_count(1, timeout=TURN_MS)
        widget.expect(widget.loc(".header h2")).to_have_text("收款账户助手")
        assert header(widget)[2] is False and typing_label(widget) == "智能助手正在输入"
        phone.expect(phone.loc(".notice").filter(has_text=LEFT)).to_have_count(1,
                                                                               timeout=TURN_MS)
        phone.expect(phone.loc(".header h2")).to_have_text("收款账户助手")
        if MERCHANT_SIDE:
            widget.wait_bot("打个分")  # the bot is back and asks for the score
            user_texts = wait_until(lambda: [
                e.get("text") for e in stack.rasa.tracker(session_id)["events"]
                if e.get("event") == "user" and str(e.get("text")).startswith("EXTERNAL")])
            assert user_texts == ["EXTERNAL: handoff_closed"]
        widget.page.screenshot(path=str(SHOTS / "people-1440-closed.png"))
    finally:
        agent.close()

    # After a reload: the same lines, once each; no system event as the merchant's line.
    for page in (widget, phone):
        page.page.reload()
        page.open()
        page.expect(page.loc(".notice").filter(has_text=LEFT)).to_have_count(1,
                                                                             timeout=TURN_MS)
        page.expect(page.loc(".notice").filter(has_text=JOINED)).to_have_count(1)
        page.expect(page.loc(".msg.agent")).to_have_count(1)
        page.expect(page.loc(".header h2")).to_have_text("收款账户助手")
        merchant_lines = page.loc(".msg.user .bubble").all_inner_texts()
        assert merchant_lines == ["客服电话", "好的，我等你的消息"], merchant_lines
        assert page.dialogs == []
    widget.page.screenshot(path=str(SHOTS / "people-1440-closed-reload.png"))
    phone.page.screenshot(path=str(SHOTS / "people-375-closed-reload.png"))
    phone.page.context.close()
    context.close()
