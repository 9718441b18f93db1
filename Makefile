# The two commands of the README: `make run` and `make test`. Everything else is a helper.
VENV := .venv
PYTHON := $(VENV)/bin/python
PG_URL := postgres://postgres@127.0.0.1:5432/test
REDIS_URL := redis://127.0.0.1:6379/0
PYTEST_WORKERS ?= 2

.PHONY: run test lint checks test-sqlite test-postgres services messages oidc-rp

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Serve on http://localhost:8000 (bound to 127.0.0.1, where localhost resolves) with SQLite and
## console email/SMS. Passkeys need the name localhost: browsers refuse WebAuthn on 127.0.0.1.
run: $(VENV)/.installed
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py runserver 127.0.0.1:8000

## The whole suite: lint, Django checks, tests on SQLite, then on PostgreSQL + Redis.
test: $(VENV)/.installed oidc-rp lint checks test-sqlite test-postgres

## openid-client (npm, pinned by tests/oidc/node/package-lock.json) for the OpenID Connect
## relying-party test (tests/oidc/live/test_openid_client.py); needs Node 20 and npm.
OIDC_RP_DIR := tests/oidc/node
oidc-rp: $(OIDC_RP_DIR)/node_modules/.package-lock.json

$(OIDC_RP_DIR)/node_modules/.package-lock.json: $(OIDC_RP_DIR)/package-lock.json
	cd $(OIDC_RP_DIR) && npm ci --no-audit --no-fund

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

checks: $(VENV)/.installed
	DJANGO_SETTINGS_MODULE=config.settings.test $(PYTHON) manage.py makemigrations --check --dry-run
	$(PYTHON) scripts/translations.py check
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY=$$(openssl rand -hex 32) \
		JWT_SIGNING_KEY_FILE=tests/keys/es256-test.pem DJANGO_ALLOWED_HOSTS=auth.example.com \
		$(PYTHON) manage.py check --deploy --fail-level WARNING

test-sqlite: $(VENV)/.installed
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

test-postgres: $(VENV)/.installed services
	DATABASE_URL=$(PG_URL) CACHE_URL=$(REDIS_URL) $(VENV)/bin/pytest -n $(PYTEST_WORKERS)

## Extract the messages of the code and templates into locale/*/django.po (needs GNU gettext),
## then compile them; translate what is new in the .po files and run it again.
messages: $(VENV)/.installed
	$(PYTHON) scripts/translations.py extract
	$(PYTHON) scripts/translations.py compile

## Start PostgreSQL and Redis when they are installed here but not running.
services:
	scripts/services-up

# --- Benchmarks (docs/benchmarks.md). Not part of `make test`. -------------------------------
# Each can be set on the command line: make bench BENCH_CACHE_URL=redis://127.0.0.1:6380/7
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_CACHE_URL ?= redis://127.0.0.1:6379/7
# The stock app's own database on the same server (default: the bench database's name + "_stock").
BENCH_STOCK_DATABASE_URL ?= $(BENCH_DATABASE_URL)_stock
BENCH_ENV := DJANGO_SETTINGS_MODULE=config.settings.bench DATABASE_URL=$(BENCH_DATABASE_URL) \
	CACHE_URL=$(BENCH_CACHE_URL) BENCH_STOCK_DATABASE_URL=$(BENCH_STOCK_DATABASE_URL)

.PHONY: bench bench-scale bench-profile bench-tools bench-workers bench-login

bench-tools:
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

## Every hot endpoint under load beside a separate stock Django + DRF + SimpleJWT app (bench/stock/),
## the service on its own gunicorn.conf.py, and the signing cost. Empties the bench databases (their
## names must contain "bench"); about 5 minutes on 2 cores.
bench: $(VENV)/.installed services bench-tools
	$(BENCH_ENV) $(PYTHON) -m bench.signing
	$(BENCH_ENV) $(PYTHON) -m bench.run

## What a login costs over its hash, the service's beside the stock view's, each in one process with
## a trivial hasher: CPU, its PostgreSQL backend's CPU, wall time. Under a minute.
## With the real hash: make bench-login BENCH_LOGIN_ARGS="--argon2id --logins 300"
BENCH_LOGIN_ARGS ?=
bench-login: $(VENV)/.installed services
	$(BENCH_ENV) $(PYTHON) -m bench.login_overhead $(BENCH_LOGIN_ARGS)

## Login, /auth/me and the admin's user list and searches with 1,000 and with 1,000,000 users.
bench-scale: $(VENV)/.installed services bench-tools
	$(BENCH_ENV) $(PYTHON) -m bench.scale

## gunicorn.conf.py with sync workers against gthread with 1, 2 and 4 threads, on the same code.
bench-workers: $(VENV)/.installed services bench-tools
	$(BENCH_ENV) $(PYTHON) -m bench.workers

## py-spy samples of one gunicorn worker per endpoint: var/bench/profiles/*.folded.
bench-profile: $(VENV)/.installed services bench-tools
	$(VENV)/bin/pip install --quiet -r bench/requirements.txt
	$(BENCH_ENV) $(PYTHON) -m bench.profile

.PHONY: check-robustness

## The robustness suite alone (docs/robustness.md): contract, schemathesis against a live gunicorn,
## JWT attacks, bad input, faults, and races on PostgreSQL + Redis. `make test` runs it too.
## One pytest process: its live servers are the parallelism, and no other worker clears Redis.
check-robustness: $(VENV)/.installed services
	DATABASE_URL=$(PG_URL) CACHE_URL=$(REDIS_URL) $(VENV)/bin/pytest tests/robustness -p no:xdist
