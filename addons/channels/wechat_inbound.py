"""Check and decode what the WeChat server posts, and encode the passive reply.

Order matters: signature and timestamp first (cheap, rejects forgeries), then
``defusedxml`` on the raw body (rejects DTDs, entity expansion and external entities
before wechatpy's xmltodict sees a byte), then AES decryption and the same check on the
decrypted XML, and only then ``wechatpy.parse_message``.

Modes (chosen in the official account's admin console):
- plaintext: messages in clear, ``signature`` checked;
- compatible: WeChat sends ``encrypt_type=aes`` with clear and encrypted fields; the
  encrypted part is used and the reply is encrypted. A push without ``encrypt_type=aes``
  is refused (403): ``signature`` does not cover the body, so falling back to the clear
  fields would let a seen query string sign any body;
- safe: only encrypted messages (``msg_signature`` checked) are accepted.

The query's ``openid`` (WeChat sends it with every push) must equal ``FromUserName``.
That a signature is used for one request only is checked by the channel, in its store.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.messages import BaseMessage
from wechatpy.replies import create_reply
from wechatpy.utils import WeChatSigner

from addons.channels.wechat_render import cdata_safe

logger = logging.getLogger(__name__)

MODES = ("plaintext", "compatible", "safe")
# Fields the channel reads: each must occur at most once and hold plain text only.
_FLAT_FIELDS = (
    "ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "Content", "Recognition",
    "MediaId", "PicUrl", "Format", "Event", "EventKey", "Title", "FileName", "FileTotalLen",
)
_REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
_DIGITS = re.compile(r"^\d{1,20}$")
# Generous: a 2,000-character message is about 6 KB, 8 KB once encrypted.
MAX_BODY_BYTES = 64 * 1024


def signature_of(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined (wechatpy's signer)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def same_signature(expected: str, given: str) -> bool:
    """Compare in constant time: wechatpy's own checks use ``!=``, which tells a forger
    through its timing how much of a guess is right. Bytes, so any text can be compared."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class RejectedRequest(Exception):
    """The request is not a valid WeChat push: answer ``status`` and do nothing else."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Inbound:
    """A verified, decoded WeChat push."""

    message: BaseMessage
    encrypted: bool
    nonce: str
    # The message as XML (decrypted when it came encrypted).
    xml: str = ""


def _parse_xml(document: bytes | str, what: str) -> Element:
    try:
        root = safe_fromstring(document, forbid_dtd=True)
    except DefusedXmlException as error:
        reason = f"{what}: forbidden XML construct ({type(error).__name__})"
        raise RejectedRequest(400, reason) from None
    except (ParseError, ValueError, TypeError) as error:
        raise RejectedRequest(400, f"{what}: not well-formed XML ({error})") from None
    if root.tag != "xml":
        raise RejectedRequest(400, f"{what}: root element is not <xml>")
    return root


def _check_fields(root: Element) -> None:
    for name in _FLAT_FIELDS:
        found = root.findall(name)
        if len(found) > 1 or any(len(element) for element in found):
            raise RejectedRequest(400, f"field {name} repeated or nested")
    for name in _REQUIRED_FIELDS:
        if not (root.findtext(name) or "").strip():
            raise RejectedRequest(400, f"field {name} missing")
    if not _DIGITS.match(root.findtext("CreateTime") or ""):
        raise RejectedRequest(400, "CreateTime is not a number")
    msg_id = root.findtext("MsgId")
    if msg_id is not None and not _DIGITS.match(msg_id):
        raise RejectedRequest(400, "MsgId is not a number")


class WeChatVerifier:
    def __init__(
        self,
        token: str,
        mode: str = "plaintext",
        encoding_aes_key: str = "",
        app_id: str = "",
        max_clock_skew_s: float = 300.0,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if not token:
            raise ValueError("WeChat token must not be empty")
        if mode not in MODES:
            raise ValueError(f"WeChat mode must be one of {MODES}, not {mode!r}")
        self.token = token
        self.mode = mode
        self.max_clock_skew_s = max_clock_skew_s
        self.max_body_bytes = max_body_bytes
        self.app_id = app_id
        self.crypto: WeChatCrypto | None = None
        if mode != "plaintext":
            if len(encoding_aes_key) != 43 or not app_id:
                raise ValueError(
                    f"WeChat {mode} mode needs the 43-character EncodingAESKey and the AppID"
                )
            try:
                self.crypto = WeChatCrypto(token, encoding_aes_key, app_id)
            except (ValueError, AssertionError) as error:
                raise ValueError("WeChat EncodingAESKey is not valid base64") from error

    def _check_signed(self, args: Mapping[str, str | None]) -> tuple[str, str]:
        signature = args.get("signature") or ""
        timestamp = args.get("timestamp") or ""
        nonce = args.get("nonce") or ""
        if not (signature and timestamp and nonce):
            raise RejectedRequest(403, "signature, timestamp or nonce missing")
        if not _DIGITS.match(timestamp):
            raise RejectedRequest(400, "timestamp is not a number")
        # A captured request must not be replayable later (or prepared for the future).
        if abs(time.time() - int(timestamp)) > self.max_clock_skew_s:
            raise RejectedRequest(403, "timestamp outside the allowed window")
        if not same_signature(signature_of(self.token, timestamp, nonce), signature):
            raise RejectedRequest(403, "bad signature")
        return timestamp, nonce

    def verify_url(self, args: Mapping[str, str | None]) -> str:
        """The GET check WeChat makes when the server URL is saved: echo ``echostr``."""
        echostr = args.get("echostr") or ""
        self._check_signed(args)
        if not echostr:
            raise RejectedRequest(400, "echostr missing")
        return echostr

    def parse(self, args: Mapping[str, str | None], body: bytes) -> Inbound:
        timestamp, nonce = self._check_signed(args)
        if not body:
            raise RejectedRequest(400, "empty body")
        if len(body) > self.max_body_bytes:
            raise RejectedRequest(413, "body too large")
        root = _parse_xml(body, "body")
        encrypted = (args.get("encrypt_type") or "").lower() == "aes"
        if encrypted:
            if self.crypto is None:
                raise RejectedRequest(400, "encrypted message but no EncodingAESKey configured")
            msg_signature = args.get("msg_signature") or ""
            encrypt = (root.findtext("Encrypt") or "").strip()
            if not msg_signature:
                raise RejectedRequest(403, "msg_signature missing")
            if not encrypt:
                raise RejectedRequest(400, "Encrypt field missing")
            expected = signature_of(self.token, timestamp, nonce, encrypt)
            if not same_signature(expected, msg_signature):
                raise RejectedRequest(403, "bad msg_signature")
            try:
                # Signature checked above: decrypt only (the AppID inside is checked).
                xml_text = PrpCrypto(self.crypto.key).decrypt(encrypt, self.app_id)
            except InvalidAppIdException:
                raise RejectedRequest(403, "message encrypted for another AppID") from None
            except Exception as error:  # noqa: BLE001 - any garbage ciphertext
                raise RejectedRequest(400, f"cannot decrypt ({type(error).__name__})") from None
            root = _parse_xml(xml_text, "decrypted message")
        elif self.mode == "safe":
            raise RejectedRequest(400, "safe mode accepts encrypted messages only")
        elif self.mode == "compatible":
            # Answered like a bad signature: the clear fields are not signed.
            raise RejectedRequest(403, "compatible mode: encrypt_type=aes missing")
        else:
            xml_text = body.decode("utf-8", errors="replace")
        _check_fields(root)
        try:
            message = parse_message(xml_text)
        except Exception as error:  # noqa: BLE001 - wechatpy raises whatever xmltodict does
            raise RejectedRequest(400, f"unreadable message ({type(error).__name__})") from None
        claimed = args.get("openid")
        if claimed and claimed != str(message.source or ""):
            # Unsigned: only a mismatch means something, and it means tampering.
            raise RejectedRequest(403, "openid does not match FromUserName")
        return Inbound(message=message, encrypted=encrypted, nonce=nonce, xml=xml_text)

    def render_reply(self, inbound: Inbound, text: str) -> tuple[str, str]:
        """(body, content type) of the passive reply; ``success`` when there is no text."""
        if not text:
            # WeChat's "received, nothing to say" answer: no retry, nothing shown.
            return "success", "text/plain; charset=utf-8"
        xml = create_reply(cdata_safe(text), message=inbound.message, render=True)
        if inbound.encrypted and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, inbound.nonce, str(int(time.time())))
        return xml, "application/xml; charset=utf-8"
