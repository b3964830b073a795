"""The WeChat channel inside a real rasa server with the real action server and model.

One session starts both servers (credentials: the main channel in plaintext mode; the same
class as ``wechat_aes`` in compatible mode with a test EncodingAESKey, and as
``wechat_slow`` with ``reply_timeout_s: 0.05``;
both pointed at a local fake WeChat API).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from addons.channels.wechat import (
    EMPTY_TEXT,
    IMAGE_TEXT,
    UNKNOWN_MENU_TEXT,
    UNSUPPORTED_TEXT,
    VOICE_UNRECOGNIZED_TEXT,
)
from tests.wechat.client import AES_KEY, APP_ID, TOKEN, openid, wechat_send
from tests.wechat.servers import WeChatServers

pytestmark = pytest.mark.e2e

send = wechat_send
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime>
<MsgType><![CDATA[text]]></MsgType><Content>&lol3;</Content><MsgId>123456</MsgId></xml>"""


def test_url_verification(wechat_servers: WeChatServers) -> None:
    ts, nonce = str(int(time.time())), "778899"
    query = {"signature": send.signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
             "echostr": "5917283645"}
    response = requests.get(wechat_servers.url(), params=query, timeout=10)
    assert (response.status_code, response.text) == (200, "5917283645")
    forged = requests.get(wechat_servers.url(), params={**query, "signature": "f" * 40},
                          timeout=10)
    assert forged.status_code == 403 and "5917283645" not in forged.text


def test_plaintext_text_is_answered_in_chinese(wechat_servers: WeChatServers) -> None:
    user = openid()
    reply = wechat_servers.reply(send.text_xml(user, "我的收款码被限制了怎么办"))
    assert CHINESE.search(reply) and "95017" in reply
    [event] = wechat_servers.user_events(user)
    assert event["input_channel"] == "wechat"
    assert event["metadata"]["wechat"]["openid"] == user


def test_safe_mode_encrypted_text_gets_an_encrypted_answer(wechat_servers: WeChatServers) -> None:
    user = openid()
    status, body = wechat_servers.post(send.text_xml(user, "客服电话多少"), aes=True)
    assert status == 200 and "<Encrypt>" in body and "95017" not in body
    reply = send.reply_field(send.decode_reply(body, TOKEN, AES_KEY, APP_ID))
    assert reply and "95017" in reply


def test_forged_signature_is_refused_and_never_reaches_the_bot(
    wechat_servers: WeChatServers,
) -> None:
    user = openid()
    query, body = send.signed_request(send.text_xml(user, "你好"), "not-the-token")
    assert wechat_servers.post_raw(query, body)[0] == 403
    # Encrypted: the outer signature is right, the msg_signature is forged.
    enc_query, enc_body = send.signed_request(send.text_xml(user, "你好"), TOKEN, AES_KEY, APP_ID)
    forged = {**enc_query, "msg_signature": "0" * 40}
    assert wechat_servers.post_raw(forged, enc_body, "wechat_aes")[0] == 403
    assert wechat_servers.user_events(user) == []


@pytest.mark.parametrize("skew", [-301, -3600, 301])
def test_stale_or_future_timestamp_is_refused(wechat_servers: WeChatServers, skew: int) -> None:
    user = openid()
    status, _ = wechat_servers.post(send.text_xml(user, "你好"),
                                    timestamp=int(time.time()) + skew)
    assert status == 403
    assert wechat_servers.user_events(user) == []


def test_same_msgid_three_times_concurrently_is_one_turn(wechat_servers: WeChatServers) -> None:
    user = openid()
    xml = send.text_xml(user, "怎么申诉", msg_id=8_800_000_000_000_001)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: wechat_servers.post(xml), range(3)))
    assert [status for status, _ in results] == [200, 200, 200]
    contents = {send.reply_field(body) for _, body in results}
    assert len(contents) == 1
    [answer] = contents
    assert answer and "申诉" in answer
    assert len(wechat_servers.user_events(user)) == 1
    # A retry after the first finished: still the same answer, still one turn.
    assert wechat_servers.reply(xml) == answer
    assert len(wechat_servers.user_events(user)) == 1


def test_slow_turn_falls_back_to_the_customer_service_api(
    wechat_servers: WeChatServers,
) -> None:
    user = openid()
    xml = send.text_xml(user, "客服电话多少")
    status, body = wechat_servers.post(xml, channel="wechat_slow")
    assert (status, body) == (200, "success")
    [sent] = wechat_servers.fake.wait_for(user, 1)
    assert "95017" in sent.content
    # WeChat would not retry after "success"; if it did, nothing is sent twice.
    assert wechat_servers.post(xml, channel="wechat_slow") == (200, "success")
    time.sleep(1.0)
    assert len(wechat_servers.fake.sent_to(user)) == 1
    assert len(wechat_servers.user_events(user)) == 1


def test_voice_with_and_without_recognition(wechat_servers: WeChatServers) -> None:
    user = openid()
    heard = wechat_servers.reply(send.voice_xml(user, "我的收款码被限制了怎么办"))
    assert "95017" in heard
    assert wechat_servers.reply(send.voice_xml(user, None)) == VOICE_UNRECOGNIZED_TEXT
    [event] = wechat_servers.user_events(user)
    assert event["metadata"]["wechat"]["msg_type"] == "voice"


