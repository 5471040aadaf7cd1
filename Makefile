# Two commands do everything on a fresh machine:
#   make book   -- install into .venv, get the data, build the site into _build/html
#   make test   -- the whole test suite: lint, unit tests, every notebook under nbval (Python 3.11) and, at the
#                  same time, graded as homework under Python 3.13 with NumPy 2 (Colab's stack), the book as one
#                  PDF, the site build, a browser test of the site.
#                  Also: make homework (3.11 kernel), make py313, make py312, make pdf, make bench, make bench-torch
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# One OpenMP thread per kernel: CI runs two notebooks at a time on 2 cores, and OpenMP threads that wait for each
# other on shared cores burn time (measured: a GEMM loop 10x slower in CPU time). Outputs are recorded so too.
export OMP_NUM_THREADS := 1
export PYTHONHASHSEED := 0

.PHONY: book test install data export notebooks lint unit nbval homework homework-py313 site browser pdf py312 \
	py312-install py313 py313-install nbval-py313 bench bench-torch clean

book: install data site
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# py313-install and pdf come before unit: tests/library/test_compat.py trains under every built interpreter (3.11 and
# 3.13 must be there in CI) and tests/book/test_pdf.py checks the PDF.
test: install py313-install data lint pdf unit nbval-py313 site browser
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
	$(VENV)/bin/lint-imports

unit: install
	$(PY) -m pytest tests -q --ignore=tests/browser

nbval: install data
	$(PY) -m pytest -q --nbval notebooks --sanitize-with tests/nbval_sanitize.cfg

# Every chapter as an nbgrader assignment (generated under _build/homework/): the instructor notebook must score
# full marks, the untouched student release zero, and the release must fail only with NotImplementedError.
homework: install data
	$(PY) tools/homework.py

site: install
	rm -rf _build/html _build/.doctrees
	$(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going
	@# The intro page links to the PDF (make pdf); put the latest one beside the pages when there is one.
	if [ -f $(PDF) ]; then cp $(PDF) _build/html/.$(notdir $(PDF)).tmp && \
		mv _build/html/.$(notdir $(PDF)).tmp _build/html/$(notdir $(PDF)); fi

# The whole book as one PDF, with no network: Jupyter Book's single-page HTML (its own build folder under
# _build/pdf/), print CSS (no navigation, exercise solutions left out), then Debian's headless Chromium prints it
# once MathJax has typeset every formula (tools/make_pdf.py). tests/book/test_pdf.py checks the result.
PDF := _build/regularization-hands-on.pdf
pdf: install
	rm -rf _build/pdf
	$(VENV)/bin/jupyter-book build . --builder singlehtml --path-output _build/pdf -W -n --keep-going --quiet
	$(PY) tools/make_pdf.py _build/pdf/_build/singlehtml $(PDF)
	if [ -d _build/html ]; then cp $(PDF) _build/html/.$(notdir $(PDF)).tmp && \
		mv _build/html/.$(notdir $(PDF)).tmp _build/html/$(notdir $(PDF)); fi

# The built site in headless Chromium (Debian's /usr/bin/chromium, no network): every page, its links, maths,
# figures, dropdowns, search; screenshots of the chapters in _build/screenshots/.
browser: site
	$(PY) -m pytest -q tests/browser

# Every notebook executed under Python 3.13 with NumPy 2 (Colab's stack today) with requirements-py313.txt; MXNet
# 1.9.1 and d2l are installed without their dependencies (they pin NumPy 1), regbook.compat puts back the NumPy
# names MXNet reads. The notebooks' asserts check the headline numbers, and the glued numbers are compared with
# the committed (3.11) outputs.
PY313_VENV := .venv-py313
PY313 := $(PY313_VENV)/bin/python
PY313_STAMP := $(PY313_VENV)/.installed
PYTHON313 ?= $(shell ( r=$${PYENV_ROOT:-$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)}; \
	ls -d "$$r"/versions/3.13.*/bin/python3.13 2>/dev/null | sort -V | tail -n 1 ) | grep . \
	|| command -v python3.13)

# The two passes over every notebook side by side: nbval strict (3.11) and the homework check on 3.13. A notebook
# kernel keeps about one core busy, so on 2 cores the pair takes little longer than one pass. Each target's
# output is printed as one block when it finishes.
nbval-py313: install data
	$(MAKE) --no-print-directory -j2 --output-sync=target nbval homework-py313

# The homework check with every notebook executed under Python 3.13 + NumPy 2: nbgrader autogrades the instructor
# notebooks (which must score full marks and run without any error, so every notebook's own asserts hold on 3.13)
# and the student releases. This is CI's Python 3.13 run; `make py313` is the same execution without nbgrader,
# which also compares the glued numbers with the committed 3.11 outputs.
homework-py313: install py313-install data
	$(PY313) -m ipykernel install --prefix $(CURDIR)/$(VENV) --name regbook-py313 \
		--display-name "Python 3.13 (regbook)" >/dev/null
	REGBOOK_HOMEWORK_KERNEL=regbook-py313 $(PY) tools/homework.py

