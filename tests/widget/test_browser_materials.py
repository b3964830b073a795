"""The widget's file upload in Debian's Chromium: the real widget channel (its socket.io
session, the demo page, the real ``/widget/materials`` routes) with a materials pipeline
on the test's database, the session's real clamd (tests/materials/conftest.py) and local
storage in the test's directory.

The widget channel runs in a Sanic server of this module, not in the shared rasa stack:
the shared stack's materials pipeline is built from the environment (clamd at
/var/run/clamav, storage under var/), and uploading needs no model, only a verified
session, which the test makes as the identity check does (an identity binding of channel
``widget`` for the session id).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from rasa.core.channels.channel import register
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.channels.widget import WidgetConfig, WidgetInput
from core.db.models import Material, MaterialStatus
from core.db.session import get_engine
from core.materials import ClamdScanner, LocalStorage, MaterialsPipeline, MaterialsSettings
from tests.materials.conftest import OWN_APPEAL, OWN_MERCHANT, bind, clamd_socket, pdf

pytestmark = [pytest.mark.browser]
__all__ = ["clamd_socket"]  # the session's real clamd, as a fixture of this module

HOST = "#msa-chat-widget"
STORAGE_KEY = "msa-chat-widget:v1"
UPLOAD_MS = 20_000
BLOB = re.compile(r"^blob:")

# Several Sanic apps in one process (as tests/materials/test_widget_upload.py does).
Sanic.test_mode = True


class WidgetServer:
    """The widget channel with its materials routes, in a thread with its own loop."""

    def __init__(self, pipeline: MaterialsPipeline) -> None:
        self.pipeline = pipeline
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as error:  # noqa: BLE001 - reported to the test
            self.error = error
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        channel = WidgetInput(WidgetConfig())
        channel.materials_pipeline = self.pipeline
        app = Sanic(f"widget_materials_{secrets.token_hex(4)}")
        # No model: no merchant message is sent here; the transcript is empty.
        app.ctx.agent = SimpleNamespace(handle_message=None, tracker_store=None)
        register([channel], app, route="/webhooks/")
        self.app = app
        self.server = await app.create_server(host="127.0.0.1", port=self.port,
                                              return_asyncio_server=True, access_log=False)
        assert self.server is not None
        await self.server.startup()
        await self.server.before_start()
        await self.server.after_start()

    def start(self) -> WidgetServer:
        self.thread.start()
        self.ready.wait(60)
        if self.error is not None:
            raise RuntimeError("widget server did not start") from self.error
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.server.before_stop()
            self.server.close()
            await self.server.wait_closed()
            await self.server.after_stop()
            # socket.io's ping and service tasks: ended here, not at interpreter exit.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture()
def materials_root(tmp_path: Any) -> Any:
    return tmp_path / "materials"


@pytest.fixture()
def widget_server(db_url: str, clamd_socket: str, materials_root: Any) -> Iterator[WidgetServer]:
    settings = MaterialsSettings(storage_dir=materials_root)  # the default 10 MB limit
    pipeline = MaterialsPipeline(settings, ClamdScanner(clamd_socket, timeout_s=10),
                                 LocalStorage(materials_root), db_url=db_url)
    server = WidgetServer(pipeline).start()
    yield server
    server.stop()


class Page:
    """The demo page with the widget open, and the upload requests it made."""

    def __init__(self, context: Any, server: WidgetServer) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message),
                                               dialog.dismiss()))
        self.uploads: list[str] = []
        self.page.on("request", lambda request: self.uploads.append(request.url)
                     if request.url.endswith("/widget/materials") else None)
        self.page.goto(f"{server.url}/widget/demo.html")
        self.loc(".launcher").click()
        self.expect(self.loc(".panel")).to_be_visible()
        # The session id arrives with the socket's confirmation.
        self.page.wait_for_function(
            f"() => (JSON.parse(localStorage.getItem('{STORAGE_KEY}') || 'null') || {{}})"
            ".session_id")

    def loc(self, selector: str) -> Any:
        return self.page.locator(f"{HOST} {selector}")

    @property
    def session_id(self) -> str:
        return self.page.evaluate(
            f"JSON.parse(localStorage.getItem('{STORAGE_KEY}')).session_id")

    def choose(self, name: str, mime: str, data: bytes) -> None:
        self.loc("input[type=file]").set_input_files(
            files=[{"name": name, "mimeType": mime, "buffer": data}])

    def file(self, name: str) -> Any:
        return self.loc(".msg.upload").filter(has_text=name)

    def bot(self, fragment: str) -> Any:
        return self.loc(".msg.bot .bubble").filter(has_text=fragment)


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    yield context
    context.close()


def licence_png() -> bytes:
    """A 'licence photo' PNG with EXIF (a camera, a GPS position) and a text chunk."""
    exif = Image.Exif()
    exif[0x0110] = "Merchant Phone X"  # Model
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 45.5), 3: "E", 4: (121.0, 28.0, 12.25)}
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "shot at the shop")
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 120, 200)).save(out, "PNG", exif=exif.tobytes(),
                                                     pnginfo=info)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif(), "the fixture must carry EXIF"
    return data


def rows(db_url: str) -> list[Material]:
    with Session(get_engine(db_url)) as session:
        found = session.scalars(select(Material).where(Material.appeal_id == OWN_APPEAL)
                                .order_by(Material.created_at)).all()
        session.expunge_all()
        return list(found)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_verified_merchant_sends_a_licence_photo_and_a_pdf(
        context: Any, widget_server: WidgetServer, db_url: str, materials_root: Any,
        screenshots: Any) -> None:
    widget = Page(context, widget_server)
    bind(db_url, "widget", widget.session_id, OWN_MERCHANT)  # the identity check passed
    attach = widget.loc("button.attach")
    widget.expect(attach).to_have_attribute("aria-label", "发送图片或PDF")
    assert widget.loc("input[type=file]").get_attribute("accept") == \
        "image/jpeg,image/png,image/webp,application/pdf"

    widget.choose("营业执照<b>.png", "image/png", licence_png())
    photo = widget.file("营业执照<b>.png")
    widget.expect(photo).to_have_count(1)  # the name as text, never markup
    widget.expect(photo.locator(".file-name")).to_have_attribute("title", "营业执照<b>.png")
    assert photo.locator("b").count() == 0
    widget.expect(photo.locator("img.thumb")).to_have_attribute("src", BLOB)
    widget.expect(photo.locator(".file-size")).to_have_text(re.compile(r"^\d+(\.\d)? (B|KB)$"))
    widget.expect(photo.locator(".status")).to_have_text("已发送", timeout=UPLOAD_MS)
    widget.expect(widget.bot(f"已加入申诉 {OWN_APPEAL} 的材料（现在共 1 份）")).to_have_count(1)

    widget.choose("门头照.pdf", "application/pdf", pdf())
    document = widget.file("门头照.pdf")
    widget.expect(document.locator(".status")).to_have_text("已发送", timeout=UPLOAD_MS)
    widget.expect(document.locator(".doc")).to_have_text("PDF")
    widget.expect(widget.bot("（现在共 2 份）")).to_have_count(1)
    widget.expect(attach).to_be_enabled()
    widget.page.screenshot(path=str(screenshots / "widget-materials.png"))
    answers = widget.loc(".msg.bot .bubble").all_inner_texts()
    assert len(answers) == 3, answers  # the welcome and one answer per file
    assert not any("{" in text or "status" in text for text in answers), answers

    found = rows(db_url)
    assert [(m.kind, m.status) for m in found] == [("png", MaterialStatus.clean),
                                                   ("pdf", MaterialStatus.clean)]
    assert {m.merchant_id for m in found} == {OWN_MERCHANT}
    stored = LocalStorage(materials_root).get(found[0].storage_key)
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif() and "Comment" not in image.info and "exif" not in image.info
    assert len(widget.uploads) == 2
    assert widget.dialogs == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_refusals_are_the_servers_polite_chinese_and_oversize_never_leaves(
        context: Any, widget_server: WidgetServer, db_url: str) -> None:
    widget = Page(context, widget_server)

    # Not verified: the server's polite refusal, no JSON, nothing stored.
    widget.choose("营业执照.png", "image/png", licence_png())
    widget.expect(widget.file("营业执照.png").locator(".status")).to_have_text(
        "未通过", timeout=UPLOAD_MS)
    widget.expect(widget.bot("上传材料前需要先核对身份")).to_have_count(1)

    # Verified now: a text file named .png is refused with the server's message.
    bind(db_url, "widget", widget.session_id, OWN_MERCHANT)
    widget.choose("假图片.png", "image/png", "这不是图片，只是文字。".encode())
    widget.expect(widget.file("假图片.png").locator(".status")).to_have_text(
        "未通过", timeout=UPLOAD_MS)
    widget.expect(widget.bot("只支持图片和PDF")).to_have_count(1)
    assert len(widget.uploads) == 2

    # Over 10 MB: refused at once, without a request.
    widget.choose("大照片.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024))
    notice = widget.loc(".notice").filter(has_text="大照片.png")
    widget.expect(notice).to_contain_text("单个文件最多 10 MB")
    widget.expect(widget.file("大照片.png")).to_have_count(0)
    # And a wrong type by the picker's own type: also at once.
    widget.choose("说明.txt", "text/plain", "文字".encode())
    widget.expect(widget.loc(".notice").filter(has_text="说明.txt")).to_contain_text(
        "只支持 JPG、PNG、WebP 图片或 PDF")
    widget.page.wait_for_timeout(300)
    assert len(widget.uploads) == 2
    assert rows(db_url) == []
    texts = widget.loc(".msg .bubble, .notice").all_inner_texts()
    assert not any(word in text for text in texts
                   for word in ("not_verified", "wrong_type", "reason", "{\""))
    widget.expect(widget.loc("button.attach")).to_be_enabled()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_network_failure_keeps_the_file_with_a_retry(
        context: Any, widget_server: WidgetServer, db_url: str) -> None:
    widget = Page(context, widget_server)
    bind(db_url, "widget", widget.session_id, OWN_MERCHANT)
    failing = {"on": True}

    def route(route: Any) -> None:
        if failing["on"]:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    widget.page.route("**/widget/materials", route)
    widget.choose("营业执照.png", "image/png", licence_png())
    photo = widget.file("营业执照.png")
    widget.expect(photo.locator(".status")).to_have_text("上传失败", timeout=UPLOAD_MS)
    widget.expect(widget.loc(".notice").filter(has_text="没有发出去")).to_have_count(1)
    assert rows(db_url) == []
    failing["on"] = False
    photo.locator("button.retry").click()
    widget.expect(photo.locator(".status")).to_have_text("已发送", timeout=UPLOAD_MS)
    assert [m.status for m in rows(db_url)] == [MaterialStatus.clean]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_several_files_dropped_and_pasted_go_one_at_a_time(
        context: Any, widget_server: WidgetServer, db_url: str) -> None:
    widget = Page(context, widget_server)
    bind(db_url, "widget", widget.session_id, OWN_MERCHANT)
    # Every state the attach button goes through, seen from the page itself.
    widget.page.evaluate("""() => {
        const root = document.querySelector('#msa-chat-widget').shadowRoot;
        const button = root.querySelector('button.attach');
        window.attachStates = [];
        new MutationObserver(() => window.attachStates.push(button.disabled))
            .observe(button, { attributes: true, attributeFilter: ['disabled'] });
    }""")
    png_bytes = list(licence_png())
    # Two files dropped onto the panel at once.
    widget.page.evaluate("""(bytes) => {
        const root = document.querySelector('#msa-chat-widget').shadowRoot;
        const data = new DataTransfer();
        for (const name of ['门头1.png', '门头2.png']) {
            data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
        }
        const panel = root.querySelector('.panel');
        panel.dispatchEvent(new DragEvent('dragenter', { dataTransfer: data, bubbles: true,
                                                         cancelable: true }));
        panel.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true,
                                                    cancelable: true }));
    }""", png_bytes)
    for name in ("门头1.png", "门头2.png"):
        widget.expect(widget.file(name).locator(".status")).to_have_text(
            "已发送", timeout=UPLOAD_MS)
    widget.expect(widget.loc(".panel.dragging")).to_have_count(0)
    # An image pasted into the input goes out too; pasted text stays text.
    widget.page.evaluate("""(bytes) => {
        const root = document.querySelector('#msa-chat-widget').shadowRoot;
        const data = new DataTransfer();
        data.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
        root.querySelector('textarea').dispatchEvent(new ClipboardEvent('paste', {
            clipboardData: data, bubbles: true, cancelable: true }));
    }""", png_bytes)
    widget.expect(widget.file("image.png").locator(".status")).to_have_text(
        "已发送", timeout=UPLOAD_MS)
    widget.expect(widget.bot("（现在共 3 份）")).to_have_count(1)
    order = widget.loc(".msg").all_inner_texts()
    positions = [next(i for i, t in enumerate(order) if fragment in t) for fragment in
                 ("门头1.png\n", "「门头1.png」", "门头2.png\n", "「门头2.png」")]
    assert positions == sorted(positions), order
    states = widget.page.evaluate("window.attachStates")
    assert True in states and states[-1] is False, states
    assert [m.status for m in rows(db_url)] == [MaterialStatus.clean] * 3
    assert len(widget.uploads) == 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_proxy_pages_and_outages_are_never_shown_raw(
        context: Any, widget_server: WidgetServer, db_url: str) -> None:
    """What a proxy or an outage answers: Chinese text, a retry where sending again may
    work; never the HTML, the JSON or an English word of the answer."""
    widget = Page(context, widget_server)
    bind(db_url, "widget", widget.session_id, OWN_MERCHANT)
    answers = [
        (413, "text/html", "<html><body><h1>413 Request Entity Too Large</h1></body></html>"),
        (502, "text/html", "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
        (503, "application/json", json.dumps(
            {"status": "refused", "reason": "unavailable",
             "message": "文件暂时没能保存，请稍后再发一次。"}, ensure_ascii=False)),
    ]

    def route(route: Any) -> None:
        if answers:
            status, content_type, body = answers.pop(0)
            route.fulfill(status=status, content_type=content_type, body=body)
        else:
            route.continue_()

    widget.page.route("**/widget/materials", route)
    widget.choose("大图.png", "image/png", licence_png())
    widget.expect(widget.file("大图.png").locator(".status")).to_have_text(
        "未通过", timeout=UPLOAD_MS)
    widget.expect(widget.bot("「大图.png」太大了，没能发出去")).to_have_count(1)
    widget.expect(widget.file("大图.png").locator("button.retry")).to_have_count(0)

    widget.choose("门头.png", "image/png", licence_png())
    photo = widget.file("门头.png")
    widget.expect(photo.locator(".status")).to_have_text("上传失败", timeout=UPLOAD_MS)
    widget.expect(widget.bot("文件暂时没能上传，请稍后再发一次")).to_have_count(1)
    photo.locator("button.retry").click()  # 503 with the server's message
    widget.expect(widget.bot("文件暂时没能保存，请稍后再发一次。")).to_have_count(1)
    widget.expect(photo.locator(".status")).to_have_text("上传失败")
    photo.locator("button.retry").click()  # the server itself now
    widget.expect(photo.locator(".status")).to_have_text("已发送", timeout=UPLOAD_MS)
    texts = " ".join(widget.loc(".panel").all_inner_texts())
    for word in ("html", "Bad Gateway", "nginx", "Too Large", "unavailable", "{"):
        assert word not in texts, (word, texts)
    assert [m.status for m in rows(db_url)] == [MaterialStatus.clean]
