"""How the cost of a turn grows with the conversation and with the tracker database.

    python -m bench.cluster.growth            # also run by python -m bench.cluster.run

1. A template: one short FAQ conversation through the REST channel of rasa1; its stored
   events (PostgreSQL ``events``) are the unit every synthetic history is made of.
2. Histories of 10, 100 and 500 turns are written straight into ``events`` (one
   executemany each, timestamps of the last minutes so the session is still open), then
   15 plain FAQ questions are sent to each of those senders one after the other
   (directly to rasa1, nothing else running): per-turn p50/p95.
3. The same 500 turns in a session that expired (timestamps two hours old,
   ``session_expiration_time`` is 60 min): the first new turn starts a session, the
   following turns load only the new session.
4. 100,000 stored conversations (``COPY`` of ~8 events each, sender ids
   ``rest:bulk-<run>-N``) and a 10-turn conversation measured again; the retrieval
   query's plan and time with the index on ``events.sender_id`` and with index scans
   disabled. The bulk rows are deleted afterwards (try/finally) and the table vacuumed.
5. In-process building blocks (rasa imported here, no server): the SQL fetch, JSON
   decoding + ``DialogueStateTracker.from_dict`` (the replay of every event) and
   ``tracker.past_states`` (featurization of the whole history, done by the policies at
   every prediction, whatever ``max_history`` is) for each length.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import time
import uuid
from contextlib import suppress
from typing import Any

import requests

from bench.cluster.common import (
    PROJECT_ROOT,
    REPLICA_PORTS,
    REST_PREFIX,
    WEBHOOK,
    Cluster,
    connect,
    log,
    merge_results,
    percentiles,
    tracker_dsn,
)
from bench.cluster.convs import PLAIN_QUESTIONS

LENGTHS = (10, 100, 500)
TURNS_MEASURED = 15  # per sender; REST allows 20 a minute per sender
BULK_CONVERSATIONS = 100_000

# Rasa's SQLTrackerStore._event_query (latest session only), as SQL.
RETRIEVE_SQL = """
SELECT events.id, events.data FROM events,
  (SELECT max(events.timestamp) AS session_start FROM events
    WHERE events.sender_id = %(s)s AND events.type_name = 'session_started') AS anon_1
WHERE events.sender_id = %(s)s
  AND (events.timestamp >= anon_1.session_start OR anon_1.session_start IS NULL)
