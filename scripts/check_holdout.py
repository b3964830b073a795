"""Fails when the held-out intent accuracy drops below the threshold."""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", help="intent_report.json written by `rasa test nlu`")
    parser.add_argument("--min-accuracy", type=float, default=0.90)
    args = parser.parse_args()
    with open(args.report, encoding="utf-8") as handle:
        report = json.load(handle)
    accuracy = report["accuracy"]
    macro_f1 = report["macro avg"]["f1-score"]
    weak = sorted(
        (name, values["f1-score"])
        for name, values in report.items()
        if isinstance(values, dict) and "f1-score" in values and values["f1-score"] < 0.85
        and name not in ("macro avg", "weighted avg", "micro avg")
    )
    print(f"held-out intent accuracy {accuracy:.3f}, macro F1 {macro_f1:.3f}")
    for name, f1 in weak:
        print(f"  weak intent: {name} F1 {f1:.2f}")
    if accuracy < args.min_accuracy:
        print(f"FAIL: accuracy {accuracy:.3f} < {args.min_accuracy:.2f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
