# The README's test command is `make test`. Each target sets up .venv/ first (app/bootstrap.py).
PYTHON ?= python3
VENV_PY := .venv/bin/python
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup test test-all reliability lint bench screens

setup:
	@$(PYTHON) -m app.bootstrap --extras test >/dev/null

test: setup
	$(VENV_PY) -m pytest -q

# Everything, including the slow exhaustive suites (marked `slow`).
test-all: setup
	$(VENV_PY) -m pytest -q -m "slow or not slow"

# The full reliability suite (tests/reliability/conftest.py): 100+ SIGKILL runs, full-size hostile files, the
# corpus's hostile/ folder, disk-full sweeps; ends with a table of what was tried and what survived.
reliability: setup
	DOSSIER_RELIABILITY=full $(VENV_PY) -m pytest -q -m "reliability or not slow" \
		tests/reliability tests/review/test_durability.py

lint: setup
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m ruff format --check .

bench: setup
	$(VENV_PY) bench/import_bench.py ../shared/corpus/real/pdf
	$(VENV_PY) bench/search_bench.py --docs 10000


# The README's screenshots, made offscreen.
screens: setup
	$(VENV_PY) bench/ui_screens.py
