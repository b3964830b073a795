#!/usr/bin/env bash
# Start the action server and the rasa server on the embedded defaults; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
export RASA_TELEMETRY_ENABLED="${RASA_TELEMETRY_ENABLED:-false}"
export RASA_TOKEN="${RASA_TOKEN:-change-me-local-token}"

pids=()
stop() {
    trap - INT TERM EXIT
    echo
    echo "run: stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

.venv/bin/rasa run actions --actions actions --port "$ACTIONS_PORT" &
pids+=($!)
.venv/bin/rasa run --model models/current.tar.gz --port "$RASA_PORT" \
    --enable-api --auth-token "$RASA_TOKEN" --cors "*" \
    --credentials credentials.yml --endpoints endpoints.yml &
pids+=($!)

for _ in $(seq 1 120); do
    if curl -sf "http://localhost:$RASA_PORT/status?token=$RASA_TOKEN" >/dev/null 2>&1; then
        break
    fi
    sleep 1
done
cat <<MSG

  The assistant is running.
    REST:  curl -s -XPOST localhost:$RASA_PORT/webhooks/rest/webhook \\
             -H 'Content-Type: application/json' \\
             -d '{"sender":"u1","message":"我的收款码被限制了怎么办"}'
    API:   http://localhost:$RASA_PORT/status?token=\$RASA_TOKEN
  Ctrl-C stops both servers.

MSG
wait -n "${pids[@]}"
