"""Capacity of the cluster with one and with two rasa replicas, and how the cost of a
turn grows (bench/cluster/growth.py). Writes bench/results/cluster.json, cluster.md and
cluster-details.json.

    python -m bench.cluster.run                     # load (both) + growth, ~12 minutes
    python -m bench.cluster.run --skip-growth
    python -m bench.cluster.run --steps 2,4,8 --step-s 20 --bulk 0   # quick look

Load: the locustfile (bench/cluster/locustfile.py) headless through nginx, at rising
numbers of simulated merchants (closed loop, no think time) until p99 passes 1 s, with
both replicas; then rasa2 is killed (``scripts/cluster.sh kill rasa2``; nginx sends
everything to rasa1) and the steps are run again; rasa2 is started again at the end.
Each step: ``--step-s`` seconds, the first 3 s not measured.

The cluster must be up (``make cluster``); with ``--start`` an absent cluster is started
with ``CLUSTER_RATE_PER_IP=10000r/s`` and stopped again at the end. A cluster found
running is left running, with both replicas.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from bench.cluster import cpu
from bench.cluster.common import (
    Cluster,
    log,
    machine,
    merge_results,
)
from bench.cluster.drive import start_locust, summarize

DEFAULT_STEPS = (1, 2, 3, 4, 6, 8, 12, 16)
P99_LIMIT_MS = 1000.0
PROCESSES = ("rasa1", "rasa2", "actions1", "actions2")


def series(cluster: Cluster, label: str, steps: list[int], step_s: float
           ) -> list[dict[str, Any]]:
    """Rising concurrency until p99 passes the limit (that step included)."""
    results = []
    run = uuid.uuid4().hex[:5]  # sender ids never meet a conversation of an earlier run
    for users in steps:
        cpu_before, started, children = cpu.snapshot(), time.monotonic(), cpu.children_s()
        locust = start_locust(cluster.base_url, users, step_s, run_id=f"{label}-u{users}-{run}")
        records = locust.wait(timeout=step_s + 120)
        cores = cpu.usage(cpu_before, cpu.snapshot(), time.monotonic() - started,
                          cpu.children_s() - children)
        summary = summarize(records, warmup_s=3.0)
        summary["users"] = users
        summary["cpu_cores"] = cores
        results.append(summary)
        log(f"{label} users={users}: {summary['turns_per_s']} turns/s, "
            f"p50 {summary['p50_ms']} p95 {summary['p95_ms']} p99 {summary['p99_ms']} ms, "
            f"errors {summary['errors']}, busy {summary['busy']}, "
            f"unexpected {summary['unexpected']}; cores {cores}")
        if summary["turns"] == 0:
            log(f"no answered turn: {locust.output()}")
            break
        if (summary["p99_ms"] or 0) > P99_LIMIT_MS:
            break
    return results


def best(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The highest throughput with p99 within the limit (else the first step)."""
    within = [s for s in steps if s["p99_ms"] is not None and s["p99_ms"] <= P99_LIMIT_MS]
    return max(within, key=lambda s: s["turns_per_s"]) if within else steps[0]


