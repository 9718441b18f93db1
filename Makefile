# The two commands of the README: `make run` and `make test`. Everything else is a helper.
VENV := .venv
PYTHON := $(VENV)/bin/python
PG_URL := postgres://postgres@127.0.0.1:5432/test
REDIS_URL := redis://127.0.0.1:6379/0
PYTEST_WORKERS ?= 2

.PHONY: run test lint checks test-sqlite test-postgres services

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Serve on http://127.0.0.1:8000 with SQLite and console email/SMS.
run: $(VENV)/.installed
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py runserver 127.0.0.1:8000

## The whole suite: lint, Django checks, tests on SQLite, then on PostgreSQL + Redis.
test: $(VENV)/.installed lint checks test-sqlite test-postgres

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

checks: $(VENV)/.installed
	DJANGO_SETTINGS_MODULE=config.settings.test $(PYTHON) manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY=$$(openssl rand -hex 32) \
		JWT_SIGNING_KEY_FILE=tests/keys/es256-test.pem DJANGO_ALLOWED_HOSTS=auth.example.com \
		$(PYTHON) manage.py check --deploy --fail-level WARNING

test-sqlite: $(VENV)/.installed
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS)

test-postgres: $(VENV)/.installed services
	DATABASE_URL=$(PG_URL) CACHE_URL=$(REDIS_URL) $(VENV)/bin/pytest -n $(PYTEST_WORKERS)

## Start PostgreSQL and Redis when they are installed here but not running.
services:
	scripts/services-up
