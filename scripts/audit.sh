#!/usr/bin/env bash
# Dependency audit (make audit): pip-audit on the exact pinned set of .venv and npm audit
# on the widget's lock file. Both need their advisory services (PyPI's JSON API / OSV,
# the npm registry's audit endpoint). Where a service cannot be reached, this says so
# loudly instead of reporting "no known vulnerabilities": the findings assessed by hand
# are in docs/security.md ("Dependency audit").
set -uo pipefail
cd "$(dirname "$0")/.."

AUDIT_VENV=.venv-audit
status=0
if [ ! -x "$AUDIT_VENV/bin/pip-audit" ]; then
    python3 -m venv "$AUDIT_VENV"
    "$AUDIT_VENV/bin/pip" install --quiet --disable-pip-version-check "pip-audit==2.10.1"
fi

echo "== Python: pip-audit on the pinned set of .venv"
# Probe a versioned JSON document (what pip-audit reads): the unversioned one may answer
# where the versioned ones do not, and pip-audit then skips every package silently.
if curl -s -m 10 -o /dev/null -w "%{http_code}" https://pypi.org/pypi/pip/23.2.1/json \
   | grep -q 200; then
    .venv/bin/pip freeze --exclude-editable > var/audit-requirements.txt
    "$AUDIT_VENV/bin/pip-audit" -r var/audit-requirements.txt --no-deps --disable-pip \
        --progress-spinner off --strict || status=1
else
    echo "!!! The vulnerability services (pypi.org JSON API, api.osv.dev) cannot be reached"
    echo "!!! from this machine: pip-audit would report nothing and prove nothing."
    echo "!!! See docs/security.md, 'Dependency audit', for the findings assessed by hand."
    status=2
fi

echo "== JavaScript: npm audit on widget/package-lock.json"
if ! (cd widget && npm audit --omit=dev 2>&1); then
    echo "!!! npm audit did not complete (the registry's audit endpoint refuses POST here)."
    echo "!!! See docs/security.md, 'Dependency audit'."
    status=2
fi
exit $status
