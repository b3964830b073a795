"""Signed, expiring tokens of the WeChat one-time subscription flow for appeal notices
(issue 22, item 3; console.routes.notice_consent), and the link the assistant sends.

WeChat carries our ``state`` (OAuth) and ``reserved`` (subscribe confirm) values back
unchanged, but allows only ``a-zA-Z0-9`` and at most 128 bytes, so a token is fixed-width
and alphanumeric: ``<appeal id><expiry: 10 digits><nonce: 16 hex><MAC: 32 hex>`` (71
characters for ``AP20261120001``). The MAC is HMAC-SHA256 (truncated to 128 bits) under
a local secret (``WECHAT_CONSENT_SECRET``, else var/secrets/wechat_consent_secret made
on first use, core.local_secrets) over the purpose, the fields and whatever the token is
bound to (the OpenID, template id and scene of a ``reserved``): a token of one purpose
is never valid as another, and a ``reserved`` issued for one OpenID fails for any other.

Expiry and signature are checked here; single use is the caller's (the nonce is
recorded in the database, core.db.subscriptions.use_nonce).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from core.local_secrets import local_secret

SECRET_NAME, SECRET_ENV = "wechat_consent_secret", "WECHAT_CONSENT_SECRET"
# The purposes: the link sent in the chat, the OAuth state, the subscribe reserved.
LINK, STATE, RESERVED = "link", "state", "reserved"
LINK_TTL_S = 3 * 86400  # the link stays usable for three days (it may be tapped again)
STEP_TTL_S = 600  # state and reserved: ten minutes, used once
CONSENT_PATH = "/console/wechat/notice-consent"
# The console's public address (https, on the account's 网页授权域名).
PUBLIC_URL_ENV = "CONSOLE_PUBLIC_URL"

_EXPIRY, _NONCE, _MAC = 10, 16, 32
_TOKEN = re.compile(rf"^([A-Z0-9]{{1,20}})(\d{{{_EXPIRY}}})([0-9a-f]{{{_NONCE}}})"
                    rf"([0-9a-f]{{{_MAC}}})$")


class TokenInvalid(ValueError):
    """Malformed, forged, for another purpose or bound to other values."""


class TokenExpired(ValueError):
    pass


@dataclass(frozen=True)
class Claim:
    appeal_id: str
    expires_at: int  # Unix seconds
    nonce: str


def _secret() -> bytes:
    return local_secret(SECRET_NAME, SECRET_ENV).encode("utf-8")


def _mac(purpose: str, appeal_id: str, expires: str, nonce: str,
         bound: tuple[str, ...]) -> str:
    message = "\n".join((purpose, appeal_id, expires, nonce, *bound)).encode("utf-8")
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()[:_MAC]


def issue(purpose: str, appeal_id: str, ttl_s: int, bound: tuple[str, ...] = (),
          now: float | None = None) -> str:
    """A token for ``appeal_id``, valid ``ttl_s`` seconds, bound to ``bound``."""
    appeal_id = appeal_id.upper()
    if not re.fullmatch(r"[A-Z0-9]{1,20}", appeal_id):
        raise ValueError(f"not an appeal id: {appeal_id!r}")
    expires = f"{int(now if now is not None else time.time()) + ttl_s:0{_EXPIRY}d}"
    nonce = secrets.token_hex(_NONCE // 2)
    return appeal_id + expires + nonce + _mac(purpose, appeal_id, expires, nonce, bound)


def verify(purpose: str, token: str, bound: tuple[str, ...] = (),
           now: float | None = None) -> Claim:
    """The token's claim; TokenInvalid or TokenExpired otherwise (signature first)."""
    match = _TOKEN.fullmatch(token or "")
    if match is None:
        raise TokenInvalid("malformed")
    appeal_id, expires, nonce, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(purpose, appeal_id, expires, nonce, bound)):
        raise TokenInvalid("bad signature")
    if int(expires) <= (now if now is not None else time.time()):
        raise TokenExpired(appeal_id)
    return Claim(appeal_id, int(expires), nonce)


def public_url(env: dict[str, str] | None = None) -> str:
    """The console's public base URL (``CONSOLE_PUBLIC_URL``), "" when unset."""
    env = os.environ if env is None else env
    return env.get(PUBLIC_URL_ENV, "").strip().rstrip("/")


def notice_consent_link(appeal_id: str, base_url: str | None = None,
                        now: float | None = None) -> str | None:
    """The link the assistant sends a WeChat merchant to agree to one result notice
    (一次性订阅消息) for ``appeal_id``; None when the feature is off
    (``WECHAT_SUBSCRIBE_TEMPLATE_ID`` or ``CONSOLE_PUBLIC_URL`` unset)."""
    base = (base_url or public_url()).rstrip("/")
    if not base or not os.environ.get("WECHAT_SUBSCRIBE_TEMPLATE_ID", "").strip():
        return None
    token = issue(LINK, appeal_id, LINK_TTL_S, now=now)
    return f"{base}{CONSENT_PATH}?{urlencode({'appeal': appeal_id.upper(), 'token': token})}"
