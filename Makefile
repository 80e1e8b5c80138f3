# The two commands a new machine needs: `make run` (whole stack) and `make test` (every test).
# Everything else is installed from this repository's own files: uv into .tools/, the locked
# environment into .venv/.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
RUN    := $(UV) run --frozen

.PHONY: run test install lint typecheck pytest bench bench-instructions soak redis-check browser-check clean

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

# $(call debian-tool,COMMAND,PACKAGE,PURPOSE,OTHERWISE): a recipe line that installs Debian's
# PACKAGE when COMMAND is missing and we may (root with apt-get), as browser-check does for
# Chromium, and otherwise says how to install it and fails.
define debian-tool
@command -v $(1) >/dev/null || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "Installing $(2) for $(3) (apt-get install $(2))"; \
    (apt-get install -y -qq $(2) >/dev/null 2>&1 || \
     (apt-get update -qq && apt-get install -y -qq $(2) >/dev/null)) || exit 1; \
  else \
    echo "$(1) is needed for $(3): install it with 'apt-get install $(2)'$(4)."; \
    exit 1; \
  fi; }
endef

# The scenarios drive load with wrk. BENCH_ARGS passes options through: --quick, --only NAME, ...
bench: install redis-check
	$(call debian-tool,wrk,wrk,the benchmark, (macOS: 'brew install wrk'))
	$(RUN) python -m bench $(BENCH_ARGS)

# Instructions per request under valgrind's callgrind (bench/instructions.py): repeatable to
# about 2 % on a busy machine, where req/s is not; not part of `make test`. INSTRUCTIONS_ARGS
# passes options through: --only NAME,NAME, --requests N, ...
bench-instructions: install redis-check
	$(call debian-tool,valgrind,valgrind,counting instructions,)
	$(RUN) python -m bench.instructions $(INSTRUCTIONS_ARGS)

# Both gateways under mixed traffic with chaos on and off (docs/reliability.md); not part of
# `make test`. SOAK_ARGS passes options through: --minutes N (default 10), --users N, ...
soak: install redis-check
	$(RUN) python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
