"""Masking of personal data: nothing leaves the assistant unmasked."""

from __future__ import annotations

import base64
import binascii
import copy
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

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


# The same number as people type it: "139 1234 5678", "186-0000-1234", "138.0000.0003".
GROUPED_MOBILE = re.compile(r"(?<![\d\-.])1[3-9](?:[ \t\-.－—]?\d){9}(?![\d\-.]?\d)")


def find_mobile(text: str) -> str | None:
    """The first mainland mobile number in ``text`` (also typed in groups), as 11 digits."""
    value = unicodedata.normalize("NFKC", text or "")
    found = GROUPED_MOBILE.search(value)
    if found is None:
        return None
    digits = re.sub(r"\D", "", found.group(0))
    return digits if MOBILE_PHONE.fullmatch(digits) else None


def mask_phones_in_text(text: str) -> str:
    """Masks every mainland mobile number inside free text."""
    return MOBILE_PHONE.sub(r"\1****\2", text)


def mask_url(url: str) -> str:
    """A database URL without its password, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never log an unparseable URL
        return "<unparseable url>"


# --- personal numbers as merchants type them ------------------------------------------
#
# Mobiles (optionally +86 / 0086 / 86), mainland ID cards (17 digits and a digit or X) and
# bank cards (16 to 19 digits) are read from *groups*: runs of digit characters (ASCII,
# full-width, Chinese numerals such as 一三八 or 幺〇) separated by up to four separator
# characters (spaces, tabs, dashes of every width, dots, brackets, "+"). Every sequence of
# whole, consecutive groups of one run that spells a number is a candidate; the best
# non-overlapping candidates become spans of the original text, and digits that a weaker
# reading also claimed are starred as well. Decimals ("0.98171264535864162",
# "1795682452.000327", "1.2e-05") are no candidates; a numbered list ("1.13800000002") is
# read as its number. A merchant id (10 digits) and 4-digit groups alone are no personal
# number: they are masked where they are shown, and an entity or a slot value is masked
# when it overlaps a span (``mask_events``).

_ARABIC = "0123456789０１２３４５６７８９"
# Also the financial numerals (大写) people use to dodge filters: 壹叁捌….
_HAN_DIGITS = "〇○零一幺二三四五六七八九壹贰貳叁參肆伍陆陸柒捌玖"
_DIGIT_VALUE = {
    **{char: str(index % 10) for index, char in enumerate(_ARABIC)},
    **dict(zip(_HAN_DIGITS, "0001123456789122334566789", strict=True)),
}
_STARS = "*＊"
_CHECK = "XxＸｘ"
# Zero-width characters, slashes, tildes and commas too: "138/1234/5678", "138~1234~5678".
_SEPARATORS = (" \t\u00a0\u3000\u200b\u200c\u200d\u2060\ufeff-‐‑‒–—―－﹣_.．·・()（）[]【】+＋"
               "/／~～,，、")
_GROUP = re.compile(
    f"[{_ARABIC}{re.escape(_STARS)}]+(?:[{_CHECK}](?![A-Za-z0-9]))?|[{_HAN_DIGITS}]+")
_RUN = re.compile(
    f"(?:{_GROUP.pattern})(?:(?:[{re.escape(_SEPARATORS)}]{{1,4}}"
    f"|(?<=[{_HAN_DIGITS}])(?=[{_ARABIC}])|(?<=[{_ARABIC}])(?=[{_HAN_DIGITS}]))"
    f"(?:{_GROUP.pattern}))*")
_DOTS = (".", "．")
_EXPONENT = re.compile(r"[eE][+-]?\d")
_OPENING, _CLOSING = "(（[【", ")）]】"

_MOBILE_DIGITS = re.compile(r"(?:0086|86)?(1[3-9]\d{9})")
_SHOWN_PHONE = re.compile(r"1[3-9]\d\*{4}\d{4}")
_ID_DIGITS = re.compile(r"\d{17}[\dX]")
_CARD_DIGITS = re.compile(r"\d{16,19}")
_MAX_DIGITS = 23  # 0086 + an 11-digit mobile is 15; a card 19
_KIND_WEIGHT = {"mobile": 300, "shown_phone": 300, "id_card": 200, "bank_card": 100}


@dataclass(frozen=True)
class PersonalSpan:
    """A personal number in a text: ``text[start:end]``, its kind ("mobile",
    "shown_phone", "id_card", "bank_card", or "part": digits a weaker reading claimed),
    its digits in ASCII and the digit groups as typed (ASCII)."""

    start: int
    end: int
    kind: str
    digits: str
    groups: tuple[str, ...]

    def masked(self, text: str) -> str:
        """What replaces ``text[start:end]``."""
        if self.kind in ("mobile", "shown_phone"):
            return f"{self.digits[:3]}********"
        if self.kind == "id_card":
            return f"{self.digits[:6]}********{self.digits[-4:]}"
        if self.kind == "bank_card":
            return f"{self.digits[:4]}********{self.digits[-4:]}"
        return "".join("*" if char in _DIGIT_VALUE or char in _CHECK else char
                       for char in text[self.start:self.end])


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    value: str  # ASCII digits, "*" for stars, a final "X"
    usable: bool


def _groups(text: str, run: re.Match[str]) -> list[_Group]:
    found = list(_GROUP.finditer(text, run.start(), run.end()))
    values = ["".join("*" if char in _STARS else "X" if char in _CHECK else _DIGIT_VALUE[char]
                      for char in match.group(0)) for match in found]
    usable = [True] * len(found)
    # A decimal (one dot between two groups, not a dotted chain like 138.0000.0002): a
    # confidence ("0.98171264535864162"), an exponent ("1.2345678901234567e-05") or a
    # short fraction alone (a timestamp "1795682452.000327", an amount) are no number; a
    # long fraction, more groups or a mobile's 7-4 are ("1.13800000002" or
    # "1.138 0000 0002" in a numbered list, "138.00000002", "1380000.0002").
    for index in range(len(found) - 1):
        between = text[found[index].end():found[index + 1].start()]
        before = text[found[index - 1].end():found[index].start()] if index else ""
        after = text[found[index + 1].end():found[index + 2].start()] \
            if index + 2 < len(found) else ""
        if between not in _DOTS or any(dot in before or dot in after for dot in _DOTS):
            continue
        integer, fraction = values[index], values[index + 1]
        if integer == "0" or _EXPONENT.match(text, found[index + 1].end()) or (
                len(fraction) <= 7 and len(found) == 2
                and _classify(integer, [len(integer)]) is None
                and not _MOBILE_DIGITS.fullmatch(integer + fraction)):
            usable[index] = usable[index + 1] = False
    return [_Group(match.start(), match.end(), value, ok)
            for match, value, ok in zip(found, values, usable, strict=True)]


def _plausible_birth_date(digits: str) -> bool:
    year, month, day = int(digits[6:10]), int(digits[10:12]), int(digits[12:14])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def _classify(value: str, sizes: list[int]) -> tuple[str, str] | None:
    """(kind, digits) when the groups ``value`` (of these sizes) spell a personal number."""
    if "*" in value:
        return ("shown_phone", value) if _SHOWN_PHONE.fullmatch(value) else None
    mobile = _MOBILE_DIGITS.fullmatch(value)
    if mobile:
        return "mobile", mobile.group(1)
    # Typed digit by digit ("1 3 8 …") reads as one group; two long groups ("1101051990
    # 0307123X", "62284812 34567890") as any split of the number.
    single = len(sizes) == 1 or all(size == 1 for size in sizes)
    halves = len(sizes) == 2 and min(sizes) >= 4
    if _ID_DIGITS.fullmatch(value) and (single or halves or sizes[0] in (3, 6)) \
            and (value.endswith("X") or _plausible_birth_date(value)):
        return "id_card", value
    if _CARD_DIGITS.fullmatch(value) and (single or halves or (sizes[0] in (4, 6) and (
            all(size == 4 for size in sizes[1:-1]) and sizes[-1] <= 5))):
        return "bank_card", value
    return None


def _candidates(groups: list[_Group]) -> list[tuple[int, int, str, str, int]]:
    """(first group, end group, kind, digits, end offset) of every reading of the run."""
    found = []
    for first in range(len(groups)):
        value, sizes = "", []
        for last in range(first, len(groups)):
            group = groups[last]
            if not group.usable or "X" in value:
                break
            value, sizes = value + group.value, [*sizes, len(group.value)]
            if len(value) > _MAX_DIGITS or (len(sizes) > 1 and min(sizes) < 2
                                             and not all(size == 1 for size in sizes)):
                break
            readings = [(value, group.end)]
            if value.endswith("X"):  # "13800000002x": the number without the letter
                readings.append((value[:-1], group.end - 1))
            for digits, end in readings:
                kind = _classify(digits, [*sizes[:-1], len(digits) - sum(sizes[:-1])])
                if kind:
                    found.append((first, last + 1, *kind, end))
                    break
    return found


def _extend(text: str, start: int, end: int, prefixed: bool) -> int:
    """The span's start, with the "+" of "+86" and an opening bracket it closes."""
    if prefixed and start and text[start - 1] in "+＋":
        start -= 1
    inside = text[start:end]
    if start and text[start - 1] in _OPENING and \
            sum(inside.count(char) for char in _CLOSING) > sum(inside.count(char)
                                                              for char in _OPENING):
        start -= 1
    return start


