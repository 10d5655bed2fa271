# The template's own tasks. `make demo` and `make test` are the two Quickstart commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
DEMO_ADMIN_EMAIL ?= admin@example.com
DEMO_ADMIN_PASSWORD ?= demo-admin-password
# Two xdist workers: the machine has two cores. Override with `make test JOBS=4`.
JOBS ?= 2
# The port `make demo` serves on: `make demo PORT=8001`.
PORT ?= 8000
# The demo runs the template's tools from any directory (DEMO_DIR may be absolute).
TOOLS := $(abspath $(BIN))

.PHONY: help venv wheelhouse system services test test-full test-fast test-fuzz test-faults test-update-history test-docker admin-screenshot bench demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# One virtualenv: the template tooling plus the union of every rendered project's dependencies.
# Byte-compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI) every Python process the
# tests start (servers, alembic, celery, the rendered suites) would compile its imports again.
$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --group template --group rendered -r pyproject.toml
	touch $@

venv: $(VENV)/.installed ## create .venv with everything the tests need

# What the tests that install a rendered project as its user does read offline (pip's uv wheel,
# a uv cache with copier and the defaults' and everything preset's packages): made here, from
# PyPI, so nothing downloads at test time. Again when the rendered dependencies may change.
$(VENV)/wheelhouse/.made: pyproject.toml copier.yml extensions/facts.py template/pyproject.toml.jinja presets/defaults.yml presets/everything.yml .ci/wheelhouse | $(VENV)/.installed
	bash .ci/wheelhouse $(VENV)/wheelhouse $(BIN)
	touch $@

wheelhouse: $(VENV)/wheelhouse/.made ## the packages tests/test_bare_machine.py and the audit test install offline (.ci/wheelhouse)

system: ## install the system packages the tests need (Chromium, psql) when missing
	bash .ci/system

services: ## start PostgreSQL, Redis and RabbitMQ on 127.0.0.1 when they are down
	bash .ci/services

test: venv wheelhouse system services ## the whole template test suite (but tier 1, the fault tier and the container tier)
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not full and not docker and not faults" tests

test-full: venv ## tier 1 of the answer matrix (about a thousand sets), then test-fuzz, the fault tier, the update across history and the container tier
	$(BIN)/python -m pytest -n $(JOBS) -m full -q tests/test_matrix_full.py
	$(MAKE) test-fuzz
	$(MAKE) test-faults
	$(MAKE) test-update-history
	$(MAKE) test-docker

# Every preset rendered at every earlier release tag (and the first commit with its answers),
# edited as a user would, updated to this working tree in a temporary clone; the project's
# tests run after each update. tests/test_answer_migrations.py: a real 0.1.0 answers file through
# a release that renames and removes questions.
test-update-history: venv system services ## copier update of every preset from every earlier release, in a temporary clone
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m full -q tests/test_update_history.py tests/test_answer_migrations.py

# Serial: the cases measure recovery times and latencies, which other tests on the same cores
# would distort. Private PostgreSQL and Redis servers; the machine's RabbitMQ.
test-faults: venv system services ## the fault-injection tier: PostgreSQL restart, Redis kill, SIGKILL, SIGTERM, 50 MB body
	$(BIN)/python -m pytest -n 0 -m faults -q tests/test_faults.py

# Rootful podman from Debian; base images made locally and cached (tests/containers.py).
test-docker: venv system services ## the container tier: build and run the chosen images (podman, root)
	bash .ci/podman
	$(BIN)/python -m tests.containers
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m docker tests/test_docker.py

test-fuzz: venv services ## schemathesis against the tier-3 sets (the presets run in make test), on real services
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m full -q tests/test_schemathesis.py

# Nothing here renders the template or starts a process (tests/test_first_contact.py checks it):
# about 10 s. The copier CLI's refusals (tests/test_validators.py) render, and run in make test.
test-fast: venv ## unit tests of the facts, validator messages, migrations and docs/reference.md (no render)
	$(BIN)/python -m pytest -p no:xdist tests/test_facts.py tests/test_reference.py

# The rendered README's picture of the back office (admin=true): tests/test_admin_browser.py
# in Chromium, with UPDATE_ADMIN_SCREENSHOT=1, writes its items-list screenshot over the committed
# template/{% if has_admin %}docs{% endif %}/admin-items.png. Commit the new picture.
admin-screenshot: venv system ## refresh the README's picture of the back office (Chromium)
	UPDATE_ADMIN_SCREENSHOT=1 $(BIN)/python -m pytest -n 0 -q tests/test_admin_browser.py

bench: venv system services ## render times, and the everything-on project against a bare FastAPI app (wrk)
	$(BIN)/python bench/run.py

demo: venv ## render the defaults into ./demo, test it, serve it on 127.0.0.1:8000 (make demo PORT=8001)
	@echo "==> 1/4 Rendering the template's defaults into $(DEMO_DIR)/ (copier copy --trust --defaults)"
	rm -rf $(DEMO_DIR)
	COPIER_SETTINGS_PATH=$(CURDIR)/.ci/copier-settings.yml $(BIN)/copier copy --trust --defaults --vcs-ref HEAD --quiet . $(DEMO_DIR)
	@echo "==> 2/4 Running the rendered project's own tests (pytest)"
	cd $(DEMO_DIR) && $(TOOLS)/python -m pytest -q -p no:cacheprovider
	@echo "==> 3/4 Migrating the database (alembic upgrade head) and naming the first admin in $(DEMO_DIR)/.env"
	@if [ -f $(DEMO_DIR)/alembic.ini ]; then cd $(DEMO_DIR) && $(TOOLS)/python -m alembic upgrade head; fi
	@if grep -q '^auth: password' $(DEMO_DIR)/.copier-answers.yml; then \
		printf 'FIRST_ADMIN_EMAIL=$(DEMO_ADMIN_EMAIL)\nFIRST_ADMIN_PASSWORD=$(DEMO_ADMIN_PASSWORD)\n' >> $(DEMO_DIR)/.env; fi
	@echo "==> 4/4 Serving $(DEMO_DIR) on http://127.0.0.1:$(PORT) (Ctrl-C stops)"
	@echo "    Swagger UI:  http://127.0.0.1:$(PORT)/docs    ReDoc: http://127.0.0.1:$(PORT)/redoc"
	@echo "    Readiness:   http://127.0.0.1:$(PORT)/health/ready"
	@if grep -q '^auth: password' $(DEMO_DIR)/.copier-answers.yml; then \
		echo "    Log in with Authorize in Swagger UI: $(DEMO_ADMIN_EMAIL) / $(DEMO_ADMIN_PASSWORD)"; fi
	cd $(DEMO_DIR) && PYTHONPATH=src $(TOOLS)/python -m uvicorn $$(sed -n 's/^package_name: //p' .copier-answers.yml).main:create_app --factory --host 127.0.0.1 --port $(PORT) --no-access-log --no-server-header --no-proxy-headers

clean: ## remove the virtualenv (its wheelhouse with it), the demo and caches
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
