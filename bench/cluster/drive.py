"""Runs the locustfile headless as a subprocess and reads back its per-turn records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cluster.common import PROJECT_ROOT, percentiles

LOCUSTFILE = PROJECT_ROOT / "bench" / "cluster" / "locustfile.py"
LOCUST = str(Path(sys.executable).with_name("locust"))
ERROR_OUTCOMES = ("http_error", "transport", "empty", "unanswered")


@dataclass
class LocustRun:
    """A locust process in the background; ``stop()`` waits until its users finished
    their conversations (``--stop-timeout``) and returns the records."""

    process: subprocess.Popen
    log_path: Path
    out_path: Path
    run_id: str
    started: float

    def stop(self, timeout: float = 90) -> list[dict[str, Any]]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        return read_records(self.log_path)

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.stop()
        return read_records(self.log_path)

    def output(self) -> str:
        try:
            return self.out_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def start_locust(host: str, users: int, run_time_s: float | None, run_id: str | None = None,
                 think_s: float = 0.0, stop_timeout_s: int = 45, workdir: Path | None = None
                 ) -> LocustRun:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    run_id = run_id or f"lc-{uuid.uuid4().hex[:6]}"
    log_path = workdir / f"{run_id}.jsonl"
    out_path = workdir / f"{run_id}.out"
    cmd = [LOCUST, "-f", str(LOCUSTFILE), "--headless", "--host", host,
           "-u", str(users), "-r", str(users), "--only-summary",
           "--stop-timeout", str(stop_timeout_s), "--exit-code-on-error", "0",
           "--loglevel", "WARNING"]
    if run_time_s:
        cmd += ["-t", f"{int(run_time_s)}s"]
    env = {**os.environ, "CLUSTER_BENCH_LOG": str(log_path), "CLUSTER_BENCH_RUN": run_id,
           "CLUSTER_BENCH_THINK_S": str(think_s), "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out_path.open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    return LocustRun(process, log_path, out_path, run_id, time.time())


def read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    except OSError:
        pass
    return records


def answered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("ev") == "done"]


def sent_by_sender(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every attempted turn per sender, in order, with its outcome ("unanswered" when the
    client sent it but stopped before an answer came)."""
    done = {(r["sender"], r["seq"]): r for r in answered(records)}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("ev") != "sent":
            continue
        result = done.get((r["sender"], r["seq"]))
        out.setdefault(r["sender"], []).append({
            "text": r["text"], "seq": r["seq"], "t": r["t"],
            "outcome": result["outcome"] if result else "unanswered"})
    return out


def summarize(records: list[dict[str, Any]], warmup_s: float = 3.0,
              window: tuple[float, float] | None = None) -> dict[str, Any]:
    """Latency percentiles, turns/s, errors of the answered turns (after the warm-up, or
    those that started inside ``window``)."""
    done = answered(records)
    if not done:
        return {"turns": 0, "turns_per_s": 0.0, "errors": 0, "busy": 0, "unexpected": 0,
                **percentiles([])}
    first = min(r["t0"] for r in done)
    if window is None:
        window = (first + warmup_s, max(r["t0"] + r["ms"] / 1000 for r in done))
    picked = [r for r in done if window[0] <= r["t0"] <= window[1]]
    ends = [r["t0"] + r["ms"] / 1000 for r in picked]
    span = (max(ends) - window[0]) if picked else 0.0
    latencies = [r["ms"] for r in picked]
    by_kind: dict[str, list[float]] = {}
    for r in picked:
        by_kind.setdefault(r["kind"], []).append(r["ms"])
    return {
        "turns": len(picked),
        "turns_per_s": round(len(picked) / span, 2) if span > 0 else 0.0,
        **percentiles(latencies),
        "mean_ms": round(sum(latencies) / len(latencies), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "errors": sum(r["outcome"] in ERROR_OUTCOMES for r in picked),
        "busy": sum(r["outcome"] == "busy" for r in picked),
        "unexpected": sum(bool(r.get("unexpected")) for r in picked),
        "window_s": round(span, 1),
        "p50_ms_by_kind": {k: percentiles(v)["p50_ms"] for k, v in sorted(by_kind.items())},
        "error_kinds": _count(r["outcome"] for r in picked if r["outcome"] != "ok"),
        "status_codes": _count(str(r["status"]) for r in picked if r["status"] != 200),
    }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out
