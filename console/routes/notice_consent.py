"""The consent page of WeChat one-time subscription messages (一次性订阅消息) for appeal
notices (issue 22, item 3; docs/wechat.md §7). No agent session: the merchant opens it
in WeChat from the link the assistant sends (core.notice_tokens.notice_consent_link).

1. ``GET /console/wechat/notice-consent?appeal=..&token=..``: the link's signed token
   (3 days) → WeChat's silent OAuth (snsapi_base) with a signed, single-use ``state``.
2. ``GET /console/wechat/notice-consent/oauth?code=..&state=..``: the code → the OpenID
   (``sns/oauth2/access_token``); it must be the appeal's merchant's WeChat user →
   WeChat's subscribe confirm page with a signed, single-use ``reserved`` bound to that
   OpenID, the template and the scene.
3. ``GET /console/wechat/notice-consent/subscribed?openid=..&template_id=..&action=..
   &scene=..&reserved=..``: ``confirm`` records one consent (one message) for the
   appeal (core.db.subscriptions); ``cancel`` records nothing.

Whatever goes wrong (forged, expired or used values, another user's OpenID, WeChat not
answering, the feature off) ends on a short Chinese page and stores no consent. Nothing
here logs an OpenID, a code or a token.
"""

from __future__ import annotations

import datetime as dt
import html
import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from console.deps import console_of
from console.wechat_subscribe import (
    SubscribeSender,
    SubscribeSettings,
    authorize_url,
    confirm_url,
)
from console.wechat_templates import TemplateError
from core import notice_tokens
from core.db import subscriptions
from core.notice_tokens import RESERVED, STATE, STEP_TTL_S, TokenExpired, TokenInvalid

logger = logging.getLogger(__name__)

PATH = notice_tokens.CONSENT_PATH
OAUTH_PATH = f"{PATH}/oauth"
SUBSCRIBED_PATH = f"{PATH}/subscribed"

router = APIRouter(include_in_schema=False)

# The pages (title, text): simplified Chinese, short.
PAGES: dict[str, tuple[str, str]] = {
    "confirmed": ("已订阅审核结果通知",
                  "审核结果出来后，我们会在微信里通知你一次。通知里有你设置的暗号，"
                  "没有暗号的消息都不是我们发的。现在可以关闭这个页面了。"),
    "already": ("已经订阅过了",
                "这个申诉的审核结果通知你已经订阅过，结果出来后会通知你一次。"),
    "cancelled": ("没有订阅",
                  "好的，不订阅也没关系。审核结果出来后，你在公众号里给我们发任意一条消息，"
                  "就能收到结果。"),
    "invalid": ("链接无效",
                "这个链接无法使用。请回到公众号对话，重新获取订阅链接。"),
    "expired": ("链接已过期",
                "这个链接已经过期。请回到公众号对话，重新获取订阅链接。"),
    "used": ("链接已用过",
             "这个链接已经用过了。请回到公众号对话，重新获取订阅链接。"),
    "not_owner": ("无法订阅",
                  "只有提交这个申诉的商户本人可以订阅审核结果。"
                  "请用绑定商户号的微信打开链接。"),
    "off": ("暂未开通",
            "暂时不能订阅微信通知。审核结果出来后，你在公众号里给我们发消息就能收到。"),
    "wechat_down": ("微信暂时没有响应",
                    "请稍后回到公众号对话，重新打开订阅链接。"),
}
STATUS = {"confirmed": 200, "already": 200, "cancelled": 200, "invalid": 400,
          "expired": 400, "used": 400, "not_owner": 403, "off": 404, "wechat_down": 502}


def page(name: str) -> HTMLResponse:
    title, text = PAGES[name]
    body = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=STATUS[name],
                        headers={"Cache-Control": "no-store"})


def _base_url(request: Request, settings: SubscribeSettings) -> str:
    return settings.public_url or str(request.base_url).rstrip("/")


