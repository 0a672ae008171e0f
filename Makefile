# Every target builds the virtual environment it needs, so a fresh clone only
# needs Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench screenshots chaos fuzz venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m devtools.demo

# Two pytest-xdist workers: most tests wait on real servers, browsers and subprocesses, so two
# processes cut the wall time by about 40% on a 2-core machine. --dist loadfile keeps each test file on
# one worker, so a module's shared server (and the demo's one run) starts once. Every fixture makes
# its own ports and temporary folders; session fixtures (the browser, the people template, PostgreSQL)
# exist once per worker. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# The kiosk screenshots in docs/screenshots/, refreshed on purpose (a test run
# writes its own to a temporary folder and leaves the checkout as it was).
screenshots: $(STAMP)
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/test_kiosk_screens.py

# The API fuzzer of make test (tests/test_api_fuzz.py) at length: every role gets the coverage phase and
# FUZZ_EXAMPLES generated requests per operation (make test: the admin 10, the other roles 4).
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider tests/test_api_fuzz.py

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/vote_keys.py
	$(PY) bench/kiosk.py
	$(PY) bench/scores.py
	$(PY) bench/export.py
	$(PY) bench/load.py

# The long campaigns. First two tests of make test at full size (a minute; make test runs them
# smaller): a million votes downloaded through the export page in flat memory, and 1,000 random
# tamperings the verifier must catch. Then the fault campaign at full size (devtools/chaos.py, docs
# in bench/README.md): 50 tablets x 2,000 votes through the fault proxy while the server, hailong jobs
# and tablets are SIGKILLed; 10-20 minutes on SQLite, then the same on PostgreSQL with two servers
# behind the proxy and PostgreSQL itself SIGKILLed. Writes bench/chaos.json (the PostgreSQL run under
# the key postgresql); exits 1 if a vote was lost or counted twice. tests/test_fault_campaign.py and
# tests/test_fault_two_servers.py run the same code small in make test.
chaos: $(STAMP)
	EXPORT_DOWNLOAD_VOTES=1000000 TAMPERINGS=1000 $(PY) -m pytest -q -p no:cacheprovider \
		tests/test_export_download.py tests/test_verify_tamper.py
	$(PY) -m devtools.chaos
	$(PY) -m devtools.chaos --backend postgresql --servers 2 --database-kills 3

clean:
	rm -rf $(VENV) instance bench/work
