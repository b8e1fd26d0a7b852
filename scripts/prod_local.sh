#!/usr/bin/env bash
# The production topology on loopback, without Docker: PostgreSQL, Redis, gunicorn (sync
# workers), one Celery worker, celery beat and the project's fake LINE server, with the
# production settings (TAEM_PRODUCTION=1, DEBUG off, manifest static files). For benchmarks,
# load/fault tests and the end-to-end test; `make prod-local` / `make prod-local-stop` call it.
#
#   scripts/prod_local.sh start    start what is not running yet, wait for /healthz = 200,
#                                  print the base URL (idempotent)
#   scripts/prod_local.sh stop     stop what `start` started, and only that (idempotent)
#   scripts/prod_local.sh status   one line per process, then /healthz; exit 0 when all run
#
# Pids, logs and state live in var/prod-local/ (git-ignored): <name>.pid, <name>.log for
# fake_line, web, worker and beat; `env` holds the exported settings so that other commands
# can run against the same stack: `set -a; . var/prod-local/env; set +a; .venv/bin/python
# manage.py shell`. A process is only ever signalled when its pid file names it AND its
# environment carries TAEM_PROD_LOCAL=<that directory> (no pid-reuse accidents).
#
# Variables read by this script (defaults in brackets):
#   DATABASE_URL          [postgres://taem:taem@127.0.0.1:5432/taem_prodlocal] created and migrated
#                         when missing; unset = ./scripts/ensure_postgres.sh starts the local server
#   PROD_LOCAL_REDIS      [redis://127.0.0.1:6379] Redis server (./scripts/ensure_redis.sh starts it)
#   PORT                  [8100] gunicorn on 127.0.0.1:$PORT
#   WEB_WORKERS           [3] gunicorn sync workers (cores + 1)
#   WEB_THREADS           [1] >1 switches gunicorn to the gthread worker class
#   CELERY_CONCURRENCY    [2] processes of the one Celery worker
#   FAKE_LINE_PORT        [8199] the fake LINE server on 127.0.0.1:$FAKE_LINE_PORT
#   START_TIMEOUT         [90] seconds `start` waits for /healthz before giving up (and stopping)
#   PROD_LOCAL_DIR        [var/prod-local] pids, logs, static files, media
#   PYTHON                [.venv/bin/python]
#
# Variables passed to every child process (see docs/operations.md for their meaning):
#   TAEM_PRODUCTION=1, DJANGO_DEBUG=0, DJANGO_SETTINGS_MODULE=config.settings
#   DJANGO_SECRET_KEY       from the environment, else generated once into $PROD_LOCAL_DIR/secret_key
#   DATABASE_URL            as above
#   DATABASE_CONN_MAX_AGE   [60]
#   CELERY_BROKER_URL       [$PROD_LOCAL_REDIS/13]
#   CACHE_URL               [$PROD_LOCAL_REDIS/12]
#   TAEM_VAR_DIR            $PROD_LOCAL_DIR/var (media under it: DJANGO_MEDIA_ROOT=$PROD_LOCAL_DIR/media)
#   DJANGO_STATIC_ROOT      $PROD_LOCAL_DIR/static (collectstatic runs at every start)
#   DJANGO_MANIFEST_STATIC=1
#   DJANGO_ALLOWED_HOSTS    [127.0.0.1,localhost]
#   DJANGO_HTTPS=0          loopback has no TLS: no HTTPS redirect, HSTS or Secure-only cookies
#   SITE_URL                http://127.0.0.1:$PORT
#   LINE_API_BASE, LINE_LOGIN_API_BASE, LINE_ACCESS_BASE   the fake LINE server's URL
#   LIFF_MOCK               [1] LIFF pages use the bundled mock SDK (allowed: LINE is the fake)
#   LINE_LOGIN_CHANNEL_ID   [1650000000] (the fake server accepts any)
#   LOG_FORMAT              [json]; LOG_LEVEL [INFO]
#   OMP_THREAD_LIMIT=1      (Tesseract in the worker)
#   TAEM_PROD_LOCAL         $PROD_LOCAL_DIR (marks the processes as this script's)
# Every wait has a deadline: the script always stops by itself.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
DIR="${PROD_LOCAL_DIR:-$ROOT/var/prod-local}"
PORT="${PORT:-8100}"
WEB_WORKERS="${WEB_WORKERS:-3}"
WEB_THREADS="${WEB_THREADS:-1}"
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-2}"
FAKE_LINE_PORT="${FAKE_LINE_PORT:-8199}"
START_TIMEOUT="${START_TIMEOUT:-90}"
STOP_TIMEOUT=20
BASE_URL="http://127.0.0.1:${PORT}"
FAKE_LINE_URL="http://127.0.0.1:${FAKE_LINE_PORT}"
SERVICES=(fake_line web worker beat)   # start order; stop is the reverse

