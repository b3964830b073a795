"""The committed widget/dist/widget.js is built from the current widget sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.widget_bundle import BUNDLE, WIDGET, bundle_hash, sources_hash


def test_committed_bundle_matches_the_sources() -> None:
    assert bundle_hash() is not None, "widget/dist/widget.js is missing or has no banner"
    assert bundle_hash() == sources_hash(), (
        "widget/dist/widget.js is older than widget/src (or package*.json, build.mjs): "
        "run `make setup` (it rebuilds with npm) and commit the bundle"
    )


def test_rebuilding_gives_the_committed_bytes(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (WIDGET / "node_modules" / "esbuild").exists():
        pytest.skip("!!! widget/node_modules is not installed (npm ci in widget/): "
                    "byte-for-byte rebuild check SKIPPED !!!")
    out = tmp_path / "widget.js"
    subprocess.run(["node", "build.mjs", str(out)], cwd=WIDGET, check=True,
                   capture_output=True, timeout=120)
    assert out.read_bytes() == BUNDLE.read_bytes()