def _expires(claim: notice_tokens.Claim) -> dt.datetime:
    return dt.datetime.fromtimestamp(claim.expires_at, dt.timezone.utc).replace(tzinfo=None)


@router.get(PATH)
def start(request: Request, appeal: str = "", token: str = "") -> Response:
    """The link from the chat: on to WeChat's silent OAuth."""
    settings = SubscribeSettings.from_env()
    if settings is None:
        return page("off")
    try:
        claim = notice_tokens.verify(notice_tokens.LINK, token)
    except TokenExpired:
        return page("expired")
    except TokenInvalid:
        return page("invalid")
    if claim.appeal_id != appeal.strip().upper():
        return page("invalid")
    state = notice_tokens.issue(STATE, claim.appeal_id, STEP_TTL_S)
    redirect_uri = _base_url(request, settings) + OAUTH_PATH
    return RedirectResponse(authorize_url(settings, redirect_uri, state), status_code=302,
                            headers={"Cache-Control": "no-store"})


@router.get(OAUTH_PATH)
def oauth_callback(request: Request, code: str = "", state: str = "") -> Response:
    """Back from OAuth: the OpenID must be the appeal's merchant's; on to the subscribe
    confirm page."""
    settings = SubscribeSettings.from_env()
    if settings is None:
        return page("off")
    try:
        claim = notice_tokens.verify(STATE, state)
    except TokenExpired:
        return page("expired")
    except TokenInvalid:
        return page("invalid")
    if not code:
        return page("invalid")
    engine = console_of(request).engine
    with Session(engine) as session:
        if subscriptions.nonce_used(session, claim.nonce):
            return page("used")
    sender = SubscribeSender(settings)
    try:
        openid = sender.openid_for_code(code)
    except TemplateError as error:
        logger.warning("notice consent: the OAuth code exchange failed: %s", error.code)
        return page("invalid" if error.errcode else "wechat_down")
    finally:
        sender.close()
    with Session(engine) as session, session.begin():
        if not subscriptions.is_appeal_owner(session, claim.appeal_id, openid):
            logger.warning("notice consent: appeal %s opened by a WeChat user who is not "
                           "its merchant's", claim.appeal_id)
            return page("not_owner")
        try:
            subscriptions.use_nonce(session, claim.nonce, _expires(claim))
        except subscriptions.NonceUsed:
            return page("used")
    reserved = notice_tokens.issue(
        RESERVED, claim.appeal_id, STEP_TTL_S,
        bound=(openid, settings.template_id, str(settings.scene)))
    redirect_url = _base_url(request, settings) + SUBSCRIBED_PATH
    return RedirectResponse(confirm_url(settings, redirect_url, reserved), status_code=302,
                            headers={"Cache-Control": "no-store"})


@router.get(SUBSCRIBED_PATH)
def subscribe_callback(request: Request, openid: str = "", template_id: str = "",
                       action: str = "", scene: str = "", reserved: str = "") -> Response:
    """Back from the confirm page: ``confirm`` records one consent, ``cancel`` none."""
    if action == "cancel":
        return page("cancelled")
    settings = SubscribeSettings.from_env()
    if settings is None:
        return page("off")
    if action != "confirm":
        return page("invalid")
    try:
        claim = notice_tokens.verify(RESERVED, reserved, bound=(openid, template_id, scene))
    except TokenExpired:
        return page("expired")
    except TokenInvalid:
        # Forged, or another OpenID / template / scene than the one it was issued for.
        return page("invalid")
    with Session(console_of(request).engine) as session, session.begin():
        if not subscriptions.is_appeal_owner(session, claim.appeal_id, openid):
            return page("not_owner")
        try:
            subscriptions.use_nonce(session, claim.nonce, _expires(claim))
        except subscriptions.NonceUsed:
            return page("used")
        recorded = subscriptions.record(session, claim.appeal_id, openid, template_id,
                                        int(scene))
    logger.info("notice consent: one-time subscription %s for appeal %s",
                "recorded" if recorded else "already there", claim.appeal_id)
    return page("confirmed" if recorded else "already")