def _run_spans(text: str, groups: list[_Group]) -> list[PersonalSpan]:
    candidates = _candidates(groups)
    if not candidates:
        return []
    # The non-overlapping readings that cover the most digits ("0086 138…" with its
    # prefix, an ID card before the mobile-like digits inside it); on a tie mobiles before
    # ID cards before bank cards.
    count = len(groups)
    best: list[tuple[int, list[tuple[int, int, str, str, int]]]] = [(0, [])] * (count + 1)
    starting: dict[int, list[tuple[int, int, str, str, int]]] = {}
    for candidate in candidates:
        starting.setdefault(candidate[0], []).append(candidate)
    for index in range(count - 1, -1, -1):
        options = [best[index + 1]]
        for candidate in starting.get(index, []):
            score, chosen = best[candidate[1]]
            covers = sum(len(group.value) for group in groups[candidate[0]:candidate[1]])
            options.append((score + 1000 * covers + _KIND_WEIGHT[candidate[2]],
                            [candidate, *chosen]))
        best[index] = max(options, key=lambda option: option[0])
    chosen = best[0][1]
    covered = {index for candidate in chosen for index in range(candidate[0], candidate[1])}
    claimed = {index for candidate in candidates for index in range(candidate[0], candidate[1])}
    spans = []
    for first, end_group, kind, digits, end in chosen:
        spelled = "".join(group.value for group in groups[first:end_group]).rstrip("X")
        prefixed = kind == "mobile" and len(spelled) > len(digits)
        start = _extend(text, groups[first].start, end, prefixed)
        spans.append(PersonalSpan(start, end, kind, digits,
                                  tuple(group.value for group in groups[first:end_group])))
    for index in sorted(claimed - covered):
        group = groups[index]
        spans.append(PersonalSpan(group.start, group.end, "part", group.value, (group.value,)))
    return spans


