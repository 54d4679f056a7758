# Two commands: `make demo` (set up, then run the main job end to end against the API
# simulator) and `make test` (set up, then run the tests). `make test-airflow` runs the
# slower Airflow test in Airflow's own virtual environment (its pins clash with Meltano's).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AIRFLOW_VENV := .venv-airflow
AIRFLOW_VERSION := 3.3.2

.PHONY: install demo test lint test-airflow clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/meltano install
	$(BIN)/python -m tap_hindsight.simulator.demo

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: install
	@$(BIN)/python -m pytest -m "not airflow" $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# Formatting, lint (ruff, all rules) and types (mypy --strict): their own step, not tests.
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy tap_hindsight

$(AIRFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)"
	touch $@

test-airflow: install $(AIRFLOW_VENV)/.installed
	@HINDSIGHT_AIRFLOW_VENV=$(AIRFLOW_VENV) $(BIN)/python -m pytest -m airflow $(PYTEST_ARGS); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .meltano output dist build
