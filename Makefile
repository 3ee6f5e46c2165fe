# The two commands a newcomer needs: `make demo` (the main local job) and `make test` (every check).
# Both bootstrap the virtualenvs from the pinned requirement files by themselves.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
# Lambda runs python3.13: the tests run on it too, from pyenv's newest 3.13 (or python3.13 on PATH).
PYTHON313 ?= $(shell PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13' | tail -1) \
               python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null)
PY313_VENV := .venv-py313
PY313 := $(PY313_VENV)/bin/python
PY313_STAMP := $(PY313_VENV)/.installed-stamp
PIP_FLAGS := --quiet --disable-pip-version-check --no-input

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-west-2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv demo test lint format typecheck validate checkov build pytest unit integration \
        e2e soak local bench lock clean pytest-py313 query

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The stamp is newer than the lock once installed, so an up-to-date venv costs nothing.
$(STAMP): requirements/dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(PY) tools/dev_paths.py
	@touch $@

$(PY313_STAMP): requirements/dev.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "Python 3.13 not found: install it (pyenv install 3.13) or set PYTHON313=/path/to/python3.13" >&2; exit 1; }
	@test -x $(PY313) || $(PYTHON313) -m venv $(PY313_VENV)
	$(PY313) -m pip install $(PIP_FLAGS) -r requirements/dev.txt
	$(PY313) tools/dev_paths.py
	@touch $@

# checkov pins an old boto3 that conflicts with SAM CLI and moto, so it lives in its own venv.
$(CHECKOV_STAMP): requirements/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements/checkov.txt
	@touch $@

venv: $(STAMP) ## create or update .venv from the pinned requirements

demo: $(STAMP) ## the main local job: 10,000 events through the whole pipeline on the local cloud, lost = 0
	$(PY) -m tools.demo

test: lint typecheck validate checkov build pytests ## every check: lint, types, template, build, tests on 3.11 and 3.13

lint: $(STAMP) ## ruff (lint and format check) and the import boundaries (import-linter, pyproject.toml)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) $(VENV)/bin/lint-imports --no-cache

format: $(STAMP) ## apply ruff fixes and formatting
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(STAMP) ## mypy, strict on the layer package, the functions, the local cloud and the tools
	$(PY) -m mypy

validate: $(STAMP) ## sam validate --lint (cfn-lint, offline)
	$(PY) -m samcli validate --lint --template template.yaml

# checkov drops the resources whose Condition is false with the default parameters, so it checks the
# template once more with the load balancer front door (FrontDoor Alb) as the default.
checkov: $(CHECKOV_STAMP) ## checkov on the template, offline; every skip carries its reason in .checkov.yaml
	$(CHECKOV_VENV)/bin/python -m checkov.main --config-file .checkov.yaml --skip-download --quiet --compact
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  sed 's/^    Default: HttpApi$$/    Default: Alb/' template.yaml > "$$tmp/template.yaml"; \
	  cd "$$tmp" && "$(abspath $(CHECKOV_VENV))/bin/python" -m checkov.main --config-file "$(CURDIR)/.checkov.yaml" \
	    --skip-download --quiet --compact

build: $(STAMP) ## sam build (arm64 wheels for the layer, cross-platform) and report the layer size
	$(PY) -m samcli build --template template.yaml
	@du -sh .aws-sam/build/SharedLayer | awk '{print "shared layer unzipped: " $$1}'

.PHONY: deploy-plan deploy
deploy-plan: $(STAMP) ## print the two-Region deploy order: every sam deploy, its overrides, the values passed (no AWS)
	$(PY) -m tools.deploy plan

deploy: $(STAMP) ## deploy both Regions in order (secondary edge, primary, endpoint, validators, replicas); resumable
	$(PY) -m tools.deploy run

pytest: $(STAMP) ## every test tier: unit, integration, infra, local cloud and end-to-end
	$(PY) -m pytest

pytest-py313: $(PY313_STAMP) ## every test tier again on Python 3.13, the Lambda runtime's version
	$(PY313) -m pytest

# The two runs are single-threaded and share no port or file, so they run side by side, one per core;
# each run's output is printed whole when it ends.
.PHONY: pytests
pytests: $(STAMP) $(PY313_STAMP) ## the tests on 3.11 and on 3.13 at the same time
	@echo "pytest on Python 3.11 and 3.13 side by side; each prints its output when it ends"
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest pytest-py313

unit: $(STAMP) ## unit tests only (no network)
	$(PY) -m pytest tests/unit

integration: $(STAMP) ## integration tests only (moto)
	$(PY) -m pytest tests/integration

e2e: $(STAMP) ## the local cloud: emulator tests, two Regions and the drill, the pipeline end to end (also with the front-door buffer), 100 random fault schedules on one Region and 100 on two
	$(PY) -m pytest tests/localcloud tests/regions tests/e2e tests/buffer

soak: $(STAMP) ## 1,000 random fault schedules on one Region, 1,000 with Region faults on two (prints the seed of any failure); the lake property with 10x its requests
	LOCALCLOUD_SCHEDULES=1000 $(PY) -m pytest tests/e2e tests/regions -k property
	LAKE_PROPERTY_SCALE=10 $(PY) -m pytest tests/e2e tests/regions tests/buffer -k reaches_lake

.PHONY: flood
flood: $(STAMP) ## one source floods the local API at 10x its rate limit: answered 429 while another source is accepted
	$(PY) -m tools.flood

.PHONY: drill
drill: $(STAMP) ## Region outages in the local cloud (two Regions; active/archive and active/active): lost = 0, processed twice = 0
	$(PY) -m tools.drill

query: $(STAMP) ## the lake's Athena SQL (athena/), transpiled by sqlglot, run by DuckDB over a local lake of demo traffic
	$(PY) -m tools.query

.PHONY: dropin
dropin: $(STAMP) ## segment-analytics-python and rudder-sdk-python, 10,000 calls each, into the local lake exactly once
	DROPIN_CALLS=10000 $(PY) -m pytest tests/e2e/test_segment_sdks.py -p no:randomly -v

# Segment's browser library at the version tests/browser/package-lock.json pins (npm ci: ~8 s here).
BROWSER_SDK := tests/browser/node_modules/.package-lock.json
$(BROWSER_SDK): tests/browser/package-lock.json
	@command -v npm >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts

.PHONY: browser
browser: $(STAMP) $(BROWSER_SDK) ## headless Chromium (Debian's, installed if missing: needs root) with Segment's real browser library against the local API
	@command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell; }
	$(PY) -m pytest tests/e2e/chromium -p no:randomly -v

.PHONY: arm64
arm64: build ## the functions' and layer's unit tests on arm64 python3.13 (qemu-user, Debian's; installed if missing: needs root) against .aws-sam/build
	@command -v qemu-aarch64-static >/dev/null && command -v debootstrap >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap; }
	$(PY) -m tools.arm64

local: $(STAMP) ## keep the local cloud running: curl the API, point tools and sam local at it
	$(PY) -m tools.local

bench: $(STAMP) ## benchmarks, printed as ratios against baselines measured in the same run
	$(PY) -m bench

.PHONY: dashboard
dashboard: $(STAMP) ## the template's flow dashboard drawn from a short two-Region local run with faults: docs/dashboard.png
	$(PY) -m tools.dashboard

.PHONY: cost quota
cost: $(STAMP) ## AWS calls per signal (make bench) x dated prices at 400 M and 2 B/day, alternatives, docs/cost.png
	$(PY) -m bench.cost --write-docs

quota: $(STAMP) ## the peak rate each default AWS quota sees at 2 B/day with 3x peaks, per request shape
	$(PY) -m bench.quota

lock: ## re-resolve requirements/*.txt from requirements/*.in (needs the package index)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install $(PIP_FLAGS) -r requirements/dev.in
	.venv-lock/bin/pip freeze --exclude-editable > requirements/dev.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install $(PIP_FLAGS) -r requirements/checkov.in
	.venv-lock/bin/pip freeze --exclude-editable > requirements/checkov.txt
	rm -rf .venv-lock

clean: ## remove build output and caches (keeps the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
