"""WeChat ``file`` messages (a PDF or an image sent as a file in the official account):
fetched through the media API of the fake WeChat server like images, then the same
pipeline (type from the bytes, size limit, sanitizer, the real clamd, storage) into the
open appeal of the merchant verified on WeChat."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from addons.channels.wechat import WeChatInput
from core.db.models import MaterialStatus
from core.materials import MaterialsSettings
from tests.materials.conftest import (
    EICAR,
    OTHER_MERCHANT,
    OWN_APPEAL,
    OWN_MERCHANT,
    bind,
    downloads,
    pdf,
    png,
    stored,
)
from tests.materials.fake_media import FakeWeChatMedia
from tests.wechat.client import FakeBot, content, openid, post, wechat_send


def file_xml(user: str, media_id: str, msg_id: int, title: str = "营业执照.pdf",
             total: int | None = None) -> str:
    fields = {"Title": title, "MediaId": media_id}
    if total is not None:
        fields["FileTotalLen"] = str(total)
    return wechat_send.message_xml(user, "file", fields, msg_id=msg_id)


async def test_a_pdf_sent_as_a_file_is_fetched_checked_and_stored(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str,
        settings: MaterialsSettings) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    licence = pdf()
    fake_wechat.media["FILE-1"] = (licence, "application/pdf")

    reply = content(await post(channel, FakeBot(), file_xml(user, "FILE-1", 6001)))

    assert reply == (f"已收到「营业执照.pdf」，已加入申诉 {OWN_APPEAL} 的材料（现在共 1 份），"
                     f"审核时会一并查看。")
    [call] = fake_wechat.media_calls
    assert call["media_id"] == "FILE-1" and call["access_token"].startswith("TOKEN-")
    [row] = stored(db_url)
    assert (row.channel, row.merchant_id, row.appeal_id) == ("wechat", OWN_MERCHANT, OWN_APPEAL)
    assert row.status == MaterialStatus.clean and row.kind == "pdf"
    assert row.original_name == "营业执照.pdf" and row.source_ref == f"wechat:{user}:6001"
    assert (settings.storage_dir / row.storage_key).read_bytes() == licence


async def test_an_image_sent_as_a_file_loses_its_metadata(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str,
        settings: MaterialsSettings) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    # The name says PDF, the bytes say PNG: the bytes decide.
    fake_wechat.media["FILE-2"] = (png(text={"Author": "13800000003"}),
                                   "application/octet-stream")

    reply = content(await post(channel, FakeBot(),
                               file_xml(user, "FILE-2", 6002, title="门头照片.pdf")))

    assert reply is not None and "已加入申诉" in reply
    [row] = stored(db_url)
    assert row.kind == "png" and row.status == MaterialStatus.clean
    kept = Image.open(io.BytesIO((settings.storage_dir / row.storage_key).read_bytes()))
    assert "Author" not in kept.info


@pytest.mark.parametrize(("data", "expected"), [
    (b"PK\x03\x04" + b"\x00" * 200, "只支持图片和PDF"),  # a .docx / .zip
    (pdf(body=b"(" + EICAR + b")"), "文件没通过安全检查"),  # the real clamd finds EICAR
    (pdf(catalog_extra=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
     "带有脚本"),
])
async def test_files_the_pipeline_refuses_are_answered_and_not_kept(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str, data: bytes,
        expected: str) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake_wechat.media["FILE-3"] = (data, "application/octet-stream")
    reply = content(await post(channel, FakeBot(), file_xml(user, "FILE-3", 6003)))
    assert reply is not None and expected in reply, reply
    assert stored(db_url) == [] and downloads(db_url) == []


async def test_a_file_larger_than_the_limit_is_refused(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str,
        settings: MaterialsSettings) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    # Declared too large: not even asked for.
    declared = file_xml(user, "FILE-4", 6004, total=settings.max_file_bytes + 1)
    reply = content(await post(channel, FakeBot(), declared))
    assert reply is not None and "文件太大" in reply and fake_wechat.media_calls == []
    # Not declared, too large when read: the download stops at the limit.
    fake_wechat.media["FILE-5"] = (b"%PDF-" + b"0" * settings.max_file_bytes,
                                   "application/pdf")
    reply = content(await post(channel, FakeBot(), file_xml(user, "FILE-5", 6005)))
    assert reply is not None and "文件太大" in reply
    assert stored(db_url) == [] and downloads(db_url) == []


async def test_a_file_from_an_unverified_sender_or_without_an_appeal_is_not_fetched(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    fake_wechat.media["FILE-6"] = (pdf(), "application/pdf")
    reply = content(await post(channel, FakeBot(), file_xml(openid(), "FILE-6", 6006)))
    assert reply is not None and "先核对身份" in reply
    verified = openid()
    bind(db_url, "wechat", verified, OTHER_MERCHANT)  # no open appeal in the demo data
    reply = content(await post(channel, FakeBot(), file_xml(verified, "FILE-6", 6007)))
    assert reply is not None and "我要申诉" in reply
    assert fake_wechat.media_calls == [] and stored(db_url) == []


async def test_a_file_message_without_a_media_id_is_answered(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    xml = wechat_send.message_xml(user, "file", {"Title": "合同.pdf"}, msg_id=6008)
    reply = content(await post(channel, FakeBot(), xml))
    assert reply is not None and "以图片发过来" in reply
    assert fake_wechat.media_calls == []

