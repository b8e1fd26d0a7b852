#!/usr/bin/env bash
# Make a Redis server available on 127.0.0.1:6379 and print the URL the tests use.
#
# - A Redis already answers PING there: print its URL (database 15, kept for tests).
# - Otherwise, as root: install Debian's redis-server when missing and start it without
#   systemd (no persistence: it only carries test and benchmark queues).
# - Otherwise: fail with a clear message.
# Quiet when everything is already there; progress goes to stderr, the URL to stdout.
set -euo pipefail

HOST=127.0.0.1
PORT=6379
URL="redis://${HOST}:${PORT}/15"

log() { echo "ensure_redis: $*" >&2; }

redis_answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = "PONG" ]
    return
  fi
  # No client installed (yet): speak the protocol over bash's /dev/tcp, in a subshell.
  (
    exec 3<>"/dev/tcp/${HOST}/${PORT}" || exit 1
    printf 'PING\r\n' >&3
    reply=""
    read -r -t 2 reply <&3 || true
    [ "${reply%$'\r'}" = "+PONG" ]
  ) 2>/dev/null
}

if redis_answers; then
  echo "$URL"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" != "0" ]; then
    log "no Redis answers on ${HOST}:${PORT} and redis-server is not installed;"
    log "install it (apt-get install redis-server) and start it, or run this script as root"
    exit 1
  fi
  log "installing Debian's redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq redis-server >&2
fi

log "starting redis-server on ${HOST}:${PORT}"
redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no >&2

for _ in $(seq 1 50); do
  if redis_answers; then
    echo "$URL"
    exit 0
  fi
  sleep 0.1
done
log "redis-server did not answer on ${HOST}:${PORT} within 5 s"
exit 1
