"""Masking of personal data: nothing leaves the assistant unmasked."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url


def mask_merchant_id(merchant_id: str) -> str:
    """1900000003 -> 1900****03"""
    if len(merchant_id) < 7:
        return "*" * len(merchant_id)
    return f"{merchant_id[:4]}****{merchant_id[-2:]}"


def mask_phone(phone: str) -> str:
    """13800000003 -> 138****0003"""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


# A mainland mobile number; the groups are the parts that stay visible when masked.
MOBILE_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_phones_in_text(text: str) -> str:
    """Masks every mainland mobile number inside free text."""
    return MOBILE_PHONE.sub(r"\1****\2", text)


def mask_url(url: str) -> str:
    """A database URL without its password, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never log an unparseable URL
        return "<unparseable url>"
