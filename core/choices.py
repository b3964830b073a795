"""Numbered choices: the one parser for typed numbers, and the matcher for choices typed
instead of clicked, used by every channel and every form.

WeChat renders buttons as numbered lines and the merchant answers with the number; the
forms list their options with numbers too. Whatever the channel, "1", "１", "1.",
"(1)", "第1个", "第一个", "选2" and "选择二" pick the same option (``parse_choice_number``,
``pick``).

A merchant who types instead of clicking also types the button's title: "帮我挑一个"
for the button "1 帮我挑一个", with or without the number, with a small typo, in
traditional script. ``offered`` lists the buttons of one bot turn with the numbers the
merchant saw next to them, and ``match`` decides whether a typed text picks one of them.
It refuses rather than guesses: ids and amounts (three digits or more: "1900000002",
"0002", "2万" is not "2"), long texts, questions, texts whose negation differs from the
title ("不确认" is not "确认提交"), and ties between two buttons.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import cn2an

from core.text import normalize

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


def is_bare_number(text: str) -> bool:
    """True for a text that is only a choice-like number ("1", "第二个", "0"), whether
    or not there is anything to choose from; ids and amounts are not."""
    normalized = unicodedata.normalize("NFKC", text or "").strip()
    return bool(_CHOICE.match(normalized))


def pick(text: str, options: list[str]) -> str | None:
    """The option at the picked number (1-based), or None."""
    number = parse_choice_number(text)
    if number is None or number > len(options):
        return None
    return options[number - 1]


# --- buttons offered in one bot turn ---------------------------------------------------
# A title's own leading number: "1 帮我挑一个", "2. 不用了", "3、其他" (not "1万元以下").
_OWN_NUMBER = re.compile(r"^\s*[(（]?(\d{1,2})(?:\s*[.、:：)）]\s*|\s+)(?=\S)")


@dataclass(frozen=True)
class Choice:
    """One button as the merchant saw it."""

    number: int  # the number shown next to it
    title: str  # the title without its own leading number
    payload: str  # what a click sends
    message: int  # which bot message of the turn it came with (0-based)


def own_number(title: str) -> tuple[int | None, str]:
    """A title's own leading number and the title without it."""
    match = _OWN_NUMBER.match(title or "")
    if not match:
        return None, (title or "").strip()
    return int(match.group(1)), title[match.end():].strip()


def button_choice(button: Mapping[str, Any]) -> tuple[str, str] | None:
    """(title, payload) of a button a merchant can choose; None for link-only buttons
    and empty ones. A button without a payload sends its title."""
    title = str(button.get("title") or "").strip()
    payload = str(button.get("payload") or "").strip()
    if not payload and str(button.get("url") or "").strip():
        return None
    if not (payload or title):
        return None
    return title, payload or title


