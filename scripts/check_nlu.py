"""NLU gate of `make test`: held-out and realistic intent accuracy of the trained model.

Loads the model once (in-process, no server), parses tests/nlu/holdout.yml and
tests/nlu/realistic.yml, scores them like `rasa test nlu` (when the fallback fires,
the classifier's top intent counts), prints aggregate numbers only and fails when an
accuracy is below its threshold. The realistic file's lines are never printed: it is
an independent test set, read in aggregate only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.nlu import SCRIPTS, evaluate_files  # noqa: E402


def parser_of(model: Path) -> Any:
    """A function texts -> (parse results, ms per text) over the model loaded in-process."""
    import structlog
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    # Rasa logs every parsed message (text included) at debug level through structlog:
    # the realistic file's lines must not be printed.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    loop = asyncio.new_event_loop()

    def parse(texts: list[str]) -> tuple[list[dict], list[float]]:
        results: list[dict] = []
        times: list[float] = []
        for text in texts:
            started = time.perf_counter()
            results.append(loop.run_until_complete(agent.parse_message(text)))
            times.append((time.perf_counter() - started) * 1000)
        return results, times

    return parse


def summary_lines(flat: dict[str, Any], details: dict[str, Any]) -> list[str]:
    lines = []
    for prefix in ("holdout", "realistic"):
        scripts = ", ".join(
            f"{s} {flat[f'{prefix}_acc_{s}']:.3f} (n={flat[f'{prefix}_n_{s}']})"
            for s in SCRIPTS if f"{prefix}_acc_{s}" in flat)
        lines.append(
            f"{prefix}: intent accuracy {flat[f'{prefix}_acc']:.3f} "
            f"(n={flat[f'{prefix}_n']}, macro F1 {flat[f'{prefix}_macro_f1']:.3f}, "
            f"served {flat[f'{prefix}_acc_served']:.3f}, "
            f"fallback {flat[f'{prefix}_fallback_rate']:.3f}, "
            f"slow path {flat[f'{prefix}_slow_path_share']:.3f}, "
            f"truth in the two likeliest topics {flat.get(f'{prefix}_top2_topics', 0):.3f})")
        lines.append(f"  by script: {scripts}")
        if f"{prefix}_parse_p50_ms" in flat:
            lines.append(f"  in-process parse p50 {flat[f'{prefix}_parse_p50_ms']} ms, "
                         f"p95 {flat[f'{prefix}_parse_p95_ms']} ms")
        if f"{prefix}_oos_recall" in flat:
            lines.append(f"  out_of_scope recall {flat[f'{prefix}_oos_recall']:.3f}, "
                         f"precision {flat[f'{prefix}_oos_precision']:.3f}")
        weak = {k: v for k, v in details[f"{prefix}_report"]["per_intent"].items()
                if v["f1"] < 0.85}
        for name, values in sorted(weak.items()):
            lines.append(f"  weak intent: {name} P {values['precision']:.2f} "
                         f"R {values['recall']:.2f} F1 {values['f1']:.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--min-holdout", type=float, default=0.90)
    parser.add_argument("--min-realistic", type=float, default=0.80)
    parser.add_argument("--out", default=str(ROOT / "results" / "nlu" / "check_nlu.json"),
                        help="aggregate report (JSON): numbers, per intent, confusion counts")
    parser.add_argument("--confusions", action="store_true",
                        help="also print confusion counts between intents (aggregate)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    flat, details = evaluate_files(parser_of(Path(args.model)))
    for prefix in ("holdout", "realistic"):
        times = sorted(details[f"{prefix}_parse_ms"])
        flat[f"{prefix}_parse_p50_ms"] = round(times[len(times) // 2], 1)
        flat[f"{prefix}_parse_p95_ms"] = round(times[int(len(times) * 0.95)], 1)
    report = {
        "numbers": flat,
        "holdout": details["holdout_report"],
        "realistic": details["realistic_report"],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")

    for line in summary_lines(flat, details):
        print(line)
    if args.confusions:
        for prefix in ("holdout", "realistic"):
            print(f"{prefix} confusions (truth -> predicted: count):")
            for pair, count in details[f"{prefix}_report"]["confusions"].items():
                print(f"  {pair}: {count}")

    failed = False
    for prefix, minimum in (("holdout", args.min_holdout), ("realistic", args.min_realistic)):
        if flat[f"{prefix}_acc"] < minimum:
            print(f"FAIL: {prefix} accuracy {flat[f'{prefix}_acc']:.3f} < {minimum:.2f}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
