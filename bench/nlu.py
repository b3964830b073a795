"""NLU quality: held-out and realistic intent accuracy per script, and cross-validation.

Two test files, scored the same way:

- ``tests/nlu/holdout.yml``: held-out lines in the training data's own style;
- ``tests/nlu/realistic.yml``: lines written by someone who never saw the training data,
  in the styles of real public writing, 27% near-domain ``out_of_scope`` (other
  platforms, banks). Only aggregate numbers of this file are reported: its lines and
  its misclassified lines are never written out, so nobody tunes the training data to
  single lines of it.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opencc
import yaml
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from bench.procs import PROJECT_ROOT, RASA, base_env, run_timed

HOLDOUT = PROJECT_ROOT / "tests" / "nlu" / "holdout.yml"
REALISTIC = PROJECT_ROOT / "tests" / "nlu" / "realistic.yml"
SCRIPTS = ("simplified", "traditional", "pinyin")
FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
# Output key set by addons.nlu.embedding_intent_classifier on every parsed message.
NLU_PATH_KEY = "intent_path"

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A CJK character followed by a parenthesised pinyin syllable: 異(yì), 麼(me).
PINYIN_ANNOTATION = re.compile(
    rf"[{CJK}][(（][a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹ]{{1,7}}[1-5]?[)）]"
)
# Rasa entity markup `[text](entity)` / `[text]{...}`: keep the text only.
ENTITY_MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

_t2s = opencc.OpenCC("t2s")


def script_of(text: str) -> str:
    if PINYIN_ANNOTATION.search(text):
        return "pinyin"
    if _t2s.convert(text) != text:
        return "traditional"
    return "simplified"


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    script: str


def load_examples(path: Path = HOLDOUT) -> list[Example]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples: list[Example] = []
    for block in data.get("nlu", []):
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            text = ENTITY_MARKUP.sub(r"\1", line[2:].strip())
            examples.append(Example(text, block["intent"], script_of(text)))
    return examples


def load_holdout(path: Path = HOLDOUT) -> list[Example]:
    return load_examples(path)


# The topics actions/guidance.py offers as "did you mean" choices (two likeliest first).
TOPICS = frozenset({
    "report_account_abnormal", "ask_abnormal_reason", "check_account_status", "contact_support",
    "ask_appeal_process", "submit_appeal", "check_appeal_status", "ask_unfreeze_time",
    "ask_frozen_funds", "ask_risk_prevention", "ask_remote_collection", "ask_website_payment",
    "ask_miniprogram_payment", "ask_fee_rate", "request_human",
})


def top_topics(ranking: Sequence[dict], n: int = 2) -> list[str]:
    return [str(r.get("name")) for r in ranking if r.get("name") in TOPICS][:n]


def classified_intent(parsed: dict) -> str:
    """The classifier's intent, as `rasa test nlu` scores it: a fallback is undone, and
    so is the knowledge matcher's answer or suggestion (it keeps the classifier's intent;
    the answer-level check, scripts/check_knowledge.py, scores what it did)."""
    knowledge = parsed.get("knowledge") or {}
    if knowledge.get("decision") in ("answer", "suggest") and knowledge.get("intent"):
        return str(knowledge["intent"])
    intent = (parsed.get("intent") or {}).get("name") or ""
    ranking = parsed.get("intent_ranking") or []
    if intent == FALLBACK and len(ranking) >= 2:
        return str(ranking[1].get("name") or "")
    return intent


def _metrics(truth: list[str], predicted: list[str]) -> tuple[float, float]:
    # Like `rasa test nlu`: macro average over the intents of the test set.
    labels = sorted(set(truth))
    return (
        float(accuracy_score(truth, predicted)),
        float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
    )


def score(
    prefix: str, examples: Sequence[Example], parsed: Sequence[dict]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flat numbers (``<prefix>_acc`` ...) and aggregate details for one test file.

    The details hold per-intent precision/recall/F1 and confusion counts between
    intents, never the text of a line.
    """
    served = [(p.get("intent") or {}).get("name") or "" for p in parsed]
    predicted = [classified_intent(p) for p in parsed]
    truth = [e.intent for e in examples]
    accuracy, macro_f1 = _metrics(truth, predicted)
    served_accuracy, _ = _metrics(truth, served)
    paths = [str(p.get(NLU_PATH_KEY) or "diet") for p in parsed]
    flat: dict[str, Any] = {
        f"{prefix}_n": len(examples),
        f"{prefix}_acc": round(accuracy, 4),
        f"{prefix}_macro_f1": round(macro_f1, 4),
        f"{prefix}_acc_served": round(served_accuracy, 4),
        f"{prefix}_fallback_rate": round(served.count(FALLBACK) / max(1, len(served)), 4),
        f"{prefix}_slow_path_share": round(
            sum(path == "dense" for path in paths) / max(1, len(paths)), 4),
    }
    for script in SCRIPTS:
        indexes = [i for i, e in enumerate(examples) if e.script == script]
        flat[f"{prefix}_n_{script}"] = len(indexes)
        if indexes:
            flat[f"{prefix}_acc_{script}"] = round(
                float(accuracy_score([truth[i] for i in indexes],
                                     [predicted[i] for i in indexes])), 4)
    labels = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0)
    per_intent = {
        label: {"precision": round(float(p), 3), "recall": round(float(r), 3),
                "f1": round(float(f), 3), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    if OUT_OF_SCOPE in per_intent:
        flat[f"{prefix}_oos_recall"] = per_intent[OUT_OF_SCOPE]["recall"]
        flat[f"{prefix}_oos_precision"] = per_intent[OUT_OF_SCOPE]["precision"]
    # What a second miss shows: the two likeliest topics the app offers as choices.
    topical = [i for i, t in enumerate(truth) if t in TOPICS]
    if topical:
        flat[f"{prefix}_top2_topics"] = round(sum(
            truth[i] in top_topics(parsed[i].get("intent_ranking") or [])
            for i in topical) / len(topical), 4)
    confusions = Counter(
        f"{t} -> {p}" for t, p in zip(truth, predicted, strict=True) if t != p)
    details: dict[str, Any] = {
        "per_intent": per_intent,
        "confusions": dict(confusions.most_common()),
    }
    return flat, details


def misclassified(examples: Sequence[Example], parsed: Sequence[dict]) -> list[dict[str, str]]:
    """Lines whose served intent is wrong (only for the held-out file)."""
    return [
        {"text": e.text, "intent": e.intent, "predicted": classified_intent(p),
         "served": (p.get("intent") or {}).get("name") or "", "script": e.script}
        for e, p in zip(examples, parsed, strict=True)
        if e.intent != ((p.get("intent") or {}).get("name") or "")
    ]


def evaluate_files(
    parse: Callable[[list[str]], tuple[list[dict], list[float]]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scores holdout.yml and realistic.yml with ``parse`` (texts -> results, ms)."""
    flat: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for prefix, path in (("holdout", HOLDOUT), ("realistic", REALISTIC)):
        examples = load_examples(path)
        parsed, times = parse([e.text for e in examples])
        file_flat, file_details = score(prefix, examples, parsed)
        flat.update(file_flat)
        details[f"{prefix}_report"] = file_details
        details[f"{prefix}_parse_ms"] = times
        if prefix == "holdout":
            details["holdout_misclassified"] = misclassified(examples, parsed)
    return flat, details


def evaluate_served(base_url: str, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both test files through the running server's /model/parse."""
    from bench.load import parse_latencies

    return evaluate_files(lambda texts: parse_latencies(base_url, token, texts))


def cross_validate(workdir: Path, folds: int = 5) -> dict[str, float]:
    """`rasa test nlu --cross-validation` on data/nlu; reads the accumulated test report."""
    out = workdir / "cv"
    env = base_env(RASA_CACHE_DIRECTORY=str(workdir / "cv-cache"))
    started = time.perf_counter()
    run_timed(
        [RASA, "test", "nlu", "--nlu", "data/nlu", "--cross-validation", "--folds", str(folds),
         "--config", "config.yml", "--out", str(out), "--no-plot"],
        PROJECT_ROOT, env, workdir / "cv.log", timeout=7200,
    )
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    return {
        "cv_intent_acc": round(float(report["accuracy"]), 4),
        "cv_intent_macro_f1": round(float(report["macro avg"]["f1-score"]), 4),
        "cv_s": round(time.perf_counter() - started, 1),
    }
