# perfmodel: two commands do all the set-up on a fresh machine.
#   make report   -> quarterly evaluation of the shipped sample data under reports/
#   make test     -> mypy on the core layers, then the whole test suite (unit, property, golden, CLI, notebooks)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PERIOD ?= 2025Q2
FRAMEWORK ?= station_four_dimension
FORMAT ?= html,pdf,docx
REPORT_LANG ?= zh

.PHONY: venv report test lint bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

# The sample file of the framework (data_samples/observations/<framework>.csv.gz) when there is
# one, else the default sample: `make report PERIOD=2025Q3 FRAMEWORK=station_quadrant` works.
OBSERVATIONS ?= $(firstword $(wildcard data_samples/observations/$(FRAMEWORK).csv.gz) \
	data_samples/station_observations.csv.gz)
REPORT_INPUTS := --period $(PERIOD) --framework $(FRAMEWORK) \
	--observations $(OBSERVATIONS) --units data_samples/units.csv --lang $(REPORT_LANG) --out reports

# The quarterly report links to the fairness audit of the same evaluation: one command writes
# both (the fairness report into reports/<framework>/<period>/<lang>/fairness_audit/), or neither.
# REPORT_LANG=en writes the English report into reports/<framework>/<period>/en/, beside the Chinese one.
report: $(STAMP)
	$(BIN)/perfmodel report $(REPORT_INPUTS) --format $(FORMAT) --with fairness_audit

# The house style and types first (seconds), so a lint or type error stops before the long run:
# ruff lint and format (line length 120), then mypy on the core layers ([tool.mypy] in pyproject.toml).
test: lint
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

sample: $(STAMP)
	$(BIN)/perfmodel sample --out data_samples --stations 120 --months 24 --seed 20250101

clean:
	rm -rf $(VENV) .pytest_cache
