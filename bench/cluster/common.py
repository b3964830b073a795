"""Shared pieces of the cluster bench: the cluster's env file, scripts/cluster.sh, the
REST webhook, the tracker database and the comparison of what clients sent with the
``user`` events PostgreSQL stored.

Nothing here imports rasa or locust: the locustfile (gevent) and the chaos/growth
scripts (threads, psycopg2) both use it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = PROJECT_ROOT / "var" / "cluster"
ENV_FILE = CLUSTER_DIR / "env"
CLUSTER_SH = PROJECT_ROOT / "scripts" / "cluster.sh"
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
RESULTS_JSON = RESULTS_DIR / "cluster.json"
DETAILS_JSON = RESULTS_DIR / "cluster-details.json"
WEBHOOK = "/webhooks/rest/webhook"
REST_PREFIX = "rest:"  # addons/channels/rest.py prefixes every REST sender id
REPLICA_PORTS = {"rasa1": 5105, "rasa2": 5106}
ACTION_PORTS = {"actions1": 5155, "actions2": 5156}

# An answer that tells the merchant the service is busy (domain.yml utter_system_busy,
# the WeChat/REST error text, the topology's busy answer when the tracker store is down).
BUSY_MARKERS = ("繁忙", "有点忙", "稍后再", "暂时无法", "服务暂时")


def log(message: str) -> None:
    print(f"[cluster-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def read_env() -> dict[str, str]:
    """var/cluster/env (KEY=VALUE lines) over the process environment's defaults."""
    values: dict[str, str] = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


class Cluster:
    """scripts/cluster.sh and what it wrote to var/cluster."""

    def __init__(self) -> None:
        self.env = read_env()
        port = self.env.get("CLUSTER_PORT") or os.environ.get("CLUSTER_PORT") or "8080"
        self.base_url = f"http://127.0.0.1:{port}"
        self.secret = self.env.get("REST_SHARED_SECRET") or os.environ.get("REST_SHARED_SECRET")
        self.token = self.env.get("RASA_TOKEN", "")

    def reload(self) -> None:
        self.__init__()  # type: ignore[misc]

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Rest-Secret"] = self.secret
        return headers

    def sh(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["bash", str(CLUSTER_SH), *args], cwd=PROJECT_ROOT, text=True,
            capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc

    def rate_per_s(self) -> float:
        """nginx's per-address request rate of the running cluster (var/cluster/env)."""
        match = re.match(r"^(\d+)(r/[sm])?$", self.env.get("CLUSTER_RATE_PER_IP", "10r/s"))
        if not match:
            return 0.0
        return int(match.group(1)) / (60.0 if match.group(2) == "r/m" else 1.0)

    def raise_rate_limit(self) -> dict[str, str] | None:
        """Re-runs ``cluster.sh up`` with every current setting but a per-address rate
        of 10000 r/s (nginx is only reloaded); returns the settings to restore, or None
        when the limit is already high enough for a load run."""
        if self.rate_per_s() >= 1000:
            return None
        original = dict(self.env)
        log(f"nginx allows {original.get('CLUSTER_RATE_PER_IP')} per address: "
            "re-running cluster.sh up with CLUSTER_RATE_PER_IP=10000r/s for the bench")
        self.sh("up", env={**original, "CLUSTER_RATE_PER_IP": "10000r/s",
                           "CLUSTER_BURST_PER_IP": "10000"}, timeout=900)
        self.reload()
        return original

    def restore_rate_limit(self, original: dict[str, str] | None) -> None:
        if original is None:
            return
        log(f"restoring nginx's per-address rate {original.get('CLUSTER_RATE_PER_IP')}")
        self.sh("up", env=original, timeout=900, check=False)
        self.reload()

    def status_text(self) -> str:
        proc = self.sh("status", check=False, timeout=60)
        return proc.stdout + proc.stderr

    def pid(self, name: str) -> int | None:
        path = CLUSTER_DIR / f"{name}.pid"
        with suppress(OSError, ValueError):
            pid = int(path.read_text().split()[0])
            os.kill(pid, 0)
            return pid
        return None

    def alive(self, name: str) -> bool:
        return self.pid(name) is not None

    def health_url(self, name: str) -> str | None:
        if name in REPLICA_PORTS:
            return f"http://127.0.0.1:{REPLICA_PORTS[name]}/status?token={self.token}"
        if name in ACTION_PORTS:
            return f"http://127.0.0.1:{ACTION_PORTS[name]}/health"
        return None

    def healthy(self, name: str) -> bool:
        import requests

        url = self.health_url(name)
        if url is None:
            return self.alive(name)
        try:
            return requests.get(url, timeout=2).ok
        except requests.RequestException:
            return False

    def wait_healthy(self, names: Iterable[str], timeout: float = 240) -> float:
        """Seconds until every named process answers its health check."""
        started = time.monotonic()
        pending = list(names)
        while pending:
            pending = [n for n in pending if not self.healthy(n)]
            if not pending:
                break
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"not healthy after {timeout}s: {pending}")
            time.sleep(0.25)
        return time.monotonic() - started

    def model_ready(self, name: str) -> bool:
        """rasa /status answers and has a model loaded."""
        import requests

        url = self.health_url(name)
        try:
            body = requests.get(url, timeout=2).json()  # type: ignore[arg-type]
            return bool(body.get("model_id") or body.get("model_file"))
        except (requests.RequestException, ValueError):
            return False


