"""Answer-level gate of `make test`: did the merchant get the answer for their topic?

Parses tests/nlu/knowledge_dev.yml (written apart from the entries and the training
data) through the trained model in-process, with the knowledge base loaded into a fresh
merchant database exactly as `make db` loads it, and maps each parse to what the
assistant does with it: a knowledge entry (``kb:<id>``), a flow (``flow:...``), small
talk, a "did you mean" list, or a fallback. A question counts as right when that answer
is one of its expected answers. Prints aggregate numbers (never the lines), writes
results/knowledge/check.json, fails below the thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV = ROOT / "tests" / "nlu" / "knowledge_dev.yml"

FLOWS = {
    "check_account_status": "flow:account_status",
    "report_account_abnormal": "flow:account_status",
    "submit_appeal": "flow:submit_appeal",
    "check_appeal_status": "flow:appeal_status",
    "request_human": "flow:handoff",
    "ask_remote_collection": "flow:advisor",
    "delete_my_data": "flow:delete_data",
    "greet": "chitchat:greet",
    "thank": "chitchat:thank",
    "goodbye": "chitchat:goodbye",
}
# What else an intent's answer serves (the remote-collection intro names the options).
ALSO = {"ask_remote_collection": ["kb:remote_collection"],
        "report_account_abnormal": ["kb:restriction_general"]}


def answers_of(parsed: dict[str, Any]) -> tuple[str, list[str]]:
    """(kind, answers): what the assistant does with this parse."""
    from core.knowledge.decision import INTENT_ENTRIES, PLATFORM_ENTRIES

    intent = (parsed.get("intent") or {}).get("name") or ""
    knowledge = parsed.get("knowledge") or {}
    if intent == "knowledge":
        return "answer", [f"kb:{knowledge.get('entry_id')}"]
    if intent == "nlu_fallback":
        if knowledge.get("decision") == "suggest":
            return "suggest", [f"kb:{i}" for i in knowledge.get("suggestions") or []]
        return "fallback", []
    if intent in FLOWS:
        return "flow", [FLOWS[intent], *ALSO.get(intent, [])]
    if intent in INTENT_ENTRIES:
        return "answer", [f"kb:{INTENT_ENTRIES[intent]}"]
    if intent == "out_of_scope":
        platform = next((e.get("value") for e in parsed.get("entities") or []
                         if e.get("entity") == "other_platform"), None)
        if platform in PLATFORM_ENTRIES:
            return "answer", [f"kb:{PLATFORM_ENTRIES[platform]}"]
        return "out_of_scope", []
    return "other", [f"intent:{intent}"]


def prepare_database() -> str:
    """A fresh SQLite merchant database with the knowledge base synced into it."""
    from sqlalchemy.orm import Session

    from core.db.migrate import upgrade
    from core.db.session import get_engine
    from core.knowledge import store
    from core.knowledge.entries import load_directory

    url = f"sqlite:///{tempfile.mkdtemp(prefix='kbcheck-')}/merchant.db"
    upgrade(url)
    with Session(get_engine(url)) as session, session.begin():
        store.sync(session, load_directory())
    return url


def evaluate(model: Path, dev: Path = DEV, followups: Path | None = None) -> dict[str, Any]:
    import structlog
    from rasa.core.agent import Agent

    questions = yaml.safe_load(dev.read_text(encoding="utf-8"))["questions"]
    os.environ["MERCHANT_DB_URL"] = prepare_database()
    agent = Agent.load(str(model))
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    loop = asyncio.new_event_loop()
    from core.knowledge.entries import load_directory

    redirects = {f"kb:{e.id}" for e in load_directory() if e.scope == "redirect"}
    kinds: Counter[str] = Counter()
    by_shape: dict[str, list[int]] = defaultdict(list)
    right = suggest_hit = 0
    redirect_n = redirect_right = 0
    times: list[float] = []
    misses: list[dict[str, Any]] = []
    for item in questions:
        started = time.perf_counter()
        parsed = loop.run_until_complete(agent.parse_message(item["text"]))
        times.append((time.perf_counter() - started) * 1000)
        kind, answers = answers_of(parsed)
        kinds[kind] += 1
        expected = set(item["expect"])
        hit = kind not in ("suggest", "fallback") and bool(expected & set(answers))
        right += hit
        suggest_hit += kind == "suggest" and bool(expected & set(answers))
        by_shape[item.get("shape", "?")].append(int(hit))
        if not hit:
            misses.append({"text": item["text"], "expect": item["expect"], "got": kind,
                           "answers": answers, "shape": item.get("shape", "?")})
        if expected & redirects:
            redirect_n += 1
            redirect_right += hit
    n = len(questions)
    times.sort()
    followed = None
    if followups is not None:
        from scripts.check_followups import evaluate_loaded

        followed = evaluate_loaded(agent, loop, followups)
    return {
        "followups": followed,
        "n": n,
        "accuracy": round(right / n, 4),
        "answer_or_right_suggestion": round((right + suggest_hit) / n, 4),
        "fallback_rate": round(kinds["fallback"] / n, 4),
        "suggest_rate": round(kinds["suggest"] / n, 4),
        "suggest_with_right_entry": round(suggest_hit / max(1, kinds["suggest"]), 4),
        "redirect_recall": round(redirect_right / max(1, redirect_n), 4),
        "redirect_n": redirect_n,
        "kinds": dict(kinds),
        "by_shape": {s: {"n": len(v), "accuracy": round(sum(v) / len(v), 3)}
                     for s, v in sorted(by_shape.items())},
        "parse_p50_ms": round(times[n // 2], 1),
        "parse_p95_ms": round(times[int(n * 0.95)], 1),
        "misses": misses,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--dev", default=str(DEV))
    parser.add_argument("--min-accuracy", type=float, default=0.85)
    parser.add_argument("--max-fallback", type=float, default=0.05)
    parser.add_argument("--min-redirect", type=float, default=0.85)
    parser.add_argument("--out", default=str(ROOT / "results" / "knowledge" / "check.json"))
    parser.add_argument("--followups", default=None,
                        help="also check follow-ups (scripts/check_followups.py) on one load")
    parser.add_argument("--min-followups", type=float, default=0.0)
    parser.add_argument("--aggregates-only", action="store_true",
                        help="leave the lines out of the report (held-out sets)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    report = evaluate(Path(args.model), Path(args.dev),
                      Path(args.followups) if args.followups else None)
    if args.aggregates_only:
        report.pop("misses")
        if report["followups"]:
            report["followups"].pop("misses")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"answer level: accuracy {report['accuracy']:.3f} (n={report['n']}), "
          f"answer or right suggestion {report['answer_or_right_suggestion']:.3f}, "
          f"fallback {report['fallback_rate']:.3f}, did-you-mean {report['suggest_rate']:.3f} "
          f"(right entry offered {report['suggest_with_right_entry']:.3f}), "
          f"redirect recall {report['redirect_recall']:.3f} (n={report['redirect_n']})")
    print("  by shape: " + ", ".join(f"{s} {v['accuracy']:.2f} (n={v['n']})"
                                     for s, v in report["by_shape"].items()))
    print(f"  in-process parse p50 {report['parse_p50_ms']} ms, p95 {report['parse_p95_ms']} ms")
    followed = report["followups"]
    if followed:
        print(f"  follow-ups: accuracy {followed['accuracy']:.3f} (n={followed['n']}), "
              f"without the topic {followed['accuracy_without_topic']:.3f}")
    failed = []
    if followed and followed["accuracy"] < args.min_followups:
        failed.append(f"follow-up accuracy {followed['accuracy']:.3f} < {args.min_followups}")
    if report["accuracy"] < args.min_accuracy:
        failed.append(f"accuracy {report['accuracy']:.3f} < {args.min_accuracy}")
    if report["fallback_rate"] > args.max_fallback:
        failed.append(f"fallback {report['fallback_rate']:.3f} > {args.max_fallback}")
    if report["redirect_recall"] < args.min_redirect:
        failed.append(f"redirect recall {report['redirect_recall']:.3f} < {args.min_redirect}")
    for reason in failed:
        print(f"FAIL: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
