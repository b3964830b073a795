"""Faults under load: what merchants see, how long it takes to recover, and a count
proving no turn was lost or stored twice.

    python -m bench.cluster.chaos                       # every scenario (~8 minutes)
    python -m bench.cluster.chaos --only redis_down,rabbitmq_down

Every load scenario runs the locustfile (4 merchants, whole conversations, no think
time) through nginx for a few seconds, injects the fault, keeps it for a while, restores
the service (always: try/finally), waits until every process answers its health check
and keeps the load a little longer. Then what each client sent is compared with the
``user`` events stored in PostgreSQL for those senders (common.compare_sender).

Scenarios (key F in bench/results/cluster.json):
  kill_rasa       kill -9 of rasa1, restarted after 10 s (``cluster.sh start rasa1``)
  kill_actions    kill -9 of actions1, restarted after 10 s
  redis_down      ``redis-cli shutdown nosave``, 30 s, ``redis-server --daemonize yes ...``
  postgres_down   ``pg_ctlcluster 15 main stop``, 30 s, ``... start``
  rabbitmq_down   ``rabbitmqctl stop_app``, 30 s, ``rabbitmqctl start_app``
  same_sender_race  pairs of messages of one sender sent at the same moment, one straight
                  to rasa1 (5105), one to rasa2 (5106); 24 senders, half of them new

Figures per scenario F:
  fault_F_requests   turns started between the fault and the moment every process was
                     healthy again
  fault_F_errors     of those, turns without a normal answer (HTTP errors, no answer,
                     empty answers, and explicit busy answers: fault_F_busy of them)
  fault_F_lost_turns a sent message with no stored user event whose client got neither
                     an HTTP error status nor a busy answer (a normal answer, an empty
                     one, or no answer at all: timeout/reset), over the whole scenario;
                     fault_F_lost_silent: those whose client got a normal 200 answer
  fault_F_duplicated_turns  user events stored more often than the client sent them
  fault_F_recovery_s from the end of the fault (kill scenarios: the kill itself; the
                     others: the restore command) until the end of the last turn that
                     failed; 0 when nothing failed after that moment
  fault_F_restart_s  from the restore command until every process answered its health
                     check
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.cluster.common import (
    BUSY_MARKERS,
    REPLICA_PORTS,
    REST_PREFIX,
    WEBHOOK,
    Cluster,
    compare_all,
    log,
    machine,
    merge_results,
    stored_event_types,
    tracker_dsn,
)
from bench.cluster.convs import PLAIN_QUESTIONS
from bench.cluster.drive import ERROR_OUTCOMES, answered, sent_by_sender, start_locust

USERS = 4
PRE_S = 8
POST_S = 12
PROCESSES = ("rasa1", "rasa2", "actions1", "actions2")
SCENARIOS = ("kill_rasa", "kill_actions", "redis_down", "postgres_down", "rabbitmq_down",
             "same_sender_race")


def sh(cmd: list[str], timeout: float = 120, check: bool = False) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = (proc.stdout + proc.stderr).strip()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {out[-500:]}")
    return out


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - not yet
            pass
        time.sleep(every)
    return False


# ------------------------------------------------------------------ faults and restores

def kill9(cluster: Cluster, name: str) -> None:
    """kill -9 of the process named in var/cluster/NAME.pid (cluster.sh kill NAME)."""
    proc = cluster.sh("kill", name, check=False, timeout=60)
    if cluster.alive(name):  # the script may stop gently; the scenario wants SIGKILL
        pid = cluster.pid(name)
        if pid:
            os.kill(pid, signal.SIGKILL)
    log(f"killed {name}: {proc.stdout.strip()[-200:]}")


def start_process(cluster: Cluster, name: str) -> None:
    proc = cluster.sh("start", name, check=False, timeout=300)
    if proc.returncode != 0:
        log(f"cluster.sh start {name} failed: {proc.stdout[-300:]} {proc.stderr[-300:]}; "
            "trying restart")
        cluster.sh("restart", name, timeout=300)


def redis_up() -> bool:
    return sh(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], timeout=5) == "PONG"


def redis_stop() -> None:
    sh(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], timeout=15)


def redis_start() -> None:
    if not redis_up():
        sh(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
            "--save", "", "--appendonly", "no"], timeout=30, check=True)
    wait_until(redis_up, 30)


def postgres_up() -> bool:
    return "accepting" in sh(["pg_isready", "-h", "127.0.0.1", "-p", "5432"], timeout=5)


def postgres_stop() -> None:
    sh(["pg_ctlcluster", "15", "main", "stop"], timeout=60, check=True)


def postgres_start() -> None:
    if not postgres_up():
        sh(["pg_ctlcluster", "15", "main", "start"], timeout=120, check=True)
    wait_until(postgres_up, 60)


def rabbit_up() -> bool:
    out = sh(["rabbitmqctl", "-q", "eval", "rabbit:is_running()."], timeout=30)
    return out.strip() == "true"


def rabbit_stop() -> None:
    sh(["rabbitmqctl", "stop_app"], timeout=120, check=True)


def rabbit_start() -> None:
    sh(["rabbitmqctl", "start_app"], timeout=180, check=True)
    wait_until(rabbit_up, 60, every=2)


@dataclass
class Fault:
    name: str
    inject: Callable[[], None]
    restore: Callable[[], None]
    hold_s: float
    kill: bool  # the fault is a kill: recovery counts from the kill itself
    notes: list[str] = field(default_factory=list)


def faults(cluster: Cluster) -> dict[str, Fault]:
    return {
        "kill_rasa": Fault("kill_rasa", lambda: kill9(cluster, "rasa1"),
                           lambda: start_process(cluster, "rasa1"), 10, True),
        "kill_actions": Fault("kill_actions", lambda: kill9(cluster, "actions1"),
                              lambda: start_process(cluster, "actions1"), 10, True),
        "redis_down": Fault("redis_down", redis_stop, redis_start, 30, False),
        "postgres_down": Fault("postgres_down", postgres_stop, postgres_start, 30, False),
        "rabbitmq_down": Fault("rabbitmq_down", rabbit_stop, rabbit_start, 30, False),
    }


# --------------------------------------------------------------------------- scenarios

def ensure_healthy(cluster: Cluster, timeout: float = 240) -> None:
    """Every backing service and process up before a scenario (and after it)."""
    if not redis_up():
        redis_start()
    if not postgres_up():
        postgres_start()
    if not wait_until(rabbit_up, 5, every=1):
        rabbit_start()
    for name in PROCESSES:
        if not cluster.alive(name) and not cluster.healthy(name):
            log(f"{name} is not running: starting it")
            start_process(cluster, name)
    cluster.wait_healthy(PROCESSES, timeout=timeout)


def load_scenario(cluster: Cluster, fault: Fault) -> tuple[dict[str, Any], dict[str, Any]]:
    ensure_healthy(cluster)
    run_id = f"chaos-{fault.name.replace('_', '')}-{uuid.uuid4().hex[:5]}"
    locust = start_locust(cluster.base_url, USERS, None, run_id=run_id)
    restart_s: float | None = None
    t_fault = t_restore = t_healthy = 0.0
    try:
        time.sleep(PRE_S)
        log(f"{fault.name}: injecting")
        t_fault = time.time()
        try:
            fault.inject()
            time.sleep(fault.hold_s)
        finally:
            log(f"{fault.name}: restoring")
            t_restore = time.time()
            fault.restore()
            try:
                cluster.wait_healthy(PROCESSES, timeout=240)
            except RuntimeError as exc:
                fault.notes.append(f"not healthy after the restore: {exc}")
                ensure_healthy(cluster)
            t_healthy = time.time()
            restart_s = round(t_healthy - t_restore, 1)
        time.sleep(POST_S)
    finally:
        records = locust.stop()
    return figures(cluster, fault, records, t_fault, t_restore, t_healthy, restart_s,
                   locust.output())


def figures(cluster: Cluster, fault: Fault, records: list[dict[str, Any]], t_fault: float,
            t_restore: float, t_healthy: float, restart_s: float | None, locust_out: str
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    done = answered(records)
    during = [r for r in done if t_fault <= r["t0"] <= t_healthy]
    failed = [r for r in done if r["outcome"] in ERROR_OUTCOMES or r["outcome"] == "busy"]
    failed_after_fault = [r for r in failed if r["t0"] + r["ms"] / 1000 >= t_fault]
    fault_end = t_fault if fault.kill else t_restore
    last_failure_end = max((r["t0"] + r["ms"] / 1000 for r in failed_after_fault),
                           default=None)
    recovery = 0.0 if last_failure_end is None else max(0.0, last_failure_end - fault_end)
    comparison = compare_all(tracker_dsn(cluster), sent_by_sender(records))
    sent_without_answer = sum(1 for r in records if r.get("ev") == "sent") - len(done)
    name = fault.name
    ok_during = [r for r in during if r["outcome"] == "ok"]
    flat = {
        f"fault_{name}_requests": len(during),
        f"fault_{name}_errors": sum(r["outcome"] in ERROR_OUTCOMES or r["outcome"] == "busy"
                                    for r in during),
        f"fault_{name}_busy": sum(r["outcome"] == "busy" for r in during),
        f"fault_{name}_lost_turns": comparison["lost"],
        f"fault_{name}_lost_silent": comparison["lost_silent"],
        f"fault_{name}_duplicated_turns": comparison["duplicated"],
        f"fault_{name}_recovery_s": round(recovery, 1),
        f"fault_{name}_restart_s": restart_s,
        f"fault_{name}_unexpected": sum(bool(r.get("unexpected")) for r in during),
        f"fault_{name}_total_turns": len(done),
        f"fault_{name}_total_errors": len(failed),
    }
    details = {
        "fault_s": round(t_restore - t_fault, 1),
        "fault_to_healthy_s": round(t_healthy - t_fault, 1),
        "outcomes_during": _count(r["outcome"] for r in during),
        "status_codes_during": _count(str(r["status"]) for r in during),
        "ok_answers_during": len(ok_during),
        "p50_ms_during": _p(r["ms"] for r in during),
        "p99_ms_during": _p((r["ms"] for r in during), 99),
        "max_ms_during": max((r["ms"] for r in during), default=None),
        "first_failure_after_fault_s": round(min(r["t0"] for r in failed_after_fault)
                                             - t_fault, 1) if failed_after_fault else None,
        "last_failure_after_fault_end_s": round(last_failure_end - fault_end, 1)
        if last_failure_end else None,
        "sent_without_answer": sent_without_answer,
        "comparison": comparison,
        "failure_examples": [{k: r[k] for k in ("kind", "label", "status", "outcome",
                                                 "reply", "ms")} for r in failed[:6]],
        "timeline": timeline(done, t_fault),
        "notes": fault.notes,
        "locust_tail": locust_out[-800:],
    }
    return flat, details


def timeline(done: list[dict[str, Any]], t_fault: float, bucket_s: float = 2.0
             ) -> list[str]:
    """Per 2 s bucket from the fault: turns started, ok, failed (for the report)."""
    buckets: dict[int, list[int]] = {}
    for r in done:
        key = int((r["t0"] - t_fault) // bucket_s)
        ok = r["outcome"] == "ok"
        entry = buckets.setdefault(key, [0, 0])
        entry[0 if ok else 1] += 1
    return [f"{k * bucket_s:+.0f}s ok={v[0]} failed={v[1]}" for k, v in sorted(buckets.items())]


def _p(values: Any, q: float = 50) -> float | None:
    import numpy as np

    values = list(values)
    return round(float(np.percentile(values, q)), 1) if values else None


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


# ------------------------------------------------------------------ same-sender race

def post(url: str, headers: dict[str, str], sender: str, text: str) -> dict[str, Any]:
    started = time.time()
    try:
        response = requests.post(url, json={"sender": sender, "message": text},
                                 headers=headers, timeout=60)
        try:
            reply = " ".join(str(m.get("text") or "") for m in response.json()
                             if isinstance(m, dict))
        except ValueError:
            reply = response.text[:200]
        status = response.status_code
    except requests.RequestException as exc:
        status, reply = 0, f"{type(exc).__name__}"
    busy = any(marker in reply for marker in BUSY_MARKERS)
    if status == 0:
        outcome = "transport"
    elif busy:
        outcome = "busy"
    elif status != 200:
        outcome = "http_error"
    else:
        outcome = "ok" if reply.strip() else "empty"
    return {"t0": started, "ms": (time.time() - started) * 1000, "status": status,
            "outcome": outcome, "reply": reply[:160], "text": text}


def race_scenario(cluster: Cluster, pairs: int = 24) -> tuple[dict[str, Any], dict[str, Any]]:
    ensure_healthy(cluster)
    headers = cluster.headers()
    urls = [f"http://127.0.0.1:{REPLICA_PORTS[n]}{WEBHOOK}" for n in ("rasa1", "rasa2")]
    run = uuid.uuid4().hex[:5]
    dsn = tracker_dsn(cluster)
    sent: dict[str, list[dict[str, Any]]] = {}
    results: list[dict[str, Any]] = []
    t_start = time.time()
    for index in range(pairs):
        sender = f"race-{run}-{index}"
        existing = index % 2 == 1
        if existing:  # a conversation that already has a turn stored
            first = post(urls[index % 2], headers, sender, "你好")
            sent.setdefault(sender, []).append({"text": "你好", "outcome": first["outcome"]})
        a = PLAIN_QUESTIONS[index % len(PLAIN_QUESTIONS)]
        b = PLAIN_QUESTIONS[(index + 1) % len(PLAIN_QUESTIONS)]
        barrier = threading.Barrier(2)
        out: list[dict[str, Any]] = [{}, {}]

        def fire(slot: int, url: str, text: str, sender: str = sender,
                 barrier: threading.Barrier = barrier, out: list = out) -> None:
            barrier.wait()
            out[slot] = post(url, headers, sender, text)

        threads = [threading.Thread(target=fire, args=(0, urls[0], a[0])),
                   threading.Thread(target=fire, args=(1, urls[1], b[0]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for item, (_, fragment) in zip(out, (a, b), strict=False):
            item["unexpected"] = item["outcome"] == "ok" and fragment not in item["reply"]
            item["sender"] = sender
            results.append(item)
        # Both were sent at the same moment: either stored order is right (any_order_tail).
        sent.setdefault(sender, []).extend({"text": item["text"], "outcome": item["outcome"]}
                                           for item in out)
    t_end = time.time()

    comparison = compare_all(dsn, sent, any_order_tail=2)
    # The two turns must not interleave: the second user event comes after the first
    # turn's closing action_listen.
    interleaved = 0
    order_examples = []
    for sender in sent:
        types = stored_event_types(dsn, REST_PREFIX + sender)
        users = [i for i, (t, _) in enumerate(types) if t == "user"]
        for previous, current in zip(users, users[1:], strict=False):
            between = types[previous + 1:current]
            if not between or between[-1] != ("action", "action_listen"):
                interleaved += 1
                if len(order_examples) < 3:
                    order_examples.append({"sender": sender, "events": types})
    lat = sorted(r["ms"] for r in results)
    slower = [max(pair, key=lambda r: r["ms"])["ms"] for pair in zip(results[::2],
                                                                     results[1::2], strict=False)]
    flat = {
        "fault_same_sender_race_requests": len(results),
        "fault_same_sender_race_errors": sum(r["outcome"] != "ok" for r in results),
        "fault_same_sender_race_busy": sum(r["outcome"] == "busy" for r in results),
        "fault_same_sender_race_lost_turns": comparison["lost"],
        "fault_same_sender_race_lost_silent": comparison["lost_silent"],
        "fault_same_sender_race_duplicated_turns": comparison["duplicated"],
        "fault_same_sender_race_interleaved_turns": interleaved,
        "fault_same_sender_race_recovery_s": 0.0,
        "fault_same_sender_race_unexpected": sum(bool(r.get("unexpected")) for r in results),
    }
    details = {
        "pairs": pairs, "wall_s": round(t_end - t_start, 1),
        "p50_ms": _p(lat), "max_ms": round(lat[-1], 1) if lat else None,
        "slower_of_pair_p50_ms": _p(slower),
        "outcomes": _count(r["outcome"] for r in results),
        "comparison": comparison,
        "interleaving_examples": order_examples,
        "failure_examples": [r for r in results if r["outcome"] != "ok"][:5],
        "note": "no outage: recovery_s is 0 by definition; the slower answer of each pair "
                "waited for the other turn's conversation lock (Redis lock store)",
    }
    return flat, details


# -------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios ({', '.join(SCENARIOS)})")
    args = parser.parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    cluster = Cluster()
    if not cluster.healthy("rasa1") and not cluster.healthy("rasa2"):
        raise SystemExit("the cluster is not up: make cluster (scripts/cluster.sh up)")
    started = time.time()
    original_settings = cluster.raise_rate_limit()
    all_faults = faults(cluster)
    try:
        for name in wanted:
            log(f"scenario {name}")
            try:
                if name == "same_sender_race":
                    flat, details = race_scenario(cluster)
                else:
                    flat, details = load_scenario(cluster, all_faults[name])
            finally:
                ensure_healthy(cluster)  # always leave the service running
            merge_results(flat, {f"chaos_{name}": details})
            log(f"{name}: " + ", ".join(f"{k.split(name + '_', 1)[-1]}={v}"
                                         for k, v in flat.items()))
    finally:
        cluster.restore_rate_limit(original_settings)
    merge_results({"chaos_wall_s": round(time.time() - started, 1)},
                  {"chaos_machine": machine()})


if __name__ == "__main__":
    main()