# ----------------------------------------------------------------------------- database

def psycopg_dsn(url: str) -> str:
    """SQLAlchemy URL (postgresql+psycopg2://...) to a libpq URL."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def tracker_dsn(cluster: Cluster) -> str:
    url = cluster.env.get("TRACKER_DB_URL") or os.environ.get("TRACKER_DB_URL") or \
        "postgresql://postgres@127.0.0.1:5432/cluster_tracker"
    return psycopg_dsn(url)


@contextmanager
def connect(dsn: str, autocommit: bool = True) -> Iterator[Any]:
    import psycopg2

    conn = psycopg2.connect(dsn, connect_timeout=5)
    conn.autocommit = autocommit
    try:
        yield conn
    finally:
        conn.close()


def stored_user_events(dsn: str, senders: list[str], retries: int = 20) -> dict[str, list[str]]:
    """Stored ``user`` texts per (prefixed) sender id, in insertion order (events.id)."""
    out: dict[str, list[str]] = {s: [] for s in senders}
    if not senders:
        return out
    last_error: Exception | None = None
    for _ in range(retries):  # the database may just be coming back after a fault
        try:
            with connect(dsn) as conn, conn.cursor() as cur:
                cur.execute(
                    "SELECT sender_id, data FROM events WHERE type_name = 'user' "
                    "AND sender_id = ANY(%s) ORDER BY id", (senders,))
                for sender, data in cur.fetchall():
                    with suppress(ValueError, TypeError):
                        out[sender].append(json.loads(data).get("text") or "")
            return out
        except Exception as exc:  # noqa: BLE001 - retried, then raised
            last_error = exc
            time.sleep(3)
    raise RuntimeError(f"cannot read the tracker store: {last_error}")


def stored_event_types(dsn: str, sender: str) -> list[tuple[str, str | None]]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT type_name, action_name FROM events WHERE sender_id = %s "
                    "ORDER BY id", (sender,))
        return [(t, a) for t, a in cur.fetchall()]


_NOT_COMPARED = re.compile(r"[\d*＊\s]")


def comparable(text: str) -> str:
    """Stored user texts are masked (digits → *): compare without digits and asterisks."""
    return _NOT_COMPARED.sub("", text or "")


def compare_sender(sent: list[dict[str, Any]], stored: list[str]) -> dict[str, int]:
    """Aligns what one client sent (in order) with the stored user texts (in order).

    ``sent`` items: {"text", "outcome"} with outcome "ok" (normal answer), "busy" (an
    explicit busy answer), "http_error" (an HTTP error status the client saw),
    "transport" (no HTTP answer: reset/timeout) or "unanswered" (the client stopped
    before an answer came).
    Returns lost (no stored event and no explicit busy/error answer), unstored_explicit
    (no stored event, but the client was told), duplicated (stored more often than
    sent), out_of_order (stored, but not in the order sent), stored_without_answer
    (stored although the client got an error: processed but the client does not know).
    """
    from collections import Counter

    a = [comparable(s["text"]) for s in sent]
    b = [comparable(t) for t in stored]
    matcher = SequenceMatcher(a=a, b=b, autojunk=False)
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    for block in matcher.get_matching_blocks():
        matched_a.update(range(block.a, block.a + block.size))
        matched_b.update(range(block.b, block.b + block.size))
    # Stored, but not where the order says: matched by text out of order.
    spare = Counter(b[j] for j in range(len(b)) if j not in matched_b)
    lost = lost_silent = unstored_explicit = stored_without_answer = out_of_order = 0
    for index, item in enumerate(sent):
        stored_here = index in matched_a
        if not stored_here and spare[a[index]] > 0:
            spare[a[index]] -= 1
            out_of_order += 1
            stored_here = True
        if stored_here:
            if item["outcome"] != "ok":
                stored_without_answer += 1
        elif item["outcome"] in ("busy", "http_error"):
            unstored_explicit += 1
        else:
            lost += 1
            # The client was answered as if all went well (or with nothing), the turn is
            # not on record: the worst kind (no timeout or error told anyone).
            lost_silent += item["outcome"] in ("ok", "empty")
    # What is still spare was stored more often than it was sent.
    duplicated = sum(spare.values())
    return {"sent": len(sent), "stored": len(b), "lost": lost, "lost_silent": lost_silent,
            "unstored_explicit": unstored_explicit, "duplicated": duplicated,
            "out_of_order": out_of_order, "stored_without_answer": stored_without_answer}


def compare_any_order_tail(sent: list[dict[str, Any]], stored: list[str], tail: int
                           ) -> dict[str, int]:
    """compare_sender where the last ``tail`` messages were sent at the same moment (their
    stored order may be either): the best of their orders."""
    from itertools import permutations

    if tail < 2 or len(sent) < tail:
        return compare_sender(sent, stored)
    head, last = sent[:-tail], sent[-tail:]
    results = [compare_sender(head + list(order), stored) for order in permutations(last)]
    return min(results, key=lambda r: (r["lost"] + r["duplicated"] + r["out_of_order"],
                                       r["unstored_explicit"]))


def compare_all(dsn: str, sent_by_sender: dict[str, list[dict[str, Any]]],
                any_order_tail: int = 0) -> dict[str, Any]:
    """compare_sender over every sender; totals plus a few examples of problems."""
    senders = list(sent_by_sender)
    stored = stored_user_events(dsn, [REST_PREFIX + s for s in senders])
    totals = {"senders": len(senders), "sent": 0, "stored": 0, "lost": 0, "lost_silent": 0,
              "unstored_explicit": 0, "duplicated": 0, "out_of_order": 0,
              "stored_without_answer": 0}
    examples: list[dict[str, Any]] = []
    for sender in senders:
        result = compare_any_order_tail(sent_by_sender[sender], stored[REST_PREFIX + sender],
                                        any_order_tail)
        for key in totals:
            if key != "senders":
                totals[key] += result[key]
        if (result["lost"] or result["duplicated"] or result["out_of_order"]) \
                and len(examples) < 5:
            examples.append({"sender": sender, **result,
                             "sent_texts": [s["text"] for s in sent_by_sender[sender]],
                             "sent_outcomes": [s["outcome"] for s in sent_by_sender[sender]],
                             "stored_texts": stored[REST_PREFIX + sender]})
    totals["examples"] = examples
    return totals


# ----------------------------------------------------------------------------- results

def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    import numpy as np

    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1),
            "p99_ms": round(float(p99), 1)}


def load_json(path: Path) -> dict[str, Any]:
    with suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return {}


def merge_results(flat: dict[str, Any], details: dict[str, Any]) -> None:
    """Merges into bench/results/cluster.json (flat) and cluster-details.json, then
    rewrites cluster.md from both."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results = load_json(RESULTS_JSON)
    results.update(flat)
    RESULTS_JSON.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    all_details = load_json(DETAILS_JSON)
    all_details.update(details)
    DETAILS_JSON.write_text(json.dumps(all_details, indent=2, ensure_ascii=False) + "\n")
    from bench.cluster.report import write_markdown

    write_markdown(results, all_details)


def machine() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with suppress(OSError):
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    with suppress(Exception):
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                                        capture_output=True, text=True).stdout.strip()
    with suppress(Exception):
        from importlib import metadata

        info["rasa"] = metadata.version("rasa")
        info["locust"] = metadata.version("locust")
    return info
