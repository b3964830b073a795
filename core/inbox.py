"""The unanswered-questions inbox (docs/inbox.md): the merchant messages of a period the
assistant did not answer well, grouped by meaning, with the knowledge entries nearest to
each group as suggestions.

A message is in the inbox when it is a typed merchant message (no button click, no
``EXTERNAL:`` trigger) of the period that

- fell to the fallback (``action_fallback`` in its turn),
- got a "did you mean" (``utter_did_you_mean`` / ``utter_kb_did_you_mean``), or
- was followed by a handoff within two turns (the handoff form started in the turn of
  one of the next two merchant messages, or in its own turn) and was a question: not a
  request for a person, small talk ("好的", "谢谢") or a form answer,

and no supervisor has triaged it yet (core.db.inbox). A message typed while a form was
asking (identity check, appeal, advisor, handoff) counts only for the first two: an
answer to a form followed by "转人工" is no unanswered question.

The events are read from the event broker's database through the report's views
(core.db.insights), so the definitions of fallback and "did you mean" are the report's.
Texts are masked when stored; they are masked again here, defensively, before they are
embedded, shown or added to an entry.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.db import inbox as triage
from core.db import insights
from core.knowledge import store
from core.knowledge import vectors as vec
from core.knowledge.entries import Entry, normalized_question, parse_entry
from core.privacy import mask_personal_data

Embed = Callable[[list[str]], np.ndarray]

# Cosine distance under which two messages share a group (average linkage). Tuned on the
# shipped e5 model, whose vectors of unrelated Chinese questions are still ~0.85 alike:
# paraphrases sit above 0.9, other topics below 0.88.
E5_DISTANCE = 0.11
MAX_MESSAGES = 2000  # the clustering is quadratic in memory: the latest ones are kept
MAX_EXAMPLES = 5
MAX_SUGGESTIONS = 3
# Events around the period are read too: a form asking at midnight, a handoff just after.
CONTEXT_S = 6 * 3600.0
HANDOFF_LOOP = "handoff_form"
# Messages that are no question, whatever followed them: asking for a person, small talk,
# form answers (domain.yml's intents).
NOT_QUESTIONS = frozenset({"request_human", "stop_waiting", "greet", "goodbye", "thank",
                           "affirm", "deny", "inform", "delete_my_data", "handoff_closed"})
HANDOFF_TURNS = 2


@dataclass(frozen=True)
class Message:
    event_id: int
    sender_id: str
    ts: float
    channel: str | None
    text: str  # masked
    reasons: tuple[str, ...]  # "fallback", "did_you_mean", "handoff"

    @property
    def key(self) -> tuple[int, str]:
        return (self.event_id, self.sender_id)


@dataclass
class _Turn:
    event_id: int | None  # None for a click: a turn, never an inbox message
    ts: float = 0.0
    channel: str | None = None
    text: str = ""
    intent: str | None = None
    in_form: bool = False
    fallback: bool = False
    did_you_mean: bool = False
    handoff: bool = False


@dataclass
class Group:
    messages: list[Message]
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"g{min(m.event_id for m in self.messages)}"


# --- which messages ------------------------------------------------------------------------
def _events_sql() -> str:
    dym = ", ".join(f"'{name}'" for name in insights.DID_YOU_MEAN)
    return (
        "SELECT e.id, e.sender_id, e.event, e.ts, e.name, e.input_channel, e.intent, "
        "e.merchant_message, e.typed_message, "
        "CASE WHEN e.event = 'user' THEN r.data END AS data "
        "FROM insights_events e JOIN events r ON r.id = e.id "
        "WHERE e.ts >= :lo AND e.ts < :hi AND (e.event IN ('user', 'active_loop', "
        "'session_started') OR (e.event = 'action' AND e.name = 'action_fallback') "
        f"OR (e.event = 'bot' AND e.utter_action IN ({dym}))) "
        "ORDER BY e.sender_id, e.id")


def _text_of(data: str | None) -> str:
    try:
        value = json.loads(data or "{}").get("text")
    except (ValueError, AttributeError):
        return ""
    return mask_personal_data(value) if isinstance(value, str) else ""


def _flagged(turns: list[_Turn]) -> Iterable[tuple[_Turn, tuple[str, ...]]]:
    """The inbox messages of one conversation (its turns in order) with their reasons."""
    for index, turn in enumerate(turns):
        if turn.event_id is None:
            continue
        reasons = []
        if turn.fallback:
            reasons.append("fallback")
        if turn.did_you_mean:
            reasons.append("did_you_mean")
        if not turn.in_form and turn.intent not in NOT_QUESTIONS:
            later = turns[index + 1:index + 1 + HANDOFF_TURNS]
            if turn.handoff or any(t.handoff for t in later):
                reasons.append("handoff")
        if reasons:
            yield turn, tuple(reasons)


def _replay(rows: Iterable[Any]) -> Iterable[tuple[str, _Turn, tuple[str, ...]]]:
    """Walks each sender's events in order, conversation by conversation."""
    sender: str | None = None
    turns: list[_Turn] = []
    loop: str | None = None

    def flush() -> Iterable[tuple[str, _Turn, tuple[str, ...]]]:
        for turn, reasons in _flagged(turns):
            yield str(sender), turn, reasons

    for row in rows:
        if row.sender_id != sender or row.event == "session_started":
            yield from flush()
            sender, turns, loop = row.sender_id, [], None
            if row.event == "session_started":
                continue
        if row.event == "user":
            if not row.merchant_message:
                continue  # a trigger from the console, not the merchant
            typed = bool(row.typed_message)
            turns.append(_Turn(event_id=int(row.id) if typed else None, ts=float(row.ts),
                               channel=row.input_channel,
                               text=_text_of(row.data) if typed else "",
                               intent=row.intent, in_form=loop is not None))
        elif row.event == "active_loop":
            loop = row.name
            if row.name == HANDOFF_LOOP and turns:
                turns[-1].handoff = True
        elif turns and row.event == "action":
            turns[-1].fallback = True
        elif turns and row.event == "bot":
            turns[-1].did_you_mean = True
    yield from flush()


def collect(events: Connection, period: insights.Period) -> list[Message]:
    """The period's inbox messages (oldest first), triaged or not; [] when the broker's
    table does not exist."""
    if not insights.ensure_event_views(events):
        return []
    start, end = period.epochs()
    rows = events.execute(text(_events_sql()), {"lo": start - CONTEXT_S,
                                                 "hi": end + CONTEXT_S})
    found = [Message(turn.event_id, sender, turn.ts, turn.channel, turn.text, reasons)
             for sender, turn, reasons in _replay(rows)
             if turn.event_id is not None and start <= turn.ts < end and turn.text.strip()]
    return sorted(found, key=lambda m: (m.ts, m.event_id))


def messages_by_id(events: Connection, ids: Sequence[int]) -> list[Message]:
    """The merchant messages with these event ids (any that are not one are left out);
    for an action, which must not trust texts sent by the browser."""
    if not ids or not insights.ensure_event_views(events):
        return []
    found: list[Message] = []
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        marks = ", ".join(f":i{n}" for n in range(len(chunk)))
        rows = events.execute(text(
            "SELECT e.id, e.sender_id, e.ts, e.input_channel, r.data "
            "FROM insights_events e JOIN events r ON r.id = e.id "
            f"WHERE e.id IN ({marks}) AND e.typed_message = 1"),  # noqa: S608 - placeholders
            {f"i{n}": value for n, value in enumerate(chunk)})
        found.extend(Message(int(r.id), str(r.sender_id), float(r.ts), r.input_channel,
                             _text_of(r.data), ()) for r in rows)
    return sorted(found, key=lambda m: m.event_id)


# --- groups ----------------------------------------------------------------------------------
def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _embedded(texts: Sequence[str], embed: Embed) -> np.ndarray:
    """Vectors of ``texts``, each distinct prepared text embedded once."""
    prepared = [vec.prepared(t) or t for t in texts]
    distinct = list(dict.fromkeys(prepared))
    rows = _unit(embed(distinct))
    index = {t: n for n, t in enumerate(distinct)}
    return rows[[index[t] for t in prepared]]


def cluster(vectors: np.ndarray, distance: float) -> list[int]:
    """A group label per row: agglomerative clustering (average linkage, cosine distance
    below ``distance``); deterministic for the same rows in the same order."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    from sklearn.cluster import AgglomerativeClustering

    # scikit-learn 1.2 renamed ``affinity`` to ``metric``.
    names = inspect.signature(AgglomerativeClustering).parameters
    option = "metric" if "metric" in names else "affinity"
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance,
                                    linkage="average", **{option: "cosine"})
    return [int(label) for label in model.fit_predict(vectors)]


def _suggestions(centroids: np.ndarray, entries: list[Entry], questions: np.ndarray
                 ) -> list[list[dict[str, Any]]]:
    """Per centroid, the entries whose closest question is nearest."""
    if not entries or not len(centroids):
        return [[] for _ in range(len(centroids))]
    owner = np.repeat(np.arange(len(entries)), [len(e.questions) for e in entries])
    scores = centroids @ questions.T
    result = []
    for row in scores:
        best = np.full(len(entries), -np.inf)
        np.maximum.at(best, owner, row)
        order = sorted(range(len(entries)), key=lambda n: (-best[n], entries[n].id))
        result.append([{"entry_id": entries[n].id, "question": entries[n].question,
                        "score": round(float(best[n]), 3)} for n in order[:MAX_SUGGESTIONS]])
    return result


def _question_vectors(session: Session, entries: list[Entry], embed: Embed,
                      dimensions: int) -> np.ndarray:
    """The stored vectors of the entries' questions; embedded here when any is missing
    or they come from another embedder (not cached: an injected embedder must not fill
    the shared cache)."""
    stored = store.stored_vectors(session, entries)
    if stored is not None and stored.shape[1] == dimensions:
        return _unit(stored)
    return _embedded([q for e in entries for q in e.questions], embed)


def group(messages: Sequence[Message], session: Session | None = None,
          embed: Embed | None = None, distance: float = E5_DISTANCE) -> list[Group]:
    """Messages grouped by meaning, the largest group first (then the latest seen), each
    with the published knowledge entries nearest to it when ``session`` is given."""
    if not messages:
        return []
    embed = embed or vec.default_embed
    messages = sorted(messages, key=lambda m: (m.ts, m.event_id))[-MAX_MESSAGES:]
    vectors = _embedded([m.text for m in messages], embed)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(cluster(vectors, distance)):
        members.setdefault(label, []).append(index)
    groups = [Group([messages[n] for n in rows]) for rows in members.values()]
    centroids = _unit(np.vstack([vectors[rows].mean(axis=0) for rows in members.values()]))
    if session is not None:
        entries = store.published(session)
        questions = (_question_vectors(session, entries, embed, vectors.shape[1])
                     if entries else None)
        for item, found in zip(groups, _suggestions(centroids, entries, questions),
                               strict=True):
            item.suggestions = found
    groups.sort(key=lambda g: (-len(g.messages), -max(m.ts for m in g.messages), g.id))
    return groups


# --- what the console shows -------------------------------------------------------------------
def _local(ts: float, period: insights.Period) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).astimezone(period.tz)


def _examples(messages: list[Message]) -> list[dict[str, Any]]:
    """Up to five distinct texts: the most frequent first, then the latest."""
    counts = Counter(normalized_question(m.text) for m in messages)
    latest: dict[str, Message] = {}
    for message in messages:
        latest[normalized_question(message.text)] = message
    ranked = sorted(latest.items(), key=lambda item: (-counts[item[0]], -item[1].ts))
    return [{"id": m.event_id, "text": m.text, "channel": m.channel, "count": counts[k]}
            for k, m in ranked[:MAX_EXAMPLES]]


def view(item: Group, period: insights.Period) -> dict[str, Any]:
    messages = item.messages
    first, last = min(m.ts for m in messages), max(m.ts for m in messages)
    days = Counter(_local(m.ts, period).date().isoformat() for m in messages)
    return {
        "id": item.id,
        "count": len(messages),
        "message_ids": sorted(m.event_id for m in messages),
        "examples": _examples(messages),
        "channels": dict(sorted(Counter(m.channel or "unknown" for m in messages).items())),
        "reasons": dict(sorted(Counter(r for m in messages for r in m.reasons).items())),
        "by_day": dict(sorted(days.items())),
        "first_seen": _local(first, period).isoformat(timespec="seconds"),
        "last_seen": _local(last, period).isoformat(timespec="seconds"),
        "suggestions": item.suggestions,
    }


def inbox(events: Connection | None, session: Session, period: insights.Period,
          embed: Embed | None = None, distance: float = E5_DISTANCE) -> dict[str, Any]:
    """The open inbox of the period (triaged messages left out), as the console shows it."""
    messages = collect(events, period) if events is not None else []
    done = triage.triaged(session, [m.key for m in messages])
    messages = [m for m in messages if m.key not in done]
    groups = group(messages, session, embed, distance)
    return {"from": period.date_from.isoformat(), "to": period.date_to.isoformat(),
            "timezone": str(period.tz), "events_available": events is not None,
            "messages": len(messages), "truncated": len(messages) > MAX_MESSAGES,
            "groups": [view(g, period) for g in groups]}


# --- add as similar question -------------------------------------------------------------------
def latest_entry(session: Session, entry_id: str) -> Entry | None:
    """The entry's latest revision (a pending draft included, so that it is not lost)."""
    revisions = store.history(session, entry_id)
    return store.entry_of(revisions[-1]) if revisions else None


def with_similar(entry: Entry, texts: Iterable[str]) -> tuple[Entry, list[str]]:
    """The entry with ``texts`` added as similar questions (those it already has, in any
    script or punctuation, are skipped); KnowledgeError when the result is invalid."""
    known = {normalized_question(q) for q in entry.questions}
    added: list[str] = []
    for candidate in texts:
        masked = mask_personal_data(candidate).strip()
        key = normalized_question(masked)
        if masked and key and key not in known:
            known.add(key)
            added.append(masked)
    content = entry.content()
    content["similar"] = [*entry.similar, *added]
    return parse_entry({**content, "id": entry.id}), added
