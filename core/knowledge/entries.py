"""Knowledge entries: the format, its validation and the reviewed YAML files.

An entry is the team's answer to one standard question (标准问), with the similar questions
(相似问) it is matched by, optional variants for a verified merchant's own case, and where
the question belongs when it is not ours (scope ``redirect``)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, validator

from core.text import normalize

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIRECTORY = PROJECT_ROOT / "data" / "knowledge"

MIN_SIMILAR = 5
MAX_SIMILAR = 60
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 1000
ENTRY_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")

# What a variant may depend on: the verified merchant's facts (core.knowledge.facts).
STATES = {"normal", "restricted", "risk_controlled", "frozen"}
APPEALS = {"none", "open", "overdue", "rejected", "approved"}
# Who is asking when it is not the merchant (actions.repair.role_of): a variant may be
# written for them ("role: personal" for a WeChat user without a merchant id).
ROLES = {"hong_kong", "service_provider", "developer", "payer", "personal", "staff"}
REDIRECTS = {"alipay", "bank", "unionpay", "platform", "authority", "police",
             "wechat_security", "wechatpay_hk", "other"}


class KnowledgeError(ValueError):
    """Entries that cannot be used, with every problem found (not only the first)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _text(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters ({len(value)})")
    return value


class Variant(BaseModel):
    """An answer for merchants whose facts match every key of ``when``; a list value
    matches any of its items (``appeal: [open, overdue]``)."""

    when: dict[str, Any]
    answer: str

    @validator("when")
    def _known_keys(cls, when: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        if not when:
            raise ValueError("a variant needs at least one condition")
        for key, value in when.items():
            if isinstance(value, list):
                if not value or key in ("can_collect", "can_withdraw"):
                    raise ValueError(f"{key} cannot be an empty list or a list of booleans")
                for item in value:
                    _check_condition(key, item)
            else:
                _check_condition(key, value)
        return when

    @validator("answer", pre=True)
    def _answer(cls, value: Any) -> str:  # noqa: N805
        return _text(value, MAX_ANSWER_CHARS, "the variant's answer")

    def matches(self, facts: dict[str, Any]) -> bool:
        return all(facts.get(key) in value if isinstance(value, list) else facts.get(key) == value
                   for key, value in self.when.items())


def _check_condition(key: str, value: Any) -> None:
    if key == "state" and value not in STATES:
        raise ValueError(f"unknown state {value!r}")
    elif key == "appeal" and value not in APPEALS:
        raise ValueError(f"unknown appeal status {value!r}")
    elif key in ("can_collect", "can_withdraw") and not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    elif key == "reason" and not isinstance(value, str):
        raise ValueError("reason must be a reason code")
    elif key == "role" and value not in ROLES:
        raise ValueError(f"unknown role {value!r}")
    elif key not in ("state", "appeal", "can_collect", "can_withdraw", "reason", "role"):
        raise ValueError(f"unknown condition {key!r}")


class Entry(BaseModel):
    id: str
    question: str
    similar: list[str] = Field(default_factory=list)
    answer: str
    variants: list[Variant] = Field(default_factory=list)
    scope: Literal["ours", "redirect"] = "ours"
    redirect: str | None = None
    follow_ups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    source: str = ""

    class Config:
        extra = "forbid"

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        if not ENTRY_ID.match(value or ""):
            raise ValueError("ids are 3-64 lower-case letters, digits and _, starting with a letter")
        return value

    @validator("question", pre=True)
    def _question(cls, value: Any) -> str:  # noqa: N805
        return _text(value, MAX_QUESTION_CHARS, "the standard question")

    @validator("answer", pre=True)
    def _answer(cls, value: Any) -> str:  # noqa: N805
        return _text(value, MAX_ANSWER_CHARS, "the answer")

    @validator("similar", pre=True)
    def _similar(cls, values: Any) -> list[str]:  # noqa: N805
        if not isinstance(values, list):
            raise ValueError("similar questions must be a list")
        texts = [_text(v, MAX_QUESTION_CHARS, "a similar question") for v in values]
        if len(texts) < MIN_SIMILAR:
            raise ValueError(f"at least {MIN_SIMILAR} similar questions are needed ({len(texts)})")
        if len(texts) > MAX_SIMILAR:
            raise ValueError(f"at most {MAX_SIMILAR} similar questions ({len(texts)})")
        return texts

    @validator("redirect", always=True)
    def _redirect(cls, value: str | None, values: dict[str, Any]) -> str | None:  # noqa: N805
        if values.get("scope") == "redirect" and value not in REDIRECTS:
            raise ValueError(f"a redirect names where it goes: one of {sorted(REDIRECTS)}")
        return value

    @property
    def questions(self) -> list[str]:
        """The standard question and the similar ones: what a message is matched against."""
        return [self.question, *self.similar]

    def answer_for(self, facts: dict[str, Any]) -> str:
        """The first variant that fits the merchant's facts, else the general answer."""
        return next((v.answer for v in self.variants if v.matches(facts)), self.answer)

    def content(self) -> dict[str, Any]:
        return json.loads(self.json(exclude={"id"}))

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content(), ensure_ascii=False, sort_keys=True)
                              .encode()).hexdigest()


def parse_entry(data: Any, where: str = "entry") -> Entry:
    try:
        return Entry.parse_obj(data)
    except ValidationError as error:
        ident = data.get("id") if isinstance(data, dict) else None
        problems = [f"{where} {ident or '?'}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                    for e in error.errors()]
        raise KnowledgeError(problems) from error


def normalized_question(text: str) -> str:
    """The form two similar questions are compared in (script, width, punctuation)."""
    return re.sub(r"[\W_]+", "", normalize(text).text).lower()


def duplicates(entries: Iterable[Entry]) -> dict[str, list[str]]:
    """Questions (normalized) that more than one entry claims, with the entries' ids."""
    owners: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        for question in entry.questions:
            owners[normalized_question(question)].add(entry.id)
    return {text: sorted(ids) for text, ids in owners.items() if len(ids) > 1}


def check(entries: list[Entry]) -> list[str]:
    """Problems across entries: repeated ids, follow-ups to unknown entries, questions
    claimed by two entries."""
    problems = []
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            problems.append(f"entry {entry.id}: the id is used twice")
        seen.add(entry.id)
    for entry in entries:
        for follow_up in entry.follow_ups:
            if follow_up not in seen:
                problems.append(f"entry {entry.id}: follow-up {follow_up} does not exist")
    for text, ids in sorted(duplicates(entries).items()):
        problems.append(f"the question {text!r} is in several entries: {', '.join(ids)}")
    return problems


def load_directory(directory: Path = DEFAULT_DIRECTORY) -> list[Entry]:
    """Every entry of the YAML files in ``directory``; KnowledgeError lists all problems."""
    entries: list[Entry] = []
    problems: list[str] = []
    files = sorted(Path(directory).glob("*.yml"))
    if not files:
        raise KnowledgeError([f"no knowledge files in {directory}"])
    for file in files:
        try:
            document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            problems.append(f"{file.name}: not valid YAML ({error})")
            continue
        items = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(items, list):
            problems.append(f"{file.name}: no 'entries' list")
            continue
        for index, item in enumerate(items):
            try:
                entries.append(parse_entry(item, where=f"{file.name}[{index}]"))
            except KnowledgeError as error:
                problems.extend(error.problems)
    problems.extend(check(entries))
    if problems:
        raise KnowledgeError(problems)
    return entries
