"""An assignment's stubs live with it (solutions/<A>/stubs.py): read there, passed by name, run in
that assignment's worker only, and never released."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from autograder.core.config import REPO_ROOT, parse_config
from autograder.grading.engine import grade_module
from autograder.grading.hidden import (
    Context,
    InProcessCaller,
    Stubs,
    StudentError,
    assignment_stubs,
    load_tests_module,
)
from autograder.grading.protocol import FuncRef
from autograder.grading.sandbox import WORKER_FILES, Limits, SandboxCaller, SandboxError, runtime

FAST = Limits(call_timeout_s=5.0, load_timeout_s=20.0)

STUDENT = '''
import numpy as np

def apply(func, x):
    return func(x)
'''

STUBS = '''
import numpy as np


def double(x):
    return 2 * x


def _helper(x):
    return x


def negate(x):
    return -_helper(x)
'''

HIDDEN_TESTS = '''
import numpy as np

from autograder.grading.hidden import hidden_test


@hidden_test("apply")
def apply_passes_the_stub(ctx):
    x = np.arange(3.0)
    ctx.assert_close(ctx.call("apply", ctx.stub("double"), x), 2 * x, what="apply(double, x)")
'''


def student_module():
    from autograder.core.module import load_trusted_module

    return load_trusted_module(STUDENT, "stubs_student")


def test_the_stubs_of_a_file_are_its_public_top_level_functions():
    assert Stubs.from_source(STUBS).names == ("double", "negate")


def test_an_assignment_without_stubs_file_has_no_stubs():
    assert assignment_stubs(REPO_ROOT / "solutions" / "A2").names == ()


def test_the_repository_assignments_keep_the_stubs_their_tests_pass():
    assert assignment_stubs(REPO_ROOT / "solutions" / "A3").names == ("linear_constant_gradient_loss",)
    assert set(assignment_stubs(REPO_ROOT / "solutions" / "A4").names) == {
        "nn_constant_gradient_loss", "nn_zero_predict", "nn_probe_loss", "nn_linear_scores_loss",
        "nn_train_and_params"}


def test_an_unknown_stub_name_is_an_error_naming_the_known_ones():
    ctx = Context(InProcessCaller(student_module(), stubs=Stubs.from_source(STUBS)), None, "t", 0)
    with pytest.raises(KeyError, match="no stub named 'triple'.*double, negate"):
        ctx.stub("triple")


def test_the_in_process_caller_resolves_a_stub_by_name():
    caller = InProcessCaller(student_module(), stubs=Stubs.from_source(STUBS))
    x = np.arange(3.0)
    assert caller.call("apply", [FuncRef("stub", "negate"), x], {}, 0).tolist() == [-0.0, -1.0, -2.0]


def test_the_worker_resolves_the_assignments_stub_by_name():
    with SandboxCaller(STUDENT, limits=FAST, guard=True, stubs=Stubs.from_source(STUBS)) as c:
        assert c.call("apply", [FuncRef("stub", "double"), np.arange(3.0)], {}, 0).tolist() == [0, 2, 4]


def test_a_worker_holds_no_other_assignments_stubs():
    a3 = assignment_stubs(REPO_ROOT / "solutions" / "A3")
    with SandboxCaller(STUDENT, limits=FAST, guard=False, stubs=a3) as c:
        with pytest.raises(StudentError) as refused:
            c.call("apply", [FuncRef("stub", "nn_zero_predict"), np.zeros((2, 2))], {}, 0)
    # The staff's log has the worker's words; the student sees only the error's type.
    assert refused.value.exc_type == "NameError"
    assert "nn_zero_predict is not defined" in refused.value.message


def test_no_stubs_are_staged_with_the_worker_code():
    assert not any("stub" in name for name in WORKER_FILES)
    assert list(Path(runtime().staging).rglob("stubs.py")) == []


def test_stubs_that_fail_in_the_worker_are_a_grader_error_not_the_students():
    broken = Stubs.from_source("def double(x):\n    return 2 * x\n\nraise RuntimeError('typo')\n")
    with SandboxCaller(STUDENT, limits=FAST, guard=False, stubs=broken) as c:
        with pytest.raises(SandboxError, match="stubs did not load.*typo"):
            c.call("apply", [FuncRef("stub", "double"), 1.0], {}, 0)


def test_the_engine_passes_the_stubs_beside_the_hidden_tests(tmp_path):
    (tmp_path / "hidden_tests.py").write_text(HIDDEN_TESTS)
    (tmp_path / "stubs.py").write_text(STUBS)
    config = parse_config({"assignment": {"name": "A9", "notebooks": ["a9.ipynb"]},
                           "tests": {"apply": 1.0}})
    result = grade_module(STUDENT, config, load_tests_module(tmp_path / "hidden_tests.py"), None,
                          None, guard=False, limits=FAST, prestart=False)
    assert [(t["name"], t["status"]) for t in result.tests] == [("apply_passes_the_stub", "passed")]


def test_the_release_never_ships_the_assignments_stubs(tmp_path):
    pytest.importorskip("nbgrader", reason="the release needs nbgrader (instructor extra)")
    from autograder.authoring import release as rel

    course = tmp_path / "course"
    shutil.copytree(Path(__file__).parent / "fixtures" / "course", course,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (course / "solutions" / "F1" / "stubs.py").write_text(STUBS)
    assert rel.release(course=course) == 0
    published = {p.name for p in (course / "assignments").rglob("*") if p.is_file()}
    assert "fixture.ipynb" in published and "stubs.py" not in published


# A stub as the call target (ctx.call_stub): a wrapper that calls the student's function it is
# given and returns what that function's result does not show (here: the dict it mutated).
WRAPPER_STUBS = '''
def call_and_show(func, box):
    func(box)
    return box
'''

MUTATING_STUDENT = '''
def fill(box):
    box["x"] = 7.0
'''


def test_ctx_call_stub_runs_the_stub_with_the_students_function_in_process():
    from autograder.core.module import load_trusted_module

    caller = InProcessCaller(load_trusted_module(MUTATING_STUDENT, "stubs_mutating"),
                             stubs=Stubs.from_source(WRAPPER_STUBS))
    ctx = Context(caller, None, "t", 0)
    assert ctx.call_stub("call_and_show", ctx.func("fill"), {}) == {"x": 7.0}


def test_the_worker_runs_a_stub_as_the_call_target():
    with SandboxCaller(MUTATING_STUDENT, limits=FAST, guard=True,
                       stubs=Stubs.from_source(WRAPPER_STUBS)) as c:
        assert c.call(FuncRef("stub", "call_and_show"), [FuncRef("student", "fill"), {}], {}, 0) == {"x": 7.0}
