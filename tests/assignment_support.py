"""What the acceptance tests of the course's assignments share (test_a3.py, test_a4.py,
test_releases.py): where an assignment's files are, fixtures that load them, and helpers.

A test module uses the fixtures by naming this module a plugin and saying which assignment it
tests, with a module-scoped fixture `assignment`:

    pytest_plugins = ["assignment_support"]

    @pytest.fixture(scope="module")
    def assignment():
        return A3

`cfg`, `source_nb`, `release_nb`, `reference_source`, `reference` and `tests_module` then load
that assignment, once per module (per parameter where `assignment` is parametrized).

PYTEST_DONT_REWRITE: the test modules import this one before pytest registers it as a plugin,
too late for assertion rewriting (it has no assertions of its own).
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.core.config import AssignmentConfig, load_config
from autograder.core.module import load_trusted_module, module_source
from autograder.grading.hidden import (
    InProcessCaller,
    load_tests_module,
    run_hidden_tests,
    stubs_beside,
)

REPO = Path(__file__).resolve().parent.parent

Scores = dict[str, tuple[float, float, str]]
"""test name -> (score, max_score, message) of one run of the hidden tests."""


@dataclass(frozen=True)
class Assignment:
    """One assignment of the course, and the figures its release tests expect."""

    name: str  # "A3"
    notebook: str  # the notebook's stem
    solution_lines: int  # the release must hide more solution lines than this (not vacuous)
    todo_blocks: int  # TODO blocks in the released notebook

    @property
    def source_dir(self) -> Path:
        return REPO / "solutions" / self.name

    @property
    def source_nb(self) -> Path:
        return self.source_dir / f"{self.notebook}.ipynb"

    @property
    def release_nb(self) -> Path:
        return REPO / "assignments" / self.name / f"{self.notebook}.ipynb"

    @property
    def prefix(self) -> str:
        """Of cell ids and of the names of modules built from its sources: "a3"."""
        return self.name.lower()


A3 = Assignment("A3", "linear_classifier", solution_lines=80, todo_blocks=9)
A4 = Assignment("A4", "two_layer_net", solution_lines=50, todo_blocks=8)
ASSIGNMENTS = (A3, A4)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cfg(assignment: Assignment) -> AssignmentConfig:
    return load_config(assignment.source_dir / "assignment.toml")


@pytest.fixture(scope="module")
def source_nb(assignment: Assignment) -> nbformat.NotebookNode:
    return nbformat.read(assignment.source_nb, as_version=4)


@pytest.fixture(scope="module")
def release_nb(assignment: Assignment) -> nbformat.NotebookNode:
    if not assignment.release_nb.is_file():
        pytest.fail(f"{assignment.release_nb} is missing: run `autograder release {assignment.name}`")
    return nbformat.read(assignment.release_nb, as_version=4)


@pytest.fixture(scope="module")
def reference_source(source_nb: nbformat.NotebookNode) -> str:
    return module_source(source_nb.cells)


@pytest.fixture(scope="module")
def reference(assignment: Assignment, reference_source: str) -> types.ModuleType:
    return load_trusted_module(reference_source, f"{assignment.prefix}_reference")


@pytest.fixture(scope="module")
def tests_module(assignment: Assignment) -> types.ModuleType:
    return load_tests_module(assignment.source_dir / "hidden_tests.py")


# --------------------------------------------------------------------------- helpers


def nbgrader(cell) -> dict:
    """The cell's nbgrader metadata (a copy; empty if it has none)."""
    return dict(cell.metadata.get("nbgrader", {}))


def solution_blocks(source: str) -> list[list[str]]:
    """The lines of each `### BEGIN SOLUTION` ... `### END SOLUTION` block of a cell, in order."""
    blocks, inside = [], None
    for line in source.split("\n"):
        if "### BEGIN SOLUTION" in line:
            inside = []
        elif "### END SOLUTION" in line:
            blocks.append(inside)
            inside = None
        elif inside is not None:
            inside.append(line)
    return blocks


def error_outputs(nb) -> list:
    """The error outputs of an executed notebook's code cells."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def output_text(nb) -> str:
    """Everything an executed notebook's code cells printed, concatenated."""
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def hidden_scores(tests_module, module, reference, cfg: AssignmentConfig) -> Scores:
    """The hidden tests run in-process, the student being `module`."""
    results = run_hidden_tests(tests_module, InProcessCaller(module, timeout=30, stubs=stubs_beside(tests_module)), reference,
                               cfg.tests, int(cfg.private["seed"]))
    return {r.name: (r.score, r.max_score, r.message) for r in results}


def mutated(assignment: Assignment, reference_source: str, grade_id: str, mutant_id: str,
            mutant_source: str) -> types.ModuleType:
    """The reference with the function(s) of `mutant_source` replaced (defined again after it)."""
    return load_trusted_module(reference_source + "\n" + mutant_source,
                               f"{assignment.prefix}_{grade_id}_{mutant_id}")


def score_mutants(assignment: Assignment, mutants: Iterable[tuple[str, str, str]], tests_module,
                  reference_source: str, reference, cfg: AssignmentConfig) -> dict[tuple[str, str], Scores]:
    """(grade_id, mutant id) -> the hidden tests' scores of each (grade_id, mutant id, source)."""
    out = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow of the no-max-shift mutants
        for grade_id, mutant_id, source in mutants:
            module = mutated(assignment, reference_source, grade_id, mutant_id, source)
            out[(grade_id, mutant_id)] = hidden_scores(tests_module, module, reference, cfg)
    return out


def group_score(scores: Scores, group_of: dict[str, str], grade_id: str,
                tests: Iterable[str] | None = None) -> tuple[float, float]:
    """(score, max_score) of the group `grade_id` in one run (of `tests` only, if given)."""
    names = [t for t in scores if group_of[t] == grade_id and (tests is None or t in tests)]
    return (round(sum(scores[t][0] for t in names), 6), round(sum(scores[t][1] for t in names), 6))


def score_table(rows: Iterable[tuple[str, str, float, float]]) -> str:
    """A plain-text table of (mutant, group, score, max) rows, for the terminal (`pytest -s`)."""
    rows = list(rows)
    width = max([len("mutant")] + [len(m) for m, *_ in rows])
    gwidth = max([len("group")] + [len(g) for _, g, *_ in rows])
    lines = [f"{'mutant':<{width}}  {'group':<{gwidth}}  score/max"]
    lines += [f"{m:<{width}}  {g:<{gwidth}}  {s:g}/{mx:g}" for m, g, s, mx in rows]
    return "\n".join(lines)


def _scaled(value, factor: float):
    """value with every float (and float array) multiplied by factor; ints, e.g. labels, kept."""
    if isinstance(value, dict):
        return {k: _scaled(v, factor) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_scaled(v, factor) for v in value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" or isinstance(value, float):
        return value * factor
    return value


def scaled_reference(reference: types.ModuleType, factor: float) -> types.ModuleType:
    """A stand-in for the reference whose functions return `factor` times its float results:
    another set of hidden values, with the same zeros and the same argmax."""
    module = types.ModuleType(f"{reference.__name__}_scaled")
    for name, value in vars(reference).items():
        if isinstance(value, types.FunctionType):
            setattr(module, name, lambda *a, _f=value, **k: _scaled(_f(*a, **k), factor))
    return module
