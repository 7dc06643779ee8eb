# The two commands: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo lint check worker beat clean up backup restore-drill

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

# The production-shaped stack on this machine (deploy/Procfile through honcho): gunicorn, a Celery worker per
# queue, beat and the copy-trade TCP server, against DATABASE_URL / REDIS_URL. Ctrl+C stops it cleanly
# (workers finish their current task; STOP_GRACE_SECONDS before anything is killed). docs/operations.md.
up: migrate
	@test -n "$${REDIS_URL:-}" || { echo "make up needs REDIS_URL (and DATABASE_URL): see docs/operations.md"; exit 2; }
	$(PY) manage.py collectstatic --noinput -v0
	PY=$(PY) $(PY) deploy/procfile_runner.py -f deploy/Procfile -d .

# pg_dump of DATABASE_URL (or BACKUP_DATABASE_URL) to var/backups/, and the drill that restores one into a
# scratch database and verifies its ledger: `make restore-drill BACKUP=var/backups/p2p-….dump`.
backup:
	deploy/backup.sh $(BACKUP)

restore-drill: install
	@test -n "$(BACKUP)" || { echo "usage: make restore-drill BACKUP=path/to/backup.dump"; exit 2; }
	PY=$(PY) deploy/restore_drill.sh $(BACKUP)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles sms_outbox
