# The course's two commands for a newcomer: `make lab` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
NBTOOLS := JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter PYTHONPATH=tools $(PY) -m nbtools
EXPORT := JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter PYTHONPATH=tools $(PY) tools/export
NB ?=
# Per-cell timeouts of the notebook harness (seconds).
CELL_TIMEOUT ?= 180
JOBS ?= 1
# RERUN=1: `make run` runs every cell a second time in the same kernel (as a learner re-running the notebook).
RERUN ?=
# FORCE=1: `make html` / `make slides` run every notebook again instead of reusing fresh executed copies.
FORCE ?=

.PHONY: help setup setup-export setup-browser lab test check-rust miri loom check-notebooks test-tools test-notebooks \
	browser-test run nav bench latency clean-notebooks clean html slides exercises screenshots

help:
	@echo "make lab     set everything up (first time: several minutes), then open JupyterLab on the course"
	@echo "make test    every check: Rust fmt/clippy/tests, Miri, loom models, notebook hygiene, the tooling's tests,"
	@echo "             every notebook executed in a fresh kernel, then the browser test"
	@echo "make run     run all notebooks through the harness; NB=notebooks/01_….ipynb runs one"
	@echo "make html    run the notebooks (one at a time) and write HTML pages with their outputs to build/html/"
	@echo "make slides  reveal.js slides per notebook, with speaker notes, offline, in build/slides/"
	@echo "make exercises  learner copies without the solutions, in build/exercises/"
	@echo "make browser-test  JupyterLab, an exported page and a deck in headless Chromium (part of make test)"
	@echo "make screenshots   the browser test, then README's pictures docs/img/lab.png and docs/img/slide.png"
	@echo "make setup   only the setup (.venv, evcxr_jupyter, kernelspec)"
	@echo "make miri    support's pool, sync and conn_pool tests under Miri (undefined behaviour, data races, leaks)"
	@echo "make nav     regenerate navigation links and the index's lesson table"
	@echo "make bench   criterion benchmarks of support (pool vs threadpool/rayon, conn_pool vs r2d2)"
	@echo "make latency where a lesson's first seconds go: kernel start, first cell, edits (docs/latency.md)"

setup:
	@bash tools/setup.sh

# reveal.js, require.js, jQuery (offline slides) and playwright-core, with npm ci in tools/export.
setup-export: setup
	@bash tools/setup.sh --export

# Debian's Chromium for the browser test (apt-get, once).
setup-browser: setup-export
	@bash tools/setup.sh --browser

lab: setup
	@bash tools/lab.sh

# The steps in order, each timed (tools/test_steps.sh): the last line says how long each took (issue 19's 20-minute
# target). miri, loom and test-tools run at once: one at a time, each left one of the 2 cores idle.
TEST_STEPS := setup-browser check-rust miri+loom+test-tools test-notebooks browser-test
test:
	@MAKE="$(MAKE)" bash tools/test_steps.sh $(TEST_STEPS)

check-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo test --workspace --all-features

# Miri runs support's tests of pool, sync and conn_pool (the lib's unit tests and the test files below) and reports
# undefined behaviour, data races and leaks. Tests that run other programs, open sockets or read /proc are ignored
# under Miri (`#[cfg_attr(miri, ignore)]`) or not selected; plot:: is skipped (its 10 tests took 7 minutes there);
# loop counts are cut under `cfg(miri)`. With isolation on (the default) Miri's clock is virtual: 5 µs per basic
# block run, and a sleep moves it forward, so sleeps and timeouts cost no real time. Without `cargo +nightly miri`
# this step is skipped with one line (tools/setup.sh --miri); under CI (CI=true) it is required.
MIRI_TOOLCHAIN ?= nightly
MIRI_TESTS ?= --lib --test conn_pool --test conn_pool_findings --test pool_findings --test sync_findings -- --skip plot::
MIRIFLAGS ?=
miri:
	@MIRI_TOOLCHAIN=$(MIRI_TOOLCHAIN) bash tools/setup.sh --miri
	@if cargo +$(MIRI_TOOLCHAIN) miri --version >/dev/null 2>&1; then \
	  echo "MIRIFLAGS='$(MIRIFLAGS)' cargo +$(MIRI_TOOLCHAIN) miri test -p support $(MIRI_TESTS)"; \
	  MIRIFLAGS='$(MIRIFLAGS)' cargo +$(MIRI_TOOLCHAIN) miri test -p support $(MIRI_TESTS); \
	fi

# loom model-checks support's pool, semaphore, event and connection-pool hand-offs (loom-models/tests/loom_*.rs).
loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p loom-models --release

# The tooling's tests mostly wait on kernels (timeouts, late output): 6 workers on 2 cores took 91 s where 2 took
# 182 s (measured on a quiet machine).
TOOLS_TEST_WORKERS ?= 6
test-tools: setup-export
	$(NBTOOLS) hygiene
	$(NBTOOLS) nav --check
	JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter PYTHONPATH=tools $(PY) -m pytest -q -n $(TOOLS_TEST_WORKERS) tools/tests

check-notebooks: setup
	$(NBTOOLS) hygiene

# make test runs TEST_JOBS notebooks at a time (2 cores, but kernels spend much of their time waiting on sleeps,
# timeouts and each other), so its timing charts are not the ones to read — `make run` and `make html` run one at
# a time.
TEST_JOBS ?= 3
test-notebooks: setup
	$(NBTOOLS) run --cell-timeout $(CELL_TIMEOUT) --jobs $(TEST_JOBS) --executed-dir build/executed

run: setup
	$(NBTOOLS) run --cell-timeout $(CELL_TIMEOUT) --jobs $(JOBS) --executed-dir build/executed $(if $(RERUN),--rerun) $(NB)

# The end-to-end test in a real browser (tools/export/browser_test.py). After test-notebooks it reuses
# build/executed/02_….ipynb; run alone, it runs that notebook first when its executed copy is stale.
browser-test: setup-browser
	$(EXPORT)/browser_test.py

# README's pictures (docs/img/lab.png, docs/img/slide.png), taken by the browser test.
screenshots: setup-browser
	$(EXPORT)/browser_test.py --docs docs/img

# HTML with outputs and charts: the notebooks whose executed copy is stale are run first, one at a time (charts
# undistorted), without the mutation check. NB=notebooks/NN_x.ipynb exports one. build/html/index.html links them.
html: setup
	$(EXPORT)/export.py html --cell-timeout $(CELL_TIMEOUT) $(if $(FORCE),--force) $(NB)

# reveal.js decks (slide metadata, speaker notes), from the same executed copies; reveal.js vendored in the folder.
slides: setup-export
	$(EXPORT)/export.py slides --cell-timeout $(CELL_TIMEOUT) $(if $(FORCE),--force) $(NB)

# Learner copies: solution cells removed, exercise stubs and checks kept, support/ beside them.
exercises: setup
	$(EXPORT)/export.py exercises $(NB)

nav: setup
	$(NBTOOLS) nav

bench:
	cargo bench -p support --all-features

# Fresh-kernel latency of lessons 02 (light) and 12 (heavy): median of LATENCY_RUNS kernels (docs/latency.md).
LATENCY_RUNS ?= 3
latency: setup
	LATENCY_RUNS=$(LATENCY_RUNS) JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter PYTHONPATH=tools $(PY) tools/latency.py

clean-notebooks: setup
	PYTHONPATH=tools $(PY) -c "import sys, pathlib; from nbtools.hygiene import strip_outputs; [print('cleaned', p) for p in sorted(pathlib.Path('notebooks').glob('*.ipynb')) if strip_outputs(p)]"

clean:
	rm -rf build target
