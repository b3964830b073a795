"""A lock holder to kill, and the measurement of how long its conversation stays blocked.

    python tests/scaled/lock_recovery.py hold CONVERSATION [--db 9] [--lease 3]
        takes the conversation's lock with AtomicRedisLockStore, prints "held N" and
        holds it (renewing its lease) until it is killed.
    nice -n 10 .venv/bin/python tests/scaled/lock_recovery.py measure [--trials 10]
        [--out bench/results/lock_recovery.json]
        per trial: a holder process takes a conversation, a waiter (this process, the
        "other replica") queues behind it, the holder gets SIGKILL at a random moment of
        its renewal cycle, and the time from the kill to the waiter's turn is recorded;
        once on a quiet event loop, once while this process serves 20 other
        conversations' turns at the same time.

The store module is loaded by its path, not through the ``addons`` package (whose import
installs the rasa-server patches and takes seconds): a holder is up in well under a
second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STORE_FILE = ROOT / "addons" / "stores" / "lock_store.py"
KEY_PREFIX = "msa"


def store_module() -> ModuleType:
    name = "lock_store_by_path"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, STORE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_store(db: int, lease_s: float | None = None) -> Any:
    cls = store_module().AtomicRedisLockStore
    return cls(host="127.0.0.1", port=6379, db=db, key_prefix=KEY_PREFIX, socket_timeout=5,
               lease_s=lease_s)


async def hold(conversation: str, db: int, lease_s: float | None) -> None:
    store = make_store(db, lease_s)
    async with store.lock(conversation) as lock:
        print(f"held {lock.now_serving}", flush=True)
        while True:  # a turn that never ends: only SIGKILL stops it
            await asyncio.sleep(3600)


def spawn_holder(conversation: str, db: int, lease_s: float | None = None,
                 ) -> subprocess.Popen[str]:
    """A holder process that has taken ``conversation`` when this returns."""
    command = [sys.executable, str(Path(__file__).resolve()), "hold", conversation,
               "--db", str(db)]
    if lease_s is not None:
        command += ["--lease", str(lease_s)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("held"):
        process.kill()
        raise RuntimeError(f"the holder did not take the lock: {line!r}")
    return process


def kill(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def background_turns(store: Any, stop: asyncio.Event, count: int = 20) -> int:
    """``count`` other conversations taking turns of 20-80 ms until ``stop``."""
    turns = 0

    async def conversation() -> None:
        nonlocal turns
        name = f"recovery-bg-{uuid.uuid4().hex}"
        while not stop.is_set():
            async with store.lock(name):
                await asyncio.sleep(random.uniform(0.02, 0.08))
            turns += 1

    await asyncio.gather(*(conversation() for _ in range(count)))
    return turns


async def one_trial(db: int, busy: bool) -> dict[str, float | bool]:
    store = make_store(db)
    conversation = f"recovery-{uuid.uuid4().hex}"
    holder = spawn_holder(conversation, db)
    stop = asyncio.Event()
    background = asyncio.ensure_future(background_turns(store, stop)) if busy else None
    try:
        entered = asyncio.get_running_loop().create_future()

        async def waiter() -> None:
            async with store.lock(conversation):
                entered.set_result(time.time())

        waiting = asyncio.ensure_future(waiter())
        # At least one renewal of the holder, then a random point of its cycle.
        await asyncio.sleep(store.lease_s + random.uniform(0, store.renew_every_s))
        overtaken = entered.done()
        killed_at = time.time()
        kill(holder)
        entered_at = await asyncio.wait_for(entered, 30)
        await waiting
        left = bool(store.red.exists(store.key_prefix + conversation))
        return {"recovery_s": round(entered_at - killed_at, 3), "overtaken": overtaken,
                "key_left": left}
    finally:
        kill(holder)
        stop.set()
        if background is not None:
            await background


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"min_s": ordered[0], "median_s": round(statistics.median(ordered), 3),
            "p95_s": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)],
            "max_s": ordered[-1]}


async def measure(trials: int, db: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for busy in (False, True):
        runs = [await one_trial(db, busy) for _ in range(trials)]
        label = "busy" if busy else "quiet"
        result[label] = {
            "setting": ("this process (the waiter's replica) serves 20 other "
                        "conversations' turns of 20-80 ms at the same time" if busy else
                        "nothing else runs in the waiter's process"),
            "trials": trials,
            **summary([float(run["recovery_s"]) for run in runs]),
            "live_holder_overtaken": sum(bool(run["overtaken"]) for run in runs),
            "keys_left": sum(bool(run["key_left"]) for run in runs),
            "recovery_s": [run["recovery_s"] for run in runs],
        }
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    holder = sub.add_parser("hold")
    holder.add_argument("conversation")
    holder.add_argument("--db", type=int, default=9)
    holder.add_argument("--lease", type=float, default=None)
    measurer = sub.add_parser("measure")
    measurer.add_argument("--trials", type=int, default=10)
    measurer.add_argument("--db", type=int, default=9)
    measurer.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "hold":
        asyncio.run(hold(args.conversation, args.db, args.lease))
        return
    store = make_store(args.db)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    figures = asyncio.run(measure(args.trials, args.db))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    report = {
        "what": "time from SIGKILL of a lock holder process to the next waiter's turn "
                "(AtomicRedisLockStore, real Redis on 127.0.0.1:6379)",
        "measured_at": started, "commit": commit, "cpus": os.cpu_count(),
        "lease_s": store.lease_s, "renew_every_s": round(store.renew_every_s, 3),
        "waiter_poll_s": store_module().POLL_S,
        "expected_max_s": round(store.lease_s + store_module().POLL_S, 3),
        "before_ticket_lock_lifetime_s": 60,
        "before_recovery_s": 60.5,
        "before_source": "bench/results/cluster.json fault_kill_rasa_recovery_s (make chaos)",
        **figures,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
