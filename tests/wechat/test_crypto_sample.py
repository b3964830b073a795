"""Safe mode against WeChat's own published sample (the official "消息加解密" sample code,
WXBizMsgCrypt's demo): a known-answer test, not a round trip through one library.

A round trip only shows that encryption and decryption agree with each other; this shows
the channel reads what the WeChat server really sends.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from addons.channels.wechat_inbound import RejectedRequest, WeChatVerifier
from tests.wechat.client import FakeBot, wechat_send

# The published sample, value for value.
TOKEN = "spamtest"
ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
TIMESTAMP = "1409735669"
NONCE = "1320562132"
MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6"
    "F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T33"
    "2jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
    "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewp"
    "usjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
# What the ciphertext decrypts to.
PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)
# The sample's post as sent in compatible mode (clear fields and the encrypted part) ...
COMPATIBLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA["
    "oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content>"
    f"<MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
)
# ... and in safe mode: the encrypted part only, so the text can only come from decryption.
SAFE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    f"<Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
)
# The URL signature of the sample's token, timestamp and nonce (SHA-1 of the three, sorted).
SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"

QUERY = {"signature": SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE,
         "encrypt_type": "aes", "msg_signature": MSG_SIGNATURE}


@pytest.fixture(autouse=True)
def clock_at_the_sample_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The channel refuses timestamps more than 5 minutes off: be in September 2014.
    monkeypatch.setattr(time, "time", lambda: float(TIMESTAMP) + 2)


def verifier(mode: str = "safe", app_id: str = APP_ID) -> WeChatVerifier:
    return WeChatVerifier(TOKEN, mode, ENCODING_AES_KEY, app_id)


@pytest.mark.parametrize(
    ("mode", "body"),
    [pytest.param("safe", SAFE_BODY, id="safe"),
     pytest.param("compatible", COMPATIBLE_BODY, id="compatible")],
)
def test_the_published_ciphertext_decrypts_to_the_published_message(mode: str, body: str) -> None:
    inbound = verifier(mode).parse(QUERY, body.encode())
    assert inbound.encrypted
    assert inbound.xml == PLAINTEXT
    message = inbound.message
    assert (message.type, message.content) == ("text", "abcdteT")
    assert (message.source, message.target) == ("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "gh_10f6c3c3ac5a")
    assert (message.id, message.time) == (6054768590064713728, 1409735668)


def test_the_published_url_signature_is_accepted() -> None:
    assert verifier().verify_url({**QUERY, "echostr": "5927321"}) == "5927321"


@pytest.mark.parametrize(
    "change",
    [
        {"msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fb"},  # last digit changed
        {"msg_signature": MSG_SIGNATURE.upper()},
        {"signature": "16120ec1b8dbb870f510d87ce6bc2463eae6ca1b"},
        {"nonce": "1320562133"},  # both signatures cover the nonce
    ],
)
def test_the_sample_with_any_signed_value_changed_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(RejectedRequest) as raised:
        verifier().parse({**QUERY, **change}, SAFE_BODY.encode())
    assert raised.value.status == 403


def test_the_sample_with_the_ciphertext_changed_is_refused() -> None:
    tampered = SAFE_BODY.replace(ENCRYPT[:8], "AAAAAAAA")
    with pytest.raises(RejectedRequest) as raised:
        verifier().parse(QUERY, tampered.encode())
    assert raised.value.status == 403


def test_the_sample_for_another_app_id_is_refused() -> None:
    with pytest.raises(RejectedRequest) as raised:
        verifier(app_id="wx0000000000000000").parse(QUERY, SAFE_BODY.encode())
    assert raised.value.status == 403


async def test_the_channel_answers_the_sample_message_encrypted(make_channel: Any) -> None:
    channel = make_channel(token=TOKEN, app_id=APP_ID, encoding_aes_key=ENCODING_AES_KEY,
                           mode="safe")
    bot = FakeBot()
    response = await channel.handle_post(QUERY, SAFE_BODY.encode(), bot)
    assert response.status == 200 and "abcdteT" not in response.body
    [message] = bot.calls
    assert (message.sender_id, message.text) == ("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "abcdteT")
    reply = wechat_send.decode_reply(response.body, TOKEN, ENCODING_AES_KEY, APP_ID)
    assert wechat_send.reply_field(reply) == "收到：abcdteT"
