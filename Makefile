# Quick start: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv with the package installed on first use; installing also compiles the
# fast engine's numba kernels (`clmsim compile`, about a minute on 2 cores, once per
# NUMBA_CACHE_DIR).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench bench-sweep clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/clmsim compile
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/clmsim demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

bench-sweep: $(STAMP)
	$(BIN)/python benchmarks/sweep.py --dask

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
