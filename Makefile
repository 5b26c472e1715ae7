# prepbot: every target bootstraps its own virtual environment.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test check lint types demo sandbox reliability bench clean

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check prepbot tests bench
	$(BIN)/ruff format --check prepbot tests bench

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

demo: $(STAMP)
	$(BIN)/prepbot demo

# A seeded run of >= 1,000 meetings and >= 300 injected faults; prints the figures of
# ../shared/reliability.md (JSON + Markdown) and the seed that replays it (SEED=... to replay).
reliability: $(STAMP)
	$(BIN)/python -m bench.reliability $(if $(SEED),--seed $(SEED),)

# Issue 7's side-by-side figures (API calls vs minimum and a naive client, throughput vs an smtplib
# loop, memory at 1k/50k, renders/s, start-up, 1/2/4 workers), written to bench/RESULTS.md.
# QUICK=1: day cycle at 1,000 and 10,000 only.
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

sandbox: $(STAMP)
	$(BIN)/prepbot sandbox serve --seed examples/demo-org.json --state .state/sandbox --write-config .state/prepbot.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output .state
