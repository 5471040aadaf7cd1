# Two commands do everything on a fresh machine:
#   make book   -- install into .venv, get the data, build the site into _build/html
#   make test   -- the whole test suite (lint, unit tests, notebooks under nbval, site build)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS := 2
export PYTHONHASHSEED := 0

.PHONY: book test install data export notebooks lint unit nbval site bench clean

book: install data site
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: install data lint unit nbval site
	@echo "make test: all checks passed"

install: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

data: install
	$(PY) -m regbook data --download

export: install
	$(PY) tools/nbexport.py

notebooks: install data
	$(PY) tools/run_notebooks.py $(NB)

lint: install
	$(VENV)/bin/ruff check src tests tools benchmarks notebooks
	$(PY) tools/nbexport.py --check

unit: install
	$(PY) -m pytest tests -q

nbval: install data
	$(PY) -m pytest -q --nbval notebooks --sanitize-with tests/nbval_sanitize.cfg

site: install
	rm -rf _build/html _build/.doctrees
	$(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going

bench: install data
	$(PY) benchmarks/epoch_speed.py

clean:
	rm -rf _build
