"""The hidden tests of an assignment, run inside the student's kernel as nbgrader runs them.

Imported by the `### BEGIN HIDDEN TESTS` block that bench/nbgrader_form/course.py appends to
every grade cell of the nbgrader-form source notebook. The block ends with

    _kernel_tests.group_score("<course>/hidden/A3", "svm_loss_naive", globals())

and nbgrader takes the number it displays as the cell's partial credit (nbgrader.utils.
get_partial_grade). The checks are the kit's own: the `@hidden_test` functions of
solutions/<A>/hidden_tests.py with the same seeds, shares and tolerances, and the best-model
check of autograder.core.models, so the two graders ask the same questions. What differs is where
they run: here the student's functions are the kernel's globals, called in-process
(`autograder.grading.hidden.InProcessCaller`, its SIGALRM timeout the call limit of assignment.toml),
the reference and the comparison share the student's process (nothing is contained), and the
notebook has been run from the top before this cell, training and search included.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from autograder.core.config import AssignmentConfig, load_config
from autograder.core.models import check_model
from autograder.core.module import load_trusted_module, module_source
from autograder.core.notebook import read_notebook
from autograder.grading.hidden import (
    InProcessCaller,
    collect_tests,
    load_tests_module,
    run_one,
    shares,
    stubs_beside,
)

_LOADED: dict[str, tuple[AssignmentConfig, types.ModuleType, types.ModuleType]] = {}


def _load(hidden_dir: Path) -> tuple[AssignmentConfig, types.ModuleType, types.ModuleType]:
    """(config, hidden tests, reference module) of a hidden folder, once per kernel."""
    key = str(hidden_dir)
    if key not in _LOADED:
        config = load_config(hidden_dir / "assignment.toml")
        tests = load_tests_module(hidden_dir / "hidden_tests.py")
        cells = [c for nb in config.notebooks for c in read_notebook(hidden_dir / nb).cells]
        ref = load_trusted_module(module_source(cells), f"reference_{config.name}")
        _LOADED[key] = (config, tests, ref)
    return _LOADED[key]


def group_score(hidden_dir: str, grade_id: str, namespace: dict[str, Any]) -> float:
    """The points the student earns for group `grade_id`; failures are printed (feedback).

    namespace: the kernel's globals (the student's functions). Best-model groups read the
    model file the notebook just saved in the working directory.
    """
    config, tests, ref = _load(Path(hidden_dir))
    points = float(config.tests[grade_id])
    models = {spec.grade_id: spec for spec in config.models.values()}
    if grade_id in models:
        entry, _violations = check_model(models[grade_id], config, Path.cwd(), ref)
        score, messages = float(entry["score"]), [entry["message"]] if entry["message"] else []
    else:
        student = types.ModuleType("student_notebook")
        student.__dict__.update(namespace)
        caller = InProcessCaller(student, timeout=float(config.limits.get("call_timeout_s", 10)),
                                 stubs=stubs_beside(tests))
        every = collect_tests(tests)
        share = shares(every, {g: p for g, p in config.tests.items() if g not in models})
        seed = int(config.private.get("seed", 0))
        done: dict = {}  # earlier results, for tests that `require` a reference match
        for t in (t for t in every if t.grade_id == grade_id):
            done[t.name] = run_one(t, caller, ref, share[t.name], seed, prior=done)
        results = list(done.values())
        score = sum(r.score for r in results)
        messages = [f"{r.name}: {r.status}: {r.message}" for r in results if r.status != "passed"]
    for message in messages:
        print(message)
    return round(min(max(score, 0.0), points), 6)
