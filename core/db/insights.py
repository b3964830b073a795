"""The support report: figures for a period and a channel (definitions: docs/insights.md).

Two databases feed it, each read through documented SQL views in its own database:

- the merchant database (``insights_handoffs``, ``insights_lockouts``; migration 0008):
  handoffs, queue wait, first response (delivered agent messages only), resolution,
  CSAT, conversations per agent, identity lock-outs;
- the event broker's database (Rasa's SQL broker ``events`` table; by default the
  separate file ``var/events.db``): conversations, containment, fallback, "did you
  mean", form funnels, top intents and knowledge entries. Rasa creates that table, so
  the views there (``insights_events``, ``insights_conversation_events``,
  ``insights_conversations``) are created by ``ensure_event_views``, idempotently.

The two are joined in Python (a conversation hands off when a handoff of the same sender
was queued during it), since by default they are different SQLite files. Sums, counts
and groupings run in SQL; percentiles are computed here over SQL-selected values with
PostgreSQL's ``percentile_cont`` rule, so a BI tool on PostgreSQL gets the same figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.service_hours import ServiceHours

# A handoff belongs to a conversation when queued between its first event and its last,
# with this much slack for clocks of different processes (rasa vs the action server).
LINK_SLACK_S = 5.0
MAX_DAYS = 366
TOP_N = 10
DID_YOU_MEAN = ("utter_did_you_mean", "utter_kb_did_you_mean")
# Forms: the slots they ask in order, and the bot response that means "done".
FORMS: dict[str, tuple[tuple[str, ...], str]] = {
    "verify_form": (("merchant_id", "phone_last4"), "utter_verified"),
    "appeal_form": (("appeal_category", "appeal_description", "appeal_contact",
                     "appeal_confirm"), "utter_appeal_filed"),
    "remote_advice_form": (("payer_location", "has_website_icp", "has_miniprogram",
                            "urgency", "monthly_volume"), "utter_recommend_"),
}
FUNNEL_NAMES = {"verify_form": "identity", "appeal_form": "appeal",
                "remote_advice_form": "advisor"}


class PeriodError(ValueError):
    """A period the report cannot cover (message in Chinese, for the console)."""


@dataclass(frozen=True)
class Period:
    """Whole local days ``date_from`` .. ``date_to`` (inclusive) in ``tz``, as the UTC
    half-open interval [start, end) the stored naive-UTC times are compared with."""

    date_from: dt.date
    date_to: dt.date
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.date_to < self.date_from:
            raise PeriodError("结束日期不能早于开始日期")
        if (self.date_to - self.date_from).days + 1 > MAX_DAYS:
            raise PeriodError(f"一次最多统计{MAX_DAYS}天")

    def _utc(self, day: dt.date) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(), tzinfo=self.tz)
        return local.astimezone(dt.timezone.utc).replace(tzinfo=None)

    @property
    def start(self) -> dt.datetime:
        return self._utc(self.date_from)

    @property
    def end(self) -> dt.datetime:
        return self._utc(self.date_to + dt.timedelta(days=1))

    def epochs(self) -> tuple[float, float]:
        return (self.start.replace(tzinfo=dt.timezone.utc).timestamp(),
                self.end.replace(tzinfo=dt.timezone.utc).timestamp())


# --- percentiles and ratios ---------------------------------------------------------------
def percentile(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


def ratio(numerator: int, denominator: int) -> float | None:
    """None (not 0) when nothing could be counted: an empty period has no rate."""
    return round(numerator / denominator, 4) if denominator else None


# --- the event broker's views -------------------------------------------------------------
def _json(dialect: str, path: str) -> str:
    """The text at ``path`` (dot-separated) of the JSON in ``data``."""
    if dialect == "postgresql":
        return "(data::json #>> '{" + path.replace(".", ",") + "}')"
    return f"json_extract(data, '$.{path}')"


def event_view_sql(dialect: str) -> list[str]:
    """The three event views, in creation order (docs/insights.md describes them)."""
    j = lambda path: _json(dialect, path)  # noqa: E731 - a local shorthand
    ts = (f"CAST({j('timestamp')} AS DOUBLE PRECISION)" if dialect == "postgresql"
          else f"CAST({j('timestamp')} AS REAL)")
    events = f"""
