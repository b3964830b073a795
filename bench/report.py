"""Targets, ratios against the baseline, and the Markdown table."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from bench.procs import PROJECT_ROOT

Results = dict[str, Any]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def add_ratios(r: Results, concurrency: int) -> None:
    c = f"c{concurrency}"
    r["p50_ratio"] = ratio(r.get("turn_p50_ms"), r.get("baseline_turn_p50_ms"))
    r["p99_ratio"] = ratio(r.get("turn_p99_ms"), r.get("baseline_turn_p99_ms"))
    r["throughput_c1_ratio"] = ratio(r.get("turns_per_s_c1"), r.get("baseline_turns_per_s_c1"))
    r[f"throughput_{c}_ratio"] = ratio(
        r.get(f"turns_per_s_{c}"), r.get(f"baseline_turns_per_s_{c}")
    )
    r["rss_ratio"] = ratio(r.get("rss_mb"), r.get("baseline_rss_mb"))
    r["startup_ratio"] = ratio(r.get("startup_s"), r.get("baseline_startup_s"))
    r["train_ratio"] = ratio(r.get("train_s"), r.get("baseline_train_s"))


@dataclass(frozen=True)
class Target:
    name: str
    value: Callable[[Results], float | None]
    bound: Callable[[Results], float | None]
    higher_is_better: bool = False

    def judge(self, r: Results) -> str:
        value, bound = self.value(r), self.bound(r)
        if value is None or bound is None:
            return "n/a"
        met = value >= bound if self.higher_is_better else value <= bound
        return "PASS" if met else "MISS"


def _times(key: str, factor: float) -> Callable[[Results], float | None]:
    def bound(r: Results) -> float | None:
        base = r.get(key)
        return None if base is None else round(base * factor, 3)

    return bound


def _minus(key: str, points: float) -> Callable[[Results], float | None]:
    def bound(r: Results) -> float | None:
        base = r.get(key)
        return None if base is None else round(base - points, 4)

    return bound


def targets(concurrency: int) -> list[Target]:
    c = f"c{concurrency}"
    return [
        Target("per-turn p50 ≤ baseline p50 (ms)",
               lambda r: r.get("turn_p50_ms"), _times("baseline_turn_p50_ms", 1.0)),
        Target("per-turn p99 ≤ 1.5× baseline p99 (ms)",
               lambda r: r.get("turn_p99_ms"), _times("baseline_turn_p99_ms", 1.5)),
        Target(f"throughput at {concurrency} senders ≥ baseline (turns/s)",
               lambda r: r.get(f"turns_per_s_{c}"), _times(f"baseline_turns_per_s_{c}", 1.0),
               higher_is_better=True),
        Target("errors = 0", lambda r: r.get("errors"), lambda r: 0),
        Target("held-out intent accuracy ≥ 0.95",
               lambda r: r.get("holdout_acc"), lambda r: 0.95, higher_is_better=True),
        Target("traditional within 3 points of simplified",
               lambda r: r.get("holdout_acc_traditional"),
               _minus("holdout_acc_simplified", 0.03), higher_is_better=True),
        Target("pinyin-annotated within 3 points of simplified",
               lambda r: r.get("holdout_acc_pinyin"),
               _minus("holdout_acc_simplified", 0.03), higher_is_better=True),
        Target("realistic intent accuracy ≥ 0.85",
               lambda r: r.get("realistic_acc"), lambda r: 0.85, higher_is_better=True),
        Target("realistic out_of_scope (near-domain) recall ≥ 0.85",
               lambda r: r.get("realistic_oos_recall"), lambda r: 0.85,
               higher_is_better=True),
        Target("realistic: traditional within 3 points of simplified",
               lambda r: r.get("realistic_acc_traditional"),
               _minus("realistic_acc_simplified", 0.03), higher_is_better=True),
        Target("realistic: pinyin-annotated within 3 points of simplified",
               lambda r: r.get("realistic_acc_pinyin"),
               _minus("realistic_acc_simplified", 0.03), higher_is_better=True),
        Target("full training ≤ 180 s", lambda r: r.get("train_s"), lambda r: 180.0),
        Target("memory ≤ 1.3× baseline (MB RSS)",
               lambda r: r.get("rss_mb"), _times("baseline_rss_mb", 1.3)),
    ]


def machine_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    mem_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_gb": round(mem_kb / 1024 / 1024, 1),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "python": platform.python_version(),
        "rasa": metadata.version("rasa"),
        "rasa_sdk": metadata.version("rasa-sdk"),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def markdown(r: Results, details: dict[str, Any], concurrency: int) -> str:
    c = f"c{concurrency}"
    m = r["machine"]
    lines = [
        "# Benchmark: assistant vs Rasa starter bot",
        "",
        f"{m['date']} · commit {m['git_commit'][:10]}{' (dirty)' if m['git_dirty'] else ''}"
        f" · {m['cpu_count']} CPUs ({m['cpu_model']}) · {m['mem_total_gb']} GB"
        f" · rasa {m['rasa']} · load average {m['loadavg_start']} → {m.get('loadavg_end')}",
        f"model: {r['model']} · turns per phase ≥ {r['turns_requested']}"
        f" · bench wall time {_fmt(r.get('bench_wall_s'))} s",
        "",
        "## Targets (reported, not asserted)",
        "",
        "| target | assistant | bound | result |",
        "|---|---:|---:|:---:|",
    ]
    for target in targets(concurrency):
        lines.append(f"| {target.name} | {_fmt(target.value(r))} | {_fmt(target.bound(r))} "
                     f"| {target.judge(r)} |")
    rows: list[tuple[str, str, str | None, str | None]] = [
        ("full training (s)", "train_s", "baseline_train_s", "train_ratio"),
        ("start until healthy (s)", "startup_s", "baseline_startup_s", "startup_ratio"),
        ("RSS after the load (MB)", "rss_mb", "baseline_rss_mb", "rss_ratio"),
        ("RSS idle after warm-up (MB)", "rss_idle_mb", "baseline_rss_idle_mb", None),
        ("RSS peak (MB)", "rss_peak_mb", "baseline_rss_peak_mb", None),
        ("turn p50, 1 sender (ms)", "turn_p50_ms", "baseline_turn_p50_ms", "p50_ratio"),
        ("turn p95, 1 sender (ms)", "turn_p95_ms", "baseline_turn_p95_ms", None),
        ("turn p99, 1 sender (ms)", "turn_p99_ms", "baseline_turn_p99_ms", "p99_ratio"),
        ("turns/s, 1 sender", "turns_per_s_c1", "baseline_turns_per_s_c1",
         "throughput_c1_ratio"),
        (f"turn p50, {concurrency} senders (ms)", f"turn_p50_ms_{c}",
         f"baseline_turn_p50_ms_{c}", None),
        (f"turn p95, {concurrency} senders (ms)", f"turn_p95_ms_{c}",
         f"baseline_turn_p95_ms_{c}", None),
        (f"turn p99, {concurrency} senders (ms)", f"turn_p99_ms_{c}",
         f"baseline_turn_p99_ms_{c}", None),
        (f"turns/s, {concurrency} senders", f"turns_per_s_{c}", f"baseline_turns_per_s_{c}",
         f"throughput_{c}_ratio"),
        ("turns measured (1 sender + concurrent)", "turns", "baseline_turns", None),
        ("errors (non-200, exception, empty reply)", "errors", "baseline_errors", None),
        ("replies not matching the script", "unexpected_replies",
         "baseline_unexpected_replies", None),
        ("NLU only: /model/parse p50 (ms)", "parse_p50_ms", "baseline_parse_p50_ms", None),
    ]
    lines += ["", "## All numbers", "", "| metric | assistant | baseline | ratio |",
              "|---|---:|---:|---:|"]
    for name, key, base_key, ratio_key in rows:
        lines.append(f"| {name} | {_fmt(r.get(key))} | {_fmt(r.get(base_key))} "
                     f"| {_fmt(r.get(ratio_key)) if ratio_key else ''} |")
    lines += ["", "## NLU", "", "| set | n | intent accuracy |", "|---|---:|---:|"]
    lines.append(f"| held-out, all | {_fmt(r.get('holdout_n'))} | {_fmt(r.get('holdout_acc'))}"
                 f" (macro F1 {_fmt(r.get('holdout_macro_f1'))}) |")
    lines.append(f"| held-out as served (a fallback counts as a miss) | "
                 f"{_fmt(r.get('holdout_n'))} | {_fmt(r.get('holdout_acc_served'))} "
                 f"(fallback rate {_fmt(r.get('holdout_fallback_rate'))}) |")
    for script in ("simplified", "traditional", "pinyin"):
        lines.append(f"| held-out, {script} | {_fmt(r.get(f'holdout_n_{script}'))} "
                     f"| {_fmt(r.get(f'holdout_acc_{script}'))} |")
    lines.append(f"| held-out, share on the embedding (slow) path | {_fmt(r.get('holdout_n'))} "
                 f"| {_fmt(r.get('holdout_slow_path_share'))} |")
    lines.append(f"| realistic, all | {_fmt(r.get('realistic_n'))} "
                 f"| {_fmt(r.get('realistic_acc'))} "
                 f"(macro F1 {_fmt(r.get('realistic_macro_f1'))}) |")
    lines.append(f"| realistic as served (a fallback counts as a miss) | "
                 f"{_fmt(r.get('realistic_n'))} | {_fmt(r.get('realistic_acc_served'))} "
                 f"(fallback rate {_fmt(r.get('realistic_fallback_rate'))}) |")
    lines.append(f"| realistic, out_of_scope recall (near-domain) | | "
                 f"{_fmt(r.get('realistic_oos_recall'))} "
                 f"(precision {_fmt(r.get('realistic_oos_precision'))}) |")
    for script in ("simplified", "traditional", "pinyin"):
        lines.append(f"| realistic, {script} | {_fmt(r.get(f'realistic_n_{script}'))} "
                     f"| {_fmt(r.get(f'realistic_acc_{script}'))} |")
    lines.append(f"| realistic, truth among the two likeliest topics (in-scope lines) | | "
                 f"{_fmt(r.get('realistic_top2_topics'))} |")
    lines.append(f"| realistic, share on the embedding (slow) path | "
                 f"{_fmt(r.get('realistic_n'))} | {_fmt(r.get('realistic_slow_path_share'))} |")
    lines.append(f"| 5-fold cross-validation on data/nlu | | {_fmt(r.get('cv_intent_acc'))}"
                 f" (macro F1 {_fmt(r.get('cv_intent_macro_f1'))}) |")
    for bot in ("assistant", "baseline"):
        labels = details.get(bot, {}).get("by_label_c1", {})
        if not labels:
            continue
        lines += ["", f"## Where the time goes: {bot}, 1 sender, per scripted turn", "",
                  "| conversation/turn | n | p50 ms | p95 ms |", "|---|---:|---:|---:|"]
        for label, stats in labels.items():
            lines.append(f"| {label} | {stats['n']} | {_fmt(stats['p50_ms'])} "
                         f"| {_fmt(stats['p95_ms'])} |")
    lines += ["", "Numbers are from one run on a shared machine: other work running at the "
              "same time (see the load average) makes them noisy.", ""]
    return "\n".join(lines)
