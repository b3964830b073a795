"""`python -m bench.nlu_gate`: the gated embedding classifier's alternatives, measured.

Loads the trained model once (in-process), parses tests/nlu/holdout.yml and
tests/nlu/realistic.yml with the embedding path forced on, and keeps for every line
DIET's ranking and the embedding classifier's probabilities. Every alternative is then
scored offline on the same numbers:

- DIET alone (gate 0) and the embedding classifier alone (gate above 1, weight 1);
- gates 0.5 ... 0.99 (the embedding path only below the gate) x dense weights;
- optionally (``--refit C1,C2``) the logistic regression refitted with other C values
  on the embeddings of data/nlu.

"served" counts what the merchant gets: the FallbackClassifier (threshold and
ambiguity threshold read from config.yml) turns unclear rankings into nlu_fallback.
Writes bench/results/nlu-gate.json and nlu-gate.md (aggregate numbers only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from addons.nlu import embedding_intent_classifier as gated
from bench.nlu import (
    FALLBACK,
    HOLDOUT,
    OUT_OF_SCOPE,
    REALISTIC,
    SCRIPTS,
    TOPICS,
    Example,
    load_examples,
    top_topics,
)
from bench.procs import PROJECT_ROOT

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / ".cache"
GATES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1.01)
WEIGHTS = (0.3, 0.5, 0.7, 1.0)

Ranking = list[dict[str, Any]]


def fallback_config() -> tuple[float, float]:
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component.get("threshold", 0.3)), float(
                component.get("ambiguity_threshold", 0.1))
    return 0.0, 0.0


def served_intent(ranking: Ranking, threshold: float, ambiguity: float) -> str:
    top = ranking[0]["confidence"]
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    if top < threshold or top - second < ambiguity:
        return FALLBACK
    return str(ranking[0]["name"])


class Capture:
    """Runs the model with the embedding path forced on; records what each line saw."""

    def __init__(self, model: Path) -> None:
        import structlog
        from rasa.core.agent import Agent

        self.agent = Agent.load(str(model))
        # Parsed texts are logged at debug level: keep the realistic lines unprinted.
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        nodes = self.agent.processor.graph_runner._instantiated_nodes.values()
        components = [n._component for n in nodes
                      if isinstance(n._component, gated.GatedEmbeddingIntentClassifier)]
        if not components:
            raise SystemExit("the model has no GatedEmbeddingIntentClassifier")
        self.component = components[0]
        self.component.gate = 2.0
        self.records: list[dict[str, Any]] = []
        original_combine = gated.combine
        original_embed = self.component.embed

        def combine(diet: Sequence[dict[str, Any]], dense: dict[str, float],
                    weight: float) -> Ranking:
            self.records[-1].update(diet=[dict(e) for e in diet], dense=dict(dense))
            return original_combine(diet, dense, weight)

        def embed(texts: list[str], threads: int | None = None) -> np.ndarray:
            started = time.perf_counter()
            vectors = original_embed(texts, threads)
            self.records[-1].update(vector=vectors[0],
                                    embed_ms=(time.perf_counter() - started) * 1000)
            return vectors

        gated.combine = combine  # type: ignore[assignment]
        self.component.embed = embed  # type: ignore[method-assign]

    def run(self, examples: Sequence[Example]) -> list[dict[str, Any]]:
        import asyncio

        loop = asyncio.new_event_loop()
        out = []
        for example in examples:
            self.records.append({})
            parsed = loop.run_until_complete(self.agent.parse_message(example.text))
            record = self.records[-1]
            if "diet" not in record:  # no intent at all: DIET's answer stands
                ranking = parsed.get("intent_ranking") or [parsed["intent"]]
                record.update(diet=ranking, dense={}, vector=None, embed_ms=0.0)
            out.append(record)
        return out


def mixed(record: dict[str, Any], gate: float, weight: float,
          dense: dict[str, float] | None = None) -> tuple[Ranking, bool]:
    diet: Ranking = record["diet"]
    probabilities = record["dense"] if dense is None else dense
    if not probabilities or diet[0]["confidence"] >= gate:
        return diet, False
    return gated.combine(diet, probabilities, weight), True


def scores(examples: Sequence[Example], rankings: Sequence[Ranking],
           slow: Sequence[bool], threshold: float, ambiguity: float) -> dict[str, Any]:
    truth = [e.intent for e in examples]
    predicted = [str(r[0]["name"]) for r in rankings]
    served = [served_intent(r, threshold, ambiguity) for r in rankings]
    n = len(truth)
    result: dict[str, Any] = {
        "acc": round(sum(t == p for t, p in zip(truth, predicted, strict=True)) / n, 4),
        "acc_served": round(sum(t == s for t, s in zip(truth, served, strict=True)) / n, 4),
        "fallback_rate": round(served.count(FALLBACK) / n, 4),
        "slow_path_share": round(sum(slow) / n, 4),
    }
    for script in SCRIPTS:
        idx = [i for i, e in enumerate(examples) if e.script == script]
        if idx:
            result[f"acc_{script}"] = round(
                sum(truth[i] == predicted[i] for i in idx) / len(idx), 4)
    topical = [i for i, t in enumerate(truth) if t in TOPICS]
    result["top2_topics"] = round(
        sum(truth[i] in top_topics(rankings[i]) for i in topical) / max(1, len(topical)), 4)
    oos = [i for i, t in enumerate(truth) if t == OUT_OF_SCOPE]
    if oos:
        result["oos_recall"] = round(sum(predicted[i] == OUT_OF_SCOPE for i in oos) / len(oos), 4)
    return result


def training_embeddings(component: Any) -> tuple[np.ndarray, list[str]]:
    """Embeddings of data/nlu as the model sees them (normalized), cached by content."""
    from rasa.shared.nlu.training_data.loading import load_data

    from addons.nlu.text_normalizer import TextNormalizer

    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    TextNormalizer({"max_chars": 600}).process_training_data(data)
    examples = [e for e in data.intent_examples if e.get("text")]
    texts = [str(e.get("text")) for e in examples]
    labels = [str(e.get("intent")) for e in examples]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = CACHE / f"e5-train-{digest}-{component.max_chars}.npy"
    if cache.exists():
        return np.load(cache), labels
    vectors = component.embed(texts, threads=2)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu_gate", description=__doc__)
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--max-chars", type=int, default=0,
                        help="embed at most this many characters (default: the model's)")
    parser.add_argument("--refit", default="",
                        help="comma-separated C values to refit the logistic regression with")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    threshold, ambiguity = fallback_config()
    capture = Capture(Path(args.model))
    if args.max_chars:
        capture.component.max_chars = args.max_chars
    files = {"holdout": load_examples(HOLDOUT), "realistic": load_examples(REALISTIC)}
    records = {name: capture.run(examples) for name, examples in files.items()}

    configured = (capture.component._config["gate"], capture.component._config["dense_weight"])
    variants: list[dict[str, Any]] = []

    def add(name: str, gate: float, weight: float, c: float | None = None,
            dense: dict[str, list[dict[str, float]]] | None = None) -> None:
        row: dict[str, Any] = {"variant": name, "gate": gate, "dense_weight": weight, "C": c}
        for file, examples in files.items():
            outcome = [mixed(r, gate, weight, None if dense is None else dense[file][i])
                       for i, r in enumerate(records[file])]
            row[file] = scores(examples, [o[0] for o in outcome], [o[1] for o in outcome],
                               threshold, ambiguity)
        variants.append(row)

    add("DIET alone", 0.0, 0.0)
    add("embedding classifier alone", 1.01, 1.0)
    for gate in GATES[1:-1]:
        for weight in WEIGHTS:
            add(f"gate {gate} weight {weight}", gate, weight)

    if args.refit:
        from addons.nlu.embedding_intent_classifier import LinearModel

        vectors, labels = training_embeddings(capture.component)
        for c in (float(x) for x in args.refit.split(",")):
            model = LinearModel.fit(vectors, labels, c, 7)
            dense = {}
            for file in files:
                dense[file] = []
                for record in records[file]:
                    if record.get("vector") is None:
                        dense[file].append({})
                        continue
                    p = model.probabilities(record["vector"][None, :])[0]
                    dense[file].append(dict(zip(model.classes, map(float, p), strict=True)))
            add(f"C={c}, embedding alone", 1.01, 1.0, c, dense)
            for gate in (0.8, 0.9, 0.95):
                for weight in (0.5, 0.7):
                    add(f"C={c}, gate {gate} weight {weight}", gate, weight, c, dense)

    embed_ms = [r["embed_ms"] for rs in records.values() for r in rs if r.get("embed_ms")]
    result = {
        "model": args.model,
        "max_chars": capture.component.max_chars,
        "configured_gate": configured[0],
        "configured_dense_weight": configured[1],
        "fallback_threshold": threshold,
        "fallback_ambiguity_threshold": ambiguity,
        "embed_ms_p50": round(float(np.percentile(embed_ms, 50)), 1),
        "embed_ms_p95": round(float(np.percentile(embed_ms, 95)), 1),
        "variants": variants,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "nlu-gate.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = markdown(result)
    (RESULTS / "nlu-gate.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Gated embedding classifier: alternatives",
        "",
        f"Model `{result['model']}`; configured gate {result['configured_gate']}, dense weight "
        f"{result['configured_dense_weight']}, embedded characters {result['max_chars']}; fallback threshold {result['fallback_threshold']}"
        f" (ambiguity {result['fallback_ambiguity_threshold']}). Embedding path: "
        f"p50 {result['embed_ms_p50']} ms, p95 {result['embed_ms_p95']} ms per message.",
        "",
        "| variant | holdout acc | served | slow | realistic acc | served | fallback | slow "
        "| oos recall | simpl. | trad. | pinyin | top-2 topics |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["variants"]:
        h, r = row["holdout"], row["realistic"]
        lines.append(
            f"| {row['variant']} | {h['acc']:.3f} | {h['acc_served']:.3f} "
            f"| {h['slow_path_share']:.3f} | {r['acc']:.3f} | {r['acc_served']:.3f} "
            f"| {r['fallback_rate']:.3f} | {r['slow_path_share']:.3f} "
            f"| {r.get('oos_recall', 0):.3f} | {r.get('acc_simplified', 0):.3f} "
            f"| {r.get('acc_traditional', 0):.3f} | {r.get('acc_pinyin', 0):.3f} "
            f"| {r['top2_topics']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
