# Two commands: `make dev` runs the main job, `make test` runs every test.
# Each installs what it needs first (Debian packages, a virtual environment, pinned Python packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEBS := docker-registry apache2-utils prometheus chromium

.PHONY: dev test test-emulator test-image deps debs venv venv-test schemas crds lint bench wheel image clean

dev: venv
	@echo "==> finplane dev (the summary follows once the examples are reconciled; Ctrl-C stops it)"
	$(BIN)/finplane dev

# Finplane's tests and the emulator's own suite (pyproject.toml's testpaths list both).
test: venv-test debs schemas
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadfile $(PYTEST_ARGS)

# The emulator's own suite on its own (emulator/pyproject.toml's pytest settings).
test-emulator: venv-test
	cd emulator && $(abspath $(BIN))/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# Two locks: requirements.lock pins what `make dev` runs (Finplane's runtime and the embedded API server's
# dependencies), requirements-test.lock the test and lint tools on top of it (`make test`, `make lint`).
# The emulator (a separate distribution, never part of the product) is installed editable beside Finplane.
# pip installs only uv (pinned in requirements.lock); tools/install.py then has uv install the rest under
# pip's configuration (indexes, find-links, constraints, certificate, proxy, cache), or pip where uv cannot
# be had or cannot honour a setting (FINPLANE_INSTALLER=pip forces pip). The runtime lock is complete
# (tests/cli/test_packaging.py), so nothing is resolved for it (--no-deps).
venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test
PIP := $(BIN)/pip install --disable-pip-version-check --progress-bar off
INSTALL := $(BIN)/python tools/install.py
PIP_WHEEL := import ensurepip, glob, os; print(*(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")) + glob.glob("/usr/share/python-wheels/pip-*.whl"))[:1])
UV_PIN := $(shell grep -m1 -o '^uv==[^ ]*' requirements.lock)

$(VENV)/.installed: requirements.lock pyproject.toml emulator/pyproject.toml tools/install.py
	@echo "==> [1/4] virtual environment $(VENV) ($$($(PYTHON) --version))"
	@# pip from the wheel ensurepip would use, installed without compiling it: ensurepip compiles pip and
	@# setuptools (5 to 9 s more on 2 busy cores); where no such wheel is found, ensurepip itself
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	@test -x $(BIN)/pip || { whl=$$($(BIN)/python -c '$(PIP_WHEEL)'); \
	  [ -n "$$whl" ] && $(BIN)/python "$$whl/pip" install -q --disable-pip-version-check --no-compile --no-index "$$whl" || \
	  $(BIN)/python -m ensurepip --default-pip >/dev/null; }
	@echo "==> [2/4] the installer, $(UV_PIN), with pip"
	@[ "$$FINPLANE_INSTALLER" = pip ] || out=$$($(PIP) -q $(UV_PIN) 2>&1) || \
	  { echo "$$out" | tail -3; echo "    uv could not be installed: pip installs the rest (a minute or two more)"; }
	@echo "==> [3/4] $$(grep -c '==' requirements.lock) pinned packages of requirements.lock (what finplane dev runs)"
	@$(INSTALL) --no-deps -r requirements.lock
	@echo "==> [4/4] finplane and the embedded API server (editable)"
	@# --no-build-isolation: built with the lock's setuptools, not a fresh one fetched per project
	@$(INSTALL) --no-deps --no-build-isolation -e . -e emulator
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	@echo "==> $$(grep -c '==' requirements-test.lock) pinned test and lint tools of requirements-test.lock"
	@$(INSTALL) -r requirements.lock -r requirements-test.lock
	@touch $@

# Debian packages the tests use: a real OCI registry, htpasswd (bcrypt entries), promtool (the SLO and metering rules) and Chromium (the portal's browser tests).
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

# The gates CI runs before the tests: ruff, mypy strict and the import-linter contracts (all in pyproject.toml);
# mypy also checks tools/install.py, which is outside the packages it checks by default.
lint: venv-test
	$(BIN)/ruff check operator platform_api emulator tests bench tools
	$(BIN)/mypy tools/install.py
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The wheel `pip install` gives a working `finplane` from (dist/; tests/cli/test_wheel.py installs it).
wheel: venv
	$(BIN)/pip wheel --no-deps -w dist .

# The container image, localhost/finplane:<version>, built with buildah from a Debian base made locally by
# debootstrap (cached under .cache/image-base/), so no registry is needed (image/build.sh; docs/install.md).
image:
	@command -v buildah >/dev/null && command -v debootstrap >/dev/null || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; echo "Installing Debian packages: buildah debootstrap"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq buildah debootstrap >/dev/null; }
	bash image/build.sh

# The image tests on their own (tests/image/: the built image run read-only as its user, the operator from it).
# `make test` runs them too where buildah is installed; `debs` leaves buildah out, since a first build on a
# fresh machine takes about 7 minutes (docs/install.md).
test-image: venv-test image
	$(BIN)/python -m pytest -p no:cacheprovider tests/image $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) dist build