def test_subscribe_greets_with_numbered_choices(wechat_servers: WeChatServers) -> None:
    user = openid()
    reply = wechat_servers.reply(send.event_xml(user, "subscribe"))
    assert "收款账户助手" in reply
    assert "1. 查我的账户状态" in reply and "4. 客服电话" in reply
    assert "回复数字 1 / 2 / 3 / 4" in reply
    [event] = wechat_servers.user_events(user)
    assert event["parse_data"]["intent"]["name"] == "greet"


@pytest.mark.parametrize(
    ("key", "intent", "fragment"),
    [("CONTACT", "contact_support", "95017"), ("REMOTE", "ask_remote_collection", "外地"),
     ("APPEAL", "ask_appeal_process", "申诉")],
)
def test_menu_click_goes_to_its_intent(
    wechat_servers: WeChatServers, key: str, intent: str, fragment: str
) -> None:
    user = openid()
    assert fragment in wechat_servers.reply(send.event_xml(user, "CLICK", key))
    [event] = wechat_servers.user_events(user)
    assert event["parse_data"]["intent"]["name"] == intent


def test_unknown_menu_key_and_unsupported_message(wechat_servers: WeChatServers) -> None:
    user = openid()
    assert wechat_servers.reply(send.event_xml(user, "CLICK", "NO_SUCH_KEY")) == UNKNOWN_MENU_TEXT
    location = send.message_xml(user, "location", {"Location_X": "23.1", "Location_Y": "113.3",
                                                   "Label": "广州"})
    assert wechat_servers.reply(location) == UNSUPPORTED_TEXT
    assert wechat_servers.user_events(user) == []


def test_image_is_acknowledged_and_offered_as_appeal_material(
    wechat_servers: WeChatServers,
) -> None:
    user = openid()
    assert wechat_servers.reply(send.image_xml(user, "MEDIA-E2E-1")) == IMAGE_TEXT
    wechat_servers.reply(send.text_xml(user, "怎么申诉"))
    [event] = wechat_servers.user_events(user)
    assert event["metadata"]["wechat"]["media_ids"] == ["MEDIA-E2E-1"]


def test_numbered_reply_goes_to_the_right_intent(wechat_servers: WeChatServers) -> None:
    user = openid()
    wechat_servers.reply(send.event_xml(user, "subscribe"))
    reply = wechat_servers.reply(send.text_xml(user, "1"))
    assert "商户号" in reply  # check_account_status starts the identity check
    events = wechat_servers.user_events(user)
    assert events[-1]["text"] == "/check_account_status"
    assert events[-1]["parse_data"]["intent"]["name"] == "check_account_status"
    assert events[-1]["metadata"]["wechat"]["choice"] == {"number": 1, "typed": "1"}


def test_full_width_and_ordinal_numbers_pick_choices(wechat_servers: WeChatServers) -> None:
    user = openid()
    wechat_servers.reply(send.event_xml(user, "subscribe"))
    assert "95017" in wechat_servers.reply(send.text_xml(user, "第４个"))
    assert wechat_servers.user_events(user)[-1]["parse_data"]["intent"]["name"] \
        == "contact_support"


def test_a_3000_character_message_gets_a_polite_answer(wechat_servers: WeChatServers) -> None:
    user = openid()
    reply = wechat_servers.reply(send.text_xml(user, "收款被限制" * 600))
    assert CHINESE.search(reply)
    assert len(reply.encode("utf-8")) <= 2000


@pytest.mark.parametrize("text", ["", "😀😀😀", "<script>alert(1)</script>", "]]><xml>x</xml>",
                                  "{{7*7}} ${jndi:ldap://x}"])
def test_bad_input_gets_a_polite_chinese_answer(wechat_servers: WeChatServers, text: str) -> None:
    reply = wechat_servers.reply(send.text_xml(openid(), text))
    assert CHINESE.search(reply)
    assert "<script>" not in reply
    if not text:
        assert reply == EMPTY_TEXT


def test_entity_expansion_is_rejected_before_anything_runs(
    wechat_servers: WeChatServers,
) -> None:
    user = openid()
    query, _ = send.signed_request("<xml/>", TOKEN)
    body = BILLION_LAUGHS.format(openid=user, now=int(time.time())).encode()
    status, text = wechat_servers.post_raw(query, body)
    assert status == 400 and "lol" not in text
    assert wechat_servers.user_events(user) == []
    assert wechat_servers.fake.sent_to(user) == []


def test_send_script_against_the_running_server(
    wechat_servers: WeChatServers, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--url", wechat_servers.url(), "--token", TOKEN, "--openid", openid()]
    assert send.main([*common, "客服电话多少"]) == 0
    assert "95017" in capsys.readouterr().out
    aes_url = ["--url", wechat_servers.url("wechat_aes"), *common[2:]]
    assert send.main([*aes_url, "--aes", "--aes-key", AES_KEY, "--app-id", APP_ID,
                      "--subscribe"]) == 0
    out = capsys.readouterr().out
    assert "<Encrypt>" in out and "--- decrypted ---" in out and "1. 查我的账户状态" in out
    assert send.main([*common[:2], "--token", "wrong", "你好"]) == 1
    assert "HTTP 403" in capsys.readouterr().out
