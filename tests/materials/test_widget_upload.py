"""The widget's upload, list and download: only the holder of a verified session's
secret, only for that merchant's own open appeal; another merchant's session can neither
upload to nor read an appeal's files. Driven through the handlers and through the
routes of a real Sanic server."""

from __future__ import annotations

import io
import json
import secrets
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
from PIL import Image
from rasa.core.channels.channel import register
from sanic import Sanic

from addons.channels.widget import WidgetConfig, WidgetInput, session_id_for
from addons.channels.widget_materials import WidgetMaterials
from core.materials import MaterialsPipeline
from tests.materials.conftest import (
    OTHER_APPEAL,
    OTHER_MERCHANT,
    OWN_APPEAL,
    OWN_MERCHANT,
    CleanScanner,
    bind,
    file_other_appeal,
    gps_jpeg,
    pdf,
)


def new_session() -> dict[str, str]:
    secret = secrets.token_urlsafe(32)
    return {"secret": secret, "session_id": session_id_for(secret)}


@pytest.fixture()
async def materials(make_pipeline) -> AsyncIterator[WidgetMaterials]:
    # Who may upload and read is the point here, not scanning (test_pipeline.py scans).
    handlers = WidgetMaterials(WidgetInput(WidgetConfig()), make_pipeline(CleanScanner()))
    yield handlers
    await handlers.drain()


