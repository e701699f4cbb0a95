# Backprop assignment kit. `make help` lists the targets. Every target sets up .venv first,
# so `make demo` and `make test` work on a fresh clone with nothing run before them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.setup-stamp
# nbgrader calls `alembic` when it creates a gradebook: the venv's bin must be on PATH.
export PATH := $(BIN):$(PATH)

A   ?= A3
ID  ?=
NB  ?= assignments/$(A)/$(if $(filter A4,$(A)),two_layer_net,linear_classifier).ipynb
SUBMISSIONS ?= build/demo/$(A)/submissions
OUT ?= build/grades/$(A)
COURSE ?= build/demo/course
PORT ?= 8888
# pytest options for `make test`: the suite is parallel-safe and runs on every core (pytest-xdist);
# PYTEST_ARGS="-n 0" runs it in one process (docs/benchmarks.md has both times)
PYTEST_ARGS ?= -n auto

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint release release-check measure check submission grade formgrader bundle bench cifar10 clean

help: ## list the targets with one line each
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[instructor,dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the kit; as root, install bubblewrap + setpriv with apt (one line says what)
	@$(PY) -m autograder.grading.provision

demo: setup ## release check, sample classes of A4 and A2 built, graded, and where the reports are (build/demo/)
	$(PY) -m demo.classroom

test: setup ## the test suite: ruff, the import layers, the release in sync with solutions/, pytest
	@$(PY) -m autograder.grading.provision --check
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/autograder release --check
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: setup ## ruff only
	$(BIN)/ruff check .

release: setup ## regenerate assignments/ from solutions/ (all assignments)
	$(BIN)/autograder release

release-check: setup ## fail if assignments/ is out of sync with solutions/
	$(BIN)/autograder release --check

measure: setup ## run an assignment's source notebook with its solutions: checks' values, models vs bands: make measure A=A3
	$(BIN)/autograder measure $(A)

check: setup ## self-check a notebook: make check NB=path/to/notebook.ipynb
	$(BIN)/autograder check $(NB)

submission: setup ## build your submission zip: make submission A=A3 ID=2022123456
	@test -n "$(ID)" || { echo "Please give your student id: make submission A=$(A) ID=2022123456"; exit 1; }
	$(BIN)/autograder submit $(A) --student-id $(ID) --dir $(dir $(NB))

grade: setup ## grade a class: make grade A=A3 SUBMISSIONS=dir-or-lms.zip OUT=build/grades/A3
	$(BIN)/autograder grade $(A) $(SUBMISSIONS) --out $(OUT)

formgrader: setup ## nbgrader's formgrader on 127.0.0.1 for a course: make formgrader [COURSE=build/demo/course] [PORT=8888]
	$(PY) -m autograder.grading.formgrader $(COURSE) --port $(PORT)

bundle: setup ## the student bundle (no solutions, leak-checked): make bundle -> build/student-kit.zip (A2, A3, A4)
	$(BIN)/autograder bundle A2 A3 A4 -o build/student-kit.zip

bench: setup ## benchmarks: figures as ratios measured in the same run -> build/bench/results.json, docs/benchmarks.md
	$(PY) bench/run_all.py

cifar10: setup ## download CIFAR-10 (python version, MD5-checked) into data/
	$(BIN)/autograder data cifar10

clean: ## remove build output (keeps .venv and course state)
	rm -rf build .pytest_cache .ruff_cache
