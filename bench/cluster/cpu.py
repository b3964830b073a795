"""Where the machine's CPU went during a step: per group of processes (rasa replicas,
action servers, PostgreSQL, RabbitMQ, Redis, nginx, console, Locust, everything else),
from /proc/*/stat. "other" is work that is not the cluster's (other tests, builds)."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from bench.cluster.common import CLUSTER_DIR

TICKS = os.sysconf("SC_CLK_TCK")
NAMES = ("rasa1", "rasa2", "actions1", "actions2", "console", "nginx")


def _groups() -> dict[int, str]:
    """Process group id -> service name, from var/cluster/NAME.pid (setsid: pid = pgid)."""
    out = {}
    for name in NAMES:
        with suppress(OSError, ValueError):
            out[int((CLUSTER_DIR / f"{name}.pid").read_text().split()[0])] = name
    return out


def snapshot() -> dict[int, tuple[str, int]]:
    groups = _groups()
    out: dict[int, tuple[str, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            pgrp = int(fields[2])
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            if pgrp in groups:
                group = groups[pgrp]
            else:
                cmd = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(
                    errors="replace")
                comm = stat[stat.index("(") + 1:stat.rindex(")")]
                group = classify(cmd, comm)
            out[int(entry.name)] = (group, ticks)
        except (OSError, ValueError, IndexError):
            continue
    return out


def classify(cmd: str, comm: str) -> str:
    if "postgres" in comm or "postgres" in cmd:
        return "postgresql"
    if "beam" in comm or "rabbitmq" in cmd or "erl_child" in comm:
        return "rabbitmq"
    if "redis-server" in cmd:
        return "redis"
    if "locust" in cmd:
        return "locust"
    return "other"


def children_s() -> float:
    """CPU seconds of this process's finished children (Locust runs as one and exits
    before the second snapshot, so /proc no longer shows it)."""
    import resource

    usage_ = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage_.ru_utime + usage_.ru_stime


def usage(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]],
          seconds: float, children_cpu_s: float = 0.0) -> dict[str, float]:
    """Cores used per group between two snapshots (2.0 = both cores busy);
    ``children_cpu_s``: CPU seconds of finished children (Locust), counted as "locust"."""
    totals: dict[str, float] = {"locust": children_cpu_s} if children_cpu_s else {}
    for pid, (group, ticks) in after.items():
        previous = before.get(pid, (group, 0))[1]
        delta = max(0, ticks - previous)
        totals[group] = totals.get(group, 0.0) + delta / TICKS
    out = {g: round(v / seconds, 2) for g, v in sorted(totals.items()) if v / seconds >= 0.01}
    out["total"] = round(sum(totals.values()) / seconds, 2)
    return out
