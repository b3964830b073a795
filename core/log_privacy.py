"""No personal number in any log line, whichever library writes it.

``install()`` wraps the logging record factory, so every record of every logger in the
process (Rasa, Sanic, SQLAlchemy, structlog through the standard library, our own) has
phone, ID-card and bank-card numbers masked before any handler sees it. The rasa server
(``addons``), the action server (``actions``) and the console install it on import.

A number typed in groups ("6228 4812 3456 7890") is tagged group by group by the
``\\d{4}`` entity, and Rasa logs those values next to the text and again, without it,
in the slots it sets: the groups of every number found are masked in the rest of that
line and, for ``ECHO_SECONDS``, in the lines that follow.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from core.privacy import mask_with_echoes

_MARK = "_masks_personal_data"
_FORMATTER = logging.Formatter()
# JSON log renderers write Chinese as \uXXXX: "卡号6222…" would hide the number's start.
UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


# How long the groups of a number found in one line are masked in the following lines,
# and how many are remembered at most (the oldest are forgotten first).
ECHO_SECONDS = 120.0
MAX_ECHOES = 512


def readable(message: str) -> str:
    return UNICODE_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), message)


class _RecentEchoes:
    """The digit groups of numbers logged lately (in memory only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def current(self) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            for secret in [key for key, until in self._seen.items() if until < now]:
                del self._seen[secret]
            return frozenset(self._seen)

    def remember(self, secrets: frozenset[str]) -> None:
        if not secrets:
            return
        until = time.monotonic() + ECHO_SECONDS
        with self._lock:
            for secret in secrets:
                self._seen.pop(secret, None)
                self._seen[secret] = until
            while len(self._seen) > MAX_ECHOES:
                del self._seen[next(iter(self._seen))]


_recent = _RecentEchoes()


def mask_log_text(text: str) -> str:
    """``text`` with personal numbers masked, also the stand-alone groups of a number
    found in it or in a recent line."""
    masked, found = mask_with_echoes(text, _recent.current())
    _recent.remember(found)
    return masked


def install() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business
            return record
        masked = mask_log_text(readable(message) if "\\u" in message else message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            # Formatted now, masked, and kept: handlers reuse exc_text as it is.
            record.exc_text = mask_log_text(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)
