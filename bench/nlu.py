"""NLU quality: held-out intent accuracy per script, and 5-fold cross-validation."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import opencc
import yaml
from sklearn.metrics import accuracy_score, f1_score

from bench.load import parse_latencies
from bench.procs import PROJECT_ROOT, RASA, base_env, run_timed

HOLDOUT = PROJECT_ROOT / "tests" / "nlu" / "holdout.yml"
SCRIPTS = ("simplified", "traditional", "pinyin")
FALLBACK = "nlu_fallback"

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


def load_holdout(path: Path = HOLDOUT) -> list[Example]:
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


def classified_intent(parsed: dict) -> str:
    """The classifier's intent, as `rasa test nlu` scores it: a fallback is undone."""
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


def evaluate_holdout(base_url: str, token: str) -> tuple[dict[str, float], dict]:
    """Parses every held-out line through the running server's /model/parse."""
    examples = load_holdout()
    parsed, times = parse_latencies(base_url, token, [e.text for e in examples])
    served = [(p.get("intent") or {}).get("name") or "" for p in parsed]
    predicted = [classified_intent(p) for p in parsed]
    truth = [e.intent for e in examples]
    accuracy, macro_f1 = _metrics(truth, predicted)
    served_accuracy, _ = _metrics(truth, served)
    flat: dict[str, float] = {
        "holdout_n": len(examples),
        "holdout_acc": round(accuracy, 4),
        "holdout_macro_f1": round(macro_f1, 4),
        "holdout_acc_served": round(served_accuracy, 4),
        "holdout_fallback_rate": round(served.count(FALLBACK) / len(served), 4),
    }
    for script in SCRIPTS:
        indexes = [i for i, e in enumerate(examples) if e.script == script]
        flat[f"holdout_n_{script}"] = len(indexes)
        if indexes:
            flat[f"holdout_acc_{script}"] = round(
                float(accuracy_score([truth[i] for i in indexes],
                                     [predicted[i] for i in indexes])), 4)
    misses = [
        {"text": e.text, "intent": e.intent, "predicted": p, "served": s, "script": e.script}
        for e, p, s in zip(examples, predicted, served, strict=True) if e.intent != s
    ]
    return flat, {"misclassified": misses, "parse_ms": times}


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