CREATE VIEW insights_events AS
SELECT id, sender_id, {j('event')} AS event, {ts} AS ts, {j('name')} AS name,
       {j('value')} AS value, {j('input_channel')} AS input_channel,
       {j('parse_data.intent.name')} AS intent,
       {j('metadata.utter_action')} AS utter_action,
       {j('metadata.knowledge_entry')} AS knowledge_entry,
       CASE WHEN {j('event')} = 'user' AND {j('text')} NOT LIKE 'EXTERNAL:%'
            THEN 1 ELSE 0 END AS merchant_message,
       CASE WHEN {j('event')} = 'user' AND {j('text')} NOT LIKE 'EXTERNAL:%'
                 AND {j('text')} NOT LIKE '/%' THEN 1 ELSE 0 END AS typed_message
FROM events
WHERE {j('event')} IN ('user', 'bot', 'action', 'active_loop', 'slot', 'session_started')
"""
    numbered = """
CREATE VIEW insights_conversation_events AS
SELECT e.*, SUM(CASE WHEN e.event = 'session_started' THEN 1 ELSE 0 END)
            OVER (PARTITION BY e.sender_id ORDER BY e.id ROWS UNBOUNDED PRECEDING)
            AS session_no
FROM insights_events e
"""

    def flag(condition: str) -> str:
        return f"MAX(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    def count(condition: str) -> str:
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    forms = []
    for form, (_, done) in FORMS.items():
        short = FUNNEL_NAMES[form]
        done_test = (f"utter_action LIKE '{done}%'" if done.endswith("_")
                     else f"utter_action = '{done}'")
        started = flag("event = 'active_loop' AND name = '" + form + "'")
        forms.append(f"{started} AS {short}_started")
        forms.append(f"{flag('event = ' + repr('bot') + ' AND ' + done_test)} AS {short}_done")
    dym = ", ".join(f"'{name}'" for name in DID_YOU_MEAN)
    conversations = f"""
CREATE VIEW insights_conversations AS
SELECT sender_id, session_no,
       MIN(CASE WHEN merchant_message = 1 THEN ts END) AS started_ts,
       MAX(ts) AS last_ts,
       MAX(CASE WHEN merchant_message = 1 THEN input_channel END) AS channel,
       {count('merchant_message = 1')} AS merchant_messages,
       {count('typed_message = 1')} AS typed_messages,
       {count("event = 'action' AND name = 'action_fallback'")} AS fallbacks,
       {count(f"event = 'bot' AND utter_action IN ({dym})")} AS did_you_mean,
       {count("event = 'bot' AND knowledge_entry IS NOT NULL")} AS knowledge_answers,
       {flag("event = 'active_loop' AND name = 'handoff_form'")} AS handoff_asked,
       {', '.join(forms)}
