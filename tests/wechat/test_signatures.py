"""Every signature check — URL verification, ``signature`` on each push, ``msg_signature``
on encrypted pushes — is made by the channel in constant time (``hmac.compare_digest``),
and a forged signature is refused with 403 in every mode."""

from __future__ import annotations

import hmac
import time
from typing import Any

import pytest

from tests.wechat.client import AES_KEY, APP_ID, TOKEN, FakeBot, openid, wechat_send

send = wechat_send
MODES = ["plaintext", "compatible", "safe"]
FORGED = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every ``hmac.compare_digest`` call (still doing the real comparison)."""
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


def compared(calls: list[tuple[Any, Any]], value: str) -> bool:
    wanted = {value, value.encode("utf-8")}
    return any(a in wanted or b in wanted for a, b in calls)


def channel_in(make_channel: Any, mode: str) -> Any:
    if mode == "plaintext":
        return make_channel()
    return make_channel(encoding_aes_key=AES_KEY, mode=mode)


def url_check(signature: str | None = None) -> dict[str, str]:
    ts, nonce = str(int(time.time())), "24680"
    return {"signature": signature or send.signature(TOKEN, ts, nonce), "timestamp": ts,
            "nonce": nonce, "echostr": "echo-1"}


@pytest.mark.parametrize("mode", MODES)
async def test_forged_url_verification_is_refused(
    make_channel: Any, comparisons: list[Any], mode: str
) -> None:
    channel = channel_in(make_channel, mode)
    assert (await channel.handle_verification(url_check())).status == 200
    forged = await channel.handle_verification(url_check(FORGED))
    assert forged.status == 403 and "echo-1" not in forged.body
    assert compared(comparisons, FORGED)


@pytest.mark.parametrize("mode", MODES)
async def test_forged_signature_on_a_push_is_refused(
    make_channel: Any, comparisons: list[Any], mode: str
) -> None:
    channel, bot = channel_in(make_channel, mode), FakeBot()
    aes = mode != "plaintext"
    query, body = send.signed_request(send.text_xml(openid(), "你好"), TOKEN,
                                      AES_KEY if aes else "", APP_ID if aes else "")
    result = await channel.handle_post({**query, "signature": FORGED}, body, bot)
    assert result.status == 403
    assert compared(comparisons, FORGED)
    assert bot.calls == []


@pytest.mark.parametrize("mode", ["compatible", "safe"])
async def test_forged_msg_signature_is_refused(
    make_channel: Any, comparisons: list[Any], mode: str
) -> None:
    channel, bot = channel_in(make_channel, mode), FakeBot()
    query, body = send.signed_request(send.text_xml(openid(), "你好"), TOKEN, AES_KEY, APP_ID)
    result = await channel.handle_post({**query, "msg_signature": FORGED}, body, bot)
    assert result.status == 403
    # The outer signature was right: the msg_signature was compared, and refused.
    assert compared(comparisons, query["signature"]) and compared(comparisons, FORGED)
    assert bot.calls == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("forged", ["签名", "0" * 39 + "é", "x" * 4000, " " + "0" * 40])
async def test_odd_forged_signatures_are_refused_not_crashing(
    make_channel: Any, mode: str, forged: str
) -> None:
    channel, bot = channel_in(make_channel, mode), FakeBot()
    assert (await channel.handle_verification(url_check(forged))).status == 403
    aes = mode != "plaintext"
    query, body = send.signed_request(send.text_xml(openid(), "你好"), TOKEN,
                                      AES_KEY if aes else "", APP_ID if aes else "")
    assert (await channel.handle_post({**query, "signature": forged}, body, bot)).status == 403
    if aes:
        bad_msg = {**query, "msg_signature": forged}
        assert (await channel.handle_post(bad_msg, body, bot)).status == 403
    assert bot.calls == []
