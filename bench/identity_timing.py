"""Does a wrong identity check take longer for a merchant id that exists?

Interleaves many failed checks against an existing merchant id (wrong phone digits) and
against ids that do not exist, on a fresh SQLite database (and PostgreSQL when it is
reachable), through the same database work the identity form runs, and reports median
and spread of each. Results: bench/results/identity_timing.json (see docs/security.md).

    .venv/bin/python -m bench.identity_timing [--tries 2000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from core.db import repository
from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import get_engine

RESULTS = Path(__file__).resolve().parent / "results" / "identity_timing.json"


def one_check(url: str, merchant_id: str, last4: str) -> float:
    """One failed check as the form runs it, from a new sender (no lock-out)."""
    sender = uuid.uuid4().hex
    start = time.perf_counter()
    with Session(get_engine(url)) as session, session.begin():
        repository.is_locked(session, "rest", sender)
        repository.merchant_id_locked(session, merchant_id)
        repository.check_identity(session, "rest", sender, merchant_id, last4)
        repository.is_locked(session, "rest", sender)
    return (time.perf_counter() - start) * 1000


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered), 4),
            "p10_ms": round(ordered[len(ordered) // 10], 4),
            "p90_ms": round(ordered[len(ordered) * 9 // 10], 4)}


def measure(url: str, tries: int) -> dict[str, object]:
    upgrade(url)
    seed_demo_data(get_engine(url))
    existing: list[float] = []
    unknown: list[float] = []
    for n in range(tries):
        # A fresh id every time: the per-id guessing limit must not kick in.
        missing = f"19{n:08d}"[-10:] if n else "1999999999"
        if missing in {"1900000001", "1900000002", "1900000003", "1900000004"}:
            missing = "1988888888"
        existing.append(one_check(url, "1900000002", f"{n % 9000 + 1000:04d}"))
        unknown.append(one_check(url, missing, "0002"))
    a, b = summary(existing[tries // 10:]), summary(unknown[tries // 10:])  # warm-up out
    return {"existing_wrong_digits": a, "unknown_id": b,
            "median_difference_ms": round(a["median_ms"] - b["median_ms"], 4),
            "tries": tries}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, object] = {"machine": platform.platform()}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/timing.db", args.tries)
    admin = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    name = f"timing_{uuid.uuid4().hex[:8]}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - PostgreSQL is optional here
        results["postgresql"] = f"not measured: {type(error).__name__}"
    else:
        url = admin.rsplit("/", 1)[0] + f"/{name}"
        try:
            results["postgresql"] = measure(url, args.tries)
        finally:
            get_engine(url).dispose()
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
