"""Locust user for the cluster bench: merchants running whole conversations over REST.

    locust -f bench/cluster/locustfile.py --headless -u 8 -r 8 -t 40s \
        --host http://127.0.0.1:8080

Each simulated merchant runs whole conversations one after the other (FAQ, account
look-up with the identity check, appeal form ending in "不提交", remote-collection
advisor; bench/cluster/convs.py), every conversation with a new sender id, with no
think time by default (a closed loop: N users = N requests in flight). The REST shared
secret comes from var/cluster/env.

Environment:
  CLUSTER_BENCH_LOG     JSON lines, one per attempted and per answered turn (what
                        bench/cluster/run.py and chaos.py compute their figures from)
  CLUSTER_BENCH_RUN     sender id prefix (default: a random one)
  CLUSTER_BENCH_THINK_S seconds between two turns of a conversation (default 0)
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path

from locust import HttpUser, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.cluster.common import BUSY_MARKERS, WEBHOOK, Cluster  # noqa: E402
from bench.cluster.convs import conversation  # noqa: E402

RUN = os.environ.get("CLUSTER_BENCH_RUN") or f"lc-{uuid.uuid4().hex[:6]}"
THINK_S = float(os.environ.get("CLUSTER_BENCH_THINK_S", "0") or 0)
LOG_PATH = os.environ.get("CLUSTER_BENCH_LOG")
HEADERS = Cluster().headers()
_counter = itertools.count()
_log = open(LOG_PATH, "a", buffering=1, encoding="utf-8") if LOG_PATH else None  # noqa: SIM115


def record(**fields: object) -> None:
    if _log is not None:
        _log.write(json.dumps(fields, ensure_ascii=False) + "\n")


@events.quitting.add_listener
def _close(**_: object) -> None:
    if _log is not None:
        _log.flush()


def _as_list(body: object) -> list[dict]:
    if isinstance(body, dict):
        return [body]
    return [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []


# HttpUser (python-requests), not FastHttpUser: after one timed-out request
# geventhttpclient 2.4.0 reuses the broken keep-alive connection and every later request
# of that user hangs until nginx answers 400 (reproduced; it turned one replica restart
# into minutes of client-side errors).
class Merchant(HttpUser):
    wait_time = constant(0)

    @task
    def one_conversation(self) -> None:
        index = next(_counter)
        conv = conversation(index)
        sender = f"{RUN}-{conv.kind}-{index}"
        for seq, turn in enumerate(conv.turns):
            if seq and THINK_S:
                time.sleep(THINK_S)
            record(ev="sent", sender=sender, seq=seq, text=turn.message, t=time.time())
            started_wall = time.time()
            started = time.perf_counter()
            outcome, status, reply, unexpected = "ok", 0, "", False
            with self.client.post(WEBHOOK, json={"sender": sender, "message": turn.message},
                                  headers=HEADERS, name=f"{conv.kind}/{turn.label}",
                                  catch_response=True, timeout=(5, 30)) as response:
                latency_ms = (time.perf_counter() - started) * 1000
                status = response.status_code or 0
                if status == 0:
                    outcome = "transport"
                    response.failure(f"no answer: {response.error}")
                elif status != 200:
                    try:
                        reply = " ".join(str(m.get("text", "")) for m in _as_list(
                            response.json()))
                    except Exception:  # noqa: BLE001 - an error page
                        reply = (response.text or "")[:200]
                    # 503 + "busy, send it again" (tracker store down, nginx without a
                    # replica) is an explicit answer; any other status is an error.
                    busy = any(marker in reply for marker in BUSY_MARKERS)
                    outcome = "busy" if busy else "http_error"
                    response.failure(f"HTTP {status}" + (" busy" if busy else ""))
                else:
                    try:
                        messages = response.json()
                        reply = "\n".join(str(m.get("text") or m.get("custom") or "")
                                          for m in messages)
                    except Exception:  # noqa: BLE001 - bad JSON
                        messages, reply = [], ""
                    if not reply.strip():
                        outcome = "empty"
                        response.failure("empty reply")
                    elif any(marker in reply for marker in BUSY_MARKERS):
                        outcome = "busy"
                        response.failure("busy answer")
                    else:
                        unexpected = bool(turn.expect) and not any(
                            f in reply for f in turn.expect)
                        response.success()
            record(ev="done", sender=sender, seq=seq, kind=conv.kind, label=turn.label,
                   text=turn.message, t0=started_wall, ms=round(latency_ms, 2),
                   status=status, outcome=outcome, unexpected=unexpected,
                   reply=reply[:160])