@pytest.fixture()
def two_merchants(db_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """A widget session verified for 1900000003 (open appeal AP20261120001) and one
    verified for 1900000002 (open appeal AP20261201001)."""
    own, other = new_session(), new_session()
    bind(db_url, "widget", own["session_id"], OWN_MERCHANT)
    file_other_appeal(db_url)
    bind(db_url, "widget", other["session_id"], OTHER_MERCHANT)
    return own, other


async def test_a_verified_merchant_uploads_to_the_own_open_appeal_and_reads_it_back(
        materials: WidgetMaterials, two_merchants) -> None:
    own, _ = two_merchants
    status, body = await materials.upload(own, "营业执照.jpg", gps_jpeg())
    assert status == 200, body
    assert body["status"] == "accepted" and body["appeal_id"] == OWN_APPEAL
    assert "storage_key" not in json.dumps(body) and "/" not in body["material_id"]

    status, listing = await materials.listing(own)
    assert status == 200 and listing["appeal_id"] == OWN_APPEAL
    [item] = listing["materials"]
    assert item["name"] == "营业执照.jpg" and item["status"] == "ok"
    assert set(item) == {"id", "name", "kind", "size_bytes", "status", "created_at"}

    status, data, content_type = await materials.file({**own, "material_id": item["id"]})
    assert status == 200 and content_type == "image/jpeg"
    assert not Image.open(io.BytesIO(data)).getexif()


async def test_another_merchants_session_can_neither_upload_to_nor_read_the_appeal(
        materials: WidgetMaterials, two_merchants) -> None:
    own, other = two_merchants
    _, uploaded = await materials.upload(own, "licence.pdf", pdf())
    material_id = uploaded["material_id"]

    # Uploading into the first merchant's appeal by its id: refused, nothing kept.
    status, body = await materials.upload({**other, "appeal_id": OWN_APPEAL}, "x.jpg",
                                          gps_jpeg())
    assert status == 404 and body["reason"] == "no_appeal"
    # Reading its file by id: the same answer as for an id that does not exist.
    assert (await materials.file({**other, "material_id": material_id}))[0] == 404
    assert (await materials.file({**other, "material_id": "x" * 22}))[0] == 404
    # Its own list is its own appeal's, empty.
    status, listing = await materials.listing(other)
    assert status == 200 and listing == {"appeal_id": OTHER_APPEAL, "materials": []}
    # And the first merchant cannot upload into the other's appeal either.
    status, _ = await materials.upload({**own, "appeal_id": OTHER_APPEAL}, "y.jpg", gps_jpeg())
    assert status == 404
    assert [m["id"] for m in (await materials.listing(own))[1]["materials"]] == [material_id]


async def test_another_session_of_the_same_merchant_reads_none_of_the_files(
        materials: WidgetMaterials, two_merchants, db_url: str) -> None:
    """Passing the identity check elsewhere shows the account, not the documents sent from
    the first device (bench/results/pentest_round3.md, M-1); names are masked."""
    own, _ = two_merchants
    _, uploaded = await materials.upload(own, "电话13812345678.jpg", gps_jpeg())
    [item] = (await materials.listing(own))[1]["materials"]
    assert item["name"] == "电话138********.jpg"
    second = new_session()
    bind(db_url, "widget", second["session_id"], OWN_MERCHANT)
    status, listing = await materials.listing(second)
    assert status == 200 and listing == {"appeal_id": OWN_APPEAL, "materials": []}
    assert (await materials.file({**second, "material_id": uploaded["material_id"]}))[0] == 404
    # It may still add its own files to the appeal.
    assert (await materials.upload(second, "门头.jpg", gps_jpeg()))[0] == 200


async def test_a_session_id_without_its_secret_or_unverified_gets_nothing(
        materials: WidgetMaterials, two_merchants) -> None:
    own, _ = two_merchants
    forged = {"session_id": own["session_id"], "secret": secrets.token_urlsafe(32)}
    assert (await materials.upload(forged, "a.jpg", gps_jpeg()))[0] == 403
    assert (await materials.listing(forged))[0] == 403
    assert (await materials.file({**forged, "material_id": "x" * 22}))[0] == 403
    assert (await materials.upload({"session_id": "../etc"}, "a.jpg", gps_jpeg()))[0] == 400
    stranger = new_session()  # a real session that never passed the identity check
    status, body = await materials.upload(stranger, "a.jpg", gps_jpeg())
    assert status == 404 and body["reason"] == "not_verified"
    assert "核对身份" in body["message"]


@pytest.mark.parametrize(("data", "status", "reason", "text"), [
    (b"\xff\xd8\xff" + b"\x00" * (3 * 1024 * 1024), 413, "too_large", "文件太大"),
    (b"GIF89a" + b"\x00" * 100, 415, "wrong_type", "只支持图片和PDF"),
    (gps_jpeg() + b"%PDF-1.4 hidden", 422, "unsafe", "文件没通过安全检查"),
])
async def test_refused_files_get_a_polite_chinese_answer(
        materials: WidgetMaterials, two_merchants, data: bytes, status: int, reason: str,
        text: str) -> None:
    own, _ = two_merchants
    answer_status, body = await materials.upload(own, "file", data)
    assert (answer_status, body["status"], body["reason"]) == (status, "refused", reason)
    assert body["message"].startswith(text)
    assert (await materials.listing(own))[1]["materials"] == []


# Several Sanic servers in one process (as tests/wechat/app_server.py does).
Sanic.test_mode = True


async def test_the_routes_over_http(make_pipeline, two_merchants) -> None:
    """The blueprint the widget channel builds carries the routes (multipart upload,
    JSON list and download with safe headers), mounted the way rasa mounts channels."""
    own, other = two_merchants
    channel = WidgetInput(WidgetConfig())
    channel.materials_pipeline = make_pipeline()  # the real clamd
    app = Sanic(f"materials_{secrets.token_hex(4)}")
    app.ctx.agent = SimpleNamespace(handle_message=None)
    register([channel], app, route="/webhooks/")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    base = f"http://127.0.0.1:{port}/widget/materials"
    try:
        async with aiohttp.ClientSession() as http:
            form = aiohttp.FormData()
            for name, value in own.items():
                form.add_field(name, value)
            form.add_field("file", gps_jpeg(), filename="门头.jpg", content_type="text/html")
            async with http.post(base, data=form) as answer:
                body = await answer.json()
                assert answer.status == 200, body
            async with http.post(f"{base}/file", data=json.dumps(
                    {**own, "material_id": body["material_id"]})) as answer:
                assert answer.status == 200
                # Never what the client claimed (text/html): what the bytes are.
                assert answer.headers["Content-Type"] == "image/jpeg"
                assert answer.headers["X-Content-Type-Options"] == "nosniff"
                assert "sandbox" in answer.headers["Content-Security-Policy"]
                assert answer.headers["Content-Disposition"] == "attachment"
                assert not Image.open(io.BytesIO(await answer.read())).getexif()
            async with http.post(f"{base}/file", data=json.dumps(
                    {**other, "material_id": body["material_id"]})) as answer:
                assert answer.status == 404
            async with http.post(f"{base}/list", data=json.dumps(other)) as answer:
                assert (await answer.json())["materials"] == []
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def test_the_pipeline_default_is_built_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MATERIALS_STORAGE_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("MATERIALS_MAX_FILE_BYTES", "1234")
    monkeypatch.setenv("MATERIALS_CLAMD_HOST", "")
    pipeline = MaterialsPipeline()
    assert pipeline.settings.max_file_bytes == 1234
    assert pipeline.storage.root == tmp_path / "m"  # type: ignore[attr-defined]
    assert pipeline.scanner.where() == "/var/run/clamav/clamd.ctl"  # type: ignore[attr-defined]
