# convolab: `make demo` and `make test` each create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test scipy-parity ndimage-parity browser clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test,torch]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m convolab demo
	$(PY) -m convolab tour --out tour-report --force

test: $(STAMP) browser
	$(PY) -m pytest -q -n 2 -p no:cacheprovider
	$(MAKE) --no-print-directory scipy-parity
	$(MAKE) --no-print-directory ndimage-parity

scipy-parity: $(STAMP)
	$(PY) tests/scipy_parity/run.py

ndimage-parity: $(STAMP)
	$(PY) tests/ndimage_parity/run.py

# headless Chromium for the tour's browser test, where the platform allows
# (Debian with root); elsewhere that test is skipped and says why
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q chromium >/dev/null 2>&1 \
	      || (timeout 300 apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q chromium >/dev/null 2>&1) \
	      || echo "chromium could not be installed: the browser test will be skipped"; \
	  else echo "no apt-get or not root: the browser test will be skipped"; fi; }

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis

.PHONY: bench bench-quick

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench.py --full

bench-quick: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench.py --quick
