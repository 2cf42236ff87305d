# The two commands of the README. Everything they need is installed on first use.
#   make run    serve GraphQL at http://127.0.0.1:8000/graphql on a private PostgreSQL + S3,
#               with demo users (tokens printed) and demo data on first start
#   make test   run the whole test suite (lint included)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint system-deps system-deps-test schema clean-var

run: system-deps $(VENV)/.installed-dev
	$(BIN)/registry serve --demo

test: system-deps-test $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

schema: $(VENV)/.installed-dev
	$(BIN)/registry export-schema

system-deps:
	@scripts/system-deps.sh

system-deps-test:
	@scripts/system-deps.sh test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev,test]'
	touch $@ $(VENV)/.installed-dev

# Removes the private stack's data (database, objects, keys). Asks first.
# (As root, var/postgres may link to the cluster's directory under /var/lib/registry-dev.)
clean-var:
	@read -p "Delete ./var (all local registry data)? [y/N] " answer && [ "$$answer" = y ] && \
	{ [ ! -L var/postgres ] || rm -rf "$$(readlink -f var/postgres)"; } && rm -rf var
