"""The one parser for numbered choices, used by every channel and every form.

WeChat renders buttons as numbered lines and the merchant answers with the number; the
forms list their options with numbers too. Whatever the channel, "1", "１", "1.",
"(1)", "第1个", "第一个", "选2" and "选择二" pick the same option.
"""

from __future__ import annotations

import re
import unicodedata

import cn2an

_CHOICE = re.compile(
    r"^[(（]?(?:第|选|选择|选第)?\s*(\d{1,2}|[一二两三四五六七八九十]{1,3})\s*"
    r"(?:个|项|条|号|种)?\s*[)）]?\s*[.。、,，!！]?\s*(?:吧|呗)?$"
)


def parse_choice_number(text: str) -> int | None:
    """The number the merchant picked, or None when ``text`` is not a bare choice."""
    normalized = unicodedata.normalize("NFKC", text or "").strip()
    match = _CHOICE.match(normalized)
    if not match:
        return None
    token = match.group(1)
    if token.isdigit():
        number = int(token)
    else:
        try:
            number = int(cn2an.cn2an(token.replace("两", "二"), "strict"))
        except ValueError:
            return None
    return number if number > 0 else None


def pick(text: str, options: list[str]) -> str | None:
    """The option at the picked number (1-based), or None."""
    number = parse_choice_number(text)
    if number is None or number > len(options):
        return None
    return options[number - 1]
