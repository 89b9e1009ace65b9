# The two commands of the README: `make chat` (set everything up, then chat in the shell) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
SHOPBOT := $(PY) -m bot.cli
# Bytecode caches make every start faster (torch and TensorFlow import thousands of modules), even
# where the environment turns them off; they go under var/, out of the source tree.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/var/pycache

.PHONY: install browser redis postgres hosts setup chat serve web test test-fast lock

## install: create .venv from requirements/lock.txt (skipped when the lock did not change)
install: .venv/.lock-sha256
.venv/.lock-sha256: requirements/lock.txt scripts/install.sh
	scripts/install.sh

## browser: Debian's chromium and a Chinese font for the browser tests (skipped when installed; needs root or sudo)
browser:
	scripts/install-debian.sh chromium
	scripts/install-debian.sh --font zh fonts-wqy-microhei

## redis: Debian's redis-server for the scale-out test (skipped when installed; needs root or sudo)
redis:
	scripts/install-debian.sh redis-server

## postgres: Debian's PostgreSQL server for the tests of the shopper store on PostgreSQL (skipped when installed; needs root or sudo)
postgres:
	scripts/install-debian.sh '/usr/lib/postgresql/*/bin/pg_ctl' postgresql

## hosts: iproute2's ip, which makes the hosts of the scale-out test on PostgreSQL (skipped when installed; needs root or sudo)
hosts:
	scripts/install-debian.sh ip iproute2

## setup: catalog, embeddings, collaborative model, NLU lookups and Rasa model, each rebuilt only when its inputs changed
setup: install
	$(SHOPBOT) setup

## chat: talk to the assistant in this terminal (starts and stops the action server)
chat: setup
	$(SHOPBOT) chat

## serve: the assistant as an HTTP server (REST channel) plus its action server, on 127.0.0.1
serve: setup
	$(SHOPBOT) serve

## web: a demo shop page with the chat widget on http://127.0.0.1:8000/, plus the assistant behind it
web: setup
	$(SHOPBOT) web

## test: set up, then run every test, the slow end-to-end, browser and scale-out ones included
test: setup browser redis postgres hosts
	$(PY) -m pytest

## test-fast: the tests that train nothing and start no server
test-fast: install
	$(PY) -m pytest -m "not slow"

## lock: regenerate requirements/lock.txt from requirements/top.in and overrides.txt
lock:
	scripts/lock.sh
