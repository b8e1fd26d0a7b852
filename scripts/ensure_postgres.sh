#!/usr/bin/env bash
# Make a PostgreSQL server available for the test suite and print its DATABASE_URL.
#
# - DATABASE_URL already set: use it as it is.
# - Otherwise, as root: install Debian's postgresql when missing, start the first
#   cluster, and create (idempotently) the role `taem` the tests use.
# - Otherwise: fail with a clear message (tests never fall back to SQLite).
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi

log() { echo "ensure_postgres: $*" >&2; }

if [ "$(id -u)" != "0" ]; then
  log "DATABASE_URL is not set and this user is not root: set DATABASE_URL=postgres://USER:PASS@HOST:PORT/DB"
  exit 1
fi

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

cluster_line=$(pg_lsclusters --no-header | head -n 1)
if [ -z "$cluster_line" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  log "creating cluster $version main"
  pg_createcluster "$version" main >&2
  cluster_line=$(pg_lsclusters --no-header | head -n 1)
fi
read -r version name port status _rest <<<"$cluster_line"
if [ "$status" != "online" ]; then
  log "starting cluster $version $name on port $port"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2
fi

for _ in $(seq 1 30); do
  if runuser -u postgres -- psql -p "$port" -Atqc "SELECT 1" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -q >&2 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taem') THEN
    CREATE ROLE taem LOGIN CREATEDB PASSWORD 'taem';
  END IF;
END
$$;
SQL
if ! runuser -u postgres -- psql -p "$port" -Atqc "SELECT 1 FROM pg_database WHERE datname='taem'" | grep -q 1; then
  runuser -u postgres -- createdb -p "$port" -O taem taem >&2
fi

echo "postgres://taem:taem@127.0.0.1:${port}/taem"
