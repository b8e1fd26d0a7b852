# Taem: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
FAKE_LINE_PORT ?= 8099
FAKE_LINE := http://127.0.0.1:$(FAKE_LINE_PORT)
STAMP := $(VENV)/.installed

.PHONY: run simulate test bench-webhook bench-nightly bench-leaderboard bench-segments bench-dashboard bench-broadcast install assets lint messages clean prod-local prod-local-stop bench-ledger-load bench-faults bench-pos bench-pos-pgbench bench-worker-cpu

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# --- LIFF front-end bundles (liff_frontend/static_src → liff_frontend/static/liff_frontend/dist/)
STATIC_SRC := liff_frontend/static_src
ASSETS_DIST := liff_frontend/static/liff_frontend/dist
NODE_STAMP := $(STATIC_SRC)/node_modules/.taem-installed
ASSETS_STAMP := $(ASSETS_DIST)/.built

$(NODE_STAMP): $(STATIC_SRC)/package.json $(STATIC_SRC)/package-lock.json $(STATIC_SRC)/.npmrc
	@command -v npm >/dev/null || { echo "assets: Node.js 20+ and npm are required" >&2; exit 1; }
	cd $(STATIC_SRC) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(ASSETS_STAMP): $(NODE_STAMP) $(STATIC_SRC)/portal $(STATIC_SRC)/cashier $(STATIC_SRC)/dashboard $(wildcard $(STATIC_SRC)/*.mjs $(STATIC_SRC)/*.js $(STATIC_SRC)/portal/*.js $(STATIC_SRC)/cashier/*.js $(STATIC_SRC)/dashboard/*.js)
	cd $(STATIC_SRC) && npm run build --silent
	@touch $@

assets: $(ASSETS_STAMP)

# Embedded defaults: PostgreSQL database taem_dev (scripts/dev_database.sh), Celery tasks eager,
# LINE = the project's fake LINE server on $(FAKE_LINE_PORT). Prints the demo credentials.
run: export TAEM_BASE_URL = http://127.0.0.1:$(PORT)
run: export LINE_LOGIN_API_BASE = $(FAKE_LINE)
run: export LINE_ACCESS_BASE = $(FAKE_LINE)
run: export LINE_LOGIN_CHANNEL_ID = 1650000000
run: export LINE_LOGIN_BRAND = demo
run: export LIFF_MOCK = 1
simulate run: export DJANGO_DEBUG = 1
simulate run: export SITE_URL = http://127.0.0.1:$(PORT)
simulate run: export LINE_API_BASE = $(FAKE_LINE)
run: install assets
	@./scripts/ensure_tesseract.sh
	@DATABASE_URL="$$(./scripts/dev_database.sh)" && export DATABASE_URL && \
	  mkdir -p var; $(PY) -m messaging.fake_line --port $(FAKE_LINE_PORT) --accept-any-token > var/fake_line.log 2>&1 & \
	  fake=$$!; trap 'kill $$fake 2>/dev/null' EXIT INT TERM; \
	  for i in $$(seq 1 50); do $(PY) -c "import urllib.request as u; u.urlopen('$(FAKE_LINE)/__fake__/requests')" \
	    >/dev/null 2>&1 && break; sleep 0.1; done; \
	  echo "Fake LINE server on $(FAKE_LINE) (log: var/fake_line.log)"; \
	  $(PY) manage.py migrate --noinput && \
	  $(PY) manage.py seed_demo && \
	  $(PY) manage.py claim_codes_generate --brand demo --points 10 --quantity 20 --name "Demo claim codes" --reuse && \
	  $(PY) manage.py receipts_demo && \
	  echo "Marketplace sample: $(PY) manage.py orders_import --brand demo --marketplace shopee loyalty/orders/samples/shopee_orders_sample.xlsx" && \
	  $(PY) manage.py sync_rich_menus --brand demo && \
	  echo "In another terminal: make simulate ARGS=follow   |   make simulate ARGS='text แต้ม'" && \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Play a LINE user against the running `make run` site: make simulate ARGS='text แต้ม'
simulate: install
	@DATABASE_URL="$$(./scripts/dev_database.sh)" && export DATABASE_URL && $(PY) manage.py line_simulate $(ARGS)

# The whole suite on PostgreSQL, with Redis for the real-worker Celery test (each started, and
# installed when root and missing).
test: install assets
	@./scripts/ensure_chromium.sh
	@./scripts/ensure_tesseract.sh
	@DATABASE_URL="$$(./scripts/ensure_postgres.sh)" && export DATABASE_URL && \
	  TAEM_TEST_REDIS_URL="$$(./scripts/ensure_redis.sh)" && export TAEM_TEST_REDIS_URL && \
	  $(PY) -m ruff check . && \
	  $(PY) manage.py makemigrations --check --dry-run && \
	  $(PY) -m pytest $(PYTEST_ARGS)

# The webhook acknowledgement benchmark (figures in BENCHMARKS.md): make bench-webhook ARGS='--clients 2'
bench-webhook: install
	@./scripts/ensure_redis.sh >/dev/null
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.webhook_ack $(ARGS)

# The nightly jobs at scale (figures in BENCHMARKS.md): seeds taem_bench (truncated first) with
# 1M members / 10M ledger entries, then times expiry, reminders and tier review twice each.
# Smaller: make bench-nightly MEMBERS=100000 ENTRIES=1000000
MEMBERS ?= 1000000
ENTRIES ?= 10000000
bench-nightly: install
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  (psql "$${url%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'taem_bench'" | grep -q 1 || \
	   psql "$${url%/*}/postgres" -qc "CREATE DATABASE taem_bench") && \
	  $(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py bench_seed --members $(MEMBERS) --entries $(ENTRIES) --brands 3 && \
	  $(PY) -m bench.nightly_jobs $(ARGS)

# The top spender leaderboard on the seeded taem_bench (figures in BENCHMARKS.md; seed it first with
# `make bench-nightly`): builds races set-based, then times a member's rank and the top N.
bench-leaderboard: install
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.leaderboard $(ARGS)

# Segment counts and the member statistics rebuild on the seeded taem_bench (figures in BENCHMARKS.md; seed it
# first with `make bench-nightly`): adds purchase lines, branches, birth dates and tags once, then times
# member_stats_rebuild and a count per condition type over 333,334 and 1,000,000 members.
bench-segments: install
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.segments $(ARGS)

# Broadcast fan-out on the seeded taem_bench (figures in BENCHMARKS.md; seed it first with `make bench-nightly`):
# one broadcast per bench brand (1,000,000 members) sent by a real Celery worker to the fake LINE server.
# Options: make bench-broadcast ARGS='--workers 3 --tasks 3 --rate 200'
bench-broadcast: install
	@./scripts/ensure_redis.sh >/dev/null
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.broadcast_fanout $(ARGS)

# The production topology on loopback without Docker (PostgreSQL, Redis, gunicorn, Celery worker and
# beat, fake LINE), for benchmarks and end-to-end tests: prints the base URL (http://127.0.0.1:8100).
# Options: make prod-local WEB_WORKERS=4 PROD_LOCAL_PORT=8100; state and logs in var/prod-local/
# (scripts/prod_local.sh documents every variable; `./scripts/prod_local.sh status` shows what runs).
PROD_LOCAL_PORT ?= 8100
prod-local: install assets
	@./scripts/ensure_tesseract.sh
	@PORT=$(PROD_LOCAL_PORT) ./scripts/prod_local.sh start

prod-local-stop:
	@./scripts/prod_local.sh stop

# The ledger under a mixed load from many clients against `make prod-local` (then every invariant
# checked; exits 1 on any violation). Options: make bench-ledger-load ARGS='--seconds 60 --clients 16'
bench-ledger-load: install
	@set -a; . var/prod-local/env; set +a; \
	  $(PY) -m bench.ledger_load --base-url http://127.0.0.1:$(PROD_LOCAL_PORT) $(or $(ARGS),--seconds 60 --clients 16)

# POS earn throughput through gunicorn (wrk, then fixed rates at 50 % and 100 % of the peak, memory)
# and the same earn as raw SQL in pgbench (figures in BENCHMARKS.md): make bench-pos, make bench-pos-pgbench
bench-pos: install
	@./scripts/ensure_redis.sh >/dev/null
	@./scripts/ensure_wrk.sh
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.pos_load $(ARGS)

bench-pos-pgbench: install
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.pos_load --pgbench $(ARGS)

# The Celery worker's CPU per purchase (figures in BENCHMARKS.md): make bench-worker-cpu ARGS='--profile'
bench-worker-cpu: install
	@./scripts/ensure_redis.sh >/dev/null
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.worker_cpu $(ARGS)

# Faults under load on throwaway servers of its own (PostgreSQL restart, Redis stopped, LINE 500/429);
# the shared PostgreSQL and Redis are never touched. Options: make bench-faults ARGS='--only redis'
bench-faults: install
	$(PY) -m bench.faults $(ARGS)

lint: install
	$(PY) -m ruff check .

# Regenerate the Thai catalogue (needs GNU gettext); the compiled .mo is committed.
messages: install
	$(PY) manage.py makemessages -l th --no-location --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*'
	$(PY) scripts/fill_po.py
	$(PY) manage.py compilemessages -l th --ignore '.venv/*'

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache $(ASSETS_DIST) $(STATIC_SRC)/node_modules

# The staff dashboard on the seeded taem_bench (figures in BENCHMARKS.md; seed it first with
# `make bench-nightly`): builds the daily facts set-based, then times the dashboard's queries and view.
bench-dashboard: install
	@url="$$(./scripts/ensure_postgres.sh)" && DATABASE_URL="$${url%/*}/taem_bench" && export DATABASE_URL && \
	  $(PY) -m bench.dashboard $(ARGS)