py313: py313-install data
	$(PY313) tools/execute_notebooks.py --compare-glue --json _build/py313-run.json

py313-install: $(PY313_STAMP)
$(PY313_STAMP): requirements-py313.txt pyproject.toml
	@test -n "$(PYTHON313)" || { echo "make py313: no Python 3.13 found (looked for \
	$$(pyenv root 2>/dev/null || echo ~/.pyenv)/versions/3.13.*/bin/python3.13 and python3.13 on PATH); \
	install one, e.g. 'pyenv install 3.13', or pass PYTHON313=/path/to/python3.13" >&2; exit 1; }
	rm -rf $(PY313_VENV)
	$(PYTHON313) -m venv $(PY313_VENV)
	$(PY313) -m pip install --quiet -r requirements-py313.txt
	$(PY313) -m pip install --quiet --no-deps mxnet==1.9.1 d2l==1.0.3 myst-nb==1.4.0 -e .
	@# MXNet's numpy<2, d2l's pins (numpy==1.23.5, ...) and myst-nb's Sphinx stack are left out on purpose;
	@# anything else fails.
	$(PY313) -m pip check | grep -v -e '^d2l 1.0.3 ' -e '^myst-nb 1.4.0 ' -e '^mxnet 1.9.1 has requirement numpy<2' \
		-e '^No broken requirements' | (! grep .)
	$(PY313) -c "import regbook, mxnet; from d2l import mxnet as d2l; from myst_nb import glue; glue('x', 1, display=False)"
	touch $(PY313_STAMP)

# Every notebook executed under Python 3.12 (NumPy 1.26) with requirements-py312.txt (not in make test); the
# notebooks' asserts check the headline numbers, and the glued numbers are compared with the committed (3.11)
# outputs.
PY312_VENV := .venv-py312
PY312 := $(PY312_VENV)/bin/python
PY312_STAMP := $(PY312_VENV)/.installed
PYTHON312 ?= $(shell ( r=$${PYENV_ROOT:-$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)}; \
	ls -d "$$r"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -n 1 ) | grep . \
	|| command -v python3.12)

py312: py312-install data
	$(PY312) tools/execute_notebooks.py --compare-glue --json _build/py312-run.json

py312-install: $(PY312_STAMP)
$(PY312_STAMP): requirements-py312.txt pyproject.toml
	@test -n "$(PYTHON312)" || { echo "make py312: no Python 3.12 found (looked for \
	$$(pyenv root 2>/dev/null || echo ~/.pyenv)/versions/3.12.*/bin/python3.12 and python3.12 on PATH); \
	install one, e.g. 'pyenv install 3.12', or pass PYTHON312=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(PY312_VENV)
	$(PYTHON312) -m venv $(PY312_VENV)
	$(PY312) -m pip install --quiet -r requirements-py312.txt
	$(PY312) -m pip install --quiet --no-deps d2l==1.0.3 myst-nb==1.4.0 -e .
	@# d2l's pins (numpy==1.23.5, ...) and myst-nb's Sphinx stack are left out on purpose; anything else fails.
	$(PY312) -m pip check | grep -v -e '^d2l 1.0.3 ' -e '^myst-nb 1.4.0 ' -e '^No broken requirements' | (! grep .)
	$(PY312) -c "import regbook, mxnet; from d2l import mxnet as d2l; from myst_nb import glue; glue('x', 1, display=False)"
	touch $(PY312_STAMP)

# Whole-book speed: every notebook executed once (not saved), seconds per notebook and in total; the budget
# is 8 minutes on the 2-core machine.
bench: install data
	$(PY) tools/execute_notebooks.py --budget 480 --json _build/bench.json
	$(PY) benchmarks/epoch_speed.py --profile

# One epoch of the book's engine, of the textbook loop and of PyTorch eager (its own venv, .venv-torch, from
# requirements-torch.txt), each next to the bare matrix products, on one core with one thread, interleaved.
TORCH_VENV := .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed
ONE_CORE := $(shell command -v taskset >/dev/null && echo taskset -c 0)

$(TORCH_STAMP): requirements-torch.txt
	rm -rf $(TORCH_VENV)
	$(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install --quiet -r requirements-torch.txt
	$(TORCH_VENV)/bin/python -c "import torch; print('torch', torch.__version__)"
	touch $(TORCH_STAMP)

bench-torch: install data $(TORCH_STAMP)
	$(ONE_CORE) $(PY) benchmarks/epoch_speed.py --json --repeats 5 --torch-python $(TORCH_VENV)/bin/python

clean:
	rm -rf _build $(PY312_VENV) $(PY313_VENV) $(TORCH_VENV)
