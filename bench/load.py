"""Drive whole conversations through the REST webhook and time every turn."""

from __future__ import annotations

import itertools
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import requests

REQUEST_TIMEOUT_S = 60


@dataclass(frozen=True)
class Turn:
    message: str
    label: str
    # The reply must contain one of these (empty: any non-empty reply will do).
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    kind: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class TurnResult:
    kind: str
    label: str
    latency_s: float
    error: str | None  # non-200, exception or empty reply
    unexpected: bool  # answered, but not with what the script expects
    reply: str


@dataclass
class LoadResult:
    concurrency: int
    wall_s: float
    results: list[TurnResult]
    conversations: int

    @property
    def latencies_ms(self) -> np.ndarray:
        return np.array([r.latency_s * 1000 for r in self.results])

    @property
    def errors(self) -> int:
        return sum(r.error is not None for r in self.results)

    @property
    def unexpected(self) -> int:
        return sum(r.unexpected for r in self.results)

    def summary(self) -> dict[str, float]:
        latencies = self.latencies_ms
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        return {
            "turns": len(self.results),
            "conversations": self.conversations,
            "p50_ms": round(float(p50), 1),
            "p95_ms": round(float(p95), 1),
            "p99_ms": round(float(p99), 1),
            "mean_ms": round(float(latencies.mean()), 1),
            "max_ms": round(float(latencies.max()), 1),
            "turns_per_s": round(len(self.results) / self.wall_s, 2),
            "wall_s": round(self.wall_s, 2),
            "errors": self.errors,
            "unexpected": self.unexpected,
        }

    def by_label(self) -> dict[str, dict[str, float]]:
        """p50/p95 per scripted turn label: where the time goes."""
        groups: dict[str, list[float]] = {}
        for result in self.results:
            groups.setdefault(f"{result.kind}/{result.label}", []).append(
                result.latency_s * 1000
            )
        return {
            label: {
                "n": len(values),
                "p50_ms": round(float(np.percentile(values, 50)), 1),
                "p95_ms": round(float(np.percentile(values, 95)), 1),
            }
            for label, values in sorted(groups.items())
        }

    def by_kind(self) -> dict[str, float]:
        groups: dict[str, list[float]] = {}
        for result in self.results:
            groups.setdefault(result.kind, []).append(result.latency_s * 1000)
        return {k: round(float(np.percentile(v, 50)), 1) for k, v in sorted(groups.items())}

    def failures(self, limit: int = 20) -> list[dict[str, str]]:
        bad = [r for r in self.results if r.error or r.unexpected]
        return [
            {"turn": f"{r.kind}/{r.label}", "error": r.error or "unexpected reply",
             "reply": r.reply[:200]}
            for r in bad[:limit]
        ]


class SenderIds:
    """A fresh sender id for every conversation (the identity lock-out is per sender)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def next(self, kind: str) -> str:
        with self._lock:
            return f"{self._prefix}-{kind}-{next(self._counter)}"


def take_turns(conversations: Iterable[Conversation], min_turns: int) -> list[Conversation]:
    """Whole conversations from the (endless) script until at least `min_turns` turns."""
    taken: list[Conversation] = []
    total = 0
    for conversation in conversations:
        if total >= min_turns:
            break
        taken.append(conversation)
        total += len(conversation.turns)
    return taken


def say(session: requests.Session, webhook: str, sender: str, turn: Turn, kind: str
        ) -> TurnResult:
    error: str | None = None
    reply = ""
    started = time.perf_counter()
    try:
        response = session.post(
            webhook, json={"sender": sender, "message": turn.message}, timeout=REQUEST_TIMEOUT_S
        )
        latency = time.perf_counter() - started
        if response.status_code != 200:
            error = f"HTTP {response.status_code}"
        else:
            messages = response.json()
            reply = "\n".join(
                str(m.get("text") or m.get("image") or m.get("custom") or "") for m in messages
            )
            if not messages or not reply.strip():
                error = "empty reply"
    except (requests.RequestException, ValueError) as exc:
        latency = time.perf_counter() - started
        error = f"{type(exc).__name__}: {exc}"[:200]
    unexpected = error is None and bool(turn.expect) and not any(
        fragment in reply for fragment in turn.expect
    )
    return TurnResult(kind, turn.label, latency, error, unexpected, reply)


def run_conversations(
    base_url: str, conversations: list[Conversation], concurrency: int, senders: SenderIds
) -> LoadResult:
    """Each of `concurrency` workers runs whole conversations one after the other."""
    webhook = f"{base_url}/webhooks/rest/webhook"
    work: queue.Queue[Conversation] = queue.Queue()
    for conversation in conversations:
        work.put(conversation)

    def worker() -> list[TurnResult]:
        results: list[TurnResult] = []
        with requests.Session() as session:
            while True:
                try:
                    conversation = work.get_nowait()
                except queue.Empty:
                    return results
                sender = senders.next(conversation.kind)
                for turn in conversation.turns:
                    results.append(say(session, webhook, sender, turn, conversation.kind))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        results = [r for future in futures for r in future.result()]
    wall = time.perf_counter() - started
    return LoadResult(concurrency, wall, results, len(conversations))


def parse_latencies(
    base_url: str, token: str, messages: Iterator[str] | list[str]
) -> tuple[list[dict], list[float]]:
    """POSTs each message to /model/parse; returns the parse results and wall times (ms)."""
    parsed: list[dict] = []
    times: list[float] = []
    with requests.Session() as session:
        for text in messages:
            started = time.perf_counter()
            response = session.post(
                f"{base_url}/model/parse", params={"token": token}, json={"text": text},
                timeout=REQUEST_TIMEOUT_S,
            )
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            parsed.append(response.json())
    return parsed, times