def personal_spans(text: str) -> list[PersonalSpan]:
    """Every personal number in ``text``, as spans of ``text`` itself (in order)."""
    spans: list[PersonalSpan] = []
    for run in _RUN.finditer(text):
        if run.end() - run.start() >= 11:
            spans.extend(_run_spans(text, _groups(text, run)))
    return sorted(spans, key=lambda span: span.start)


def mask_spans(text: str, spans: list[PersonalSpan]) -> str:
    for span in sorted(spans, key=lambda span: span.start, reverse=True):
        text = text[:span.start] + span.masked(text) + text[span.end:]
    return text


def mask_personal_data(text: str) -> str:
    """Masks ID-card, bank-card and mobile numbers inside free text, for everything that
    is stored or logged (events, transcripts shown to agents, log lines). A mobile keeps
    only its first 3 digits there: the last 4 are what the identity check asks for.
    Merchant ids (10 digits) are left alone: they are masked where they are shown."""
    return mask_spans(text, personal_spans(text))


def echoes(spans: list[PersonalSpan]) -> frozenset[str]:
    """The digit strings of these spans that may be repeated elsewhere on their own (an
    entity value, a slot value, a log line's list of entities): every group of 4 digits
    or more, and each whole number."""
    found = set()
    for span in spans:
        for value in (span.digits, *span.groups):
            value = value.rstrip("X")
            if len(value) >= 4 and value.isdigit():
                found.add(value)
    return frozenset(found)


