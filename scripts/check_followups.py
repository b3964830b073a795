"""Answer-level check of follow-ups: after an entry was answered, does the next short
message get the answer for its topic?

Each item of tests/nlu/followups_*.yml gives the merchant's previous message, the entry
the assistant answered it with, the follow-up and the answers that serve it. The
follow-up is parsed through the trained model in-process twice: with the topic the
conversation would hand the NLU (addons/topic_context.py: the entry just said) and
without it, so the file shows what the topic adds. Answering the entry just said again
counts as wrong unless it is expected (the merchant gets a one-sentence gist, not an
answer). Prints aggregates (never the lines), writes a JSON report, fails below the
threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.check_knowledge import answers_of, prepare_database  # noqa: E402

DEV = ROOT / "tests" / "nlu" / "followups_dev.yml"


def score(parsed: dict[str, Any], item: dict[str, Any]) -> tuple[bool, str]:
    kind, answers = answers_of(parsed)
    if kind == "answer" and answers == [f"kb:{item['answered']}"]:
        kind = "repeat"
    hit = kind not in ("suggest", "fallback") and bool(set(item["expect"]) & set(answers))
    return hit, kind


def evaluate(model: Path, dev: Path) -> dict[str, Any]:
    import structlog
    from rasa.core.agent import Agent

    os.environ["MERCHANT_DB_URL"] = prepare_database()
    agent = Agent.load(str(model))
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return evaluate_loaded(agent, asyncio.new_event_loop(), dev)


def evaluate_loaded(agent: Any, loop: asyncio.AbstractEventLoop, dev: Path) -> dict[str, Any]:
    """The report for ``dev`` with an agent already loaded (scripts/check_knowledge.py
    runs both checks on one load)."""
    from rasa.core.channels.channel import UserMessage

    items = yaml.safe_load(dev.read_text(encoding="utf-8"))["conversations"]

    def parse(text: str, topic: dict[str, list[str]] | None) -> dict[str, Any]:
        message = UserMessage(text, sender_id="followups",
                              metadata={"topic": topic} if topic else None)
        return loop.run_until_complete(agent.processor.parse_message(message))

    right = before = 0
    kinds: Counter[str] = Counter()
    by_shape: dict[str, list[int]] = defaultdict(list)
    misses = []
    for item in items:
        said = [str(item["answered"])]
        hit, kind = score(parse(item["text"], {"last": said, "answered": said}), item)
        alone, _ = score(parse(item["text"], None), item)
        right += hit
        before += alone
        kinds[kind] += 1
        by_shape[item.get("shape", "?")].append(int(hit))
        if not hit:
            misses.append({"before": item["before"], "answered": item["answered"],
                           "text": item["text"], "expect": item["expect"], "got": kind,
                           "answers": answers_of(parse(item["text"], {
                               "last": said, "answered": said}))[1]})
    n = len(items)
    return {
        "n": n,
        "accuracy": round(right / n, 4),
        "accuracy_without_topic": round(before / n, 4),
        "kinds": dict(kinds),
        "by_shape": {s: {"n": len(v), "accuracy": round(sum(v) / len(v), 3)}
                     for s, v in sorted(by_shape.items())},
        "misses": misses,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--dev", default=str(DEV))
    parser.add_argument("--min-accuracy", type=float, default=0.0)
    parser.add_argument("--out", default=str(ROOT / "results" / "knowledge" / "followups.json"))
    parser.add_argument("--aggregates-only", action="store_true",
                        help="leave the lines out of the report (held-out sets)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    report = evaluate(Path(args.model), Path(args.dev))
    if args.aggregates_only:
        report.pop("misses")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"follow-ups: accuracy {report['accuracy']:.3f} (n={report['n']}), "
          f"without the topic {report['accuracy_without_topic']:.3f}; kinds {report['kinds']}")
    print("  by shape: " + ", ".join(f"{s} {v['accuracy']:.2f} (n={v['n']})"
                                     for s, v in report["by_shape"].items()))
    if report["accuracy"] < args.min_accuracy:
        print(f"FAIL: accuracy {report['accuracy']:.3f} < {args.min_accuracy}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
