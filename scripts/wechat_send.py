#!/usr/bin/env python
"""Send a signed message to the WeChat channel the way the WeChat server does; print the reply.

    .venv/bin/python scripts/wechat_send.py "我的收款码被限制了怎么办"
    .venv/bin/python scripts/wechat_send.py --aes "你好"          # safe mode
    .venv/bin/python scripts/wechat_send.py --subscribe           # follow event
    .venv/bin/python scripts/wechat_send.py --click CONTACT       # menu click
    .venv/bin/python scripts/wechat_send.py --voice "客服电话多少"  # voice + Recognition

Token, EncodingAESKey and AppID default to WECHAT_TOKEN, WECHAT_AES_KEY and WECHAT_APP_ID
(the same variables the channel reads). The tests import the builders below.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

DEFAULT_URL = "http://localhost:5005/webhooks/wechat/webhook"
def default_token() -> str:
    """WECHAT_TOKEN, else the token make run generated for this machine."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from core.local_secrets import local_secret

    return local_secret("wechat_token", "WECHAT_TOKEN")
ACCOUNT = "gh_0123456789ab"  # the official account's own id (ToUserName)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(
    openid: str,
    msg_type: str,
    fields: dict[str, str],
    create_time: int | None = None,
    msg_id: int | None = None,
    to_user: str = ACCOUNT,
) -> str:
    """A push as WeChat sends it (events carry no MsgId)."""
    nodes = [
        f"<ToUserName>{_cdata(to_user)}</ToUserName>",
        f"<FromUserName>{_cdata(openid)}</FromUserName>",
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    nodes += [f"<{name}>{_cdata(value)}</{name}>" for name, value in fields.items()]
    if msg_type != "event":
        nodes.append(f"<MsgId>{msg_id or random.randint(10**15, 10**16)}</MsgId>")
    return "<xml>" + "".join(nodes) + "</xml>"


def text_xml(openid: str, content: str, msg_id: int | None = None) -> str:
    return message_xml(openid, "text", {"Content": content}, msg_id=msg_id)


def voice_xml(openid: str, recognition: str | None, msg_id: int | None = None) -> str:
    fields = {"MediaId": f"voice-{random.randint(1, 10**9)}", "Format": "amr"}
    if recognition is not None:
        fields["Recognition"] = recognition
    return message_xml(openid, "voice", fields, msg_id=msg_id)


def image_xml(openid: str, media_id: str, msg_id: int | None = None) -> str:
    fields = {"PicUrl": f"http://mmbiz.example/{media_id}.jpg", "MediaId": media_id}
    return message_xml(openid, "image", fields, msg_id=msg_id)


def event_xml(openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
    fields = {"Event": event}
    if key:
        fields["EventKey"] = key
    return message_xml(openid, "event", fields, create_time=create_time)


def signature(token: str, timestamp: str, nonce: str) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def signed_request(
    xml: str,
    token: str,
    aes_key: str = "",
    app_id: str = "",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """(query, body) of a signed push; encrypted (safe mode) when ``aes_key`` is given."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or str(random.randint(10**8, 10**9))
    # A regex, not a parser: the tests also sign deliberately hostile XML.
    found = re.search(r"<FromUserName>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</FromUserName>", xml)
    query = {"signature": signature(token, ts, nonce), "timestamp": ts, "nonce": nonce,
             "openid": found.group(1) if found else ""}
    if not aes_key:
        return query, xml.encode("utf-8")
    envelope = WeChatCrypto(token, aes_key, app_id).encrypt_message(xml, nonce, ts)
    root = fromstring(envelope)
    body = (
        f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName>"
        f"<Encrypt>{_cdata(root.findtext('Encrypt') or '')}</Encrypt></xml>"
    )
    query.update(encrypt_type="aes", msg_signature=root.findtext("MsgSignature") or "")
    return query, body.encode("utf-8")


def decode_reply(body: str, token: str, aes_key: str = "", app_id: str = "") -> str:
    """The reply XML in clear (decrypted and its msg_signature checked when encrypted)."""
    if "<Encrypt>" not in body:
        return body
    root = fromstring(body)
    crypto = WeChatCrypto(token, aes_key, app_id)
    return crypto.decrypt_message(
        {"Encrypt": root.findtext("Encrypt")},
        root.findtext("MsgSignature"),
        root.findtext("TimeStamp"),
        root.findtext("Nonce"),
    )


def reply_field(xml: str, name: str = "Content") -> str | None:
    if not xml.lstrip().startswith("<"):
        return None
    root: Element = fromstring(xml)
    return root.findtext(name)


def post(url: str, query: dict[str, str], body: bytes, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{url}?{urllib.parse.urlencode(query)}", data=body, method="POST",
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", default="你好", help="message text")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--token", default=None,
                        help="the channel's token (default: WECHAT_TOKEN or var/secrets)")
    parser.add_argument("--openid", default="o-local-test-user")
    parser.add_argument("--aes", action="store_true", help="encrypt (safe / compatible mode)")
    parser.add_argument("--aes-key", default=os.environ.get("WECHAT_AES_KEY", ""),
                        help="43-character EncodingAESKey (default: $WECHAT_AES_KEY)")
    parser.add_argument("--app-id", default=os.environ.get("WECHAT_APP_ID", ""),
                        help="AppID (default: $WECHAT_APP_ID)")
    parser.add_argument("--msg-id", type=int, help="reuse a MsgId to imitate a retry")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--voice", action="store_true", help="send text as voice Recognition")
    kind.add_argument("--subscribe", action="store_true", help="send a follow event")
    kind.add_argument("--click", metavar="EVENT_KEY", help="send a menu CLICK event")
    args = parser.parse_args(argv)

    if args.aes and (len(args.aes_key) != 43 or not args.app_id):
        parser.error("--aes needs --aes-key (43 characters) and --app-id")
    if args.subscribe:
        xml = event_xml(args.openid, "subscribe")
    elif args.click:
        xml = event_xml(args.openid, "CLICK", args.click)
    elif args.voice:
        xml = voice_xml(args.openid, args.text, args.msg_id)
    else:
        xml = text_xml(args.openid, args.text, args.msg_id)
    aes_key = args.aes_key if args.aes else ""
    query, body = signed_request(xml, args.token or default_token(), aes_key, args.app_id)
    try:
        status, reply = post(args.url, query, body)
    except OSError as error:
        print(f"cannot reach {args.url}: {error}", file=sys.stderr)
        return 2
    print(f"HTTP {status}")
    if status != 200:
        print(reply)
        return 1
    if args.aes and "<Encrypt>" in reply:
        print(reply)
        print("--- decrypted ---")
        reply = decode_reply(reply, args.token, args.aes_key, args.app_id)
    print(reply)
    content = reply_field(reply)
    if content:
        print("--- Content ---")
        print(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
