#!/usr/bin/env bash
# The scaled assistant on one machine (docs/deploy.md): nginx in front of two rasa
# replicas and two action servers, the agent console, on PostgreSQL, Redis and RabbitMQ.
#
#   scripts/cluster.sh up | down | status
#   scripts/cluster.sh kill NAME | start NAME | restart NAME
#       NAME: rasa1 rasa2 actions1 actions2 console nginx   (kill = SIGKILL)
#
# Every process runs in the background in its own process group, bound to 127.0.0.1,
# with var/cluster/NAME.pid and var/cluster/NAME.log. `up` writes var/cluster/env (the
# settings every other command and script reads), creates and migrates the databases,
# renders nginx's config, starts what is not running, reloads nginx when its config
# changed, waits until everything is healthy and prints a summary. Settings come from
# the environment at `up` (defaults below), e.g. CLUSTER_RATE_PER_IP=1000r/s; on a
# running cluster, what the caller does not set keeps its value from var/cluster/env.
set -euo pipefail
# Logs, the env file (secrets) and anything else this script or its services create are
# the owner's only (files 0600, directories 0700).
umask 077
export SQLALCHEMY_WARN_20=0 SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
RUN="$ROOT/var/cluster"
ENV_FILE="$RUN/env"
PY="$ROOT/.venv/bin/python"
RASA="$ROOT/.venv/bin/rasa"
SERVICES=(nginx actions1 actions2 rasa1 rasa2 console)
START_TIMEOUT_S="${CLUSTER_START_TIMEOUT_S:-420}"

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

# --- settings ------------------------------------------------------------------------
# Keys written to var/cluster/env; values must not contain spaces or quotes.
ENV_KEYS=(CLUSTER_PORT ACTIONS_LB_PORT RASA_API_PORT RASA1_PORT RASA2_PORT ACTIONS1_PORT
    ACTIONS2_PORT CONSOLE_PORT CLUSTER_RATE_PER_IP CLUSTER_BURST_PER_IP CLUSTER_CONN_PER_IP
    CLUSTER_API_ALLOW CLUSTER_BACKOFFICE_ALLOW RASA_TOKEN ACTIONS_SECRET REST_SHARED_SECRET
    PG_ADMIN_URL TRACKER_DB_URL MERCHANT_DB_URL REDIS_HOST REDIS_PORT LOCK_REDIS_HOST
    LOCK_REDIS_PORT LOCK_REDIS_DB CHANNEL_REDIS_URL RABBITMQ_HOST RABBITMQ_PORT
    RABBITMQ_USER RABBITMQ_PASSWORD RABBITMQ_URL ACTION_ENDPOINT_URL SQL_POOL_SIZE
    SQL_MAX_OVERFLOW TICKET_LOCK_LIFETIME ACTIONS_TIMEOUT_S RASA_URL)

defaults() {
    : "${CLUSTER_PORT:=8080}" "${ACTIONS_LB_PORT:=8081}" "${RASA_API_PORT:=8082}"
    : "${RASA1_PORT:=5105}" "${RASA2_PORT:=5106}" "${ACTIONS1_PORT:=5155}"
    : "${ACTIONS2_PORT:=5156}" "${CONSOLE_PORT:=5170}"
    : "${CLUSTER_RATE_PER_IP:=10r/s}" "${CLUSTER_BURST_PER_IP:=20}" "${CLUSTER_CONN_PER_IP:=50}"
    : "${CLUSTER_API_ALLOW:=}" "${CLUSTER_BACKOFFICE_ALLOW:=}" "${REST_SHARED_SECRET:=}"
    : "${PG_HOST:=127.0.0.1}" "${PG_PORT:=5432}" "${PG_USER:=postgres}"
    : "${PG_ADMIN_URL:=postgresql://$PG_USER@$PG_HOST:$PG_PORT/postgres}"
    : "${TRACKER_DB_URL:=postgresql://$PG_USER@$PG_HOST:$PG_PORT/cluster_tracker}"
    : "${MERCHANT_DB_URL:=postgresql+psycopg2://$PG_USER@$PG_HOST:$PG_PORT/cluster_merchant}"
    : "${REDIS_HOST:=127.0.0.1}" "${REDIS_PORT:=6379}"
    # Lock store and channel state in databases of their own (the tests use 7 and below).
    : "${LOCK_REDIS_HOST:=$REDIS_HOST}" "${LOCK_REDIS_PORT:=$REDIS_PORT}" "${LOCK_REDIS_DB:=10}"
    : "${CHANNEL_REDIS_URL:=redis://$REDIS_HOST:$REDIS_PORT/11}"
    : "${RABBITMQ_HOST:=127.0.0.1}" "${RABBITMQ_PORT:=5672}"
    : "${RABBITMQ_USER:=guest}" "${RABBITMQ_PASSWORD:=guest}"
    : "${RABBITMQ_URL:=amqp://$RABBITMQ_USER:$RABBITMQ_PASSWORD@$RABBITMQ_HOST:$RABBITMQ_PORT/}"
    : "${ACTION_ENDPOINT_URL:=http://127.0.0.1:$ACTIONS_LB_PORT/webhook}"
    # Pool and lock budgets: endpoints.scaled.yml explains them.
    : "${SQL_POOL_SIZE:=3}" "${SQL_MAX_OVERFLOW:=2}" "${TICKET_LOCK_LIFETIME:=60}"
    : "${ACTIONS_TIMEOUT_S:=15}"
    : "${RASA_URL:=http://127.0.0.1:$RASA_API_PORT}"
    # scripts/cluster_nginx.py and the services read them from the environment.
    export "${ENV_KEYS[@]}" PG_HOST PG_PORT PG_USER
}

