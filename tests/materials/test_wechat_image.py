"""WeChat images of a verified merchant with an open appeal: fetched through the media
API of the fake WeChat server (``api_base`` = its URL, as ``WECHAT_API_BASE``), within
the 3-day window, sanitized, scanned by the real clamd and stored for the appeal."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image

from addons.channels.wechat import IMAGE_TEXT, WeChatConfig, WeChatInput
from addons.channels.wechat_media import WeChatMaterials
from core.db.models import MaterialStatus
from core.materials import MaterialsSettings
from tests.materials.conftest import (
    EICAR,
    OWN_APPEAL,
    OWN_MERCHANT,
    bind,
    downloads,
    gps_jpeg,
    pdf,
    stored,
)
from tests.materials.fake_media import FakeWeChatMedia
from tests.wechat.client import APP_ID, TOKEN, FakeBot, content, openid, post, wechat_send


def image_xml(user: str, media_id: str, msg_id: int, sent_at: int | None = None) -> str:
    xml = wechat_send.image_xml(user, media_id, msg_id=msg_id)
    if sent_at is not None:
        start = xml.index("<CreateTime>") + len("<CreateTime>")
        end = xml.index("</CreateTime>")
        xml = xml[:start] + str(sent_at) + xml[end:]
    return xml


async def test_a_wechat_image_is_fetched_from_the_media_api_and_stored(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str,
        settings: MaterialsSettings) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake_wechat.media["MEDIA-1"] = (gps_jpeg(), "image/jpeg")

    reply = content(await post(channel, FakeBot(), image_xml(user, "MEDIA-1", 5001)))

    assert reply is not None and f"已加入申诉 {OWN_APPEAL} 的材料" in reply
    [call] = fake_wechat.media_calls
    assert call["media_id"] == "MEDIA-1" and call["access_token"].startswith("TOKEN-")
    [row] = stored(db_url)
    assert (row.channel, row.merchant_id, row.appeal_id) == ("wechat", OWN_MERCHANT, OWN_APPEAL)
    assert row.status == MaterialStatus.clean and row.kind == "jpeg"
    data = (settings.storage_dir / row.storage_key).read_bytes()
    assert not Image.open(io.BytesIO(data)).getexif()
    # The MediaId is still kept for the conversation, as before.
    assert [m["media_id"] for m in await channel.state.media(user)] == ["MEDIA-1"]


async def test_a_retried_push_stores_the_image_once(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake_wechat.media["MEDIA-2"] = (gps_jpeg(), "image/jpeg")
    xml = image_xml(user, "MEDIA-2", 5002)
    await post(channel, FakeBot(), xml)
    await post(channel, FakeBot(), xml)  # WeChat's retry: another nonce, the same MsgId
    assert len(stored(db_url)) == 1


async def test_unverified_senders_keep_the_old_answer_and_nothing_is_fetched(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    fake_wechat.media["MEDIA-3"] = (gps_jpeg(), "image/jpeg")
    reply = content(await post(channel, FakeBot(), image_xml(openid(), "MEDIA-3", 5003)))
    assert reply == IMAGE_TEXT
    assert fake_wechat.media_calls == [] and stored(db_url) == []


@pytest.mark.parametrize(("media", "sent_ago_s", "expected"), [
    (None, 0, "超过3天"),  # WeChat no longer has it (40007)
    ((gps_jpeg(), "image/jpeg"), 4 * 24 * 3600, "超过3天"),  # outside the window: not asked
    ((pdf(body=b"(" + EICAR + b")"), "application/pdf"), 0, "文件没通过安全检查"),
    ((b"GIF89a" + b"\x00" * 50, "image/gif"), 0, "只支持图片和PDF"),
])
async def test_refused_or_unavailable_images_are_answered_politely(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str, media: Any,
        sent_ago_s: int, expected: str) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    if media is not None:
        fake_wechat.media["MEDIA-X"] = media
    xml = image_xml(user, "MEDIA-X", 5004, sent_at=int(time.time()) - sent_ago_s)
    reply = content(await post(channel, FakeBot(), xml))
    assert reply is not None and expected in reply, reply
    assert stored(db_url) == []
    if sent_ago_s:
        assert fake_wechat.media_calls == []


async def test_wechat_api_down_is_retried_later_and_keeps_the_media_id(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake_wechat.stop()  # the WeChat API cannot be reached
    reply = content(await post(channel, FakeBot(), image_xml(user, "MEDIA-4", 5005)))
    # Not asked to send again: the outbox fetches it later (tests/materials/test_wechat_retry.py).
    assert reply is not None and "不用重新发" in reply and "微信图片" in reply, reply
    assert [row.media_id for row in downloads(db_url)] == ["MEDIA-4"]
    assert [m["media_id"] for m in await channel.state.media(user)] == ["MEDIA-4"]


def test_only_the_production_channel_takes_materials(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LOCAL_SECRETS_DIR", str(tmp_path))
    production = WeChatInput.from_credentials({"token": TOKEN, "app_id": APP_ID,
                                               "app_secret": "secret"})
    assert isinstance(production.materials, WeChatMaterials)
    assert WeChatInput(WeChatConfig(token=TOKEN)).materials is None
    # Without AppID/AppSecret nothing can be fetched: the old answer stays.
    assert WeChatInput.from_credentials({"token": TOKEN}).materials is None