ORDER BY events.id
"""


def say(url: str, headers: dict[str, str], sender: str, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = requests.post(url, json={"sender": sender, "message": text}, headers=headers,
                             timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    reply = ""
    with suppress(ValueError):
        reply = "\n".join(str(m.get("text") or "") for m in response.json())
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code} for {sender}: {reply[:200]}")
    return elapsed, reply


def measure_turns(url: str, headers: dict[str, str], sender: str, n: int = TURNS_MEASURED,
                  skip_first: bool = False) -> dict[str, Any]:
    times, unexpected = [], 0
    for index in range(n):
        text, fragment = PLAIN_QUESTIONS[index % len(PLAIN_QUESTIONS)]
        elapsed, reply = say(url, headers, sender, text)
        times.append(elapsed)
        unexpected += fragment not in reply
    first = times[0]
    if skip_first:
        times = times[1:]
    return {**percentiles(times), "first_ms": round(first, 1), "n": len(times),
            "unexpected": unexpected, "all_ms": [round(t, 1) for t in times]}


# --------------------------------------------------------------------------- templates

def fetch_events(dsn: str, sender: str) -> list[tuple[str, str | None, str | None, str]]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT type_name, intent_name, action_name, data FROM events "
                    "WHERE sender_id = %s ORDER BY id", (sender,))
        return cur.fetchall()


def split_template(rows: list[tuple]) -> tuple[list[tuple], list[list[tuple]]]:
    """Events before the first user event (session start) and one unit per user turn."""
    prefix: list[tuple] = []
    units: list[list[tuple]] = []
    for row in rows:
        if row[0] == "user":
            units.append([row])
        elif units:
            units[-1].append(row)
        else:
            prefix.append(row)
    return prefix, units


def retimed(rows: list[tuple], sender: str, start: float, step: float) -> list[tuple]:
    out = []
    for index, (type_name, intent, action, data) in enumerate(rows):
        timestamp = start + index * step
        body = json.loads(data)
        body["timestamp"] = timestamp
        out.append((sender, type_name, timestamp, intent, action, json.dumps(body)))
    return out


def history(prefix: list[tuple], units: list[list[tuple]], turns: int) -> list[tuple]:
    rows = list(prefix)
    for index in range(turns):
        rows.extend(units[index % len(units)])
    return rows


def insert_rows(dsn: str, rows: list[tuple]) -> None:
    from psycopg2.extras import execute_values

    with connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        execute_values(cur, "INSERT INTO events (sender_id, type_name, timestamp, "
                            "intent_name, action_name, data) VALUES %s", rows, page_size=1000)
        conn.commit()


def delete_sender(dsn: str, sender: str) -> None:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM events WHERE sender_id = %s", (sender,))


# ------------------------------------------------------------------------ query timing

def explain(dsn: str, sender: str, index_scans: bool = True, repeat: int = 5
            ) -> dict[str, Any]:
    """Median execution time of the retrieval query (EXPLAIN ANALYZE) and its plan."""
    with connect(dsn) as conn, conn.cursor() as cur:
        if not index_scans:
            cur.execute("SET enable_indexscan = off; SET enable_bitmapscan = off; "
                        "SET enable_indexonlyscan = off")
        times, plan = [], ""
        for _ in range(repeat):
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + RETRIEVE_SQL, {"s": sender})
            result = cur.fetchone()[0][0]
            times.append(float(result["Execution Time"]))
            plan = summarize_plan(result["Plan"])
        return {"ms": round(statistics.median(times), 3), "plan": plan}


def summarize_plan(node: dict[str, Any]) -> str:
    parts = [node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else "")]
    for child in node.get("Plans", []):
        parts.append(summarize_plan(child))
    return " > ".join(parts)


def sql_fetch_ms(dsn: str, sender: str, repeat: int = 5) -> float:
    with connect(dsn) as conn, conn.cursor() as cur:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            cur.execute(RETRIEVE_SQL, {"s": sender})
            cur.fetchall()
            times.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(times), 2)


def indexes(dsn: str) -> list[str]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'events'")
        return [row[0] for row in cur.fetchall()]


# --------------------------------------------------------------------- in-process parts

def building_blocks(dsn: str, senders: dict[int, str]) -> dict[str, Any]:
    """SQL fetch, decode + replay, past_states per history length, in this process."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    out: dict[str, Any] = {}
    for turns, sender in senders.items():
        with connect(dsn) as conn, conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute(RETRIEVE_SQL, {"s": sender})
            rows = cur.fetchall()
            sql_ms = (time.perf_counter() - started) * 1000
        decode, replay, states = [], [], []
        for _ in range(3):
            started = time.perf_counter()
            events = [json.loads(data) for _, data in rows]
            decode.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            tracker = DialogueStateTracker.from_dict(sender, events, domain.slots)
            replay.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            tracker.past_states(domain)
            states.append((time.perf_counter() - started) * 1000)
        # What rasa POSTs to the action server at every custom action: the whole tracker
        # (RemoteAction: tracker.current_state(EventVerbosity.ALL)) plus the domain.
        started = time.perf_counter()
        action_body = json.dumps({"tracker": tracker.current_state(EventVerbosity.ALL),
                                  "domain": domain.as_dict()})
        dump_ms = (time.perf_counter() - started) * 1000
        out[str(turns)] = {
            "events": len(rows), "sql_fetch_ms": round(sql_ms, 2),
            "action_request_kb": round(len(action_body.encode()) / 1024, 1),
            "action_request_dump_ms": round(dump_ms, 2),
            "json_decode_ms": round(min(decode), 2),
            "tracker_from_dict_ms": round(min(replay), 2),
            "past_states_ms": round(min(states), 2),
        }
    return out


