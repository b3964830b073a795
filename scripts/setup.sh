#!/usr/bin/env bash
# Build .venv with a Python 3.10 interpreter and the pinned dependencies.
# Idempotent: when pyproject.toml and constraints.txt are unchanged it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
    local candidate
    if [ -n "${PYTHON310:-}" ]; then
        echo "$PYTHON310"
        return 0
    fi
    # 1. pyenv (on PATH, or its default root without the shell integration)
    if command -v pyenv >/dev/null 2>&1; then
        for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
            candidate="$(pyenv root)/versions/$version/bin/python3.10"
            if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
        done
    fi
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
        if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
    # 2. python3.10 on PATH
    if command -v python3.10 >/dev/null 2>&1; then
        candidate="$(command -v python3.10)"
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    fi
    return 1
}

stamp_of() {
    cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1
}

STAMP_FILE=.venv/.setup-stamp
if [ -x .venv/bin/python ] && [ -f "$STAMP_FILE" ] && [ "$(cat "$STAMP_FILE")" = "$(stamp_of)" ]; then
    exit 0
fi

if ! PY310="$(find_python310)"; then
    cat >&2 <<'MSG'
ERROR: Python 3.10 was not found.
Rasa 3.6 runs on Python 3.8-3.10 only; this project uses 3.10.
Install it with pyenv (`pyenv install 3.10`) or your package manager so that
`python3.10` is on PATH, or point PYTHON310 at an interpreter, then run make again.
MSG
    exit 1
fi
echo "setup: using $PY310 ($("$PY310" --version 2>&1))"

if [ -x .venv/bin/python ] && ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
    echo "setup: .venv is not Python 3.10, rebuilding it"
    rm -rf .venv
fi
[ -x .venv/bin/python ] || "$PY310" -m venv .venv

.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
.venv/bin/python -m pip check >/dev/null 2>&1 || { .venv/bin/python -m pip check; exit 1; }
stamp_of > "$STAMP_FILE"
echo "setup: .venv ready"