FROM insights_conversation_events
GROUP BY sender_id, session_no
HAVING {count('merchant_message = 1')} > 0
"""
    return [events, numbered, conversations]


EVENT_VIEWS = ("insights_events", "insights_conversation_events", "insights_conversations")


def ensure_event_views(connection: Connection) -> bool:
    """Creates the event views when Rasa's ``events`` table exists; False when it does
    not yet (rasa never started with the SQL broker). Existing views are kept: a changed
    definition must ``drop_event_views`` first. Two consoles creating them at once is
    fine (the loser finds them made)."""
    inspector = inspect(connection)
    if not inspector.has_table("events"):
        return False
    existing = set(inspector.get_view_names())
    if all(name in existing for name in EVENT_VIEWS):
        return True
    for name, sql in zip(EVENT_VIEWS, event_view_sql(connection.dialect.name), strict=True):
        if name in existing:
            continue
        try:
            connection.execute(text(sql))
            connection.commit()
        except DBAPIError:
            connection.rollback()
            if name not in inspect(connection).get_view_names():
                raise
    return True


def drop_event_views(connection: Connection) -> None:
    for name in reversed(EVENT_VIEWS):
        connection.execute(text(f"DROP VIEW IF EXISTS {name}"))
    connection.commit()


# --- merchant database --------------------------------------------------------------------
def _channel_clause(channel: str | None, column: str = "channel") -> str:
    return f" AND {column} = :channel" if channel else ""


def _handoff_rows(session: Session, period: Period, channel: str | None) -> list[Any]:
    return list(session.execute(text(
        "SELECT handoff_id, channel, sender_id, reason, status, is_ticket, agent_name, "
        "queued_at, satisfaction, queue_wait_s, first_response_s, resolution_s "
        "FROM insights_handoffs WHERE queued_at >= :start AND queued_at < :end"
        + _channel_clause(channel) + " ORDER BY queued_at").columns(queued_at=DateTime),
        {"start": period.start, "end": period.end, "channel": channel}))


def _lockouts(session: Session, period: Period, channel: str | None) -> int:
    return int(session.execute(text(
        "SELECT COUNT(*) FROM insights_lockouts WHERE attempted_at >= :start "
        "AND attempted_at < :end" + _channel_clause(channel)),
        {"start": period.start, "end": period.end, "channel": channel}).scalar_one())


def handoff_figures(rows: list[Any]) -> dict[str, Any]:
    live = [row for row in rows if not row.is_ticket]
    scores = [int(row.satisfaction) for row in rows if row.satisfaction is not None]
    waits = [float(row.queue_wait_s) for row in live if row.queue_wait_s is not None]
    firsts = [float(row.first_response_s) for row in live if row.first_response_s is not None]
    resolutions = [float(row.resolution_s) for row in rows if row.resolution_s is not None]
    per_agent = Counter(row.agent_name for row in rows if row.agent_name)
    distribution = Counter(scores)
    figures: dict[str, Any] = {
        "handoffs": len(rows),
        "handoffs_live": len(live),
        "tickets": len(rows) - len(live),
        "queue_abandoned": sum(1 for row in live if row.status == "cancelled"),
        "handoffs_by_reason": dict(sorted(Counter(row.reason for row in rows).items())),
        "csat_avg": round(sum(scores) / len(scores), 2) if scores else None,
        "csat_n": len(scores),
        "csat_response_rate": ratio(len(scores),
                                    sum(1 for row in rows if row.status == "closed")),
        "queue_wait_n": len(waits),
        "queue_wait_p50_s": percentile(waits, 0.5),
        "queue_wait_p90_s": percentile(waits, 0.9),
        "first_response_n": len(firsts),
        "first_response_p50_s": percentile(firsts, 0.5),
        "first_response_p90_s": percentile(firsts, 0.9),
        "resolution_n": len(resolutions),
        "resolution_p50_s": percentile(resolutions, 0.5),
        "resolution_p90_s": percentile(resolutions, 0.9),
        "conversations_per_agent": dict(sorted(per_agent.items())),
    }
    for score in range(1, 6):
        figures[f"csat_{score}"] = distribution.get(score, 0)
    return figures


# --- event broker database ----------------------------------------------------------------
def _conversation_rows(events: Connection, period: Period, channel: str | None) -> list[Any]:
    start, end = period.epochs()
    return list(events.execute(text(
        "SELECT * FROM insights_conversations WHERE started_ts >= :start "
        "AND started_ts < :end" + _channel_clause(channel) + " ORDER BY started_ts"),
        {"start": start, "end": end, "channel": channel}))


def _details(events: Connection, conversations_in: list[Any]) -> dict[str, Counter[str]]:
    """Intents of typed messages, answered knowledge entries and asked slots of these
    conversations: one pass over the numbered events (each pass numbers every session),
    kept in Python by conversation."""
    conversations = {(row.sender_id, int(row.session_no)) for row in conversations_in}
    if not conversations:
        return {"intents": Counter(), "entries": Counter(), "asked": Counter()}
    window = {"lo": min(row.started_ts for row in conversations_in),
              "hi": max(row.last_ts for row in conversations_in)}
    rows = events.execute(text(
        "SELECT sender_id, session_no, event, intent, knowledge_entry, value "
        "FROM insights_conversation_events "
        "WHERE ((event = 'user' AND typed_message = 1 AND intent IS NOT NULL "
        "       AND intent <> 'nlu_fallback') "
        "   OR (event = 'bot' AND knowledge_entry IS NOT NULL) "
        "   OR (event = 'slot' AND name = 'requested_slot' AND value IS NOT NULL)) "
        "AND ts >= :lo AND ts <= :hi"), window)
    intents: Counter[str] = Counter()
    entries: Counter[str] = Counter()
    asked: dict[str, set[tuple[str, int]]] = {}
    for row in rows:
        key = (row.sender_id, int(row.session_no))
        if key not in conversations:
            continue
        if row.event == "user":
            intents[row.intent] += 1
        elif row.event == "bot":
            entries[row.knowledge_entry] += 1
        else:
            asked.setdefault(str(row.value), set()).add(key)
    return {"intents": intents, "entries": entries,
            "asked": Counter({slot: len(keys) for slot, keys in asked.items()})}


def _top(counts: Counter[str]) -> list[dict[str, Any]]:
    """The most frequent first, ties by name."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_N]
    return [{"name": name, "count": count} for name, count in ranked]