load_env() {
    if [ -f "$ENV_FILE" ]; then
        set -a; . "$ENV_FILE"; set +a
    fi
    defaults
}

write_env() {
    mkdir -p "$RUN"
    local tmp="$ENV_FILE.tmp" key value
    : > "$tmp"
    chmod 600 "$tmp"
    for key in "${ENV_KEYS[@]}"; do
        value="${!key}"
        case "$value" in *[[:space:]\'\"\$\`\\]*) die "$key must not contain spaces or quotes";; esac
        echo "$key=$value" >> "$tmp"
    done
    mv "$tmp" "$ENV_FILE"
}

# --- shared services ---------------------------------------------------------------
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_tcp() {  # host port seconds
    local i
    for ((i = 0; i < $3; i++)); do tcp_open "$1" "$2" && return 0; sleep 1; done
    return 1
}

ensure_services() {
    if ! tcp_open "$PG_HOST" "$PG_PORT"; then
        if [ "$PG_HOST" = 127.0.0.1 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
            say "starting PostgreSQL"
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        fi
        wait_tcp "$PG_HOST" "$PG_PORT" 30 || die "PostgreSQL is not reachable on $PG_HOST:$PG_PORT"
    fi
    if ! tcp_open "$REDIS_HOST" "$REDIS_PORT"; then
        if [ "$REDIS_HOST" = 127.0.0.1 ] && command -v redis-server >/dev/null 2>&1; then
            say "starting Redis"
            redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no || true
        fi
        wait_tcp "$REDIS_HOST" "$REDIS_PORT" 15 || die "Redis is not reachable on $REDIS_HOST:$REDIS_PORT"
    fi
    if ! tcp_open "$RABBITMQ_HOST" "$RABBITMQ_PORT"; then
        if [ "$RABBITMQ_HOST" = 127.0.0.1 ] && command -v rabbitmq-server >/dev/null 2>&1; then
            say "starting RabbitMQ"
            rabbitmq-server -detached || true
        fi
        wait_tcp "$RABBITMQ_HOST" "$RABBITMQ_PORT" 90 \
            || die "RabbitMQ is not reachable on $RABBITMQ_HOST:$RABBITMQ_PORT"
    fi
}

nginx_bin() {
    command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

ensure_nginx() {
    if [ -z "$(nginx_bin)" ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing nginx (Debian's nginx-light)"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
        fi
        [ -n "$(nginx_bin)" ] || die "nginx is not installed (apt-get install nginx-light)"
    fi
}

# --- preparation -----------------------------------------------------------------------
prepare() {
    [ -x "$RASA" ] || die ".venv is missing: run make setup"
    [ -f models/current.tar.gz ] || die "no trained model: run make train"
    # Secrets made once, before two replicas could race to make them.
    RASA_TOKEN="$("$PY" -c 'from core.local_secrets import local_secret as s
print(s("rasa_token", "RASA_TOKEN"))')"
    case "$RASA_TOKEN" in change-me-local-token|e2e-token)
        die "RASA_TOKEN is a published example token; choose your own";; esac
    # The action servers' shared secret: the same on both and in every replica's endpoints.
    ACTIONS_SECRET="$("$PY" -c 'from core.local_secrets import local_secret as s
print(s("actions_secret", "ACTIONS_SECRET"))')"
    "$PY" -c 'from core.local_secrets import local_secret as s; s("wechat_token", "WECHAT_TOKEN")'
    say "databases: cluster_tracker, cluster_merchant"
    PG_ADMIN_URL="$PG_ADMIN_URL" TRACKER_DB_URL="$TRACKER_DB_URL" MERCHANT_DB_URL="$MERCHANT_DB_URL" \
        "$PY" - <<'PY'
import os
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

admin = create_engine(os.environ["PG_ADMIN_URL"], isolation_level="AUTOCOMMIT")
with admin.connect() as connection:
    for url in (os.environ["TRACKER_DB_URL"], os.environ["MERCHANT_DB_URL"]):
        name = make_url(url).database
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            print(f"cluster: created database {name}")
admin.dispose()
# Rasa's events table made once here: two replicas creating it at the same moment
# collide in PostgreSQL's catalog and one of them sleeps 5 s before retrying.
from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402

engine = create_engine(os.environ["TRACKER_DB_URL"])
SQLTrackerStore.Base.metadata.create_all(engine)
engine.dispose()
PY
    MERCHANT_DB_URL="$MERCHANT_DB_URL" "$PY" -m core.db init
}

render_nginx() {
    local before=""
    [ -f "$RUN/nginx/nginx.conf" ] && before="$(sha256sum < "$RUN/nginx/nginx.conf")"
    RASA1_ADDR="127.0.0.1:$RASA1_PORT" RASA2_ADDR="127.0.0.1:$RASA2_PORT" \
        ACTIONS1_ADDR="127.0.0.1:$ACTIONS1_PORT" ACTIONS2_ADDR="127.0.0.1:$ACTIONS2_PORT" \
        CONSOLE_ADDR="127.0.0.1:$CONSOLE_PORT" \
        "$PY" scripts/cluster_nginx.py "$RUN/nginx" >/dev/null
    "$(nginx_bin)" -t -q -e stderr -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" \
        || die "nginx rejected var/cluster/nginx/nginx.conf"
    NGINX_CHANGED=0
    [ "$before" = "$(sha256sum < "$RUN/nginx/nginx.conf")" ] || NGINX_CHANGED=1
}

# --- processes ---------------------------------------------------------------------------
valid_name() {
    local s
    for s in "${SERVICES[@]}"; do [ "$s" = "$1" ] && return 0; done
    die "unknown service '$1' (one of: ${SERVICES[*]})"
}

pid_of() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid" || true; }

alive() {
    local pid
    pid="$(pid_of "$1")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

common_env() {
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_WARN_20=0
    export SANIC_REQUEST_MAX_SIZE=1000000
    # One TensorFlow thread pool per core, not per replica: with TF's default pools the
    # replicas fought over the cores (measured, 2 cores: 15.8 → 22.5 turns/s at p99 ≤ 1 s).
    export TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}"
    export TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}"
    export RASA_TOKEN ACTIONS_SECRET REST_SHARED_SECRET MERCHANT_DB_URL TRACKER_DB_URL ACTION_ENDPOINT_URL
    export LOCK_REDIS_HOST LOCK_REDIS_PORT LOCK_REDIS_DB
    export RABBITMQ_HOST RABBITMQ_PORT RABBITMQ_USER RABBITMQ_PASSWORD
    export SQL_POOL_SIZE SQL_MAX_OVERFLOW TICKET_LOCK_LIFETIME
    # Channel state shared by the replicas: widget socket.io manager and message claims,
    # WeChat MsgId claims / choices / access token, per-sender rate limits.
    export WIDGET_REDIS_URL="$CHANNEL_REDIS_URL" WECHAT_REDIS_URL="$CHANNEL_REDIS_URL"
    export REST_REDIS_URL="$CHANNEL_REDIS_URL"
}

launch() {  # name, command...
    local name="$1"; shift
    echo "=== $(date -Is) start: $name" >> "$RUN/$name.log"
    # setsid: the service leads its own process group (nginx's workers, rasa's helpers),
    # so kill and down reach every process of it.
    setsid "$@" >> "$RUN/$name.log" 2>&1 < /dev/null &
    echo $! > "$RUN/$name.pid"
}

start_one() {
    local name="$1"
    if alive "$name"; then return 0; fi
    common_env
    case "$name" in
        nginx)
            launch nginx "$(nginx_bin)" -e stderr -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" ;;
        actions1|actions2)
            local port; [ "$name" = actions1 ] && port="$ACTIONS1_PORT" || port="$ACTIONS2_PORT"
            # Rasa posts the whole tracker to the action server: a long conversation passes
            # 1 MB (measured: ~100 KB per 50 turns), so its body limit matches the internal
            # nginx port's 32 MB, not the public 1 MB.
            SANIC_HOST=127.0.0.1 SANIC_REQUEST_MAX_SIZE=33554432 \
                launch "$name" "$PY" scripts/action_server.py --actions actions --port "$port" ;;
        rasa1|rasa2)
            local port; [ "$name" = rasa1 ] && port="$RASA1_PORT" || port="$RASA2_PORT"
            local cors=()
            [ -z "${RASA_CORS_ORIGINS:-}" ] || cors=(--cors $RASA_CORS_ORIGINS)
            # The API token comes from RASA_TOKEN in the environment, not the command line.
            WIDGET_NODE_ID="$name" launch "$name" "$PY" scripts/rasa_server.py run \
                --model models/current.tar.gz \
                --interface 127.0.0.1 --port "$port" --enable-api \
                "${cors[@]}" --credentials credentials.yml --endpoints endpoints.scaled.yml ;;
        console)
            CONSOLE_HOST=127.0.0.1 CONSOLE_PORT="$CONSOLE_PORT" RASA_URL="$RASA_URL" \
                CONSOLE_RABBITMQ_URL="$RABBITMQ_URL" CONSOLE_RABBITMQ_QUEUE=rasa_events \
                launch console "$PY" -m console ;;
    esac
}