_DIGITS_ALONE = re.compile(r"(?<![0-9])[0-9]{4,}(?![0-9])")


def mask_echoes(text: str, secrets: frozenset[str] | set[str]) -> str:
    """Every stand-alone occurrence of one of ``secrets`` (digit strings) starred."""
    if not secrets:
        return text
    return _DIGITS_ALONE.sub(lambda match: "*" * len(match.group(0))
                             if match.group(0) in secrets else match.group(0), text)


def _mask_around(text: str, spans: list[PersonalSpan], secrets: frozenset[str]) -> str:
    """Spans masked; ``secrets`` starred outside them (a masked card keeps its first and
    last 4 digits, which are groups too)."""
    starred = mask_echoes(text, secrets)  # the same length: the spans still fit
    return mask_spans(starred, spans) if starred == text else \
        _splice(starred, text, spans)


def _splice(starred: str, text: str, spans: list[PersonalSpan]) -> str:
    parts, position = [], 0
    for span in spans:
        parts += [starred[position:span.start], span.masked(text)]
        position = span.end
    return "".join([*parts, starred[position:]])


def mask_with_echoes(text: str,
                     secrets: frozenset[str] = frozenset()) -> tuple[str, frozenset[str]]:
    """``text`` with its personal numbers masked and, elsewhere in it, every stand-alone
    repeat of their groups (and of ``secrets``); also the groups found."""
    spans = personal_spans(text)
    found = echoes(spans)
    return _mask_around(text, spans, found | secrets), found


def mask_events(events: list[dict[str, Any]],
                secrets: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Masked copies of the serialised events of one turn (``Event.as_dict()``), as they
    are stored, streamed or returned: personal numbers in every string, every entity
    that overlaps one (the value starred: the entity itself stays, so later predictions
    see the same features), and every stand-alone repeat of their groups or of
    ``secrets`` (the identity check's answers) anywhere in these events, slot values
    included. Sealed values (``seal``) are left as they are."""
    events = copy.deepcopy(events)
    found = set(secrets)
    for data in events:
        if data.get("event") != "user":
            continue
        text = data.get("text")
        if isinstance(text, str):
            found |= echoes(personal_spans(text))
        parse_data = data.get("parse_data")
        if not isinstance(parse_data, dict):
            continue
        parsed = parse_data.get("text")
        parsed = parsed if isinstance(parsed, str) else text if isinstance(text, str) else ""
        spans = personal_spans(parsed)
        found |= echoes(spans)
        for entity in parse_data.get("entities") or []:
            if isinstance(entity, dict) and _overlaps(entity, spans):
                value = entity.get("value")
                if isinstance(value, str):
                    found |= {value} if len(value) >= 4 and value.isdigit() else set()
                    entity["value"] = "".join("*" if char in _DIGIT_VALUE else char
                                              for char in value)
                else:
                    entity["value"] = "****"
    frozen = frozenset(found)
    return [_mask_value(data, frozen) for data in events]


def _overlaps(entity: dict[str, Any], spans: list[PersonalSpan]) -> bool:
    start, end = entity.get("start"), entity.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return False
    return any(start < span.end and span.start < end for span in spans)


def _mask_value(value: Any, secrets: frozenset[str]) -> Any:
    if isinstance(value, str):
        if is_sealed(value):
            return value
        return _mask_around(value, personal_spans(value), secrets)
    if isinstance(value, dict):
        return {key: _mask_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_value(item, secrets) for item in value]
    return value


# --- values the action server keeps across turns without anyone else reading them ----

SEALED_PREFIX = "sealed:"
_TOKEN = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def is_sealed(value: str) -> bool:
    """A value ``seal`` made (the prefix and a Fernet token), not just any text that
    starts with the prefix: a merchant typing "sealed: 138…" is masked like everyone."""
    if not value.startswith(SEALED_PREFIX):
        return False
    token = value[len(SEALED_PREFIX):]
    if not _TOKEN.fullmatch(token):
        return False
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return False
    # version byte, timestamp (8), IV (16), ciphertext (16 * n), HMAC (32)
    return raw[:1] == b"\x80" and len(raw) >= 73 and (len(raw) - 57) % 16 == 0


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
