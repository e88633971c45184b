# The course's two commands for a newcomer: `make lab` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
NBTOOLS := JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter PYTHONPATH=tools $(PY) -m nbtools
NB ?=
# Per-cell timeouts of the notebook harness (seconds).
CELL_TIMEOUT ?= 180
JOBS ?= 1
# RERUN=1: `make run` runs every cell a second time in the same kernel (as a learner re-running the notebook).
RERUN ?=

.PHONY: help setup lab test check-rust loom check-notebooks test-tools test-notebooks run nav bench clean-notebooks clean

help:
	@echo "make lab     set everything up (first time: several minutes), then open JupyterLab on the course"
	@echo "make test    every check: Rust fmt/clippy/tests, loom models, notebook hygiene, the tooling's tests,"
	@echo "             and every notebook executed in a fresh kernel"
	@echo "make run     run all notebooks through the harness; NB=notebooks/01_….ipynb runs one"
	@echo "make setup   only the setup (.venv, evcxr_jupyter, kernelspec)"
	@echo "make nav     regenerate navigation links and the index's lesson table"
	@echo "make bench   criterion benchmarks of support (pool vs threadpool/rayon, conn_pool vs r2d2)"

setup:
	@bash tools/setup.sh

lab: setup
	@bash tools/lab.sh

test: setup check-rust loom test-tools test-notebooks

check-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo test --workspace --all-features

# loom model-checks support's pool, semaphore, event and connection-pool hand-offs (support/tests/loom_*.rs).
loom:
	@if ls support/tests/loom_*.rs >/dev/null 2>&1; then \
	  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p support --release --test 'loom_*'; \
	else echo "loom: no models yet"; fi

test-tools: setup
	$(NBTOOLS) hygiene
	$(NBTOOLS) nav --check
	JUPYTER_PATH=$(CURDIR)/$(VENV)/share/jupyter PYTHONPATH=tools $(PY) -m pytest -q -n 2 tools/tests

check-notebooks: setup
	$(NBTOOLS) hygiene

# make test runs two notebooks at a time (2 cores; kernels spend much of their time compiling or waiting), so
# its timing charts are not the ones to read — `make run` and `make html` run one at a time.
test-notebooks: setup
	$(NBTOOLS) run --cell-timeout $(CELL_TIMEOUT) --jobs 2 --executed-dir build/executed

run: setup
	$(NBTOOLS) run --cell-timeout $(CELL_TIMEOUT) --jobs $(JOBS) --executed-dir build/executed $(if $(RERUN),--rerun) $(NB)

nav: setup
	$(NBTOOLS) nav

bench:
	cargo bench -p support --all-features

clean-notebooks: setup
	PYTHONPATH=tools $(PY) -c "import sys, pathlib; from nbtools.hygiene import strip_outputs; [print('cleaned', p) for p in sorted(pathlib.Path('notebooks').glob('*.ipynb')) if strip_outputs(p)]"

clean:
	rm -rf build target
