"""The delivery worker of notices to the merchant (core.db.notices): each due notice is
appended to the merchant's conversation as a bot event through the rasa HTTP API, so
their own channel sends it (WeChat: a customer-service message within the 48-hour
window; widget: pushed if connected, in the conversation for the next visit; REST: kept
in the tracker, and POSTed to ``REST_NOTICE_WEBHOOK_URL`` when set). WeChat with the
window closed: a template message (console.wechat_templates) when
``WECHAT_NOTICE_TEMPLATE_ID`` is set; else (or when templates cannot go) a one-time
subscription message (console.wechat_subscribe) when ``WECHAT_SUBSCRIBE_TEMPLATE_ID`` is
set and the merchant confirmed one for the appeal (core.db.subscriptions, used up by it);
else the notice waits for the merchant to write.

Never twice: the event carries ``metadata.appeal_notice_id``; before a retry (and when
an answer was lost) the tracker is read for it, as console.delivery does for replies.
Run by the console's lifespan every NOTICE_POLL_S, or once: ``python -m console.notices
deliver --once``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from console.rasa_client import RasaClient, RasaError
from console.transcript import last_user_time
from console.wechat_subscribe import SubscribeSender, SubscribeSettings
from console.wechat_templates import (
    INVALID_TEMPLATE,
    OVER_QUOTA,
    USER_REFUSED,
    TemplateError,
    TemplateSender,
    TemplateSettings,
)
from core.db import notices, subscriptions
from core.db.models import utcnow
from core.db.notices import Due, NoticeStatus

logger = logging.getLogger(__name__)

NOTICE_POLL_S = 60.0
WECHAT_CODE = re.compile(r"errcode=(-?\d+)")
WINDOW_CODE = "45015"
WINDOW_TEXT = "超过48小时，等商户再次发消息后发送"
# WeChat's daily quotas start again at midnight Beijing time (UTC+8).
BEIJING_OFFSET_S = 8 * 3600


def notice_metadata(notice_id: int, kind: str) -> dict[str, Any]:
    return {"appeal_notice_id": notice_id, "appeal_notice": kind}


def has_notice(tracker: dict[str, Any], notice_id: int) -> bool:
    """Whether the notice's bot event is in the tracker (stored only once delivered)."""
    for event in tracker.get("events") or []:
        if event.get("event") == "bot":
            metadata = event.get("metadata") or {}
            if str(metadata.get("appeal_notice_id")) == str(notice_id):
                return True
    return False


def error_code(message: str) -> str:
    """WeChat's errcode in a channel error, "timeout" / "error" otherwise."""
    if "WeChatWindowExpired" in message:
        return WINDOW_CODE
    match = WECHAT_CODE.search(message)
    return match.group(1) if match else "error"


