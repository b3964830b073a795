"""The channel in-process (fake bot, fake WeChat API): verification, modes, message types,
dedup of retries, the reply deadline, long replies, bad input."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from addons.channels.wechat import (
    EMPTY_TEXT,
    ERROR_TEXT,
    IMAGE_TEXT,
    UNKNOWN_MENU_TEXT,
    UNSUPPORTED_TEXT,
    VOICE_UNRECOGNIZED_TEXT,
    WeChatConfig,
    WeChatInput,
)
from addons.channels.wechat_render import utf8_len
from addons.channels.wechat_store import MemoryStore
from tests.wechat.client import AES_KEY, APP_ID, TOKEN, FakeBot, content, openid, post, wechat_send
from tests.wechat.fake_wechat import FakeWeChat

send = wechat_send

GREET = [{"text": "你好，我是收款账户助手。", "buttons": [
    {"title": "查我的账户状态", "payload": "/check_account_status"},
    {"title": "客服电话", "payload": "/contact_support"},
]}]


def signed(token: str = TOKEN, **extra: str) -> dict[str, str]:
    ts, nonce = str(int(time.time())), "12345"
    return {"signature": send.signature(token, ts, nonce), "timestamp": ts, "nonce": nonce,
            **extra}


# --- configuration and mounting ------------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [{"mode": "secret"}, {"mode": "safe"}, {"mode": "safe", "encoding_aes_key": "short",
                                            "app_id": APP_ID},
     {"reply_timeout_s": 6}, {"reply_timeout_s": 0}],
)
def test_bad_settings_fail_at_startup(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WeChatInput(WeChatConfig(**settings))


def test_mounted_at_webhooks_wechat_webhook() -> None:
    channel = WeChatInput.from_credentials({"token": TOKEN})
    app = Sanic("wechat_mount_test")
    register([channel], app, route="/webhooks/")
    paths = {route.path for route in app.router.routes}
    assert "webhooks/wechat/webhook" in paths
    blueprint = channel.blueprint(FakeBot())
    assert re.match(r"^[a-zA-Z_][a-zA-Z0-9_\-]*$", blueprint.name)


# --- URL verification and request checks -----------------------------------------------------
async def test_url_verification_echoes_echostr(make_channel: Any) -> None:
    channel = make_channel()
    ok = await channel.handle_verification(signed(echostr="echo-123"))
    assert (ok.status, ok.body) == (200, "echo-123")
    forged = await channel.handle_verification(signed(token="wrong", echostr="echo-123"))
    assert forged.status == 403 and "echo" not in forged.body
    missing = await channel.handle_verification(signed())
    assert missing.status == 400


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"signature": "0" * 40}, 403),
        ({"signature": ""}, 403),
        ({"nonce": ""}, 403),
        ({"timestamp": "abc"}, 400),
    ],
)
async def test_forged_or_malformed_query_never_reaches_the_bot(
    make_channel: Any, change: dict[str, str], status: int
) -> None:
    channel, bot = make_channel(), FakeBot()
    query, body = send.signed_request(send.text_xml(openid(), "你好"), TOKEN)
    result = await channel.handle_post({**query, **change}, body, bot)
    assert result.status == status
    assert bot.calls == []


@pytest.mark.parametrize("skew", [-301, 301, -86400])
async def test_stale_or_future_timestamps_are_refused(make_channel: Any, skew: int) -> None:
    channel, bot = make_channel(), FakeBot()
    result = await post(channel, bot, send.text_xml(openid(), "你好"),
                        timestamp=int(time.time()) + skew)
    assert result.status == 403
    assert bot.calls == []


async def test_timestamp_within_the_window_is_accepted(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot()
    result = await post(channel, bot, send.text_xml(openid(), "你好"),
                        timestamp=int(time.time()) - 290)
    assert content(result) == "收到：你好"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&lol3;</Content>
<MsgId>1</MsgId></xml>"""
XXE = """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&e;</Content></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        XXE,
        "not xml at all",
        "<xml><ToUserName>gh</ToUserName>",  # truncated
        "<root><MsgType>text</MsgType></root>",
        "<xml><FromUserName>{openid}</FromUserName><MsgType>text</MsgType></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1"
        "</CreateTime><MsgType><a>text</a></MsgType></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1"
        "</CreateTime><MsgType>text</MsgType><Content>a</Content><Content>b</Content></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
        "<CreateTime>yesterday</CreateTime><MsgType>text</MsgType></xml>",
        "",
    ],
)
async def test_malformed_or_dangerous_xml_is_rejected_with_400(make_channel: Any,
                                                                body: str) -> None:
    channel, bot = make_channel(), FakeBot()
    query, _ = send.signed_request("<xml/>", TOKEN)
    result = await channel.handle_post(query, body.format(openid=openid()).encode(), bot)
    assert result.status == 400
    assert bot.calls == []


async def test_oversized_body_is_rejected(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot()
    result = await post(channel, bot, send.text_xml(openid(), "收" * 30000))
    assert result.status == 413
    assert bot.calls == []


# --- modes ---------------------------------------------------------------------------------
async def test_safe_mode_decrypts_and_encrypts(make_channel: Any) -> None:
    channel = make_channel(encoding_aes_key=AES_KEY, mode="safe")
    bot = FakeBot()
    result = await post(channel, bot, send.text_xml(openid(), "加密的你好"), aes=True)
    assert "<Encrypt>" in result.body and "收到" not in result.body
    assert content(result, aes=True) == "收到：加密的你好"


async def test_safe_mode_refuses_plaintext_and_bad_msg_signature(make_channel: Any) -> None:
    channel, bot = make_channel(encoding_aes_key=AES_KEY, mode="safe"), FakeBot()
    plain = await post(channel, bot, send.text_xml(openid(), "你好"))
    assert plain.status == 400
    query, body = send.signed_request(send.text_xml(openid(), "你好"), TOKEN, AES_KEY, APP_ID)
    forged = await channel.handle_post({**query, "msg_signature": "1" * 40}, body, bot)
    assert forged.status == 403
    no_sig = await channel.handle_post({**query, "msg_signature": ""}, body, bot)
    assert no_sig.status == 403
    # Right signature, but encrypted for another AppID.
    other = send.signed_request(send.text_xml(openid(), "你好"), TOKEN, AES_KEY, "wxother")
    assert (await channel.handle_post(*other, bot)).status == 403
    assert bot.calls == []


async def test_entity_expansion_inside_the_encrypted_part_is_rejected(
    make_channel: Any,
) -> None:
    channel, bot = make_channel(encoding_aes_key=AES_KEY, mode="safe"), FakeBot()
    result = await post(channel, bot, BILLION_LAUGHS.format(openid=openid()), aes=True)
    assert result.status == 400
    assert bot.calls == []


async def test_compatible_mode_takes_encrypted_pushes_only(make_channel: Any) -> None:
    channel = make_channel(encoding_aes_key=AES_KEY, mode="compatible")
    bot = FakeBot()
    # No plaintext fallback: the clear fields are not signed (tests/wechat/test_signature_replay.py).
    assert (await post(channel, bot, send.text_xml(openid(), "明文"))).status == 403
    encrypted = await post(channel, bot, send.text_xml(openid(), "密文"), aes=True)
    assert content(encrypted, aes=True) == "收到：密文"
    assert bot.texts == ["密文"]


async def test_plaintext_mode_cannot_take_encrypted_messages(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot()
    result = await post(channel, bot, send.text_xml(openid(), "你好"), aes=True)
    assert result.status == 400
    assert bot.calls == []


# --- message types -------------------------------------------------------------------------
async def test_text_goes_to_the_bot_as_the_openid_on_channel_wechat(make_channel: Any) -> None:
    channel, bot, user = make_channel(), FakeBot(), openid()
    result = await post(channel, bot, send.text_xml(user, "我的收款码被限制了"))
    assert content(result) == "收到：我的收款码被限制了"
    [message] = bot.calls
    assert message.sender_id == user
    assert message.input_channel == "wechat"
    assert message.metadata["wechat"]["msg_type"] == "text"


async def test_voice_uses_recognition_or_asks_to_type(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot()
    heard = await post(channel, bot, send.voice_xml(openid(), "客服电话多少"))
    assert content(heard) == "收到：客服电话多少"
    for recognition in (None, "", "  "):
        silent = await post(channel, bot, send.voice_xml(openid(), recognition))
        assert content(silent) == VOICE_UNRECOGNIZED_TEXT
    assert bot.texts == ["客服电话多少"]


async def test_image_is_acknowledged_and_its_media_id_remembered(make_channel: Any) -> None:
    channel, bot, user = make_channel(), FakeBot(), openid()
    first = await post(channel, bot, send.image_xml(user, "MEDIA-1"))
    await post(channel, bot, send.image_xml(user, "MEDIA-2"))
    assert content(first) == IMAGE_TEXT
    assert bot.calls == []
    assert [m["media_id"] for m in await channel.state.media(user)] == ["MEDIA-1", "MEDIA-2"]
    await post(channel, bot, send.text_xml(user, "我要申诉"))
    assert bot.calls[0].metadata["wechat"]["media_ids"] == ["MEDIA-1", "MEDIA-2"]


class ImagesUnavailableStore(MemoryStore):
    async def get(self, key: str) -> str | None:
        if ":media:" in key:
            raise ConnectionError("redis down while reading images")
        return await super().get(key)


async def test_images_that_cannot_be_read_are_logged_and_the_bot_still_answers(
    make_channel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    channel, bot = make_channel(store=ImagesUnavailableStore()), FakeBot()
    with caplog.at_level(logging.ERROR, logger="addons.channels.wechat"):
        result = await post(channel, bot, send.text_xml(openid(), "我要申诉"))
    assert content(result) == "收到：我要申诉"
    assert "media_ids" not in bot.calls[0].metadata["wechat"]
    [record] = [r for r in caplog.records if r.name == "addons.channels.wechat"]
    assert record.levelno == logging.ERROR
    assert record.exc_info and "redis down while reading images" in str(record.exc_info[1])


async def test_subscribe_sends_greet_and_click_maps_menu_keys(make_channel: Any) -> None:
    channel = make_channel(menu={"MY_KEY": "/ask_fee_rate"})
    bot = FakeBot(lambda text: GREET if text == "/greet" else [{"text": f"意图 {text}"}])
    greeting = content(await post(channel, bot, send.event_xml(openid(), "subscribe")))
    assert greeting is not None and "1. 查我的账户状态\n2. 客服电话" in greeting
    assert content(await post(channel, bot, send.event_xml(openid(), "CLICK", "CONTACT"))) \
        == "意图 /contact_support"
    assert content(await post(channel, bot, send.event_xml(openid(), "CLICK", "MY_KEY"))) \
        == "意图 /ask_fee_rate"
    assert content(await post(channel, bot, send.event_xml(openid(), "CLICK", "NOPE"))) \
        == UNKNOWN_MENU_TEXT
    assert bot.texts == ["/greet", "/contact_support", "/ask_fee_rate"]


async def test_silent_events_answer_success(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot()
    for event, key in (("unsubscribe", ""), ("VIEW", "https://example.com"),
                       ("LOCATION", ""), ("SomethingNew", "")):
        result = await post(channel, bot, send.event_xml(openid(), event, key))
        assert content(result) is None
    assert bot.calls == []


@pytest.mark.parametrize("msg_type", ["video", "shortvideo", "location", "link", "file",
                                      "brand_new_type"])
async def test_unsupported_messages_get_a_polite_answer(make_channel: Any, msg_type: str) -> None:
    channel, bot = make_channel(), FakeBot()
    result = await post(channel, bot, send.message_xml(openid(), msg_type, {"MediaId": "m"}))
    assert content(result) == UNSUPPORTED_TEXT
    assert bot.calls == []


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
async def test_empty_text_gets_a_polite_answer(make_channel: Any, text: str) -> None:
    channel, bot = make_channel(), FakeBot()
    assert content(await post(channel, bot, send.text_xml(openid(), text))) == EMPTY_TEXT
    assert bot.calls == []


@pytest.mark.parametrize(
    "text", ["😀😀😀", "<script>alert(1)</script>", "]]><xml>", "收款" * 1500, "&amp; &lt;"]
)
async def test_odd_text_reaches_the_bot_and_the_reply_stays_valid_xml(
    make_channel: Any, text: str
) -> None:
    channel = make_channel()
    bot = FakeBot(lambda typed: [{"text": f"你说：{typed[:50]}"}])
    assert content(await post(channel, bot, send.text_xml(openid(), text))) == f"你说：{text[:50]}"
    assert bot.texts == [text]


async def test_bot_failure_gets_a_polite_answer(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot(error=RuntimeError("tracker store down"))
    assert content(await post(channel, bot, send.text_xml(openid(), "你好"))) == ERROR_TEXT


async def test_no_bot_answer_means_success(make_channel: Any) -> None:
    # e.g. a conversation handed over to an agent.
    channel, bot = make_channel(), FakeBot(lambda text: [])
    assert content(await post(channel, bot, send.text_xml(openid(), "你好"))) is None


# --- numbered choices ----------------------------------------------------------------------
async def test_typed_numbers_reach_the_bot_as_typed(make_channel: Any) -> None:
    # The channel renders buttons as numbered lines and remembers nothing: the number is
    # read against the conversation's own last bot turn by addons.typed_choices (with the
    # real model: tests/wechat/test_typed_choices.py).
    channel, user = make_channel(), openid()
    bot = FakeBot(lambda text: GREET)
    greeting = await post(channel, bot, send.text_xml(user, "你好"))
    assert "1. 查我的账户状态\n2. 客服电话" in content(greeting)
    await post(channel, bot, send.text_xml(user, "２"))
    assert bot.texts[-1] == "２"
    assert "choice" not in bot.calls[-1].metadata["wechat"]


# --- retries: exactly once -----------------------------------------------------------------
async def test_retries_get_the_same_reply_and_one_bot_turn(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot(delay=0.3)
    xml = send.text_xml(openid(), "你好", msg_id=42)
    results = await asyncio.gather(*(post(channel, bot, xml) for _ in range(3)))
    assert [content(r) for r in results] == ["收到：你好"] * 3
    later = await post(channel, bot, xml)  # after the first finished
    assert content(later) == "收到：你好"
    assert len(bot.calls) == 1


async def test_event_retries_are_keyed_by_sender_and_create_time(make_channel: Any) -> None:
    channel, bot, user = make_channel(), FakeBot(), openid()
    now = int(time.time())
    for _ in range(3):
        await post(channel, bot, send.event_xml(user, "subscribe", create_time=now))
    await post(channel, bot, send.event_xml(user, "subscribe", create_time=now + 1))
    assert bot.texts == ["/greet", "/greet"]


async def test_encrypted_retry_gets_an_encrypted_copy(make_channel: Any) -> None:
    channel = make_channel(encoding_aes_key=AES_KEY, mode="compatible")
    bot = FakeBot()
    xml = send.text_xml(openid(), "你好", msg_id=7)
    first, retry = await post(channel, bot, xml, aes=True), await post(channel, bot, xml, aes=True)
    assert content(first, aes=True) == content(retry, aes=True) == "收到：你好"
    assert len(bot.calls) == 1


# --- the deadline and the customer-service API ----------------------------------------------
async def test_slow_turn_answers_success_then_customer_service(
    make_channel: Any, fake_wechat: FakeWeChat
) -> None:
    channel, bot, user = make_channel(reply_timeout_s=0.1), FakeBot(delay=2.0), openid()
    xml = send.text_xml(user, "你好")
    started = time.monotonic()
    result = await post(channel, bot, xml)
    assert content(result) is None and result.body == "success"
    # Functional, not a speed target: the reply did not wait for the 2-second bot.
    assert time.monotonic() - started < 1.5
    retry = await post(channel, bot, xml)  # WeChat's retry: nothing new, no second answer
    assert retry.body == "success"
    await channel.drain()
    assert [m.content for m in fake_wechat.sent_to(user)] == ["收到：你好"]
    assert len(bot.calls) == 1


async def test_retry_during_a_slow_first_delivery_answers_success(
    make_channel: Any, fake_wechat: FakeWeChat
) -> None:
    channel, bot, user = make_channel(reply_timeout_s=0.2), FakeBot(delay=0.6), openid()
    xml = send.text_xml(user, "你好")
    results = await asyncio.gather(post(channel, bot, xml), post(channel, bot, xml))
    assert [r.body for r in results] == ["success", "success"]
    await channel.drain()
    assert len(fake_wechat.sent_to(user)) == 1 and len(bot.calls) == 1


async def test_long_reply_first_part_passive_rest_by_customer_service_in_order(
    make_channel: Any, fake_wechat: FakeWeChat
) -> None:
    sentences = [f"第{i:03d}条说明。" for i in range(400)]
    channel, user = make_channel(overflow_delay_s=0.05), openid()
    bot = FakeBot(lambda text: [{"text": "".join(sentences)}])
    passive = content(await post(channel, bot, send.text_xml(user, "详细说说")))
    assert fake_wechat.sent_to(user) == []  # the rest waits: it must not overtake the reply
    await channel.drain()
    rest = [m.content for m in fake_wechat.sent_to(user)]
    assert passive is not None and rest
    parts = [passive, *rest]
    assert all(utf8_len(part) <= 2000 for part in parts)
    assert "".join(parts) == "".join(sentences)


async def test_without_app_secret_slow_answers_are_logged_not_crashing(
    make_channel: Any, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    channel = make_channel(app_secret="", reply_timeout_s=0.05)
    bot, user = FakeBot(delay=0.2), openid()
    assert (await post(channel, bot, send.text_xml(user, "你好"))).body == "success"
    await channel.drain()
    assert fake_wechat.sent == []
    assert "no AppID/AppSecret" in caplog.text


async def test_customer_service_failure_is_logged(
    make_channel: Any, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    user = openid()
    fake_wechat.closed_windows.add(user)
    channel, bot = make_channel(reply_timeout_s=0.05), FakeBot(delay=0.2)
    assert (await post(channel, bot, send.text_xml(user, "你好"))).body == "success"
    await channel.drain()
    assert "45015" in caplog.text


async def test_a_sender_over_the_rate_limit_gets_a_polite_answer(make_channel: Any) -> None:
    from addons.channels.rate_limit import RATE_LIMITED_TEXT, RateLimiter

    channel = make_channel()
    channel.rate_limiter = RateLimiter(limit=2, window_s=60)
    bot = FakeBot()
    fast, other = openid(), openid()
    replies = [content(await post(channel, bot, wechat_send.text_xml(fast, f"问题{n}",
                                                                      msg_id=9100 + n)))
               for n in range(3)]
    assert replies[2] == RATE_LIMITED_TEXT and bot.texts == ["问题0", "问题1"]
    served = content(await post(channel, bot, wechat_send.text_xml(other, "你好", msg_id=9200)))
    assert served == "收到：你好"  # other senders keep being served
