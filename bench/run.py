"""`python -m bench.run`: train, start, load and score the assistant and the starter bot.

Writes bench/results/latest.json (flat numbers), latest.md (table with targets) and
latest-details.json (per-turn breakdown, held-out misses, failed turns).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from bench import bots, nlu
from bench.conversations import (
    assistant_conversations,
    baseline_conversations,
    distinct_messages,
)
from bench.load import Conversation, LoadResult, SenderIds, parse_latencies, run_conversations
from bench.load import take_turns as take
from bench.procs import PROJECT_ROOT, RssSampler, log
from bench.report import add_ratios, machine_info, markdown

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"
CURRENT_MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
WARMUP_TURNS = 16
PARSE_REPEATS = 5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--turns", type=int, default=500,
                        help="at least this many turns per load phase (default 500)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="concurrent senders in the second phase (default 16)")
    parser.add_argument("--skip-cv", action="store_true",
                        help="skip the 5-fold cross-validation (5 DIET trainings)")
    parser.add_argument("--skip-train", action="store_true",
                        help="reuse models/current.tar.gz (and a cached starter bot); "
                             "no training times")
    parser.add_argument("--keep-tmp", action="store_true",
                        help="keep the temp dir (models, logs) after a successful run")
    return parser.parse_args(argv)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers: servers get stopped


def benchmark_bot(
    name: str,
    start: Callable[[], AbstractContextManager[bots.RunningBot]],
    script: Callable[[], Iterator[Conversation]],
    args: argparse.Namespace,
    holdout: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Starts one bot, warms it up, drives the load phases; returns (flat, details)."""
    flat: dict[str, Any] = {}
    details: dict[str, Any] = {}
    senders = SenderIds(f"bench-{name}")
    log(f"{name}: starting servers")
    with start() as bot:
        flat["startup_s"] = round(bot.startup_s, 2)
        details["startup_detail_s"] = {k: round(v, 2) for k, v in bot.startup_detail.items()}
        log(f"{name}: healthy after {bot.startup_s:.1f}s {details['startup_detail_s']}")

        warmup = run_conversations(bot.base_url, take(script(), WARMUP_TURNS), 1, senders)
        details["warmup"] = warmup.summary()
        flat["rss_idle_mb"] = round(bot.group.rss_mb(), 1)

        phases: dict[int, LoadResult] = {}
        with RssSampler(bot.group.rss_mb) as sampler:
            for concurrency in (1, args.concurrency):
                log(f"{name}: {args.turns}+ turns with {concurrency} sender(s)")
                phases[concurrency] = run_conversations(
                    bot.base_url, take(script(), args.turns), concurrency, senders
                )
                log(f"{name}: {phases[concurrency].summary()}")
        flat["rss_mb"] = round(bot.group.rss_mb(), 1)
        flat["rss_peak_mb"] = round(sampler.peak_mb, 1)

        single, many = phases[1], phases[args.concurrency]
        s1, sn = single.summary(), many.summary()
        c = f"c{args.concurrency}"
        flat.update({
            "turn_p50_ms": s1["p50_ms"], "turn_p95_ms": s1["p95_ms"],
            "turn_p99_ms": s1["p99_ms"], "turn_mean_ms": s1["mean_ms"],
            "turns_per_s_c1": s1["turns_per_s"],
            f"turn_p50_ms_{c}": sn["p50_ms"], f"turn_p95_ms_{c}": sn["p95_ms"],
            f"turn_p99_ms_{c}": sn["p99_ms"], f"turns_per_s_{c}": sn["turns_per_s"],
            "turns_c1": s1["turns"], f"turns_{c}": sn["turns"],
            "turns": s1["turns"] + sn["turns"],
            "errors": s1["errors"] + sn["errors"],
            "unexpected_replies": s1["unexpected"] + sn["unexpected"],
        })
        for kind, p50 in single.by_kind().items():
            flat[f"turn_p50_ms_{kind}"] = p50
        details.update({
            "c1": s1, c: sn,
            "by_label_c1": single.by_label(), f"by_label_{c}": many.by_label(),
            "failed_turns": single.failures() + many.failures(),
        })

        log(f"{name}: NLU-only timings through /model/parse")
        messages = distinct_messages(take(script(), WARMUP_TURNS * 2)) * PARSE_REPEATS
        _, parse_ms = parse_latencies(bot.base_url, bot.token, messages)
        flat["parse_p50_ms"] = round(float(np.percentile(parse_ms, 50)), 1)
        flat["parse_p95_ms"] = round(float(np.percentile(parse_ms, 95)), 1)

        if holdout:
            log(f"{name}: held-out and realistic NLU sets through /model/parse")
            nlu_flat, nlu_details = nlu.evaluate_served(bot.base_url, bot.token)
            flat.update(nlu_flat)
            # Realistic lines stay out of the details: aggregate numbers only.
            details["holdout_misclassified"] = nlu_details["holdout_misclassified"]
            for prefix in ("holdout", "realistic"):
                details[f"{prefix}_report"] = nlu_details[f"{prefix}_report"]
                times = nlu_details[f"{prefix}_parse_ms"]
                details[f"{prefix}_parse_p50_ms"] = round(float(np.percentile(times, 50)), 1)
                flat[f"{prefix}_parse_p95_ms"] = round(float(np.percentile(times, 95)), 1)
            log(f"{name}: held-out accuracy {nlu_flat['holdout_acc']}, "
                f"realistic {nlu_flat['realistic_acc']}")
    return flat, details


