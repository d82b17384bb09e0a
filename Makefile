# The two commands a newcomer types: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export WANDB_MODE ?= offline
export DEBIAN_FRONTEND := noninteractive

.PHONY: setup system run test lint bench

setup: system $(VENV)/.installed

# Debian's hol-light does not pull in libnum-ocaml-dev; without it HOL Light loads an empty logic.
# Coq (coqidetop and the standard library's sources) is the second real prover.
# Chromium (headless) runs the visualiser's browser tests; Playwright drives it, downloads nothing.
system:
	@if [ ! -f /usr/share/hol-light/hol.ml ] || [ ! -f /usr/lib/ocaml/big_int.cmi ] || [ ! -x /usr/bin/coqidetop.opt ] || [ ! -x /usr/bin/chromium ]; then \
	  echo "installing hol-light, libnum-ocaml-dev, coq and chromium"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq hol-light libnum-ocaml-dev coq chromium; \
	fi

# torch==2.13.0 first: a CPU build on local disk; an unpinned torch would pull a CUDA build.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	@touch $@

run: setup
	$(PY) -m experiments.end_to_end.end_to_end_experiment

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

bench: setup
	for b in env search batching scaling; do $(PY) -m experiments.bench $$b; done
