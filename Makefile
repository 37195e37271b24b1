# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run lint test test-fast test-abuse eval clean chromium postgres

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull gigabytes of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	# llama-cpp-python compiles from source (4-5 min on 2 cores), for any x86-64 with AVX2
	# rather than -march=native: its AMX kernels segfault on some Sapphire Rapids hosts
	# (ggml-org/llama.cpp#20824). No wheel cache, since a cached build ignores CMAKE_ARGS.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir \
	  'llama-cpp-python[server]>=0.3.8'
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
	@# the reader's fine-tuned MiniLM: built once (about a minute), rebuilt when its data changes
	$(BIN)/coach reader encoder

run: install
	$(BIN)/coach init --demo
	@echo
	$(BIN)/coach demo-signin
	@echo
	$(BIN)/coach serve --host 127.0.0.1 --port 8000

# Browser tests drive Debian's Chromium; install it when it is missing (CI runs as root).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The scale-out tests run a throwaway PostgreSQL cluster from Debian's packages.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# Style and the import contracts in pyproject.toml (which part may import which).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: install lint chromium postgres
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not integration and not llm"

# The abuse suite alone (hostile uploads; `make test` runs it too).
test-abuse: install
	$(BIN)/pytest -q -m abuse

eval: install
	$(BIN)/coach eval

clean:
	rm -rf $(VENV) .coach-data .pytest_cache
