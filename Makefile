# The two commands a new machine needs: `make run` (whole stack) and `make test` (every test).
# Everything else is installed from this repository's own files: uv into .tools/, the locked
# environment into .venv/.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
RUN    := $(UV) run --frozen

.PHONY: run test install lint typecheck pytest bench soak redis-check browser-check clean

run: install
	$(RUN) bff dev

test: install redis-check browser-check lint typecheck pytest

install: .venv/.installed

$(TOOLS)/bin/uv:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

redis-check:
	@command -v redis-server >/dev/null || { \
		echo "redis-server is needed by the tests (each test session starts its own on a free port)."; \
		echo "Install Redis 7: Debian/Ubuntu 'apt-get install redis-server', macOS 'brew install redis'."; \
		exit 1; }

# The browser tests drive Debian's Chromium; install it when we may (root with apt-get).
browser-check:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  [ -n "$$BFF_TEST_CHROMIUM" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || exit 1; \
	  else \
	    echo "Chromium is needed for the browser tests: 'apt-get install chromium' (or set BFF_TEST_CHROMIUM)."; \
	    exit 1; \
	  fi; }

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: install
	$(RUN) mypy

pytest: install
	$(RUN) pytest

# The scenarios drive load with wrk; install Debian's when we may (root with apt-get), as
# browser-check does for Chromium. BENCH_ARGS passes options through: --quick, --only NAME, ...
bench: install redis-check
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing wrk for the benchmark (apt-get install wrk)"; \
	    (apt-get install -y -qq wrk >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)) || exit 1; \
	  else \
	    echo "wrk is needed for the benchmark: install it with 'apt-get install wrk' (macOS: 'brew install wrk')."; \
	    exit 1; \
	  fi; }
	$(RUN) python -m bench $(BENCH_ARGS)

# Both gateways under mixed traffic with chaos on and off (docs/reliability.md); not part of
# `make test`. SOAK_ARGS passes options through: --minutes N (default 10), --users N, ...
soak: install redis-check
	$(RUN) python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
