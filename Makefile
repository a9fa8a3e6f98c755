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

.PHONY: install system-deps demo test test-fast lint format clean

install: system-deps $(VENV)/.installed

# espeak-ng + sox synthesise the sample and test calls (Debian packages).
system-deps:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || \
	  ( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq espeak-ng sox >/dev/null )

# torch is pinned (torch==2.13.0, CPU) in pyproject.toml itself.
$(VENV)/.installed: pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

demo: install
	$(PY) -m samples demo $(DEMO)
	$(VENV)/bin/callytics analyze $(DEMO) --json $(DEMO:.wav=.json)

test: install
	$(PY) -m pytest -q -ra --durations=15

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