def message_buttons(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    buttons = message.get("buttons") or message.get("quick_replies") or []
    return [b for b in buttons if isinstance(b, Mapping)]


def offered(messages: Iterable[Mapping[str, Any]], numbered_across: bool = False
            ) -> list[Choice]:
    """The buttons of one bot turn, numbered as the merchant saw them.

    ``numbered_across`` (WeChat): the channel numbers every button of the turn 1, 2, 3…
    across messages. Otherwise (REST, widget): the number in the title ("2 不用了"), else
    the button's place in its own message.
    """
    choices: list[Choice] = []
    for index, message in enumerate(messages):
        place = 0
        for button in message_buttons(message):
            entry = button_choice(button)
            if entry is None:
                continue
            place += 1
            title, payload = entry
            shown, bare_title = own_number(title)
            number = place if shown is None else shown
            if numbered_across:
                number = len(choices) + 1
            choices.append(Choice(number, bare_title or payload, payload, index))
    return choices


# --- what a typed text picks -------------------------------------------------------------
@dataclass(frozen=True)
class Picked:
    choice: Choice
    how: str  # "payload", "number", "number+title", "title", "partial", "fuzzy", "delegated"


# Longest text read as a typed choice (longer texts say something else).
MAX_CHARS = 24
# Similarity a typo needs (difflib ratio), and how far ahead of the next button.
FUZZY = 0.75
FUZZY_MARGIN = 0.1
# A part of a title must cover this much of it ("不用" for "不用了").
PARTIAL = 0.6

_PUNCTUATION = re.compile(r"[\s\W_]+")
_DIGIT = re.compile(r"\d")
_NEGATION = set("不没别无未")
_QUESTION = re.compile(r"[?？]|吗|呢$|什么|怎么|为什么|为啥|啥|哪")
# Words around a typed title that do not change which button it is.
_FILLER = re.compile(
    r"^(?:好的|好吧|好|嗯嗯|嗯|行|那就|那|就|我选|我要|选择|选|要|请|麻烦|可以|谢谢|"
    r"吧|呗|啊|呀|哦|哈|啦|的|了|一下)*$"
)
_NOTE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_LAST = re.compile(r"^(?:选)?最后(?:一个|那个|一项|一条|个|项)?$")
# Said after a number without changing it: "2 快点", "1 谢谢", "2 就这个".
_URGING = re.compile(r"^(快点?|快快|赶紧|马上|立刻|吧|啊|呀|哈|嗯|好的?|谢谢|麻烦了?|就这个|就行|行|可以|拜托|求求|急)+$")
_NUMBER_URGED = re.compile(r"^(\d{1,2})\s*(\D.*)$")
# "1 帮我挑一个", "1.帮我挑一个", "（1）帮我挑一个": a number, a separator, a title.
_NUMBER_AND_TITLE = re.compile(r"^[(（]?(\d{1,2})(?:\s*[.、:：)）]\s*|\s+)(\S.*)$")


def canonical(text: str) -> str:
    """Simplified script, half-width, lower case, without spaces and punctuation."""
    return _PUNCTUATION.sub("", normalize(text or "").text).lower()


def _negations(text: str) -> set[str]:
    return {char for char in text if char in _NEGATION}


def _best(found: list[Choice]) -> Choice | None:
    """One button, or None when different buttons fit equally well."""
    if not found:
        return None
    payloads = {choice.payload for choice in found}
    return found[-1] if len(payloads) == 1 else None


def _by_number(number: int, choices: list[Choice]) -> Choice | None:
    # Several lists in one turn (REST numbers each in its titles): the latest list wins.
    found = [choice for choice in choices if choice.number == number]
    return found[-1] if found else None


def _by_title(text: str, choices: list[Choice]) -> Picked | None:
    typed = canonical(text)
    if not typed:
        return None
    titles = [(choice, canonical(choice.title)) for choice in choices]
    # A note in brackets is not what a merchant types: "打我电话" for "打我电话（直接发手机号）".
    titles += [(choice, canonical(_NOTE.sub("", choice.title))) for choice in choices
               if _NOTE.search(choice.title) and canonical(_NOTE.sub("", choice.title))]
    exact = [choice for choice, title in titles if title and title == typed]
    if exact:
        best = _best(exact)
        return Picked(best, "title") if best else None
    if _DIGIT.search(typed) or _QUESTION.search(text):
        return None  # amounts and questions only ever match a title exactly
    # The whole title with filler words around it: "好的，帮我挑一个吧".
    around = [choice for choice, title in titles
              if title and title in typed and all(
                  _FILLER.match(part) for part in typed.split(title, 1))]
    if around:
        best = _best(around)
        return Picked(best, "title") if best else None
    # Most of a title: "不用" for "不用了", "核对身份" for "先核对身份".
    partial = [choice for choice, title in titles
               if len(typed) >= 2 and typed in title and len(typed) / len(title) >= PARTIAL
               and not _negations(title.replace(typed, "", 1))]
    if partial:
        best = _best(partial)
        return Picked(best, "partial") if best else None
    # A small typo: "帮我挑一下", "帮我跳一个".
    if len(typed) < 3:
        return None
    scored = sorted(((SequenceMatcher(None, typed, title).ratio(), index)
                     for index, (choice, title) in enumerate(titles)
                     if title and _negations(title) == _negations(typed)), reverse=True)
    if not scored or scored[0][0] < FUZZY:
        return None
    best_score, best_index = scored[0]
    rivals = [index for score, index in scored[1:] if score > best_score - FUZZY_MARGIN
              and titles[index][0].payload != titles[best_index][0].payload]
    if rivals:
        return None
    return Picked(titles[best_index][0], "fuzzy")


# "都行", "随便", "你直接推荐一个吧", "不太懂": leaving the choice to us picks the button
# that does that ("帮我挑一个"), when one was offered.
_DELEGATING = re.compile(
    r"^(都行|都可以|随便|无所谓|都好|你(来|就|直接|帮我)*(推荐|选|挑|定|说了算)|帮我(推荐|选|挑)"
    r"|(我)?(不太|不是很|看不|搞不|弄不|不)懂|不知道(选|怎么选|哪个|选哪)|不清楚(选|怎么选|哪个)|你看着办)")
_DELEGATE_TITLE = re.compile(r"帮我(挑|选)|替我(挑|选)|推荐")


def _delegated(raw: str, choices: list[Choice]) -> Picked | None:
    typed = canonical(raw)
    if not _DELEGATING.match(typed) or "?" in raw or "？" in raw:
        return None
    found = [c for c in choices if _DELEGATE_TITLE.search(c.title)]
    return Picked(found[-1], "delegated") if len(found) == 1 else None


def match(text: str, choices: list[Choice], clicks: bool = True) -> Picked | None:
    """The button ``text`` picks among ``choices`` (one bot turn), or None.

    In order: the payload itself (a click; only where the channel has buttons to click,
    ``clicks``), a number ("2", "第二个", "最后一个"), a number with its title
    ("1 帮我挑一个"), the title (exact, with filler words, most of it, or with a small
    typo). Ids, amounts, long texts and questions pick nothing.
    """
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw or not choices or raw.startswith("/") or len(raw) > MAX_CHARS:
        return None
    if clicks:
        for choice in reversed(choices):
            if raw == choice.payload:
                return Picked(choice, "payload")
    number = parse_choice_number(raw)
    if number is not None:
        choice = _by_number(number, choices)
        return Picked(choice, "number") if choice else None
    urged = _NUMBER_URGED.match(raw)
    if urged and (not canonical(urged.group(2)) or _URGING.match(canonical(urged.group(2)))):
        choice = _by_number(int(urged.group(1)), choices)  # "2！！！", "2快点"
        return Picked(choice, "number") if choice else None
    if _LAST.match(canonical(raw)):
        last = max(choice.message for choice in choices)
        return Picked([c for c in choices if c.message == last][-1], "number")
    numbered = _NUMBER_AND_TITLE.match(raw)
    if numbered:
        choice = _by_number(int(numbered.group(1)), choices)
        rest = canonical(numbered.group(2))
        if choice and len(rest) >= 2 and not _DIGIT.search(rest) \
                and rest in canonical(choice.title):
            return Picked(choice, "number+title")
        titled = _by_title(numbered.group(2), choices)
        if choice and titled and titled.choice.payload == choice.payload:
            return Picked(choice, "number+title")
        # The number and the title disagree, or the rest is something else ("2 万").
        return None
    picked = _by_title(raw, choices)
    if picked and len(_DIGIT.findall(raw)) >= 3 and picked.how != "title":
        return None  # merchant ids, phone digits, amounts: only a title typed exactly
    return picked or _delegated(raw, choices)


# "1 不过你先说说为啥限我", "2，那这几种要花钱吗": a choice and something else in one message.
_CHOICE_THEN = re.compile(
    r"^(?P<choice>[(（]?(?:第|选|选择)?\s*(?:\d{1,2}|[一二两三四五六七八九])\s*(?:个|项|条|种)?\s*[)）]?)"
    r"(?:\s*[,，、.。:：;；!！~～]\s*|\s+)(?P<rest>\S.*)$", re.S)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# What follows a number when the number is an amount or a count ("2 万", "3 个月"), not a choice.
_UNIT_START = re.compile(r"^(?:万|千|百|块|元|毛|角|%|个月|天|年|号|点|位)")
MIN_REST_CHARS = 4


def split_choice(text: str, choices: list[Choice]) -> tuple[Picked, str, str] | None:
    """A choice typed with something more: the button its number picks, the choice as
    typed and the rest ("1 不过你还没说为啥" -> button 1, "1", "不过你还没说为啥"), or
    None when the text is one thing (a title typed with its number, an amount, a short
    answer)."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    found = _CHOICE_THEN.match(raw)
    if not found or not choices:
        return None
    picked = match(found.group("choice"), choices, clicks=False)
    rest = found.group("rest").strip()
    if picked is None or _UNIT_START.match(rest):
        return None
    title = canonical(re.sub(r"^\d+\s*", "", picked.choice.title))
    typed = canonical(rest)
    if title and typed.startswith(title):
        # "1 帮我挑一个 顺便问下要钱吗": the title said again, then the rest.
        at = matched = 0
        while at < len(rest) and matched < len(title):
            char = canonical(rest[at])
            if char and char != title[matched:matched + len(char)]:
                break
            matched += len(char)
            at += 1
        rest = rest[at:].lstrip(" ,，、.。:：;；!！")
    if len(canonical(rest)) < MIN_REST_CHARS or not _CJK.search(rest):
        return None
    return picked, found.group("choice").strip(), rest
