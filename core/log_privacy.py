"""No personal number in any log line, whichever library writes it.

``install()`` wraps the logging record factory, so every record of every logger in the
process (Rasa, Sanic, SQLAlchemy, structlog through the standard library, our own) has
phone, ID-card and bank-card numbers masked before any handler sees it. The rasa server
(``addons``), the action server (``actions``) and the console install it on import.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from core.privacy import mask_personal_data

_MARK = "_masks_personal_data"
_FORMATTER = logging.Formatter()
# JSON log renderers write Chinese as \uXXXX: "卡号6222…" would hide the number's start.
UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def readable(message: str) -> str:
    return UNICODE_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), message)


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
        masked = mask_personal_data(readable(message) if "\\u" in message else message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            # Formatted now, masked, and kept: handlers reuse exc_text as it is.
            record.exc_text = mask_personal_data(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_personal_data(record.stack_info)
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)