def _handed_off(conversation: Any, queued: dict[str, list[tuple[float, bool]]]) -> tuple[bool, bool]:
    """(any handoff, a live one) queued during this conversation."""
    found = [live for at, live in queued.get(conversation.sender_id, [])
             if conversation.started_ts - LINK_SLACK_S <= at
             <= conversation.last_ts + LINK_SLACK_S]
    return bool(found), any(found)


def _handoff_times(merchant: Session, period: Period,
                   conversations: list[Any]) -> dict[str, list[tuple[float, bool]]]:
    """Per sender: (queued at, live) of the handoffs that may belong to these
    conversations: queued from the period's start to the last conversation's end (a
    conversation begun at 23:58 may hand off after midnight)."""
    if not conversations:
        return {}
    last = max(row.last_ts for row in conversations) + LINK_SLACK_S
    until = dt.datetime.fromtimestamp(last, dt.timezone.utc).replace(tzinfo=None)
    rows = merchant.execute(text(
        "SELECT sender_id, queued_at, is_ticket FROM insights_handoffs "
        "WHERE queued_at >= :start AND queued_at <= :until").columns(queued_at=DateTime),
        {"start": period.start - dt.timedelta(seconds=LINK_SLACK_S), "until": until})
    queued: dict[str, list[tuple[float, bool]]] = {}
    for row in rows:
        at = row.queued_at.replace(tzinfo=dt.timezone.utc).timestamp()
        queued.setdefault(row.sender_id, []).append((at, not row.is_ticket))
    return queued


