# convolab: `make demo` and `make test` each create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test scipy-parity clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test,torch]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m convolab demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 -p no:cacheprovider
	$(MAKE) --no-print-directory scipy-parity

scipy-parity: $(STAMP)
	$(PY) tests/scipy_parity/run.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis

.PHONY: bench bench-quick

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench.py --full

bench-quick: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench.py --quick
