"""``python -m core.materials rescan``: scan the files kept in quarantine while the
scanner was down (run it from cron, e.g. every 5 minutes; the channels also start one
after each file the scanner answered for)."""

from __future__ import annotations

import argparse
import json
import logging

from core.materials.pipeline import MaterialsPipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.materials")
    commands = parser.add_subparsers(dest="command", required=True)
    rescan = commands.add_parser("rescan", help="scan quarantined files again")
    rescan.add_argument("--limit", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    counts = MaterialsPipeline().rescan_quarantined(limit=args.limit)
    print(json.dumps(counts))
    return 0 if counts["waiting"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