def next_quota_reset(now_s: float) -> float:
    """The next midnight in Beijing, as a Unix time."""
    day = 86400
    return (int((now_s + BEIJING_OFFSET_S) // day) + 1) * day - BEIJING_OFFSET_S


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """X-Notice-Signature: hex HMAC-SHA256 over ``timestamp + "\\n" + body``."""
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body,
                    hashlib.sha256).hexdigest()


class NoticeWorker:
    def __init__(self, engine: Engine, rasa: RasaClient, window_hours: float = 48.0,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 http_transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.time,
                 templates: TemplateSender | None = None,
                 subscribe: SubscribeSender | None = None) -> None:
        self.engine = engine
        self.rasa = rasa
        self.window_s = window_hours * 3600
        self.webhook_url = webhook_url if webhook_url is not None else \
            os.environ.get("REST_NOTICE_WEBHOOK_URL") or None
        self.webhook_secret = webhook_secret if webhook_secret is not None else \
            os.environ.get("REST_NOTICE_SECRET", "")
        self._http = httpx.Client(timeout=10.0, transport=http_transport)
        self.clock = clock
        if templates is None:
            template_settings = TemplateSettings.from_env()
            templates = TemplateSender(template_settings) if template_settings else None
        self.templates = templates
        if subscribe is None:
            subscribe_settings = SubscribeSettings.from_env()
            subscribe = SubscribeSender(subscribe_settings) if subscribe_settings else None
        self.subscribe = subscribe
        # Template messages off in this process (40037: a wrong template id, fixed only by
        # a restart with another setting), and paused until WeChat's quota resets (45009).
        self._templates_off: str | None = None
        self._templates_paused_until = 0.0
        # The same for one-time subscription messages.
        self._subscribe_off: str | None = None
        self._subscribe_paused_until = 0.0

    def close(self) -> None:
        self._http.close()
        if self.templates is not None:
            self.templates.close()
        if self.subscribe is not None:
            self.subscribe.close()

    def run_once(self, limit: int = 50) -> int:
        """Tries every due notice once; how many were tried."""
        with Session(self.engine) as session, session.begin():
            due = notices.claim_due(session, limit=limit)
        for notice in due:
            try:
                self._attempt(notice)
            except Exception:  # noqa: BLE001 - one bad notice never stops the others
                logger.exception("notices: notice %s failed unexpectedly", notice.id)
                self._failed(notice, "error", "意外错误")
        return len(due)

    # --- one attempt -----------------------------------------------------------------
    def _attempt(self, notice: Due) -> None:
        try:
            tracker = self.rasa.tracker(notice.sender_id)
        except RasaError as error:
            self._failed(notice, "rasa", error.message)
            return
        if not has_notice(tracker, notice.id):
            if notice.channel == "wechat" and not self._window_open(tracker):
                self._outside_window(notice, WINDOW_TEXT)
                return
            try:
                self.rasa.append_bot_message(notice.sender_id, notice.channel, notice.text,
                                             notice_metadata(notice.id, notice.kind))
            except RasaError as error:
                if error.ambiguous:
                    # The answer was lost: the next attempt reads the tracker first.
                    self._failed(notice, "timeout", error.message)
                    return
                code = error_code(error.message)
                if notice.channel == "wechat" and code == WINDOW_CODE:
                    self._outside_window(notice, error.message)
                else:
                    self._failed(notice, code, error.message)
                return
        if notice.channel == "rest" and self.webhook_url:
            failure = self._webhook(notice)
            if failure is not None:
                self._failed(notice, *failure)
                return
        with Session(self.engine) as session, session.begin():
            notices.mark_sent(session, notice.id)

    def _window_open(self, tracker: dict[str, Any]) -> bool:
        last = last_user_time(tracker)
        return last is not None and self.clock() < last + self.window_s

    # --- WeChat outside the 48-hour window --------------------------------------------
    def _template_blocked(self, notice: Due) -> str | None:
        """Why no template message is tried for this notice now ("" without one
        configured); None: try it."""
        if self.templates is None:
            return ""
        if self._templates_off:
            return self._templates_off
        if str(USER_REFUSED) in notice.errors:
            return "商户拒收模板消息（43101）"
        if self.clock() < self._templates_paused_until:
            return "模板消息今日额度已用完（45009）"
        return None

    def _outside_window(self, notice: Due, why: str) -> None:
        """The window is closed: a template message if one may go, else a one-time
        subscription message if the merchant gave a consent, else wait for the window."""
        blocked = self._template_blocked(notice)
        if blocked is not None or self.templates is None:
            if self._by_subscription(notice):
                return
            self._window_closed(notice, f"{why}；{blocked}" if blocked else why)
            return
        try:
            msgid = self.templates.send(notice.sender_id, notice.template_values,
                                        f"appeal-notice-{notice.id}")
        except TemplateError as error:
            self._template_failed(notice, error)
            return
        with Session(self.engine) as session, session.begin():
            notices.mark_sent(session, notice.id, via=notices.VIA_TEMPLATE,
                              wechat_msgid=msgid or None)
        logger.info("notices: notice %s of appeal %s sent as a template message (msgid %s)",
                    notice.id, notice.appeal_id, msgid)

    def _template_failed(self, notice: Due, error: TemplateError) -> None:
        """Each refusal by its meaning; the notice is never dropped: it waits for the
        window (the merchant writing again) or is retried with backoff."""
        if error.errcode == USER_REFUSED:
            # The merchant turned this account's messages off: no more templates for
            # this notice; a message of theirs reopens the window.
            self._window_closed(notice, "商户拒收模板消息，等商户再次发消息后发送",
                                code=error.code)
        elif error.errcode == INVALID_TEMPLATE or error.code == "config":
            # A setting is wrong: every notice would fail the same way until it is fixed.
            self._templates_off = ("模板ID无效（40037）" if error.errcode == INVALID_TEMPLATE
                                   else "模板消息未配置好")
            logger.error("notices: template messages off until the console restarts "
                         "(check WECHAT_NOTICE_TEMPLATE_ID, WECHAT_APP_ID, "
                         "WECHAT_APP_SECRET): %s", error)
            self._window_closed(notice, f"{self._templates_off}，等商户再次发消息后发送",
                                code=error.code)
        elif error.errcode == OVER_QUOTA:
            self._templates_paused_until = next_quota_reset(self.clock())
            logger.warning("notices: WeChat template quota used up (45009): template "
                           "messages paused until midnight Beijing time")
            self._window_closed(notice, "模板消息今日额度已用完，明天再发或等商户再次发消息",
                                code=error.code)
        else:
            # -1 system busy, a lost answer (the same client_msg_id on retry), others.
            self._failed(notice, error.code, str(error))

    # --- WeChat one-time subscription messages ------------------------------------------
    def _by_subscription(self, notice: Due) -> bool:
        """Sends the notice under a consent the merchant confirmed for this appeal and
        records the outcome; False (nothing done) without the feature, a consent or
        while it is off or paused."""
        if self.subscribe is None or self._subscribe_off \
                or self.clock() < self._subscribe_paused_until:
            return False
        with Session(self.engine) as session, session.begin():
            consent = subscriptions.hold(session, notice.appeal_id, notice.sender_id,
                                         self.subscribe.settings.template_id, notice.id)
        if consent is None:
            return False
        try:
            self.subscribe.send(notice.sender_id, consent.scene, notices.SUBSCRIBE_TITLE,
                                notice.subscribe_text, consent.template_id)
        except TemplateError as error:
            self._subscription_failed(notice, consent.id, error)
            return True
        with Session(self.engine) as session, session.begin():
            subscriptions.consume(session, consent.id, notice.id)
            notices.mark_sent(session, notice.id, via=notices.VIA_SUBSCRIPTION)
        logger.info("notices: notice %s of appeal %s sent as a one-time subscription "
                    "message", notice.id, notice.appeal_id)
        return True

    def _subscription_failed(self, notice: Due, consent_id: int,
                             error: TemplateError) -> None:
        """Each refusal by its meaning; the notice is never dropped. The codes are
        recorded as ``subscribe:<errcode>`` (apart from the template messages')."""
        code = f"subscribe:{error.code}"
        if error.errcode is None and error.code == "timeout":
            # The answer was lost: the message may have gone. The consent stays held for
            # this notice; the retry uses it again.
            self._failed(notice, code, str(error))
            return
        with Session(self.engine) as session, session.begin():
            if error.errcode == USER_REFUSED:
                subscriptions.void(session, consent_id)
            else:
                subscriptions.release(session, consent_id)
        if error.errcode == USER_REFUSED:
            # The consent is not valid (any more): the notice waits for the window.
            self._window_closed(notice, "一次性订阅已失效，等商户再次发消息后发送", code=code)
        elif error.errcode == INVALID_TEMPLATE or error.code == "config":
            self._subscribe_off = ("订阅模板ID无效（40037）" if error.errcode == INVALID_TEMPLATE
                                   else "一次性订阅消息未配置好")
            logger.error("notices: one-time subscription messages off until the console "
                         "restarts (check WECHAT_SUBSCRIBE_TEMPLATE_ID, WECHAT_APP_ID, "
                         "WECHAT_APP_SECRET): %s", error)
            self._window_closed(notice, f"{self._subscribe_off}，等商户再次发消息后发送",
                                code=code)
        elif error.errcode == OVER_QUOTA:
            self._subscribe_paused_until = next_quota_reset(self.clock())
            logger.warning("notices: WeChat subscribe quota used up (45009): one-time "
                           "subscription messages paused until midnight Beijing time")
            self._window_closed(notice, "一次性订阅消息今日额度已用完，明天再发或等商户再次发消息",
                                code=code)
        else:
            self._failed(notice, code, str(error))

    def _window_closed(self, notice: Due, error: str, code: str = WINDOW_CODE) -> None:
        with Session(self.engine) as session, session.begin():
            status = notices.mark_window_closed(session, notice, error, code=code)
        if status == NoticeStatus.gave_up:
            logger.warning("notices: gave up notice %s of appeal %s: WeChat window closed "
                           "for %s", notice.id, notice.appeal_id, notices.WINDOW_MAX)

    def _failed(self, notice: Due, code: str, error: str) -> None:
        with Session(self.engine) as session, session.begin():
            status = notices.mark_failed(session, notice, code, error)
        if status == NoticeStatus.gave_up:
            logger.warning("notices: gave up notice %s of appeal %s after %d attempts "
                           "(last error %s: %s)", notice.id, notice.appeal_id,
                           notice.attempts + 1, code, error[:200])

    def _webhook(self, notice: Due) -> tuple[str, str] | None:
        payload = {"appeal_id": notice.appeal_id, "kind": notice.kind,
                   "reason": notice.reason, "phrase": notice.phrase, "text": notice.text,
                   "sent_at": utcnow().replace(microsecond=0).isoformat() + "Z"}
        body = json.dumps(payload, ensure_ascii=False).encode()
        stamp = str(int(self.clock()))
        headers = {"Content-Type": "application/json", "X-Notice-Timestamp": stamp,
                   "X-Notice-Signature": sign(self.webhook_secret, stamp, body)}
        try:
            response = self._http.post(self.webhook_url or "", content=body, headers=headers)
        except httpx.HTTPError as error:
            return "webhook", type(error).__name__
        if response.status_code >= 300:
            return f"http{response.status_code}", response.text[:100]
        return None


def main(argv: list[str] | None = None) -> int:
    from console.config import Settings  # noqa: PLC0415
    from core.db.session import get_engine  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m console.notices")
    parser.add_argument("command", choices=["deliver"])
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    settings = Settings.from_env()
    rasa = RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_s)
    worker = NoticeWorker(get_engine(settings.db_url), rasa, settings.wechat_window_hours)
    try:
        while True:
            tried = worker.run_once()
            logger.info("notices: %d tried", tried)
            if args.once:
                return 0
            time.sleep(NOTICE_POLL_S)
    finally:
        worker.close()
        rasa.close()


if __name__ == "__main__":
    raise SystemExit(main())
