# Two commands: `make demo` (set up, then run the main job end to end against the API
# simulator) and `make test` (set up, then run every test). `make check` is the fast tier a
# maintainer runs after every change: lint, types, and every test that needs no Meltano,
# PostgreSQL, dbt or Airflow, builds no package and waits on no real clock.
PYTHON ?= python3
# CI builds one environment per Python (VENV=.venv-3.12 PYTHON=...); everyone else, .venv.
VENV ?= .venv
BIN := $(VENV)/bin
AIRFLOW_VENV := .venv-airflow
AIRFLOW_VERSION := 3.3.2
# The marks `make check` leaves out (pyproject.toml describes them).
SERVICES := meltano or postgres or airflow or slow or scale or package
# Bytecode is cached (__pycache__, ignored by git) even where the shell asks Python not to
# write it: without it every test process, every pytest worker and every fresh tap compiles
# the same modules again, and pytest rewrites every test module's asserts again.
unexport PYTHONDONTWRITEBYTECODE
# pytest-xdist workers. Three per core for the fast tier: since a forked tap run no longer
# tears down its inherited modules (tests/tap_forkserver.py) it uses about 55 CPU-seconds,
# and much of its time is retries' and rate windows' waits (on 2 cores, 6 workers took
# 40 s where 4 took 47 and 8 took 40 with more CPU). The full suite waits more still (on
# Meltano, dbt, PostgreSQL, Airflow, the simulator's held answers): on 2 cores, 8 workers
# took 5.5 min where 4 took 7.5 to 8.5. The long tests go first (tests/conftest.py), and a
# worker that runs out of tests takes some of another's queue (`--dist worksteal`): with
# xdist's default the first batch is dealt round robin, so each worker queued several of
# the long ones behind each other (make test: 284 s with it, 242 s with worksteal).
CHECK_WORKERS ?= 6
TEST_WORKERS ?= 8

.PHONY: install demo check lint test test-airflow release-check clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/meltano install
	$(BIN)/python -m hindsight_simulator.demo

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
define pytest
	@$(BIN)/python -m pytest $(1) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit $$status
endef

check: lint
	$(call pytest,-n $(CHECK_WORKERS) --dist worksteal -m "not ($(SERVICES))" --hypothesis-profile=check)

# Formatting, lint (ruff, all rules) and types (mypy --strict): their own step, not tests.
# Each environment keeps its own mypy cache: CI runs the Pythons' `make check` beside each
# other, and two mypys writing one cache at once crashed one ("INTERNAL ERROR").
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy --cache-dir $(VENV)/.mypy_cache tap_hindsight hindsight_simulator .ci/plugin_files.py

# Every test: the fast tier, Meltano (its plugins installed once for the session), dbt,
# PostgreSQL (started if it is down), the real-clock tests and Airflow.
test: install $(AIRFLOW_VENV)/.installed
	$(call pytest,-n $(TEST_WORKERS) --dist worksteal)

$(AIRFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)"
	touch $@

# The Airflow test alone (`make test` runs it too).
test-airflow: install $(AIRFLOW_VENV)/.installed
	$(call pytest,-m airflow)

# A release as a user gets it (.ci/release_check.sh): sdist and wheel built from a clean
# clone, `twine check`, the wheel installed in a fresh environment running `--about` and
# `--discover`. DIST keeps the built files.
DIST ?= $(CURDIR)/dist
release-check:
	bash .ci/release_check.sh "$(PYTHON)" "$(DIST)"

clean:
	rm -rf .venv .venv-3.* $(AIRFLOW_VENV) .meltano output dist build