def conversation_figures(events: Connection, merchant: Session, period: Period,
                         channel: str | None, hours: ServiceHours) -> dict[str, Any]:
    rows = _conversation_rows(events, period, channel)
    queued = _handoff_times(merchant, period, rows)
    any_handoff = live_handoff = eligible = eligible_live = 0
    for row in rows:
        handed, live = _handed_off(row, queued)
        any_handoff += handed
        live_handoff += live
        started = dt.datetime.fromtimestamp(row.started_ts, dt.timezone.utc).replace(tzinfo=None)
        if hours.is_open(started) or live:  # could hand off; a live one proves it could
            eligible += 1
            eligible_live += live
    total = len(rows)
    typed = sum(int(row.typed_messages) for row in rows)
    fallbacks = sum(int(row.fallbacks) for row in rows)
    did_you_mean = sum(int(row.did_you_mean) for row in rows)
    figures: dict[str, Any] = {
        "conversations": total,
        "merchant_messages": sum(int(row.merchant_messages) for row in rows),
        "typed_messages": typed,
        "contained": total - any_handoff,
        "contained_rate": ratio(total - any_handoff, total),
        "handoff_eligible_conversations": eligible,
        "handed_off_conversations": eligible_live,
        "handoff_rate": ratio(eligible_live, eligible),
        "handoff_or_ticket_rate": ratio(any_handoff, total),
        "handoff_asked_conversations": sum(int(row.handoff_asked) for row in rows),
        "fallbacks": fallbacks,
        "fallback_rate": ratio(fallbacks, typed),
        "conversations_with_fallback_rate": ratio(
            sum(1 for row in rows if row.fallbacks), total),
        "did_you_mean": did_you_mean,
        "did_you_mean_rate": ratio(did_you_mean, typed),
        "knowledge_answers": sum(int(row.knowledge_answers) for row in rows),
    }
    details = _details(events, rows)
    figures["top_intents"] = _top(details["intents"])
    figures["top_entries"] = _top(details["entries"])
    for form in FORMS:
        short = FUNNEL_NAMES[form]
        started = sum(int(getattr(row, f"{short}_started")) for row in rows)
        done = sum(1 for row in rows if getattr(row, f"{short}_started")
                   and getattr(row, f"{short}_done"))
        figures[f"funnel_{short}_started"] = started
        figures[f"funnel_{short}_completed"] = done
        figures[f"funnel_{short}_abandoned"] = started - done
        figures[f"funnel_{short}_asked"] = {slot: details["asked"].get(slot, 0)
                                           for slot in FORMS[form][0]}
    return figures


CONVERSATION_KEYS = (
    "conversations", "merchant_messages", "typed_messages", "contained", "contained_rate",
    "handoff_eligible_conversations", "handed_off_conversations", "handoff_rate",
    "handoff_or_ticket_rate", "handoff_asked_conversations", "fallbacks", "fallback_rate",
    "conversations_with_fallback_rate", "did_you_mean", "did_you_mean_rate",
    "knowledge_answers", "top_intents", "top_entries",
)


def summary(merchant: Session, events: Connection | None, date_from: dt.date,
            date_to: dt.date, channel: str | None = None,
            hours: ServiceHours | None = None) -> dict[str, Any]:
    """Every figure of the period (local days in the service-hours time zone), flat
    keys; conversation figures are None when the event broker's table is not there."""
    hours = hours or ServiceHours.from_env()
    period = Period(date_from, date_to, hours.tz)
    rows = _handoff_rows(merchant, period, channel)
    result: dict[str, Any] = {
        "from": date_from.isoformat(), "to": date_to.isoformat(), "channel": channel,
        "timezone": str(hours.tz), "events_available": False,
    }
    if events is not None and ensure_event_views(events):
        result["events_available"] = True
        result.update(conversation_figures(events, merchant, period, channel, hours))
    else:
        result.update(dict.fromkeys(CONVERSATION_KEYS))
    result.update(handoff_figures(rows))
    result["identity_lockouts"] = _lockouts(merchant, period, channel)
    return result


def flat_rows(figures: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """(metric, value) pairs for a CSV: groupings become one row per group."""
    for key, value in figures.items():
        if isinstance(value, dict):
            for name, count in value.items():
                yield f"{key}.{name}", count
        elif isinstance(value, list):
            for item in value:
                yield f"{key}.{item['name']}", item["count"]
        else:
            yield key, value
