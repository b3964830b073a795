#!/usr/bin/env bash
# Rebuild widget/dist/widget.js when the widget's sources changed. The bundle is
# committed, so a fresh clone needs neither Node.js nor npm; its first line records a
# hash of the sources it was built from (scripts/widget_bundle.py).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
if "$PY" scripts/widget_bundle.py; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if [ -f widget/dist/widget.js ]; then
        echo "!!! widget: sources changed but npm (Node.js) is missing: the committed," >&2
        echo "!!! older widget/dist/widget.js is served. Install Node.js 18+ to rebuild." >&2
        exit 0
    fi
    echo "ERROR: widget/dist/widget.js is missing and npm (Node.js 18+) is not installed." >&2
    exit 1
fi

cd widget
# Dependencies exactly as locked; reinstalled only when the lock file changed.
lock_stamp="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f node_modules/.lock-stamp ] || [ "$(cat node_modules/.lock-stamp)" != "$lock_stamp" ]; then
    echo "widget: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_stamp" > node_modules/.lock-stamp
fi
npm run --silent build