def starter_model(workdir: Path, skip_train: bool) -> tuple[float | None, Path]:
    """The baseline model: trained fresh (timed), or with --skip-train a cached one."""
    cached = CACHE / f"starter-rasa-{metadata.version('rasa')}.tar.gz"
    if skip_train and cached.exists():
        log(f"baseline: reusing {cached.relative_to(PROJECT_ROOT)}")
        return None, cached
    log("baseline: rasa init --no-prompt (trains the starter bot once)")
    project = bots.init_baseline(workdir)
    if skip_train:
        model = bots.starter_model_of(project)
        seconds = None
    else:
        log("baseline: timed full training with a fresh cache")
        seconds, model = bots.train_baseline(workdir, project)
        log(f"baseline: trained in {seconds:.1f}s")
    bots.cache_copy(model, cached)
    return seconds, model


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    os.chdir(PROJECT_ROOT)
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="rasa-bench-"))
    log(f"work dir {workdir}")
    results: dict[str, Any] = {"machine": machine_info(), "turns_requested": args.turns,
                               "concurrency": args.concurrency}
    details: dict[str, Any] = {"workdir": str(workdir)}
    succeeded = False
    try:
        if args.skip_train:
            if not CURRENT_MODEL.exists():
                raise SystemExit("--skip-train needs models/current.tar.gz: run `make train`")
            model = CURRENT_MODEL
            results["train_s"] = None
        else:
            log("assistant: full training (temp output, fresh cache)")
            results["train_s"], model = bots.train_assistant(workdir)
            results["train_s"] = round(results["train_s"], 1)
            log(f"assistant: trained in {results['train_s']}s")
        results["model"] = (str(model.relative_to(PROJECT_ROOT))
                            if model.is_relative_to(PROJECT_ROOT) else "freshly trained")
        baseline_train_s, baseline_model = starter_model(workdir, args.skip_train)
        results["baseline_train_s"] = (None if baseline_train_s is None
                                       else round(baseline_train_s, 1))

        db_url = bots.fresh_merchant_db(workdir)
        flat, details["assistant"] = benchmark_bot(
            "assistant", lambda: bots.run_assistant(workdir / "assistant", model, db_url),
            assistant_conversations, args, holdout=True,
        )
        results.update(flat)
        flat, details["baseline"] = benchmark_bot(
            "baseline", lambda: bots.run_baseline(workdir / "baseline", baseline_model),
            baseline_conversations, args, holdout=False,
        )
        results.update({f"baseline_{k}": v for k, v in flat.items()})

        status = 0
        results["cv_intent_acc"] = None
        if not args.skip_cv:
            log("NLU: 5-fold cross-validation on data/nlu (5 DIET trainings)")
            try:
                results.update(nlu.cross_validate(workdir))
                log(f"NLU: cross-validated intent accuracy {results['cv_intent_acc']}")
            except (RuntimeError, OSError, KeyError, ValueError) as exc:
                # Keep the numbers measured so far; the run still fails.
                results["cv_error"] = str(exc)[:500]
                log(f"NLU: cross-validation failed: {exc}")
                status = 1

        add_ratios(results, args.concurrency)
        results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        results["bench_wall_s"] = round(time.perf_counter() - began, 1)
        write_results(results, details, args.concurrency)
        succeeded = status == 0
        return status
    finally:
        if succeeded and not args.keep_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"logs and models kept in {workdir}")


def write_results(results: dict[str, Any], details: dict[str, Any], concurrency: int) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = markdown(results, details, concurrency)
    (RESULTS / "latest.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "latest-details.json").write_text(
        json.dumps(details, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "latest.md").write_text(table, encoding="utf-8")
    print(table)
    log(f"wrote {RESULTS.relative_to(PROJECT_ROOT)}/latest.json, latest.md, "
        "latest-details.json")


if __name__ == "__main__":
    sys.exit(main())
