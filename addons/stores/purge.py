"""Retention: delete conversations nobody has written in for N days.

``python -m addons.stores.purge --days 90`` (``make purge``; ``RETENTION_DAYS`` sets the
default) deletes, from the tracker database and an SQL event broker's table, every
conversation whose newest event is older than N days. Conversations with a recent event
are kept whole. Run it daily (cron, systemd timer); ``--dry-run`` only counts.
"""

from __future__ import annotations

import argparse
import os
import time

import sqlalchemy as sa

DEFAULT_DAYS = 90


def stale_senders(engine: sa.engine.Engine, table: str, cutoff: float) -> list[str]:
    events = sa.table(table, sa.column("sender_id"), sa.column("timestamp"))
    query = (sa.select(events.c.sender_id).group_by(events.c.sender_id)
             .having(sa.func.max(events.c.timestamp) < cutoff))
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query)]


def purge(url: str, days: float, table: str = "events", dry_run: bool = False,
          now: float | None = None) -> int:
    """Deletes conversations older than ``days`` from ``table`` at ``url``; how many."""
    engine = sa.create_engine(url, future=True)
    if not sa.inspect(engine).has_table(table):
        return 0
    cutoff = (now or time.time()) - days * 86400
    senders = stale_senders(engine, table, cutoff)
    if senders and not dry_run:
        events = sa.table(table, sa.column("sender_id"))
        with engine.begin() as connection:
            for start in range(0, len(senders), 500):
                connection.execute(sa.delete(events).where(
                    events.c.sender_id.in_(senders[start:start + 500])))
    engine.dispose()
    return len(senders)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m addons.stores.purge")
    parser.add_argument("--days", type=float,
                        default=float(os.environ.get("RETENTION_DAYS", DEFAULT_DAYS)))
    parser.add_argument("--tracker-url", default=os.environ.get(
        "TRACKER_DB_URL", "sqlite:///var/tracker.db"))
    parser.add_argument("--broker-url", default=os.environ.get(
        "EVENTS_DB_URL", "sqlite:///var/events.db"))
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    conversations = purge(args.tracker_url, args.days, dry_run=args.dry_run)
    copies = purge(args.broker_url, args.days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"purge: {verb} {conversations} conversations older than {args.days:g} days "
          f"(and {copies} in the event broker's table)")


if __name__ == "__main__":
    main()
