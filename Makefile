# Entry points of the book. README.md documents each target.
# Every target sets up its own virtual environment (.venv) from the exact pins in
# requirements.txt and installs mlnotes editable; a second run reinstalls nothing
# unless requirements.txt or pyproject.toml changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
CHROMIUM ?= /usr/bin/chromium
PORT ?= 8000

.PHONY: book pdf test lint browser-deps serve lab execute bench student clean

$(READY): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# Build matplotlib's font cache now, so that its one-time notice is not printed
	@# into a notebook's stderr on a fresh machine.
	MPLBACKEND=Agg $(BIN)/python -c "import matplotlib.pyplot"
	touch $@

# jupyter-cache keys its cache on the notebooks' code only; it does not notice a
# change to mlnotes or to the pinned libraries. The book target drops the cache when
# their content hash differs from the one stored beside it.
CACHE_KEY = $(shell cat requirements.txt pyproject.toml mlnotes/*.py mlnotes/data/* 2>/dev/null | sha256sum | cut -c1-16)

## book: build the HTML book into _build/html (warnings are errors)
# --all rewrites every page (notebooks still come from the execution cache): an
# incremental build leaves the bibliography's anchors stale when a chapter adds a citation.
book: $(READY)
	@if [ "$$(cat _build/.jupyter_cache.key 2>/dev/null)" != "$(CACHE_KEY)" ]; then \
	  echo "mlnotes or the pins changed: clearing the notebook execution cache"; \
	  rm -rf _build/.jupyter_cache; fi
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	echo "$(CACHE_KEY)" > _build/.jupyter_cache.key

## pdf: the whole book as one PDF, _build/pdf/mlnotes.pdf, and the landing page's downloads
# tools/build_pdf.py joins the built pages in the order of _toc.yml into one document
# (title page, contents with page numbers, every chapter on a new page, links and
# bookmarks), lets MathJax typeset it and prints it with the browser test's Chromium.
# tools/downloads.py then puts the PDF, a zip of the HTML book and a zip of the
# notebooks (with mlnotes and the pins) into _build/html, which Pages publishes.
pdf: book browser-deps
	CHROMIUM=$(CHROMIUM) $(BIN)/python tools/build_pdf.py
	$(BIN)/python tools/downloads.py

## test: lint, unit tests, notebooks under nbval, the book build, its HTML checks and the PDF
test: lint pdf student browser-deps
	CHROMIUM=$(CHROMIUM) $(BIN)/pytest -n 2 --dist loadfile

lint: $(READY)
	$(BIN)/ruff check .

browser-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Chromium from Debian for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	  else \
	    echo "The browser test needs $(CHROMIUM): run 'sudo apt-get install chromium'"; exit 1; \
	  fi; \
	fi

## serve: serve the built book on http://localhost:$(PORT)
serve: book
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

## lab: open the chapters in JupyterLab; the default kernel is this venv's Python, with mlnotes
# As root (a container) Jupyter needs --allow-root; without a display (ssh, a
# container) it prints the URL to open instead of starting a browser.
lab: $(READY)
	flags=""; \
	if [ "$$(id -u)" = 0 ]; then flags="$$flags --allow-root"; fi; \
	if [ "$$(uname)" != Darwin ] && [ -z "$${DISPLAY:-}" ] && [ -z "$${WAYLAND_DISPLAY:-}" ]; then \
	  flags="$$flags --no-browser"; fi; \
	$(BIN)/jupyter lab $$flags chapters

## execute: re-execute every chapter notebook in place, top to bottom, in a fresh kernel
# tests/notebooks.py stores them in canonical form (no timestamps, merged streams), so
# that executing twice changes nothing.
execute: $(READY)
	$(BIN)/python tests/notebooks.py chapters/*.ipynb

## bench: speed ratios against the reference libraries (needs requirements-bench.txt)
bench: $(READY)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	@# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on a machine to work around old
	@# OpenBLAS bugs; they slow a current numpy, so the benchmarks run without them.
	for b in benchmarks/bench_*.py; do env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python "$$b"; done

## student: the student edition, without the answers, into _build/student/_build/html
# sphinx-exercise's hide_solutions drops the solutions; tools/student_edition.py (a
# Sphinx extension loaded only here) takes each exercise's answer-check code cell off
# the page, in favour of a note naming the check_ helper that tells a reader's answer
# right or wrong, and strips the same from the notebooks offered for download. The
# notebooks are the book's own, so their execution cache is the book's.
student: $(READY)
	mkdir -p _build
	$(BIN)/python -c "import yaml; c = yaml.safe_load(open('_config.yml')); \
	  c['sphinx']['config']['hide_solutions'] = True; \
	  c['sphinx']['config']['nb_execution_cache_path'] = '_build/.jupyter_cache'; \
	  c['sphinx']['local_extensions'] = {'student_edition': '$(CURDIR)/tools'}; \
	  c['sphinx']['config']['extensions'].append('student_edition'); \
	  yaml.safe_dump(c, open('_build/_config.student.yml', 'w'), sort_keys=False)"
	$(BIN)/jupyter-book build . --all --config _build/_config.student.yml --path-output _build/student -W -n --keep-going

clean:
	rm -rf _build