def flatten(prefix: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = best(steps)
    over = next((s for s in steps if (s["p99_ms"] or 0) > P99_LIMIT_MS), None)
    return {
        f"turns_per_s_{prefix}": chosen["turns_per_s"],
        f"users_{prefix}": chosen["users"],
        f"p50_ms_{prefix}": chosen["p50_ms"],
        f"p95_ms_{prefix}": chosen["p95_ms"],
        f"p99_ms_{prefix}": chosen["p99_ms"],
        f"errors_{prefix}": chosen["errors"],
        f"busy_{prefix}": chosen["busy"],
        f"unexpected_{prefix}": chosen["unexpected"],
        f"errors_all_steps_{prefix}": sum(s["errors"] for s in steps),
        f"turns_all_steps_{prefix}": sum(s["turns"] for s in steps),
        f"peak_turns_per_s_{prefix}": max(s["turns_per_s"] for s in steps),
        f"users_p99_over_1s_{prefix}": over["users"] if over else None,
    }


def warm_up(cluster: Cluster) -> None:
    """A few conversations on each replica (first-request costs), not measured."""
    locust = start_locust(cluster.base_url, 2, 12, run_id=f"warmup-{uuid.uuid4().hex[:5]}")
    records = locust.wait(timeout=90)
    summary = summarize(records, warmup_s=0)
    log(f"warm-up: {summary['turns']} turns, errors {summary['errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default=",".join(map(str, DEFAULT_STEPS)),
                        help="simulated merchants per step")
    parser.add_argument("--step-s", type=float, default=30.0)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--bulk", type=int, default=100_000,
                        help="stored conversations for the growth figure (0: skip)")
    parser.add_argument("--start", action="store_true",
                        help="start the cluster if it is not up (and stop it at the end)")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    started = time.time()
    cluster = Cluster()
    we_started = False
    if not all(cluster.healthy(n) for n in PROCESSES):
        if not args.start:
            raise SystemExit("the cluster is not up: make cluster (or --start)")
        log("starting the cluster (CLUSTER_RATE_PER_IP=10000r/s)")
        cluster.sh("up", env={"CLUSTER_RATE_PER_IP": "10000r/s",
                              "CLUSTER_BURST_PER_IP": "10000"}, timeout=900)
        we_started = True
        cluster.reload()
        cluster.wait_healthy(PROCESSES, timeout=300)
    original_settings = cluster.raise_rate_limit()
    flat: dict[str, Any] = {}
    details: dict[str, Any] = {"load_machine_start": machine(), "p99_limit_ms": P99_LIMIT_MS,
                               "step_s": args.step_s, "base_url": cluster.base_url}
    try:
        if not args.skip_load:
            warm_up(cluster)
            two = series(cluster, "r2", steps, args.step_s)
            details["load_2_replicas"] = two
            flat.update(flatten("2_replicas", two))
            merge_results(flat, details)
            log("killing rasa2: one replica")
            cluster.sh("kill", "rasa2", check=False, timeout=60)
            time.sleep(2)
            one = series(cluster, "r1", steps, args.step_s)
            details["load_1_replica"] = one
            flat.update(flatten("1_replica", one))
            flat["scaling_ratio"] = round(
                flat["turns_per_s_2_replicas"] / flat["turns_per_s_1_replica"], 2) \
                if flat["turns_per_s_1_replica"] else None
            flat["peak_scaling_ratio"] = round(
                flat["peak_turns_per_s_2_replicas"] / flat["peak_turns_per_s_1_replica"], 2) \
                if flat["peak_turns_per_s_1_replica"] else None
            merge_results(flat, details)
        if not args.skip_growth:
            from bench.cluster.growth import run_growth

            log("growth: history lengths and 100k stored conversations")
            growth_flat, growth_details = run_growth(cluster, "rasa1", args.bulk)
            flat.update(growth_flat)
            details.update(growth_details)
    finally:
        if not cluster.alive("rasa2") and not cluster.healthy("rasa2"):
            log("starting rasa2 again")
            cluster.sh("start", "rasa2", check=False, timeout=300)
        try:
            details["rasa2_restart_s"] = round(cluster.wait_healthy(["rasa2"], 300), 1)
        except RuntimeError as exc:
            log(f"rasa2 did not come back: {exc}")
        flat["bench_cluster_wall_s"] = round(time.time() - started, 1)
        details["load_machine_end"] = machine()
        merge_results(flat, details)
        if we_started:
            cluster.sh("down", check=False, timeout=300)
        else:
            cluster.restore_rate_limit(original_settings)
    log(f"done in {flat['bench_cluster_wall_s']} s: bench/results/cluster.json, cluster.md")


if __name__ == "__main__":
    main()