health_url() {
    case "$1" in
        nginx) echo "http://127.0.0.1:$CLUSTER_PORT/health" ;;
        actions1) echo "http://127.0.0.1:$ACTIONS1_PORT/health" ;;
        actions2) echo "http://127.0.0.1:$ACTIONS2_PORT/health" ;;
        rasa1) echo "http://127.0.0.1:$RASA1_PORT/status?token=$RASA_TOKEN" ;;
        rasa2) echo "http://127.0.0.1:$RASA2_PORT/status?token=$RASA_TOKEN" ;;
        console) echo "http://127.0.0.1:$CONSOLE_PORT/console/" ;;
    esac
}

# The URL (a replica's carries the API token) reaches curl on stdin, not its command line.
fetch() { printf 'url = "%s"\n' "$(health_url "$1")" | curl -K - -fsS --max-time 3 "${@:2}"; }

healthy() { fetch "$1" -o /dev/null 2>/dev/null; }

wait_healthy() {  # names...
    local deadline=$((SECONDS + START_TIMEOUT_S)) name pending
    while :; do
        pending=()
        for name in "$@"; do
            if ! alive "$name"; then
                tail -n 20 "$RUN/$name.log" >&2 || true
                die "$name exited during start-up (var/cluster/$name.log)"
            fi
            healthy "$name" || pending+=("$name")
        done
        [ "${#pending[@]}" -eq 0 ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || die "not healthy after ${START_TIMEOUT_S}s: ${pending[*]}"
        sleep 2
    done
}

stop_one() {  # name [signal]
    local name="$1" signal="${2:-TERM}" pid i
    pid="$(pid_of "$name")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 -- "-$pid" 2>/dev/null; then
            say "$name did not stop in 15 s: SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$RUN/$name.pid"
}

fingerprint() {  # the model fingerprint a replica reports
    fetch "$1" 2>/dev/null \
        | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("model_id") or "?")' \
        2>/dev/null || echo "?"
}

