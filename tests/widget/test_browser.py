"""The chat widget in Debian's Chromium against a real rasa server and action server.

The session's shared stack (tests/stack.py) and one browser for the module; every test
starts its own browser context (its own widget session), so none depends on another or
on their order.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.servers import Servers

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HOST = "#msa-chat-widget"
STORAGE_KEY = "msa-chat-widget:v1"
TURN_MS = 30_000


class Widget:
    """The widget on one page, seen and used the way a merchant does."""

    def __init__(self, page: Any) -> None:
        from playwright.sync_api import expect

        self.page = page
        self.expect = expect
        self.dialogs: list[str] = []
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def loc(self, selector: str) -> Any:
        return self.page.locator(f"{HOST} {selector}")

    @property
    def launcher(self) -> Any:
        return self.loc(".launcher")

    @property
    def panel(self) -> Any:
        return self.loc(".panel")

    @property
    def input(self) -> Any:
        return self.loc("textarea")

    @property
    def banner(self) -> Any:
        return self.loc(".banner")

    def open(self) -> None:
        self.launcher.click()
        self.expect(self.panel).to_be_visible()

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def bot(self, fragment: str) -> Any:
        return self.loc(".msg.bot .bubble").filter(has_text=fragment)

    def user(self, fragment: str) -> Any:
        return self.loc(".msg.user .bubble").filter(has_text=fragment)

    def wait_bot(self, fragment: str, count: int = 1, timeout: int = TURN_MS) -> None:
        """Wait until at least ``count`` bot messages contain ``fragment``."""
        self.expect(self.bot(fragment).nth(count - 1)).to_be_visible(timeout=timeout)

    def ask(self, text: str, expected: str) -> None:
        before = self.bot(expected).count()
        self.send(text)
        self.wait_bot(expected, before + 1)

    def session(self) -> dict[str, Any]:
        return json.loads(self.page.evaluate(f"localStorage.getItem('{STORAGE_KEY}')"))

    def focused(self) -> str:
        """Class and text of the element focused inside the widget ('' if none)."""
        return self.page.evaluate(
            """() => {
                const root = document.querySelector('#msa-chat-widget').shadowRoot;
                const el = root.activeElement;
                return el ? `${el.tagName.toLowerCase()}.${el.className}|${el.textContent}` : '';
            }"""
        )


def user_events(servers: Servers, session_id: str) -> list[dict[str, Any]]:
    return [e for e in servers.tracker(session_id)["events"] if e.get("event") == "user"]


def push_bot_message(servers: Servers, session_id: str, text: str) -> None:
    """What an agent console will do: append a bot event and send it through the widget."""
    response = requests.post(
        f"{servers.rasa_url}/conversations/{session_id}/tracker/events",
        params={"token": servers.token, "execute_side_effects": "true",
                "output_channel": "widget"},
        json={"event": "bot", "text": text}, timeout=30,
    )
    response.raise_for_status()


def new_context(browser: Any) -> Any:
    return browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")


@pytest.fixture()
def fresh(browser: Any, widget_servers: Servers) -> Iterator[Any]:
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture()
def merchant(browser: Any, widget_servers: Servers) -> Iterator[Any]:
    """A merchant's own browser context whose widget session has verified as 1900000002
    (the merchant id and the last four digits typed; the masked state shown)."""
    context = new_context(browser)
    widget = Widget(context.new_page())
    widget.page.goto(demo_url(widget_servers))
    widget.open()
    widget.ask("帮我查一下账户状态", "商户号（10位数字）")
    widget.ask("1900000002", "后4位")
    widget.ask("0002", "1900****02")
    # The answer shows while the turn still runs; the tracker has it once it is processed.
    widget.expect(widget.loc(".typing")).to_be_hidden(timeout=TURN_MS)
    yield context
    context.close()


def demo_url(servers: Servers) -> str:
    return f"{servers.rasa_url}/widget/demo.html"


def test_merchant_holds_the_account_conversation(fresh: Any, widget_servers: Servers,
                                                  screenshots: Path) -> None:
    widget = Widget(fresh.new_page())
    widget.page.goto(demo_url(widget_servers))
    widget.open()
    # Welcome with the main topics as quick replies.
    widget.expect(widget.bot("收款账户助手")).to_have_count(1)
    widget.expect(widget.loc(".quick-replies button").filter(has_text="怎么申诉")).to_be_enabled()

    # The merchant id typed at once, before the bot answered the question: it waits for
    # the answer and is shown below it, in the order the tracker records.
    widget.send("我的收款码被限制了怎么办")
    widget.send("1900000002")
    widget.wait_bot("后4位")
    widget.expect(widget.loc(".quick-replies button").first).to_be_disabled()
    order = widget.loc(".msg").all_inner_texts()
    positions = [next(i for i, t in enumerate(order) if fragment in t) for fragment in
                 ("我的收款码被限制了怎么办", "95017", "商户号（10位数字）", "1900000002\n",
                  "后4位")]
    assert positions == sorted(positions), order
    widget.ask("0002", "1900****02")
    widget.wait_bot("限制收款")
    assert widget.bot("1900000002").count() == 0  # masked

    # Bot buttons are quick replies: clicking sends the payload, the row then disables.
    widget.ask("你好", "挑选异地收款")
    row = widget.loc(".msg.bot").filter(has_text="挑选异地收款").locator(".quick-replies")
    row.locator("button", has_text="客服电话").click()
    widget.wait_bot("打之前准备好")
    widget.expect(widget.user("客服电话")).to_have_count(1)  # the title, not the payload
    widget.expect(row.locator("button:enabled")).to_have_count(0)
    # Line breaks kept, times shown, nothing left "sending" or "failed".
    answer = widget.bot("打之前准备好").first.inner_text()
    assert "\n" in answer
    widget.expect(widget.loc(".msg.user .meta time").first).to_have_text(
        re.compile(r"^\d{2}:\d{2}$"))
    widget.expect(widget.loc(".status")).to_have_count(0)
    widget.expect(widget.loc(".typing")).to_be_hidden()
    widget.page.screenshot(path=str(screenshots / "widget-desktop.png"))
    assert widget.dialogs == []


def test_reload_keeps_session_and_history(merchant: Any, widget_servers: Servers) -> None:
    widget = Widget(merchant.pages[0])
    session_id = widget.session()["session_id"]
    widget.page.reload()
    widget.open()
    # History from the server: the identity check and the masked state are shown again.
    widget.wait_bot("1900****02")
    widget.expect(widget.user("1900000002")).to_have_count(1)
    widget.expect(widget.user("帮我查一下账户状态")).to_have_count(1)
    assert widget.session()["session_id"] == session_id
    # The conversation continues: still verified in this widget session.
    widget.ask("帮我查一下账户状态", "1900****02")
    assert widget.bot("商户号（10位数字）").count() == 1  # not asked again
    events = user_events(widget_servers, session_id)
    assert {e["input_channel"] for e in events} == {"widget"}


def test_second_tab_shares_the_session_other_browser_does_not(
    merchant: Any, fresh: Any, widget_servers: Servers
) -> None:
    first = Widget(merchant.pages[0])
    second = Widget(merchant.new_page())
    second.page.goto(demo_url(widget_servers))
    second.open()
    assert second.session()["session_id"] == first.session()["session_id"]
    second.wait_bot("1900****02")  # the history
    # A message from one tab shows in both, and so does the answer.
    # (a new question: the same one twice gets a short "said already", by design)
    second.ask("费率多少", "0.6%")
    first.wait_bot("0.6%")
    first.expect(first.user("费率多少")).to_have_count(1)
    second.page.close()

    other = Widget(fresh.new_page())
    other.page.goto(demo_url(widget_servers))
    other.open()
    other.expect(other.loc(".msg.bot .bubble")).to_have_count(1)  # only the welcome
    assert other.session()["session_id"] != first.session()["session_id"]
    assert other.loc(".msg.user").count() == 0


def test_agent_style_push_reaches_the_open_widget_and_the_badge(
    fresh: Any, widget_servers: Servers, screenshots: Path
) -> None:
    widget = Widget(fresh.new_page())
    widget.page.goto(demo_url(widget_servers))
    widget.open()
    widget.ask("客服电话", "打之前准备好")
    session_id = widget.session()["session_id"]
    push_bot_message(widget_servers, session_id, "您好，我是人工客服小李，已经看到您的问题。")
    widget.wait_bot("人工客服小李")
    # Closed panel: an unread badge.
    widget.loc(".close").click()
    widget.expect(widget.panel).to_be_hidden()
    push_bot_message(widget_servers, session_id, "申诉材料准备好后告诉我。")
    widget.expect(widget.loc(".badge")).to_have_text("1")
    widget.page.screenshot(path=str(screenshots / "widget-badge.png"))
    widget.open()
    widget.wait_bot("申诉材料准备好后")
    widget.expect(widget.loc(".badge")).to_be_hidden()


def test_markup_is_shown_as_text_never_run(fresh: Any, widget_servers: Servers) -> None:
    widget = Widget(fresh.new_page())
    widget.page.goto(demo_url(widget_servers))
    widget.open()
    typed = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"]
    for text in typed:
        widget.send(text)
        widget.expect(widget.user(text)).to_have_count(1)
    session_id = widget.session()["session_id"]
    pushed = "<b>加粗</b><img src=x onerror=alert(3)> 详情见 https://example.com/help?a=1&b=2。"
    push_bot_message(widget_servers, session_id, pushed)
    widget.wait_bot("<b>加粗</b>")
    widget.expect(widget.loc(".msg.user")).to_have_count(2)
    widget.expect(widget.loc(".typing")).to_be_hidden(timeout=TURN_MS)

    assert widget.loc(".messages img, .messages script, .messages b").count() == 0
    assert widget.bot("<b>加粗</b>").first.inner_text() == pushed
    link = widget.bot("<b>加粗</b>").locator("a")
    widget.expect(link).to_have_count(1)
    assert link.get_attribute("href") == "https://example.com/help?a=1&b=2"
    # After a reload the history is rendered as text too.
    widget.page.reload()
    widget.open()
    widget.wait_bot("<b>加粗</b>")
    widget.expect(widget.user("<script>alert(2)</script>")).to_have_count(1)
    assert widget.loc(".messages img, .messages script, .messages b").count() == 0
    assert widget.dialogs == []


def test_phone_screen_and_keyboard_only(browser: Any, widget_servers: Servers,
                                        screenshots: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 720}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    try:
        widget = Widget(context.new_page())
        widget.page.goto(demo_url(widget_servers))
        widget.page.screenshot(path=str(screenshots / "widget-375-closed.png"))
        # Tab to the launcher, Enter opens it with the cursor in the input.
        for _ in range(10):
            widget.page.keyboard.press("Tab")
            if widget.focused().startswith("button.launcher"):
                break
        assert widget.focused().startswith("button.launcher")
        widget.page.keyboard.press("Enter")
        widget.expect(widget.panel).to_be_visible()
        assert widget.focused().startswith("textarea")
        box = widget.panel.bounding_box()
        assert box is not None and box["width"] <= 375 and box["x"] >= 0

        widget.page.keyboard.type("你好")
        widget.expect(widget.loc(".counter")).to_have_text("2/500")
        widget.page.keyboard.press("Enter")
        widget.wait_bot("挑选异地收款")
        # Back from the input to the latest quick replies, Enter chooses one.
        for _ in range(6):
            widget.page.keyboard.press("Shift+Tab")
            if widget.focused().startswith("button.|"):
                break
        focused = widget.focused()
        assert focused == "button.|客服电话", focused
        widget.page.keyboard.press("Enter")
        widget.wait_bot("打之前准备好")
        widget.expect(widget.user("客服电话")).to_have_count(1)
        # Typing goes on after the click: the input has the focus again.
        widget.page.keyboard.type("怎么申诉")
        widget.page.keyboard.press("Enter")
        widget.expect(widget.user("怎么申诉")).to_have_count(1)
        widget.expect(widget.loc(".status")).to_have_count(0, timeout=TURN_MS)
        widget.expect(widget.loc(".typing")).to_be_hidden(timeout=TURN_MS)
        widget.page.screenshot(path=str(screenshots / "widget-375.png"))

        # Length limit with a visible counter.
        widget.input.fill("很" * 600)
        assert len(widget.input.input_value()) == 500
        widget.expect(widget.loc(".counter")).to_have_text("500/500")
        # The server refuses an over-long message politely too (a client that skips the
        # input's limit): the message is marked failed with a retry button.
        widget.input.fill("")
        widget.page.evaluate("() => window.__msaChatWidget.send('很'.repeat(600), '很很很')")
        widget.expect(widget.loc(".status.failed")).to_have_text("发送失败")
        widget.expect(widget.loc(".retry")).to_be_visible()
        widget.expect(widget.loc(".notice")).to_have_text("这条消息太长了，请控制在 500 字以内再发送。")
        widget.page.screenshot(path=str(screenshots / "widget-375-failed.png"))
        widget.page.keyboard.press("Escape")
        widget.expect(widget.panel).to_be_hidden()
        assert widget.focused().startswith("button.launcher")
    finally:
        context.close()


def test_a_resent_message_id_is_processed_once(fresh: Any, widget_servers: Servers) -> None:
    widget = Widget(fresh.new_page())
    widget.page.goto(demo_url(widget_servers))
    widget.open()
    widget.ask("客服电话", "打之前准备好")
    message_id = f"dup{uuid.uuid4().hex[:12]}"
    acks = widget.page.evaluate(
        """async (id) => {
            const socket = window.__msaChatWidget.socket;
            const processed = new Promise((resolve) => socket.on('message_processed',
                (data) => { if (data.message_id === id) resolve(); }));
            const emit = () => new Promise((resolve) => socket.timeout(10000).emit(
                'user_uttered', {message: '怎么申诉', message_id: id},
                (error, ack) => resolve(error ? 'timeout' : ack.status)));
            const acks = [await emit(), await emit()];  // the second while it runs
            await processed;
            acks.push(await emit());  // after the turn: the tracker has it
            return acks;
        }""",
        message_id,
    )
    assert acks == ["ok", "duplicate", "duplicate"]
    session_id = widget.session()["session_id"]
    ids = [((e.get("metadata") or {}).get("widget") or {}).get("message_id")
           for e in user_events(widget_servers, session_id)]
    assert ids.count(message_id) == 1


def test_network_drop_and_server_restart(fresh: Any, widget_servers: Servers,
                                         screenshots: Path) -> None:
    widget = Widget(fresh.new_page())
    widget.page.goto(demo_url(widget_servers))
    widget.open()
    widget.ask("客服电话", "打之前准备好")
    session_id = widget.session()["session_id"]

    # The network drops: offline banner, the message waits, then goes out once.
    fresh.set_offline(True)
    widget.expect(widget.banner).to_be_visible()
    widget.send("怎么申诉")
    widget.expect(widget.loc(".msg.user .status")).to_have_text("发送中…")
    fresh.set_offline(False)
    widget.expect(widget.banner).to_be_hidden(timeout=TURN_MS)
    widget.expect(widget.loc(".msg.user .status")).to_have_count(0, timeout=TURN_MS)
    widget.expect(widget.loc(".typing")).to_be_hidden(timeout=TURN_MS)
    appeal_answers = widget.loc(".msg.bot").count()

    # The server stops and starts again.
    assert widget_servers.rasa is not None
    widget_servers.rasa.stop()
    widget.expect(widget.banner).to_be_visible(timeout=TURN_MS)
    widget.expect(widget.banner).to_contain_text("正在重新连接")
    widget.send("异地收款怎么办")
    widget.expect(widget.loc(".msg.user .status")).to_have_text("发送中…")
    widget.page.screenshot(path=str(screenshots / "widget-offline.png"))
    widget_servers.rasa.start()
    widget.expect(widget.banner).to_be_hidden(timeout=60_000)
    widget.expect(widget.loc(".msg.user .status")).to_have_count(0, timeout=TURN_MS)
    widget.expect(widget.loc(".typing")).to_be_hidden(timeout=TURN_MS)
    assert widget.loc(".msg.bot").count() > appeal_answers
    widget.ask("费率多少", "0.6%")

    texts = [e["text"] for e in user_events(widget_servers, session_id)]
    assert texts == ["客服电话", "怎么申诉", "异地收款怎么办", "费率多少"], texts
    assert widget.dialogs == []


def test_embedded_on_another_website(fresh: Any, widget_servers: Servers, shop: Any) -> None:
    """One tag on the shop's own site (another origin): socket.io and the transcript
    work across origins, with `rasa run --cors "*"` as `make run` starts it."""
    widget = Widget(fresh.new_page())
    widget.page.goto(shop.page_url)
    widget.open()
    widget.ask("客服电话", "打之前准备好")
    widget.page.reload()
    widget.open()
    widget.wait_bot("打之前准备好")  # history fetched across origins
    widget.expect(widget.user("客服电话")).to_have_count(1)
    widget.ask("怎么申诉", "风险处理")
    assert widget.dialogs == []


def test_transcript_only_for_the_secret_holder(merchant: Any, widget_servers: Servers) -> None:
    session = Widget(merchant.pages[0]).session()
    url = f"{widget_servers.rasa_url}/widget/transcript"

    def post(body: Any) -> requests.Response:
        return requests.post(url, data=json.dumps(body), timeout=10,
                             headers={"Content-Type": "text/plain"})

    mine = post({"session_id": session["session_id"], "secret": session["secret"]})
    assert mine.status_code == 200
    texts = [m["text"] for m in mine.json()["messages"]]
    assert "1900000002" in texts and any("1900****02" in t for t in texts)
    assert all(m["type"] in ("user", "bot") for m in mine.json()["messages"])

    wrong_secret = post({"session_id": session["session_id"],
                         "secret": uuid.uuid4().hex + uuid.uuid4().hex})
    guessed_id = post({"session_id": uuid.uuid4().hex, "secret": session["secret"]})
    for refused in (wrong_secret, guessed_id):
        assert refused.status_code == 403
        assert "messages" not in refused.json()
    assert post({"session_id": session["session_id"]}).status_code == 400
    assert requests.post(url, data=b"\xff", timeout=10).status_code == 400


def test_socket_refuses_foreign_origins(widget_servers: Servers) -> None:
    # Allowed here: the rasa server's own origin and the shop (WIDGET_ALLOWED_ORIGINS).
    url = f"{widget_servers.rasa_url}/socket.io/"
    params = {"EIO": "4", "transport": "polling"}
    foreign = requests.get(url, params=params, headers={"Origin": "https://evil.example"},
                           timeout=10)
    assert foreign.status_code == 400
    own = requests.get(url, params=params, headers={"Origin": widget_servers.rasa_url},
                       timeout=10)
    assert own.status_code == 200 and own.text.startswith("0{")
    # Exactly one Access-Control-Allow-Origin (rasa's --cors must not add a second).
    assert own.raw.headers.getlist("Access-Control-Allow-Origin") == [widget_servers.rasa_url]