log() { echo "prod-local: $*" >&2; }

# A failed start: say why, show the end of that service's log, stop what started, exit 1.
fail_start() {  # message, service, lines
  log "$1"
  tail -n "$3" "$DIR/$2.log" >&2 || true
  stop
  exit 1
}
die() { log "$*"; exit 1; }

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

# --- processes ---------------------------------------------------------------------------

# The pid in $DIR/<name>.pid when that process is alive and was started by this script for $DIR.
ours() {
  local name=$1 pid
  [ -f "$DIR/$name.pid" ] || return 1
  pid=$(cat "$DIR/$name.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/environ" ] || return 1
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "TAEM_PROD_LOCAL=$DIR" || return 1
  echo "$pid"
}

command_for() {
  case "$1" in
    fake_line) echo "$PY -m messaging.fake_line --port $FAKE_LINE_PORT --accept-any-token" ;;
    web)
      local cmd="$PY -m gunicorn config.wsgi:application --bind 127.0.0.1:$PORT --workers $WEB_WORKERS"
      cmd+=" --timeout 30 --graceful-timeout 10 --log-level warning"
      if [ "$WEB_THREADS" -gt 1 ]; then cmd+=" --worker-class gthread --threads $WEB_THREADS"; fi
      echo "$cmd" ;;
    worker) echo "$PY -m celery -A config worker --loglevel INFO --concurrency $CELERY_CONCURRENCY --hostname prodlocal@%h" ;;
    beat) echo "$PY -m celery -A config beat --loglevel INFO --schedule $DIR/var/celerybeat-schedule" ;;
  esac
}

# Each service is its own session and process group (setsid), so stop reaches its children.
launch() {
  local name=$1
  if pid=$(ours "$name"); then
    log "$name already running (pid $pid)"
    return 0
  fi
  # shellcheck disable=SC2046 - the command is word-split on purpose (no user input with spaces)
  setsid $(command_for "$name") >>"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
  log "$name started (pid $!, log $DIR/$name.log)"
}

# SIGTERM to each named service's process group at once, then wait (SIGKILL after STOP_TIMEOUT).
stop_group() {
  local name pid pids=() names=()
  for name in "$@"; do
    if pid=$(ours "$name"); then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    else
      rm -f "$DIR/$name.pid"
    fi
  done
  local deadline=$((SECONDS + STOP_TIMEOUT)) i alive
  while :; do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] || [ $SECONDS -ge $deadline ] && break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    if kill -0 -- "-${pids[$i]}" 2>/dev/null; then
      log "${names[$i]} did not stop within ${STOP_TIMEOUT} s: SIGKILL to its process group ${pids[$i]}"
      kill -KILL -- "-${pids[$i]}" 2>/dev/null || true
    fi
    rm -f "$DIR/${names[$i]}.pid"
    log "${names[$i]} stopped"
  done
}

http_status() {  # prints the HTTP status of GET $1 (000 when nothing answers), 3 s at most
  curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
}

