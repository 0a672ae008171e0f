# Every target builds the virtual environment it needs, so a fresh clone only
# needs Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench screenshots chaos venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m devtools.demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# The kiosk screenshots in docs/screenshots/, refreshed on purpose (a test run
# writes its own to a temporary folder and leaves the checkout as it was).
screenshots: $(STAMP)
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/test_kiosk_screens.py

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/kiosk.py
	$(PY) bench/scores.py
	$(PY) bench/export.py
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) instance bench/work
