"""Is widget/dist/widget.js built from the current widget sources?

The bundle's first line records a SHA-256 of every input of the build (widget/src/,
package.json, package-lock.json, build.mjs); the same recipe as widget/build.mjs.
`python scripts/widget_bundle.py` exits 0 when the bundle is up to date, 1 otherwise.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

WIDGET = Path(__file__).resolve().parents[1] / "widget"
BUNDLE = WIDGET / "dist" / "widget.js"
BANNER = re.compile(r"^/\* merchant-support widget; sources sha256:([0-9a-f]{64}) \*/$")


def sources_hash(widget: Path = WIDGET) -> str:
    names = [p.relative_to(widget).as_posix() for p in (widget / "src").rglob("*") if p.is_file()]
    names += ["package.json", "package-lock.json", "build.mjs"]
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0")
        digest.update((widget / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def bundle_hash(bundle: Path = BUNDLE) -> str | None:
    """The sources hash recorded in the bundle, None if missing or unstamped."""
    if not bundle.exists():
        return None
    with bundle.open(encoding="utf-8") as handle:
        match = BANNER.match(handle.readline().rstrip("\n"))
    return match.group(1) if match else None


def up_to_date() -> bool:
    return bundle_hash() == sources_hash()


if __name__ == "__main__":
    sys.exit(0 if up_to_date() else 1)
