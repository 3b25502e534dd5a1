# Everything runs from .venv, created and filled on first use.
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: serve test lint bench

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[server,whisper,test,lint]"
	touch $(INSTALLED)

serve: $(INSTALLED)
	$(VENV)/bin/inferq serve

# Two test processes: most tests wait on servers, so two overlap well on two cores.
test: $(INSTALLED)
	scripts/system-deps
	scripts/redis-up
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(INSTALLED)
	$(PY) -m pip install -q -e ".[bench]"
	scripts/system-deps
	scripts/redis-up
	$(PY) -m bench
