"""The hidden-test API (`hidden_test`, `Context`) and its runner (docs/architecture.md).

A hidden test is a plain function of a `Context`, registered with `@hidden_test(grade_id)`.
It builds inputs in the trusted process, runs the student's functions through a *caller*
(`ctx.call`, `ctx.call_many`), and compares with the trusted reference (`ctx.ref`) using
`ctx.assert_close`, `ctx.check` and `ctx.check_gradient`. Checks never raise: they record a
pass or a failure into the current *unit* (a `ctx.case` block, or the check itself when made
outside any case) and return a bool. A test's score is its share of the group's points times
passed units / units.

The modules: `registry` (`@hidden_test`, collecting and loading tests), `errors` (the student's
exception or timeout), `stubs` (an assignment's stubs, passed by name), `callers` (what runs the
student's functions: in process, or `autograder.grading.sandbox.SandboxCaller`), `context` (what
a test receives and its checks), `compare` (comparison and its leak-free wording), `runner`
(running and scoring a module's tests).
"""

from __future__ import annotations

from autograder.grading.hidden.callers import (
    Caller,
    CallerBase,
    CappedWriter,
    InProcessCaller,
    passed_functions,
)
from autograder.grading.hidden.compare import (
    BANDS,
    DIRECTION_RTOL,
    band,
    directional_mismatch,
    kind_of,
    relative_difference,
)
from autograder.grading.hidden.context import Context, Unit
from autograder.grading.hidden.errors import StudentError, StudentTimeout, bad_result
from autograder.grading.hidden.registry import (
    HiddenTest,
    collect_tests,
    hidden_test,
    load_tests_module,
    stable_seed,
)
from autograder.grading.hidden.runner import TestResult, run_hidden_tests, run_one, shares
from autograder.grading.hidden.stubs import (
    NO_STUBS,
    STUBS_FILE,
    Stubs,
    StubsError,
    assignment_stubs,
    stubs_beside,
)

__all__ = [
    "BANDS",
    "DIRECTION_RTOL",
    "NO_STUBS",
    "STUBS_FILE",
    "Caller",
    "CallerBase",
    "CappedWriter",
    "Context",
    "HiddenTest",
    "InProcessCaller",
    "StudentError",
    "StudentTimeout",
    "Stubs",
    "StubsError",
    "TestResult",
    "Unit",
    "assignment_stubs",
    "bad_result",
    "band",
    "collect_tests",
    "directional_mismatch",
    "hidden_test",
    "kind_of",
    "load_tests_module",
    "passed_functions",
    "relative_difference",
    "run_hidden_tests",
    "run_one",
    "shares",
    "stable_seed",
    "stubs_beside",
]
