"""Masking of personal data: nothing leaves the assistant unmasked."""

from __future__ import annotations

import re
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import make_url

from core.local_secrets import local_secret


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


# Mainland resident ID card: 17 digits and a digit or X. Bank cards: 16 to 19 digits.
# Numbers as people type them: contiguous or grouped with spaces/dashes, a +86 prefix,
# full-width digits. (Not after a ".": the digits of a float are no card.)
ID_CARD = re.compile(r"(?<![0-9A-Za-z.])(\d{6})[ -]?(\d{8})[ -]?(\d{3}[0-9Xx])(?![0-9A-Za-z])")
BANK_CARD = re.compile(r"(?<![\d.])\d{4}(?:\d{12,15}|(?:[ -]\d{1,4}){3,4})(?!\d)")
MOBILE_ANY = re.compile(r"(?<![\d.])(?:\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
# A phone already masked for display ("138****0002") still shows the last 4 digits,
# which the identity check asks for: stored data and logs hide them too.
DISPLAY_MASKED_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\*{4}\d{4}(?!\d)")
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if not 16 <= len(digits) <= 19:
        return match.group(0)  # four short groups: a date, an amount, not a card
    return f"{digits[:4]}********{digits[-4:]}"


def mask_personal_data(text: str) -> str:
    """Masks ID-card, bank-card and mobile numbers inside free text, for everything that
    is stored or logged (events, transcripts shown to agents, log lines). A mobile keeps
    only its first 3 digits there: the last 4 are what the identity check asks for.
    Merchant ids (10 digits) are left alone: they are masked where they are shown."""
    text = text.translate(FULLWIDTH_DIGITS)
    text = ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(3)[-4:]}", text)
    text = BANK_CARD.sub(_mask_card, text)
    text = MOBILE_ANY.sub(lambda m: f"{m.group(1)}********", text)
    return DISPLAY_MASKED_PHONE.sub(lambda m: f"{m.group(1)}********", text)


# --- values the action server keeps across turns without anyone else reading them ----

SEALED_PREFIX = "sealed:"


@cache
def _fernet() -> Fernet:
    """The action server's key: SLOT_SEAL_KEY, else var/secrets/slot_seal.key (0600).
    Several action servers must share it (set the variable)."""
    key = local_secret("slot_seal.key", "SLOT_SEAL_KEY",
                       generate=lambda: Fernet.generate_key().decode())
    return Fernet(key.encode())


def seal(value: str) -> str:
    """A slot value the tracker store and the broker keep but cannot read."""
    return SEALED_PREFIX + _fernet().encrypt(value.encode()).decode()


def unseal(value: str | None) -> str | None:
    """The sealed value, or the value itself when it was never sealed; None if unreadable."""
    if not value or not value.startswith(SEALED_PREFIX):
        return value
    try:
        return _fernet().decrypt(value[len(SEALED_PREFIX):].encode()).decode()
    except InvalidToken:
        return None
