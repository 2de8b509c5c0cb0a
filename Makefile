# Two commands: `make dev` runs the main job, `make test` runs every test.
# Each installs what it needs first (Debian packages, a virtual environment, pinned Python packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEBS := docker-registry apache2-utils prometheus

.PHONY: dev test test-emulator deps debs venv schemas crds lint bench clean

dev: venv
	$(BIN)/finplane dev

# Finplane's tests and the emulator's own suite (pyproject.toml's testpaths list both).
test: venv debs schemas
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadfile $(PYTEST_ARGS)

# The emulator's own suite on its own (emulator/pyproject.toml's pytest settings).
test-emulator: venv
	cd emulator && $(abspath $(BIN))/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

venv: $(VENV)/.installed

# The lock pins everything: Finplane's runtime, the emulator's dependencies and the test tools. The
# emulator (a separate distribution, never part of the product) is installed editable beside Finplane.
$(VENV)/.installed: requirements.lock pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . -e emulator
	touch $@

# Debian packages the tests use: a real OCI registry and htpasswd (bcrypt entries).
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# JSON schemas the tests validate against, from the npm registry (pinned by the lock file).
schemas: tests/schemas/node_modules/.installed

tests/schemas/node_modules/.installed: tests/schemas/package.json tests/schemas/package-lock.json
	npm ci --prefix tests/schemas --no-audit --no-fund --loglevel=error
	touch $@

crds: venv
	$(BIN)/finplane crds

# Every benchmark of bench/ (tens of minutes; `BENCH_ARGS=--quick` for a few), figures into bench/RESULTS.md.
bench: venv
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

# The gates CI runs before the tests: ruff, mypy strict and the import-linter contracts (all in pyproject.toml).
lint: venv
	$(BIN)/ruff check operator platform_api emulator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV)
