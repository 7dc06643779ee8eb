# The two commands: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo lint check worker beat clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

# Links the demo prints and pages show (payment_url, /pay/…) point at where `make run` serves.
# With no Telegram bot configured, a local stand-in prints the bot's messages (trading.telegram.local_stand_in).
SITE := SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} TELEGRAM_LOCAL_FAKE_PORT=$${TELEGRAM_LOCAL_FAKE_PORT-8099}

demo: migrate
	$(SITE) $(PY) manage.py seed_demo

run: demo
	@echo "Serving at http://$(HOST):$(PORT)/  (Ctrl+C stops)"
	$(SITE) $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest -n $${PYTEST_WORKERS:-auto} $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

worker: install
	$(VENV)/bin/celery -A config worker -l info --concurrency $${CELERY_CONCURRENCY:-2}

beat: install
	$(VENV)/bin/celery -A config beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles sms_outbox