def save_costs(dsn: str, senders: dict[int, str], repeat: int = 3) -> dict[str, Any]:
    """Saving one more turn: rasa's own SQLTrackerStore.save with an event broker (its
    stream_events re-reads and rebuilds the whole tracker to find the new events: the
    cost before commit 8a3f039), this project's PrivateSQLTrackerStore.save with a
    broker (publishes the events it stored, no re-read) and without a broker."""
    import asyncio

    from rasa.core.brokers.broker import EventBroker
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from sqlalchemy.engine import make_url

    from addons.stores.tracker_store import PrivateSQLTrackerStore

    class CountingBroker(EventBroker):
        def __init__(self) -> None:
            self.published = 0

        def publish(self, event: dict[str, Any]) -> None:
            self.published += 1

    url = make_url(dsn)
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    kwargs = {"dialect": "postgresql", "host": url.host, "port": url.port or 5432,
              "db": url.database, "username": url.username, "password": url.password}
    stores = {"rasa_with_broker": SQLTrackerStore(domain, event_broker=CountingBroker(),
                                                  **kwargs),
              "with_broker": PrivateSQLTrackerStore(domain, event_broker=CountingBroker(),
                                                    **kwargs),
              "without_broker": PrivateSQLTrackerStore(domain, **kwargs)}
    out: dict[str, Any] = {}

    async def one(store: Any, sender: str) -> tuple[float, float]:
        started = time.perf_counter()
        tracker = await store.retrieve(sender)
        retrieve_ms = (time.perf_counter() - started) * 1000
        tracker.update(UserUttered("客服电话多少", {"name": "ask_hotline", "confidence": 1.0}))
        tracker.update(ActionExecuted("utter_hotline"))
        tracker.update(BotUttered("95017"))
        tracker.update(ActionExecuted("action_listen"))
        started = time.perf_counter()
        await store.save(tracker)
        return retrieve_ms, (time.perf_counter() - started) * 1000

    for turns, sender in senders.items():
        row: dict[str, float] = {}
        for name, store in stores.items():
            results = [asyncio.run(one(store, sender)) for _ in range(repeat)]
            row["retrieve_ms"] = round(min(r[0] for r in results), 1)
            row[f"save_{name}_ms"] = round(min(r[1] for r in results), 1)
        out[str(turns)] = row
    for store in stores.values():
        store.engine.dispose()
    return out


# ------------------------------------------------------------------------- bulk load

def bulk_copy(dsn: str, prefix_rows: list[tuple], unit: list[tuple], run: str,
              conversations: int, chunk: int = 10_000) -> tuple[int, int, float]:
    """COPY ``conversations`` short conversations (session start + one FAQ turn) into
    events; returns (min id, max id, seconds)."""
    template = prefix_rows + unit
    now = time.time()
    started = time.perf_counter()
    with connect(dsn, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM events")
        before = cur.fetchone()[0]
        bodies = [json.loads(row[3]) for row in template]
        for first in range(0, conversations, chunk):
            buffer = io.StringIO()
            for number in range(first, min(conversations, first + chunk)):
                sender = f"{REST_PREFIX}bulk-{run}-{number}"
                base = now - 86_400 * 30 + number * 20.0  # spread over the last month
                for index, (row, body) in enumerate(zip(template, bodies, strict=False)):
                    timestamp = base + index * 0.01
                    body["timestamp"] = timestamp
                    data = json.dumps(body, ensure_ascii=False)
                    buffer.write("\t".join((
                        sender, row[0], repr(timestamp), _copy_text(row[1]),
                        _copy_text(row[2]), _escape(data))) + "\n")
            buffer.seek(0)
            cur.copy_expert("COPY events (sender_id, type_name, timestamp, intent_name, "
                            "action_name, data) FROM STDIN", buffer)
        conn.commit()
        cur.execute("SELECT max(id) FROM events")
        after = cur.fetchone()[0]
    return before + 1, after, time.perf_counter() - started


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n") \
        .replace("\r", "\\r")


def _copy_text(value: str | None) -> str:
    return "\\N" if value is None else _escape(value)


def bulk_delete(dsn: str, run: str, low: int, high: int) -> float:
    started = time.perf_counter()
    with connect(dsn) as conn, conn.cursor() as cur:
        step = 200_000
        for first in range(low, high + 1, step):
            cur.execute("DELETE FROM events WHERE id BETWEEN %s AND %s AND sender_id LIKE %s",
                        (first, min(high, first + step - 1), f"{REST_PREFIX}bulk-{run}-%"))
        cur.execute("DELETE FROM events WHERE sender_id LIKE %s", (f"{REST_PREFIX}bulk-{run}-%",))
        cur.execute("VACUUM ANALYZE events")
    return time.perf_counter() - started


# ------------------------------------------------------------------------------- main

def run_growth(cluster: Cluster, replica: str = "rasa1", bulk: int = BULK_CONVERSATIONS
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    dsn = tracker_dsn(cluster)
    url = f"http://127.0.0.1:{REPLICA_PORTS[replica]}{WEBHOOK}"
    headers = cluster.headers()
    run = uuid.uuid4().hex[:6]
    flat: dict[str, Any] = {}
    details: dict[str, Any] = {"replica": replica, "turns_measured": TURNS_MEASURED,
                               "indexes_on_events": indexes(dsn)}
    created: list[str] = []
    try:
        # Template: session start + 6 FAQ turns from a real conversation.
        tpl = f"growth-{run}-tpl"
        created.append(REST_PREFIX + tpl)
        for text, _ in PLAIN_QUESTIONS:
            say(url, headers, tpl, text)
        prefix, units = split_template(fetch_events(dsn, REST_PREFIX + tpl))
        if not prefix or not units:
            raise RuntimeError("template conversation has no stored events")
        details["template_events_per_turn"] = [len(u) for u in units]

        # A fresh conversation (0 turns before).
        fresh = f"growth-{run}-len0"
        created.append(REST_PREFIX + fresh)
        details["len0"] = measure_turns(url, headers, fresh)
        flat["turn_p50_ms_len0"] = details["len0"]["p50_ms"]

        senders: dict[int, str] = {}
        for turns in LENGTHS:
            sender = f"growth-{run}-len{turns}"
            stored = REST_PREFIX + sender
            created.append(stored)
            rows = history(prefix, units, turns)
            step = 0.05
            insert_rows(dsn, retimed(rows, stored, time.time() - len(rows) * step - 5, step))
            senders[turns] = stored
            log(f"growth: {turns}-turn history ({len(rows)} events) stored, measuring")
            details[f"len{turns}"] = measure_turns(url, headers, sender)
            flat[f"turn_p50_ms_len{turns}"] = details[f"len{turns}"]["p50_ms"]
            flat[f"turn_p95_ms_len{turns}"] = details[f"len{turns}"]["p95_ms"]
            flat[f"turn_unexpected_len{turns}"] = details[f"len{turns}"]["unexpected"]
            details[f"len{turns}"]["events_before"] = len(rows)
            details[f"len{turns}"]["query"] = explain(dsn, stored)

        # The same 500 turns, but the session expired (2 h old, expiration is 60 min).
        sender = f"growth-{run}-len500-expired"
        stored = REST_PREFIX + sender
        created.append(stored)
        rows = history(prefix, units, 500)
        insert_rows(dsn, retimed(rows, stored, time.time() - 7200 - len(rows) * 0.05, 0.05))
        expired = measure_turns(url, headers, sender, skip_first=True)
        details["len500_expired_session"] = expired
        flat["turn_p50_ms_len500_expired_session"] = expired["p50_ms"]
        flat["turn_first_ms_len500_expired_session"] = expired["first_ms"]
        details["len500_expired_session"]["query"] = explain(dsn, stored)

        details["building_blocks"] = building_blocks(dsn, {0: REST_PREFIX + fresh, **senders})
        details["save_costs"] = save_costs(dsn, senders)
        for turns, row in details["save_costs"].items():
            flat[f"save_ms_len{turns}_rasa_stream_events"] = row["save_rasa_with_broker_ms"]
            flat[f"save_ms_len{turns}_with_broker"] = row["save_with_broker_ms"]
            flat[f"save_ms_len{turns}_without_broker"] = row["save_without_broker_ms"]

        # 100,000 stored conversations.
        if bulk:
            free_gb = shutil.disk_usage("/var/lib/postgresql" if
                                        __import__("os").path.exists("/var/lib/postgresql")
                                        else "/").free / 1e9
            details["disk_free_gb_before_bulk"] = round(free_gb, 1)
            if free_gb < 3:
                raise RuntimeError(f"only {free_gb:.1f} GB free: no bulk load")
            low = high = 0
            try:
                log(f"growth: COPY of {bulk} conversations into events")
                low, high, copy_s = bulk_copy(dsn, prefix, units[0], run, bulk)
                with connect(dsn) as conn, conn.cursor() as cur:
                    cur.execute("ANALYZE events")
                    cur.execute("SELECT count(*), count(DISTINCT sender_id), "
                                "pg_size_pretty(pg_total_relation_size('events')) FROM events")
                    rows_total, senders_total, size = cur.fetchone()
                details["bulk"] = {"conversations": bulk, "rows": high - low + 1,
                                   "copy_s": round(copy_s, 1), "table_rows": rows_total,
                                   "table_senders": senders_total, "table_size": size}
                flat["bulk_copy_s"] = round(copy_s, 1)
                flat["bulk_rows"] = high - low + 1
                log(f"growth: {high - low + 1} rows in {copy_s:.1f} s; measuring")
                sender = f"growth-{run}-len10-bulk"
                stored = REST_PREFIX + sender
                created.append(stored)
                rows = history(prefix, units, 10)
                insert_rows(dsn, retimed(rows, stored, time.time() - len(rows) * 0.05 - 5,
                                         0.05))
                details["len10_100k"] = measure_turns(url, headers, sender)
                flat["turn_p50_ms_100k_conversations"] = details["len10_100k"]["p50_ms"]
                flat["turn_p95_ms_100k_conversations"] = details["len10_100k"]["p95_ms"]
                with_index = explain(dsn, stored)
                without_index = explain(dsn, stored, index_scans=False, repeat=3)
                details["len10_100k"]["query_with_index"] = with_index
                details["len10_100k"]["query_without_index"] = without_index
                flat["query_ms_100k_with_index"] = with_index["ms"]
                flat["query_ms_100k_without_index"] = without_index["ms"]
            finally:
                if high:
                    log("growth: deleting the bulk rows")
                    details.setdefault("bulk", {})["delete_s"] = round(
                        bulk_delete(dsn, run, low, high), 1)
    finally:
        for sender in created:
            with suppress(Exception):
                delete_sender(dsn, sender)
    lens = [flat.get(f"turn_p50_ms_len{n}") for n in (10, 500)]
    if all(lens):
        flat["turn_p50_growth_len500_over_len10"] = round(lens[1] / lens[0], 2)
    return flat, {"growth": details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replica", default="rasa1", choices=sorted(REPLICA_PORTS))
    parser.add_argument("--bulk", type=int, default=BULK_CONVERSATIONS,
                        help="stored conversations for the big-table figure (0: skip)")
    args = parser.parse_args()
    cluster = Cluster()
    flat, details = run_growth(cluster, args.replica, args.bulk)
    merge_results(flat, details)
    print(json.dumps(flat, indent=2))


if __name__ == "__main__":
    main()
