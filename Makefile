# One command for the demo, one for the tests: both set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-icinga test lint bench install man clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# the check starts every 30 s: byte-compile once even where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q check_dell_ups
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dell_ups_demo

demo-icinga: $(STAMP)
	$(BIN)/dell_ups_demo --icinga

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

# The man pages of the three programs, from their --help (Debian package help2man).
man: $(STAMP)
	$(BIN)/python tools/build_man_pages.py $(BIN) man

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/bench_check.py
	$(BIN)/python bench/bench_handler.py

clean:
	rm -rf $(VENV) build man *.egg-info
