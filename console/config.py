"""Console settings, all from environment variables (README, "Agent console")."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass

from console.wechat_subscribe import SubscribeSettings
from console.wechat_templates import TemplateSettings
from core.db.session import PROJECT_ROOT, database_url
from core.local_secrets import local_secret


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _networks(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A list of IP addresses or networks ("127.0.0.1, 10.0.0.0/8"), checked."""
    items = tuple(item for item in re.split(r"[\s,]+", env.get(name, "")) if item)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not an IP address or network") from None
    return items


@dataclass(frozen=True)
class Settings:
    db_url: str
    rasa_url: str = "http://localhost:5005"
    rasa_token: str = ""
    host: str = "127.0.0.1"
    port: int = 5070
    # "auto": Secure cookie when the request came over https (behind a proxy: run
    # uvicorn with --proxy-headers); "true"/"false" force it.
    cookie_secure: str = "auto"
    session_hours: float = 12.0
    lock_after: int = 5
    lock_minutes: float = 15.0
    # Slow-down after the n-th wrong password in a row: base * 2**(n-1), capped.
    slowdown_base_s: float = 0.5
    slowdown_max_s: float = 4.0
    presence_timeout_s: float = 90.0
    poll_s: float = 0.5
    # A widget visitor gone this long while waiting is let go of the queue (console/live.py).
    left_grace_s: float = 120.0
    default_max_open: int = 3
    events_db_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'events.db'}"
    rabbitmq_url: str = ""
    rabbitmq_queue: str = ""
    rabbitmq_exchange: str = "rasa-exchange"
    rasa_timeout_s: float = 15.0
    wechat_window_hours: float = 48.0
    # Addresses (IPs or networks) of the proxies whose X-Forwarded-Host names the host
    # the browser used (the Origin check); none: the Host header only.
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        cookie_secure = env.get("CONSOLE_COOKIE_SECURE", "auto").strip().lower() or "auto"
        if cookie_secure not in {"auto", "true", "false"}:
            raise ValueError("CONSOLE_COOKIE_SECURE must be auto, true or false")
        # The notice worker reads these itself (console.notices); a malformed
        # WECHAT_NOTICE_TEMPLATE_FIELDS stops the console here, not the worker silently.
        TemplateSettings.from_env(env)
        SubscribeSettings.from_env(env)  # likewise a malformed WECHAT_SUBSCRIBE_SCENE
        return cls(
            db_url=env.get("MERCHANT_DB_URL") or database_url(),
            rasa_url=(env.get("RASA_URL") or "http://localhost:5005").rstrip("/"),
            # The same token as `make run`: RASA_TOKEN, else var/secrets/rasa_token.
            rasa_token=env.get("RASA_TOKEN", "").strip() or local_secret("rasa_token", "RASA_TOKEN"),
            host=env.get("CONSOLE_HOST") or "127.0.0.1",
            port=int(env.get("CONSOLE_PORT") or 5070),
            cookie_secure=cookie_secure,
            session_hours=_float(env, "CONSOLE_SESSION_HOURS", 12.0),
            lock_after=int(env.get("CONSOLE_LOCK_AFTER") or 5),
            lock_minutes=_float(env, "CONSOLE_LOCK_MINUTES", 15.0),
            presence_timeout_s=_float(env, "CONSOLE_PRESENCE_TIMEOUT_S", 90.0),
            poll_s=_float(env, "CONSOLE_POLL_S", 0.5),
            left_grace_s=max(0.0, _float(env, "CONSOLE_LEFT_GRACE_S", 120.0)),
            default_max_open=int(env.get("CONSOLE_MAX_OPEN") or 3),
            events_db_url=env.get("CONSOLE_EVENTS_DB_URL")
            or f"sqlite:///{PROJECT_ROOT / 'var' / 'events.db'}",
            rabbitmq_url=env.get("CONSOLE_RABBITMQ_URL", "").strip(),
            rabbitmq_queue=env.get("CONSOLE_RABBITMQ_QUEUE", "").strip(),
            rabbitmq_exchange=env.get("CONSOLE_RABBITMQ_EXCHANGE", "").strip()
            or "rasa-exchange",
            rasa_timeout_s=_float(env, "CONSOLE_RASA_TIMEOUT_S", 15.0),
            trusted_proxies=_networks(env, "CONSOLE_TRUSTED_PROXIES"),
        )
