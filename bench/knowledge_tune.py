"""Retrieval figures of the knowledge index alone (no DIET) on the answer-level set, and
a grid over the fusion weights: ``python -m bench.knowledge_tune``.

Only questions whose expected answers include a knowledge entry count; a hit is the top
candidate being one of them (top-3 also reported). Writes bench/results/knowledge-tune.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from core.knowledge import matching
from core.knowledge import vectors as vec
from core.knowledge.entries import load_directory
from core.knowledge.matching import KnowledgeIndex

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "nlu" / "knowledge_dev.yml"


def load_dev(path: Path = DEV) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]


def main() -> None:
    entries = load_directory()
    questions = [q for e in entries for q in e.questions]
    vectors, _ = vec.vectors_for([vec.prepared(q) for q in questions])
    dev = [d for d in load_dev() if any(x.startswith("kb:") for x in d["expect"])]
    known = {e.id for e in entries}
    dev = [d for d in dev if any(x[3:] in known for x in d["expect"] if x.startswith("kb:"))]
    query_vectors, _ = vec.vectors_for([vec.prepared(d["text"]) for d in dev])
    results = []
    for floor in (0.7, 0.75, 0.78, 0.8, 0.82):
        for weight in (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
            matching.DENSE_FLOOR, matching.DENSE_WEIGHT = floor, weight
            index = KnowledgeIndex(entries, vectors)
            top1 = top3 = 0
            for item, qv in zip(dev, query_vectors, strict=True):
                wanted = {x[3:] for x in item["expect"] if x.startswith("kb:")}
                found = [c.entry_id for c in index.search(item["text"], qv, limit=3)]
                top1 += found[0] in wanted
                top3 += bool(wanted & set(found))
            results.append({"floor": floor, "weight": weight, "n": len(dev),
                            "top1": round(top1 / len(dev), 3), "top3": round(top3 / len(dev), 3)})
            print(results[-1], flush=True)
    best = max(results, key=lambda r: (r["top1"], r["top3"]))
    out = ROOT / "bench" / "results" / "knowledge-tune.json"
    out.write_text(json.dumps({"entries": len(entries), "grid": results, "best": best},
                              ensure_ascii=False, indent=1))
    print("best", best)
    np.set_printoptions(precision=3)


if __name__ == "__main__":
    main()