port_taken() {
  "$PY" - "$1" <<'PY'
import socket, sys
with socket.socket() as s:
    s.settimeout(1)
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

# --- start -------------------------------------------------------------------------------

prepare_environment() {
  [ -x "$PY" ] || die "$PY not found: run \`make install\` first"
  [ -f liff_frontend/static/liff_frontend/dist/portal.js ] || die "front-end bundles missing: run \`make assets\` first"

  local db_url="${DATABASE_URL:-}"
  if [ -z "$db_url" ]; then
    local server
    server="$(env -u DATABASE_URL ./scripts/ensure_postgres.sh)"
    db_url="${server%/*}/taem_prodlocal"
  fi
  local redis="${PROD_LOCAL_REDIS:-}"
  if [ -z "$redis" ]; then
    ./scripts/ensure_redis.sh >/dev/null
    redis="redis://127.0.0.1:6379"
  fi

  local secret="${DJANGO_SECRET_KEY:-}"
  if [ -z "$secret" ]; then
    if [ ! -s "$DIR/secret_key" ]; then
      (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$DIR/secret_key")
    fi
    secret="$(cat "$DIR/secret_key")"
  fi
  mkdir -p "$DIR/var" "$DIR/static" "$DIR/media"

  export TAEM_PRODUCTION=1 DJANGO_DEBUG=0 DJANGO_SETTINGS_MODULE=config.settings
  export DJANGO_SECRET_KEY="$secret"
  export DATABASE_URL="$db_url"
  export DATABASE_CONN_MAX_AGE="${DATABASE_CONN_MAX_AGE:-60}"
  export CELERY_BROKER_URL="${CELERY_BROKER_URL:-$redis/13}"
  export CACHE_URL="${CACHE_URL:-$redis/12}"
  export TAEM_VAR_DIR="$DIR/var" DJANGO_STATIC_ROOT="$DIR/static" DJANGO_MEDIA_ROOT="$DIR/media"
  export DJANGO_MANIFEST_STATIC=1
  export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}"
  export DJANGO_HTTPS=0
  export SITE_URL="$BASE_URL"
  export LINE_API_BASE="$FAKE_LINE_URL" LINE_LOGIN_API_BASE="$FAKE_LINE_URL" LINE_ACCESS_BASE="$FAKE_LINE_URL"
  export LIFF_MOCK="${LIFF_MOCK:-1}"
  export LINE_LOGIN_CHANNEL_ID="${LINE_LOGIN_CHANNEL_ID:-1650000000}"
  export LOG_FORMAT="${LOG_FORMAT:-json}" LOG_LEVEL="${LOG_LEVEL:-INFO}"
  export OMP_THREAD_LIMIT=1 PYTHONUNBUFFERED=1
  export TAEM_PROD_LOCAL="$DIR"
  unset CELERY_RESULT_BACKEND

  (umask 077 && for name in TAEM_PRODUCTION DJANGO_DEBUG DJANGO_SETTINGS_MODULE DJANGO_SECRET_KEY DATABASE_URL \
      DATABASE_CONN_MAX_AGE CELERY_BROKER_URL CACHE_URL TAEM_VAR_DIR DJANGO_STATIC_ROOT DJANGO_MEDIA_ROOT \
      DJANGO_MANIFEST_STATIC DJANGO_ALLOWED_HOSTS DJANGO_HTTPS SITE_URL LINE_API_BASE LINE_LOGIN_API_BASE \
      LINE_ACCESS_BASE LIFF_MOCK LINE_LOGIN_CHANNEL_ID LOG_FORMAT LOG_LEVEL OMP_THREAD_LIMIT; do
    printf '%s=%q\n' "$name" "${!name}"
  done >"$DIR/env")
}

ensure_database() {
  timeout 30 "$PY" - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

url = sys.argv[1]
try:
    psycopg.connect(url, connect_timeout=5).close()
except psycopg.OperationalError as error:
    if "does not exist" not in str(error):
        raise
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True, connect_timeout=5) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"prod-local: created database {name}", file=sys.stderr)
PY
  log "migrate"
  timeout 300 "$PY" manage.py migrate --noinput -v0
  log "collectstatic into $DJANGO_STATIC_ROOT"
  timeout 300 "$PY" manage.py collectstatic --noinput -v0
}

start() {
  local running=0 name
  for name in "${SERVICES[@]}"; do
    if ours "$name" >/dev/null; then running=$((running + 1)); fi
  done
  prepare_environment
  if [ $running -lt ${#SERVICES[@]} ]; then
    if ! ours web >/dev/null && port_taken "$PORT"; then
      die "127.0.0.1:$PORT is taken by a process this script did not start (choose PORT=...)"
    fi
    if ! ours fake_line >/dev/null && port_taken "$FAKE_LINE_PORT"; then
      die "127.0.0.1:$FAKE_LINE_PORT is taken by a process this script did not start (choose FAKE_LINE_PORT=...)"
    fi
    ensure_database
    for name in "${SERVICES[@]}"; do launch "$name"; done
  fi

  local deadline=$((SECONDS + START_TIMEOUT)) code=000
  while [ $SECONDS -lt $deadline ]; do
    code=$(http_status "$BASE_URL/healthz")
    [ "$code" = "200" ] && break
    for name in "${SERVICES[@]}"; do
      ours "$name" >/dev/null || fail_start "$name exited during start; the end of $DIR/$name.log:" "$name" 30
    done
    sleep 0.5
  done
  [ "$code" = "200" ] ||
    fail_start "/healthz did not answer 200 within ${START_TIMEOUT} s (last: $code); stopping. Logs in $DIR" web 20
  sleep 1  # a worker or beat that fails at boot (bad broker, missing tables) exits within a second
  for name in worker beat; do
    ours "$name" >/dev/null || fail_start "$name is not running; the end of $DIR/$name.log:" "$name" 30
  done
  log "ready: web $BASE_URL (${WEB_WORKERS} workers), worker, beat, fake LINE $FAKE_LINE_URL; logs in $DIR"
  echo "$BASE_URL"
}


stop() {
  stop_group beat worker web   # the app first (a task in flight may still call LINE) ...
  stop_group fake_line         # ... then the fake LINE server
}

status() {
  local all=0 name pid
  for name in "${SERVICES[@]}"; do
    if pid=$(ours "$name"); then
      printf '%-10s running (pid %s)\n' "$name" "$pid"
    else
      printf '%-10s stopped\n' "$name"
      all=3
    fi
  done
  if ours web >/dev/null; then
    printf '%-10s %s %s\n' healthz "$(http_status "$BASE_URL/healthz")" "$BASE_URL/healthz"
  fi
  return $all
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
