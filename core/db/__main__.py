"""`python -m core.db init`: migrate the merchant database and load the demo data."""

from __future__ import annotations

import argparse

from core.db.migrate import upgrade
from core.db.seed import seed_demo_data
from core.db.session import database_url, get_engine
from core.privacy import mask_url


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m core.db")
    parser.add_argument("command", choices=["migrate", "seed", "init"])
    parser.add_argument("--url", default=None, help="database URL (default: MERCHANT_DB_URL)")
    args = parser.parse_args()
    url = args.url or database_url()
    if args.command in ("migrate", "init"):
        upgrade(url)
    if args.command in ("seed", "init"):
        seed_demo_data(get_engine(url))
    print(f"merchant db ready: {mask_url(url)}")


if __name__ == "__main__":
    main()
