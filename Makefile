# streamrec — the two commands a new user runs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-unit test-integration bench eval clean venv

venv: $(STAMP)

# torch==2.13.0 is installed first: it is the CPU build; an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/streamrec demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra tests

test-unit: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra -m "not integration" tests

test-integration: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra -m integration tests

bench: $(STAMP)
	$(BIN)/streamrec bench encode
	$(BIN)/streamrec bench index
	$(BIN)/streamrec bench freshness

eval: $(STAMP)
	$(BIN)/streamrec eval

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
