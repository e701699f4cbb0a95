"""Running a module's hidden tests against a caller, and scoring each from its units."""

from __future__ import annotations

import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from autograder.grading.hidden.callers import OUTPUT_CAP, Caller
from autograder.grading.hidden.context import _RANK, Context, Unit
from autograder.grading.hidden.errors import StudentError, unusable_result
from autograder.grading.hidden.registry import HiddenTest, collect_tests

MESSAGE_CAP = 2000  # characters of a test's message


@dataclass
class TestResult:
    """One test's outcome, as a report.json `tests` entry plus extras.

    `output` is the student's captured stdout/stderr during the test (truncated); `internal`
    a grader-side traceback for instructors (never shown to students).
    """

    __test__ = False  # not a pytest test class

    name: str
    grade_id: str
    score: float
    max_score: float
    status: str
    message: str
    output: str = ""
    internal: str = ""
    passed_units: int = 0  # what `requires` of a later test looks at

    def report_entry(self) -> dict[str, Any]:
        """The report.json entry (name, grade_id, score, max_score, status, message)."""
        d = asdict(self)
        return {k: d[k] for k in ("name", "grade_id", "score", "max_score", "status", "message")}


def shares(tests: Sequence[HiddenTest], points: dict[str, float]) -> dict[str, float]:
    """Points of each test: a group's points split across its tests by weight."""
    totals: dict[str, float] = {}
    for t in tests:
        totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.weight
    return {t.name: points.get(t.grade_id, 0.0) * t.weight / totals[t.grade_id] for t in tests}


def run_hidden_tests(
    tests_module: types.ModuleType,
    caller: Caller,
    ref_module: types.ModuleType | None,
    points: dict[str, float],
    seed: int,
    on_result: Callable[[TestResult], None] | None = None,
) -> list[TestResult]:
    """Run every hidden test of tests_module against the caller; one TestResult each.

    Failures of one test never stop the others. `on_result` is called after each test (the
    engine uses it to restart a dead worker).
    """
    tests = collect_tests(tests_module)
    share = shares(tests, points)
    results = []
    done: dict[str, TestResult] = {}
    shared: dict[str, Any] = {}  # Context.once: facts the tests of this submission share
    for test in tests:
        result = run_one(test, caller, ref_module, share[test.name], seed, prior=done, shared=shared)
        done[test.name] = result
        if test.grade_id not in points:
            result.message = (result.message + " (no points: grade_id not in [tests])").strip()
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def run_one(
    test: HiddenTest,
    caller: Caller,
    ref: types.ModuleType | None,
    max_score: float,
    seed: int,
    prior: Mapping[str, TestResult] | None = None,
    shared: dict[str, Any] | None = None,
) -> TestResult:
    """Run one test function and score it from its units.

    prior: the results of the tests run before it (by name). A test with `requires` is run
    only when each required test is in prior with at least one passed unit; otherwise it
    scores 0 unrun. Without prior (None) a test with `requires` is never counted: gating is
    what makes its points mean something. shared: what `Context.once` keeps across the tests
    of one submission (None: nothing shared).
    """
    missing = [name for name in test.requires
               if prior is None or name not in prior or prior[name].passed_units == 0]
    if missing:
        return TestResult(test.name, test.grade_id, 0.0, max_score, "failed", _gated(missing))
    ctx = Context(caller, ref, test.name, seed, shared)
    internal = ""
    try:
        test.func(ctx)
    except StudentError as exc:  # outside any case: the test ends here
        unit = Unit("")
        unit.fail(exc.text, exc.status)
        unit.internal = exc.detail  # the full message, for the staff's grader.log only
        ctx.units.append(unit)
    except Exception as exc:  # noqa: BLE001 - the student's result broke the test's code
        unit = Unit("")
        unit.fail(unusable_result(exc), "error")
        ctx.units.append(unit)
        internal = traceback.format_exc()
    output = _cap(caller.take_output(), OUTPUT_CAP)
    internal = internal or "\n".join(u.internal for u in ctx.units if u.internal)
    if not ctx.units:
        return TestResult(test.name, test.grade_id, 0.0, max_score, "error",
                          "internal: the test made no checks", output, internal)
    passed = sum(u.status == "passed" for u in ctx.units)
    status = max((u.status for u in ctx.units), key=_RANK.__getitem__)
    score = round(max_score * passed / len(ctx.units), 6)
    return TestResult(test.name, test.grade_id, score, max_score, status,
                      _message(ctx.units), output, internal, passed)


def _gated(missing: Sequence[str]) -> str:
    """The message of a test held back by `requires` (names are the report's test names)."""
    names = " and ".join(missing)
    return (f"Not run yet: this check counts once your function gives the expected result on at "
            f"least one case of {names}. Make that test pass on one case first.")


def _message(units: list[Unit]) -> str:
    """What went wrong, first failing units first; '' when all passed."""
    bad = [u for u in units if u.status != "passed"]
    if not bad:
        return ""
    lines = []
    if len(units) > 1:
        lines.append(f"{len(units) - len(bad)} of {len(units)} checks passed.")
    for u in bad[:3]:
        text = "; ".join(u.failures[:2])
        lines.append(f"[{u.label}] {text}" if u.label else text)
    if len(bad) > 3:
        lines.append(f"... and {len(bad) - 3} more")
    return _cap("\n".join(lines), MESSAGE_CAP)


def _cap(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + f"\n[... {len(text) - cap} more characters]"
