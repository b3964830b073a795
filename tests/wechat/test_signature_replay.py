"""One signed query string signs one request (issue 25, High 2 and a Low finding).

WeChat's ``signature`` covers token, timestamp and nonce only, not the body. So every
signed request is accepted once: the channel remembers timestamp + nonce + signature for
as long as the timestamp is accepted, with a fingerprint of what was signed. The same
request again (WeChat's own retry) goes on to the exactly-once path and gets the first
answer; anything else under that signature is refused like a bad signature (403). The
query's ``openid`` must equal ``FromUserName``; compatible mode takes encrypted pushes
only; exactly-once is keyed by OpenID and MsgId; the nginx example logs no query string.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from addons.channels.wechat_store import KeyValueStore, MemoryStore, RedisStore
from tests.conftest import PROJECT_ROOT
from tests.wechat.client import AES_KEY, APP_ID, TOKEN, FakeBot, content, openid, post, wechat_send

send = wechat_send


def aes_channel(make_channel: Any, mode: str = "compatible", **settings: Any) -> Any:
    return make_channel(encoding_aes_key=AES_KEY, mode=mode, **settings)


def signed_post(xml: str, aes: bool = False, **signing: Any) -> tuple[dict[str, str], bytes]:
    return send.signed_request(xml, TOKEN, AES_KEY if aes else "", APP_ID if aes else "",
                               **signing)


# --- one signature, one body -----------------------------------------------------------------
async def test_a_signed_query_does_not_sign_another_body(make_channel: Any) -> None:
    channel, bot = make_channel(), FakeBot()
    victim, attacker_text = openid(), "删除我的记录"
    query, body = signed_post(send.text_xml(victim, "你好", msg_id=1001))
    assert content(await channel.handle_post(query, body, bot)) == "收到：你好"
    # Whoever saw the URL (a proxy log) writes their own body under it, as the victim ...
    forged = send.text_xml(victim, attacker_text, msg_id=1002).encode()
    refused = await channel.handle_post(query, forged, bot)
    assert (refused.status, refused.body) == (403, "forbidden")
    # ... or as anybody else, with the unsigned openid parameter changed to match.
    other = openid()
    as_other = await channel.handle_post(
        {**query, "openid": other}, send.text_xml(other, attacker_text, msg_id=1003).encode(),
        bot,
    )
    assert as_other.status == 403
    assert bot.texts == ["你好"]


async def test_a_replay_before_the_first_finished_is_refused_too(make_channel: Any) -> None:
    channel, bot, user = make_channel(), FakeBot(delay=0.2), openid()
    query, body = signed_post(send.text_xml(user, "你好", msg_id=1101))
    forged = send.text_xml(user, "注销账户", msg_id=1102).encode()
    first, replay = await asyncio.gather(channel.handle_post(query, body, bot),
                                         channel.handle_post(query, forged, bot))
    assert content(first) == "收到：你好" and replay.status == 403
    assert bot.texts == ["你好"]


@pytest.mark.parametrize("aes", [False, True], ids=["plaintext", "compatible"])
async def test_wechats_retry_of_the_same_request_gets_the_first_answer(
    make_channel: Any, aes: bool
) -> None:
    channel = aes_channel(make_channel) if aes else make_channel()
    bot = FakeBot(delay=0.2)
    query, body = signed_post(send.text_xml(openid(), "你好", msg_id=1201), aes=aes)
    # WeChat resends the very same request (same nonce, timestamp, MsgId) after 5 s.
    results = await asyncio.gather(*(channel.handle_post(query, body, bot) for _ in range(3)))
    later = await channel.handle_post(query, body, bot)
    assert [content(r, aes=aes) for r in [*results, later]] == ["收到：你好"] * 4
    assert len(bot.calls) == 1


async def test_a_retry_of_a_slow_message_still_answers_success(make_channel: Any) -> None:
    channel, bot = make_channel(reply_timeout_s=0.1), FakeBot(delay=0.5)
    query, body = signed_post(send.text_xml(openid(), "你好", msg_id=1301))
    first = await channel.handle_post(query, body, bot)
    retry = await channel.handle_post(query, body, bot)
    assert (first.status, first.body) == (retry.status, retry.body) == (200, "success")
    await channel.drain()
    assert len(bot.calls) == 1


async def test_the_url_check_signature_does_not_sign_a_message(make_channel: Any) -> None:
    channel, bot, user = make_channel(), FakeBot(), openid()
    query, body = signed_post(send.text_xml(user, "你好"))
    check = {name: query[name] for name in ("signature", "timestamp", "nonce")}
    ok = await channel.handle_verification({**check, "echostr": "echo-9"})
    assert (ok.status, ok.body) == (200, "echo-9")
    # The same check again is answered the same; another echostr is not.
    assert (await channel.handle_verification({**check, "echostr": "echo-9"})).status == 200
    assert (await channel.handle_verification({**check, "echostr": "echo-0"})).status == 403
    assert (await channel.handle_post(query, body, bot)).status == 403
    assert bot.calls == []


async def test_replicas_sharing_a_store_accept_a_signature_once(make_channel: Any) -> None:
    shared = MemoryStore()
    replicas = [make_channel(store=shared), make_channel(store=shared)]
    bot, user = FakeBot(), openid()
    query, body = signed_post(send.text_xml(user, "你好", msg_id=1401))
    assert content(await replicas[0].handle_post(query, body, bot)) == "收到：你好"
    forged = send.text_xml(user, "解绑手机", msg_id=1402).encode()
    assert (await replicas[1].handle_post(query, forged, bot)).status == 403
    # The refused replay does not stand in the way of WeChat's retry on that replica.
    assert content(await replicas[1].handle_post(query, body, bot)) == "收到：你好"
    assert (await replicas[0].handle_post(query, forged, bot)).status == 403
    assert bot.texts == ["你好"]


@pytest.mark.redis
async def test_replicas_on_redis_accept_a_signature_once(
    make_channel: Any, redis_available: str, redis_namespace: str
) -> None:
    stores = [RedisStore(redis_available) for _ in range(2)]
    try:
        replicas = [make_channel(store=s) for s in stores]
        for replica in replicas:
            replica.state.namespace = redis_namespace
        bot, user = FakeBot(), openid()
        query, body = signed_post(send.text_xml(user, "你好", msg_id=1501))
        forged = send.text_xml(user, "解绑手机", msg_id=1502).encode()
        results = await asyncio.gather(replicas[0].handle_post(query, body, bot),
                                       replicas[1].handle_post(query, forged, bot))
        statuses = sorted(r.status for r in results)
        # Whichever arrived first is the signed one; the other is refused.
        assert statuses == [200, 403] and len(bot.calls) == 1
    finally:
        for store in stores:
            await store.close()


class RecordingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.claims: list[tuple[str, float]] = []

    async def claim(self, key: str, value: str, ttl_s: float) -> bool:
        self.claims.append((key, ttl_s))
        return await super().claim(key, value, ttl_s)


@pytest.mark.parametrize("age_s", [-290, 0, 290])
async def test_a_signature_is_remembered_as_long_as_its_timestamp_is_accepted(
    make_channel: Any, age_s: int
) -> None:
    store = RecordingStore()
    channel, bot = make_channel(store=store), FakeBot()
    timestamp = int(time.time()) - age_s
    query, body = signed_post(send.text_xml(openid(), "你好"), timestamp=timestamp)
    assert (await channel.handle_post(query, body, bot)).status == 200
    [ttl] = [ttl for key, ttl in store.claims if ":sig:" in key]
    # Accepted while |now - timestamp| <= max_clock_skew_s (300 s).
    assert ttl >= timestamp + 300 - time.time()


class DownStore(KeyValueStore):
    """A shared store that is unreachable."""

    async def claim(self, key: str, value: str, ttl_s: float) -> bool:
        raise ConnectionError("store down")

    async def get(self, key: str) -> str | None:
        raise ConnectionError("store down")

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        raise ConnectionError("store down")

    async def delete(self, key: str) -> None:
        raise ConnectionError("store down")


async def test_with_the_store_down_this_replica_still_accepts_a_signature_once(
    make_channel: Any,
) -> None:
    channel, bot, user = make_channel(store=DownStore()), FakeBot(), openid()
    query, body = signed_post(send.text_xml(user, "你好", msg_id=1601))
    assert content(await channel.handle_post(query, body, bot)) == "收到：你好"
    forged = send.text_xml(user, "解绑手机", msg_id=1602).encode()
    assert (await channel.handle_post(query, forged, bot)).status == 403
    assert bot.texts == ["你好"]


# --- openid ----------------------------------------------------------------------------------
async def test_the_openid_parameter_must_be_the_sender(make_channel: Any) -> None:
    channel, bot, user = make_channel(), FakeBot(), openid()
    query, body = signed_post(send.text_xml(user, "你好"))
    refused = await channel.handle_post({**query, "openid": openid()}, body, bot)
    assert (refused.status, refused.body) == (403, "forbidden")
    assert bot.calls == []
    # Without the parameter (WeChat always sends it with messages) the sender is FromUserName.
    query, body = signed_post(send.text_xml(user, "你好"))
    del query["openid"]
    assert content(await channel.handle_post(query, body, bot)) == "收到：你好"


async def test_the_openid_is_compared_with_the_decrypted_sender(make_channel: Any) -> None:
    channel, bot = aes_channel(make_channel, mode="safe"), FakeBot()
    query, body = signed_post(send.text_xml(openid(), "你好"), aes=True)
    assert (await channel.handle_post({**query, "openid": openid()}, body, bot)).status == 403
    assert bot.calls == []


# --- compatible mode never falls back to plaintext --------------------------------------------
async def test_compatible_mode_refuses_a_push_without_encrypt_type(make_channel: Any) -> None:
    channel, bot, user = aes_channel(make_channel), FakeBot(), openid()
    plain = await post(channel, bot, send.text_xml(user, "明文"))
    assert (plain.status, plain.body) == (403, "forbidden")
    # A real compatible-mode push (clear fields and Encrypt) with encrypt_type dropped.
    xml = send.text_xml(user, "我要注销", msg_id=1701)
    query, envelope = signed_post(xml, aes=True)
    both = xml.replace("</xml>", "") + envelope.decode()[envelope.decode().index("<Encrypt>"):]
    stripped = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    assert (await channel.handle_post(stripped, both.encode(), bot)).status == 403
    assert bot.calls == []
    # The same push as WeChat sends it is answered (encrypted).
    assert content(await channel.handle_post(query, both.encode(), bot), aes=True) == "收到：我要注销"


# --- exactly once per OpenID and MsgId ----------------------------------------------------------
async def test_the_same_msg_id_from_another_openid_is_its_own_message(make_channel: Any) -> None:
    bot = FakeBot(replies=lambda text: [{"text": f"只给你看：{text}"}])
    channel, alice, mallory = make_channel(), openid(), openid()
    mine = await post(channel, bot, send.text_xml(alice, "我的绑定手机", msg_id=4242))
    theirs = await post(channel, bot, send.text_xml(mallory, "你好", msg_id=4242))
    assert content(mine) == "只给你看：我的绑定手机"
    assert content(theirs) == "只给你看：你好"
    assert [m.sender_id for m in bot.calls] == [alice, mallory]


# --- docs: the proxy example logs no query string --------------------------------------------
QUERY_VARIABLES = re.compile(r"\$(request|args|query_string|request_uri|arg_\w+|is_args)\b")


def test_the_nginx_example_logs_no_query_string() -> None:
    doc = (PROJECT_ROOT / "docs" / "wechat.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", doc, re.S)
    assert blocks, "docs/wechat.md has no nginx example"
    for block in blocks:
        formats = dict(re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", block))
        logs = re.findall(r"access_log\s+([^;]+);", block)
        # nginx's default format ("combined") logs $request, the line with the query.
        assert logs, "the example must name its access log format"
        for log in logs:
            words = log.split()
            if words == ["off"]:
                continue
            assert len(words) >= 2 and words[1] in formats, f"access_log {log}: no own format"
            assert not QUERY_VARIABLES.search(formats[words[1]]), formats[words[1]]
