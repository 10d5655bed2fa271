# The template's own tasks. `make demo` and `make test` are the two Quickstart commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
# Two xdist workers: the machine has two cores. Override with `make test JOBS=4`.
JOBS ?= 2

.PHONY: help venv system services test test-full test-fast demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# One virtualenv: the template tooling plus the union of every rendered project's dependencies.
$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --group template --group rendered -r pyproject.toml
	touch $@

venv: $(VENV)/.installed ## create .venv with everything the tests need

system: ## install the system packages the tests need (Chromium, psql) when missing
	bash .ci/system

services: ## start PostgreSQL, Redis and RabbitMQ on 127.0.0.1 when they are down
	bash .ci/services

test: venv system services ## the whole template test suite
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not full" tests

test-full: venv ## tier 1 of the answer matrix: every valid combination (about a thousand)
	$(BIN)/python -m pytest -n $(JOBS) -m full -q tests/test_matrix_full.py

test-fast: venv ## unit tests of the extensions and validators only (no render matrix)
	$(BIN)/python -m pytest -n $(JOBS) tests/test_facts.py tests/test_validators.py

demo: venv ## render the defaults into ./demo, test it, and serve it on 127.0.0.1:8000
	@echo "==> Rendering the template's defaults into $(DEMO_DIR)/"
	rm -rf $(DEMO_DIR)
	COPIER_SETTINGS_PATH=/dev/null $(BIN)/copier copy --trust --defaults --vcs-ref HEAD --quiet . $(DEMO_DIR)
	@echo "==> Running the rendered project's tests"
	cd $(DEMO_DIR) && ../$(BIN)/python -m pytest -q -p no:cacheprovider
	@if [ -f $(DEMO_DIR)/alembic.ini ]; then echo "==> Migrating the database (alembic upgrade head)"; \
		cd $(DEMO_DIR) && ../$(BIN)/python -m alembic upgrade head; fi
	@echo "==> Serving on http://127.0.0.1:8000  (Swagger UI: http://127.0.0.1:8000/docs, Ctrl-C stops)"
	cd $(DEMO_DIR) && PYTHONPATH=src ../$(BIN)/python -m uvicorn $$(sed -n 's/^package_name: //p' .copier-answers.yml).main:create_app --factory --host 127.0.0.1 --port 8000 --no-access-log

clean: ## remove the virtualenv, the demo and caches
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
