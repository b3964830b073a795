"""The outbox of WeChat media downloads (core.db.media_downloads): the fake WeChat API
down or answering an error when a verified merchant sends a file, so the merchant is told
it is received and being processed, the channel's worker fetches it again with backoff
within the media window, and tells the outcome once through the customer-service API;
a download that finally fails is told once to send again. Nothing is dropped silently."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from addons.channels.wechat import WeChatInput
from core.db.forget import forget
from core.db.media_downloads import MediaDownload
from core.db.models import Appeal, AppealStatus, MaterialStatus, utcnow
from core.db.session import get_engine
from core.materials import LocalStorage, MaterialsPipeline, MaterialsSettings
from tests.materials.conftest import (
    OWN_APPEAL,
    OWN_MERCHANT,
    CleanScanner,
    bind,
    downloads,
    gps_jpeg,
    pdf,
    stored,
)
from tests.materials.fake_media import FakeWeChatMedia
from tests.wechat.client import FakeBot, content, openid, post, wechat_send

HOUR = dt.timedelta(hours=1)


def file_xml(user: str, media_id: str, msg_id: int, title: str = "营业执照.pdf") -> str:
    return wechat_send.message_xml(user, "file", {"Title": title, "MediaId": media_id},
                                   msg_id=msg_id)


def later(**delta: float) -> dt.datetime:
    return utcnow() + dt.timedelta(**delta)


async def send_while_down(channel: WeChatInput, fake: FakeWeChatMedia, db_url: str,
                          media_id: str, msg_id: int) -> str:
    """A verified merchant sends a PDF as a file while WeChat's media API answers 503."""
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake.media[media_id] = (pdf(), "application/pdf")
    fake.media_down_status = 503
    reply = content(await post(channel, FakeBot(), file_xml(user, media_id, msg_id)))
    assert reply == ("收到「营业执照.pdf」了。微信那边暂时取不到文件，我们会自动再取，"
                     "处理好后在这里告诉你结果，不用重新发。")
    return user


