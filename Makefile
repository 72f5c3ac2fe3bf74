# The two commands of the README: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.12 || command -v python3.13 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
export DJANGO_SETTINGS_MODULE := pause.settings
# daphne's message limit caps what it sends too: a welcome over it is never delivered.
# The consumer refuses client frames over 64 KiB itself (PAUSE_WS_MAX_FRAME_BYTES).
DAPHNE_FLAGS := --websocket-max-message-size 16777216

.PHONY: run test setup venv frontend dev migrate seed schema messages lint bench soak clean

venv: $(VENV)/.synced
$(VENV)/.synced: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(PY) -m pip install -q uv
	VIRTUAL_ENV=$(VENV) $(UV) pip sync -q requirements.txt
	touch $@

frontend:
	@if [ -f frontend/package.json ]; then \
	  cd frontend && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run -s build; \
	fi

messages: venv
	@if ls locale/*/LC_MESSAGES/django.po >/dev/null 2>&1; then \
	  DJANGO_DEBUG=true $(PY) manage.py compilemessages -v0 --ignore=.venv --ignore=node_modules; \
	fi

setup: venv frontend messages
	DJANGO_DEBUG=true $(PY) manage.py migrate -v0
	DJANGO_DEBUG=true $(PY) manage.py createcachetable

# First command: a working demo on SQLite, in-memory channel layer, one daphne process.
run: setup
	DJANGO_DEBUG=true $(PY) manage.py seed_demo --once
	@echo "Pause is running at http://127.0.0.1:8000/  (Ctrl-C to stop)"
	DJANGO_DEBUG=true $(VENV)/bin/daphne -b 127.0.0.1 -p 8000 $(DAPHNE_FLAGS) pause.asgi:application

# Vite's dev server with hot reload next to daphne (open the page served by daphne).
dev: setup
	DJANGO_DEBUG=true PAUSE_VITE_DEV=http://127.0.0.1:5173 $(VENV)/bin/daphne -b 127.0.0.1 -p 8000 $(DAPHNE_FLAGS) pause.asgi:application & \
	cd frontend && npm run dev; kill %1

# Second command: the whole suite (lint, unit, live, integration, browser, frontend).
test: setup
	scripts/test

schema: venv
	DJANGO_DEBUG=true $(PY) manage.py protocol_schema

bench: setup
	$(PY) -m bench.run $(BENCH_ARGS)

# Hours of the reliability suite at larger sizes (PAUSE_SOAK_HOURS, default 2).
soak: setup
	tests/reliability/soak.sh

clean:
	rm -rf $(VENV) var staticfiles frontend/node_modules frontend/dist
