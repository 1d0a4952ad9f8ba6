# Crayon: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= $(or $(CRAYON_PORT),8000)
export CRAYON_PORT := $(PORT)

.PHONY: help run test lint typecheck format dist image system-deps venv clean bench

help:
	@echo "make run    - the app on http://127.0.0.1:$(PORT) with hot reload (local data in data/local)"
	@echo "make test   - install everything the tests need (apt + pip) and run every test"
	@echo "make lint   - ruff, mypy"
	@echo "make dist   - dist/crayon.pyz, the single-file build for hosts"
	@echo "make image  - the container image, built with podman"
	@echo "make bench  - the benchmarks under bench/"
	@echo "make local-up / local-down - the whole stack on this machine (emulated AWS + a systemd host)"
	@echo "make deploy|rollback|logs|plan|status ENV=<inventory> [VERSION=...] [ARGS=...] - see docs/runbooks.md"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps keep re-runs fast; they are redone whenever pyproject.toml changes.
$(VENV)/.app-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.all-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	touch $@ $(VENV)/.app-installed

venv: $(VENV)/.app-installed

run: $(VENV)/.app-installed
	$(BIN)/crayon migrate
	$(BIN)/crayon demo ensure
	$(BIN)/crayon serve --reload --port $(PORT)

system-deps:
	@bash scripts/install-system-deps.sh

lint: $(VENV)/.app-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: $(VENV)/.app-installed
	$(BIN)/mypy

format: $(VENV)/.app-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Test files run on PYTEST_WORKERS processes at once (pytest-xdist; 1 = in this process), a
# whole file per worker so its module-scoped fixtures (a built emulated stack) are made once.
PYTEST_WORKERS ?= 2
test: system-deps $(VENV)/.all-installed lint
	bash scripts/install-lint-tools.sh
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(if $(filter-out 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

dist: $(VENV)/.app-installed
	@bash scripts/build-pyz.sh

image: $(VENV)/.app-installed
	@bash scripts/build-image.sh

bench: $(VENV)/.all-installed
	@for b in bench/*.py; do echo "== $$b"; PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python $$b || exit 1; done

clean:
	rm -rf dist build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# --- Operating a stack: one command per job, the same for every target (scripts/ops.py) ------
# ENV is an inventory under inventories/ (local, emulated, dev, production, ...).
ENV ?= local
OPS := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/ops.py --env $(ENV)
.PHONY: local-up local-down site deploy rollback logs plan status restore maintenance frontend

local-up:
	@$(OPS) local-up

local-down:
	@$(OPS) local-down

site:
	@$(OPS) site

deploy:
	@$(OPS) deploy "$(VERSION)" $(ARGS)

rollback:
	@$(OPS) rollback $(VERSION) $(ARGS)

logs:
	@$(OPS) logs $(ARGS)

plan:
	@$(OPS) plan $(VERSION) $(ARGS)

status:
	@$(OPS) status

# make maintenance STATE=on | off: the maintenance page (the ALB on ECS, the hosts' socket).
maintenance:
	@$(OPS) maintenance "$(STATE)"

restore:
	@$(OPS) restore $(TIME) $(ARGS)

# make frontend ENV=<inventory>: release stack.frontend's built folder (playbooks/frontend.yml).
frontend:
	$(BIN)/ansible-playbook playbooks/frontend.yml -i inventories/$(ENV) $(ARGS)