async def test_an_outage_then_recovery_the_file_arrives_and_the_merchant_is_told_once(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R1", 7001)
    [row] = downloads(db_url)
    assert (row.status, row.attempts, row.openid, row.media_id) == \
        ("pending", 1, user, "FILE-R1")
    assert row.fetch_until - row.sent_at == dt.timedelta(hours=46)
    assert stored(db_url) == [] and fake_wechat.sent_to(user) == []

    # Not due yet: nothing is asked for.
    calls = len(fake_wechat.media_calls)
    assert await channel.materials.retry_due() == 0
    assert len(fake_wechat.media_calls) == calls
    # Due, still down: tried, and tried again later (backoff).
    assert await channel.materials.retry_due(later(seconds=31)) == 1
    [row] = downloads(db_url)
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at > utcnow() + dt.timedelta(seconds=60)
    assert fake_wechat.sent_to(user) == []

    fake_wechat.media_down_status = 0  # WeChat is back
    assert await channel.materials.retry_due(later(minutes=10)) == 1

    [material] = stored(db_url)
    assert (material.appeal_id, material.status, material.kind) == \
        (OWN_APPEAL, MaterialStatus.clean, "pdf")
    assert material.original_name == "营业执照.pdf"
    assert material.source_ref == f"wechat:{user}:7001"
    [told] = fake_wechat.sent_to(user)
    assert told.content == (f"已收到「营业执照.pdf」，已加入申诉 {OWN_APPEAL} 的材料"
                            f"（现在共 1 份），审核时会一并查看。")
    [row] = downloads(db_url)
    assert (row.status, row.outcome, row.material_id) == ("done", "accepted", material.id)
    assert row.told_at is not None and row.reply is None
    # Nothing is due any more: never told twice, never stored twice.
    assert await channel.materials.retry_due(later(hours=2)) == 0
    assert len(fake_wechat.sent_to(user)) == 1 and len(stored(db_url)) == 1


async def test_a_wechat_error_code_is_retried_too(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake_wechat.media["MEDIA-R2"] = (gps_jpeg(), "image/jpeg")
    fake_wechat.media_errcode = -1  # "system busy"
    xml = wechat_send.image_xml(user, "MEDIA-R2", msg_id=7002)
    reply = content(await post(channel, FakeBot(), xml))
    assert reply is not None and "「微信图片」" in reply and "不用重新发" in reply
    [row] = downloads(db_url)
    assert row.msg_type == "image" and row.last_error.startswith("-1:")

    fake_wechat.media_errcode = 0
    await channel.materials.retry_due(later(seconds=31))
    [material] = stored(db_url)
    assert material.kind == "jpeg" and material.status == MaterialStatus.clean
    [told] = fake_wechat.sent_to(user)
    assert "「微信图片」" in told.content and "已加入申诉" in told.content


async def test_a_final_failure_tells_the_merchant_once_to_send_again(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R3", 7003)
    [row] = downloads(db_url)
    for minutes in (1, 3, 10):  # still down: nothing said meanwhile
        await channel.materials.retry_due(later(minutes=minutes))
    assert fake_wechat.sent_to(user) == []

    # The last try at the end of the retry time fails too: given up, told once.
    at_the_end = row.fetch_until + dt.timedelta(seconds=1)
    assert await channel.materials.retry_due(at_the_end) == 1
    [told] = fake_wechat.sent_to(user)
    assert told.content == ("抱歉，「营业执照.pdf」一直没能从微信取到，没有加入申诉材料，"
                            "请重新发一次。着急的话可以拨打微信支付客服 95017。")
    [row] = downloads(db_url)
    assert (row.status, row.outcome) == ("done", "failed") and row.attempts == 5
    assert stored(db_url) == []

    assert await channel.materials.retry_due(at_the_end + HOUR) == 0
    assert len(fake_wechat.sent_to(user)) == 1


async def test_a_media_id_that_expired_meanwhile_is_told_at_once(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R4", 7004)
    fake_wechat.media_down_status = 0
    del fake_wechat.media["FILE-R4"]  # WeChat answers 40007 now: no use trying again
    await channel.materials.retry_due(later(seconds=31))
    [told] = fake_wechat.sent_to(user)
    assert "没能从微信取到" in told.content and "请重新发一次" in told.content
    assert downloads(db_url)[0].status == "done"


async def test_an_appeal_closed_meanwhile_gets_nothing_and_the_merchant_is_told(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R11", 7011)
    with Session(get_engine(db_url)) as session, session.begin():
        session.execute(update(Appeal).where(Appeal.id == OWN_APPEAL)
                        .values(status=AppealStatus.approved))
    fake_wechat.media_down_status = 0
    await channel.materials.retry_due(later(seconds=31))
    [told] = fake_wechat.sent_to(user)
    assert told.content.startswith("关于「营业执照.pdf」：你还没有进行中的申诉")
    assert stored(db_url) == [] and downloads(db_url)[0].outcome == "refused"


async def test_telling_is_retried_when_the_customer_service_api_fails(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R5", 7005)
    fake_wechat.media_down_status = 0
    fake_wechat.send_errcode = -1  # the file arrives, telling fails
    await channel.materials.retry_due(later(seconds=31))
    assert len(stored(db_url)) == 1 and fake_wechat.sent_to(user) == []
    [row] = downloads(db_url)
    assert (row.status, row.outcome) == ("telling", "accepted") and "已加入申诉" in row.reply

    fake_wechat.send_errcode = 0
    await channel.materials.retry_due(later(minutes=30))
    [told] = fake_wechat.sent_to(user)
    assert "已加入申诉" in told.content
    assert downloads(db_url)[0].status == "done"
    await channel.materials.retry_due(later(hours=3))
    assert len(fake_wechat.sent_to(user)) == 1


async def test_a_closed_window_leaves_the_row_untold_never_silently_gone(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R6", 7006)
    fake_wechat.media_down_status = 0
    fake_wechat.closed_windows.add(user)  # 45015: WeChat refuses messages to them
    await channel.materials.retry_due(later(seconds=31))
    [row] = downloads(db_url)
    assert (row.status, row.outcome) == ("untold", "accepted") and row.last_error.startswith(
        "45015")
    assert len(stored(db_url)) == 1  # the file itself is kept


async def test_a_retried_push_keeps_one_download(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R7", 7007)
    xml = file_xml(user, "FILE-R7", 7007)
    await post(channel, FakeBot(), xml)  # WeChat's retry: another nonce, the same MsgId
    assert len(downloads(db_url)) == 1


async def test_the_database_down_too_asks_to_send_again(
        make_channel, fake_wechat: FakeWeChatMedia, db_url: str,
        settings: MaterialsSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    from addons.channels import wechat_media

    channel = make_channel(MaterialsPipeline(settings, CleanScanner(),
                                             LocalStorage(settings.storage_dir), db_url=db_url))
    user = openid()
    bind(db_url, "wechat", user, OWN_MERCHANT)
    fake_wechat.media_down_status = 503

    def broken(*args: object, **kwargs: object) -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(wechat_media.outbox, "enqueue", broken)
    reply = content(await post(channel, FakeBot(), file_xml(user, "FILE-R8", 7008)))
    assert reply is not None and "稍后再发一次" in reply
    assert downloads(db_url) == []


async def test_the_worker_fetches_by_itself(
        make_channel, fake_wechat: FakeWeChatMedia, db_url: str,
        settings: MaterialsSettings) -> None:
    quick = settings.copy(update={"wechat_retry_poll_s": 0.1})
    channel = make_channel(MaterialsPipeline(quick, CleanScanner(),
                                             LocalStorage(quick.storage_dir), db_url=db_url))
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R9", 7009)
    fake_wechat.media_down_status = 0
    with Session(get_engine(db_url)) as session, session.begin():  # due now
        session.execute(update(MediaDownload).values(next_attempt_at=utcnow()))
    deadline = time.monotonic() + 20
    while not fake_wechat.sent_to(user) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    [told] = fake_wechat.sent_to(user)
    assert "已加入申诉" in told.content and len(stored(db_url)) == 1


async def test_deleting_my_records_deletes_the_downloads(
        channel: WeChatInput, fake_wechat: FakeWeChatMedia, db_url: str) -> None:
    user = await send_while_down(channel, fake_wechat, db_url, "FILE-R10", 7010)
    with Session(get_engine(db_url)) as session, session.begin():
        forget(session, "wechat", user)
    assert downloads(db_url) == []
    fake_wechat.media_down_status = 0
    assert await channel.materials.retry_due(later(minutes=1)) == 0
    assert stored(db_url) == []
