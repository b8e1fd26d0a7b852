#!/usr/bin/env bash
# The development database of `make run` and `make simulate`: DATABASE_URL when set, otherwise
# database `taem_dev` on the PostgreSQL that scripts/ensure_postgres.sh provides (created when
# missing). Taem runs on PostgreSQL only (the POS earn's statements are PostgreSQL's).
set -euo pipefail
if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi
url="$(./scripts/ensure_postgres.sh)"
server="${url%/*}"
if ! psql "$server/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'taem_dev'" | grep -q 1; then
  psql "$server/postgres" -qc "CREATE DATABASE taem_dev" >&2
fi
echo "$server/taem_dev"
