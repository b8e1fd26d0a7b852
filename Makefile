# Taem: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install lint migrations-check messages clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Embedded defaults: SQLite under var/, Celery tasks eager. Prints the demo credentials.
run: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 TAEM_BASE_URL=http://127.0.0.1:$(PORT) $(PY) manage.py seed_demo
	DJANGO_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The whole suite on PostgreSQL (started, and installed when root and missing).
test: install
	@./scripts/ensure_chromium.sh
	@DATABASE_URL="$$(./scripts/ensure_postgres.sh)" && export DATABASE_URL && \
	  $(PY) -m ruff check . && \
	  $(PY) manage.py makemigrations --check --dry-run && \
	  $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .

# Regenerate the Thai catalogue (needs GNU gettext); the compiled .mo is committed.
messages: install
	$(PY) manage.py makemessages -l th --no-location --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*'
	$(PY) scripts/fill_po.py
	$(PY) manage.py compilemessages -l th --ignore '.venv/*'

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache
