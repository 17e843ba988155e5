# Tomoni: `make up` runs everything; `make test` runs the checks and the tests.
# Both create .venv when it is missing; nothing else needs to be installed first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: up test lint typecheck pytest soak bench bench-all bench-scaleout clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/tomoni up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy shared services/registration/domain.py services/checkin/domain.py \
		services/stamprally/domain.py services/notify

# The browser tests drive Debian's chromium through Playwright (Playwright's own browser
# download cannot work here). Installed when missing; CI runs as root.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-core >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-core >/dev/null; fi

pytest: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest

test: lint typecheck pytest

# Long fault runs (minutes, real processes killed): last results in docs/reliability.md.
soak: $(STAMP)
	$(BIN)/pytest -m soak -s -q

bench: $(STAMP)
	$(BIN)/python -m bench.foundation

bench-all: bench
	$(BIN)/python -m bench.registration
	$(BIN)/python -m bench.checkin
	$(BIN)/python -m bench.notify
	$(BIN)/python -m bench.stamprally
	$(BIN)/python -m bench.live
	$(MAKE) bench-scaleout

# One and two checkin replicas behind nginx (deploy/compose's proxy), Debian's nginx.
NGINX := /usr/sbin/nginx
$(NGINX):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq nginx-light >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq nginx-light >/dev/null; fi

bench-scaleout: $(STAMP) $(NGINX)
	$(BIN)/python -m bench.scaleout

clean:
	rm -rf $(VENV) .tomoni .pytest_cache .mypy_cache .ruff_cache