status() {
    local name state pid
    printf "%-9s %-8s %-8s %s\n" NAME PID STATE HEALTH
    for name in "${SERVICES[@]}"; do
        pid="$(pid_of "$name")"
        if alive "$name"; then state=running; else state=stopped; fi
        printf "%-9s %-8s %-8s %s\n" "$name" "${pid:--}" "$state" \
            "$(healthy "$name" && echo healthy || echo -)"
    done
}

summary() {
    local a b
    a="$(fingerprint rasa1)"; b="$(fingerprint rasa2)"
    [ "$a" = "$b" ] || say "WARNING: the replicas run different models ($a / $b)"
    cat <<EOF

  The cluster is up (settings: var/cluster/env, logs: var/cluster/*.log).
    public (nginx):    http://127.0.0.1:$CLUSTER_PORT   rate ${CLUSTER_RATE_PER_IP} burst ${CLUSTER_BURST_PER_IP} per address
      REST:    POST /webhooks/rest/webhook$([ -n "$REST_SHARED_SECRET" ] && echo "  (X-Rest-Secret header)")
      WeChat:  POST /webhooks/wechat/webhook   widget: /socket.io/, /widget/demo.html
    rasa replicas:     127.0.0.1:$RASA1_PORT, 127.0.0.1:$RASA2_PORT   model $a
    action servers:    127.0.0.1:$ACTIONS1_PORT, 127.0.0.1:$ACTIONS2_PORT   (via nginx 127.0.0.1:$ACTIONS_LB_PORT)
    rasa API + console (internal): http://127.0.0.1:$RASA_API_PORT   console: http://127.0.0.1:$CONSOLE_PORT/console/
    PostgreSQL: cluster_tracker, cluster_merchant   Redis: locks db $LOCK_REDIS_DB, channels $CHANNEL_REDIS_URL
    RabbitMQ: exchange rasa-exchange, queue rasa_events
  scripts/cluster.sh status | kill NAME | start NAME | restart NAME | down
EOF
}

any_alive() {
    local name
    for name in "${SERVICES[@]}"; do alive "$name" && return 0; done
    return 1
}

up() {
    # On a running cluster `up` changes only what the caller sets: the other settings
    # stay as var/cluster/env has them (a load test's raised rate limit survives a
    # plain `make cluster`). From nothing, the defaults apply.
    if [ -f "$ENV_FILE" ] && any_alive; then
        local key value
        while IFS='=' read -r key value; do
            declare -p "$key" >/dev/null 2>&1 || export "$key=$value"
        done < "$ENV_FILE"
    fi
    defaults
    ensure_services
    ensure_nginx
    mkdir -p "$RUN"
    # nginx's workers run as nobody and use temporary directories under var/cluster/nginx:
    # the directories above it may be passed through, not listed (files stay 0600).
    chmod 711 "$ROOT/var" "$RUN"
    prepare
    write_env
    render_nginx
    local name started=()
    for name in "${SERVICES[@]}"; do
        if ! alive "$name"; then start_one "$name"; started+=("$name"); fi
    done
    if [ "$NGINX_CHANGED" = 1 ] && [[ ! " ${started[*]} " =~ " nginx " ]]; then
        say "nginx config changed: reloading"
        kill -HUP "$(pid_of nginx)"
    fi
    [ "${#started[@]}" -eq 0 ] || say "starting: ${started[*]}"
    wait_healthy "${SERVICES[@]}"
    summary
}

down() {
    load_env
    local i name
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        name="${SERVICES[$i]}"
        if alive "$name"; then say "stopping $name"; fi
        stop_one "$name"
    done
    say "stopped"
}

command="${1:-}"
case "$command" in
    up) up ;;
    down) down ;;
    status) load_env; status ;;
    kill)
        [ -n "${2:-}" ] || die "usage: $0 kill NAME"; valid_name "$2"; load_env
        alive "$2" || die "$2 is not running"
        stop_one "$2" KILL; say "$2 killed (SIGKILL)" ;;
    start)
        [ -n "${2:-}" ] || die "usage: $0 start NAME"; valid_name "$2"; load_env
        [ -f "$ENV_FILE" ] || die "no var/cluster/env: run '$0 up' first"
        [ "$2" != nginx ] || render_nginx
        start_one "$2"; wait_healthy "$2"; say "$2 is up" ;;
    restart)
        [ -n "${2:-}" ] || die "usage: $0 restart NAME"; valid_name "$2"; load_env
        [ -f "$ENV_FILE" ] || die "no var/cluster/env: run '$0 up' first"
        stop_one "$2"
        [ "$2" != nginx ] || render_nginx
        start_one "$2"; wait_healthy "$2"; say "$2 is up" ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
