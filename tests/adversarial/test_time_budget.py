"""A sleeper submission: every call sleeps just under the per-call limit.

Without a budget per submission each call passes its own limit and the whole submission takes
calls x limit (A3's 440 calls at 10 s each: over an hour). With `[limits] submission_seconds`
the calls after the budget is spent are timeouts that are not even started, the tests say why,
and the engine's notes tell the student.
"""

from __future__ import annotations

from test_engine import HONEST, grade

from autograder.grading.sandbox import Limits

NAP_S = 0.8
LIMITS = Limits(call_timeout_s=1.0, load_timeout_s=20.0, submission_seconds=3.0)


def sleeper() -> str:
    """Every graded function prints CALL, then sleeps NAP_S (under the 1 s call limit)."""
    source = HONEST
    for name in ("add", "linear_loss"):
        start = source.index(f"def {name}(")
        body = source.index('"""', source.index('"""', start) + 3) + 3  # after the docstring
        source = (source[:body] + f'\n    print("CALL")\n    time.sleep({NAP_S})'
                  + source[body:])
    return source


def test_a_sleeper_stops_when_the_submission_budget_is_spent():
    result = grade(sleeper(), limits=LIMITS)
    completed = result.output.count("CALL")
    # 3 s of budget, 0.8 s per call: at most 3 calls finish (a 4th would end at 3.2 s).
    assert completed <= 3
    statuses = {t["name"]: t["status"] for t in result.tests}
    assert "timeout" in statuses.values()
    assert all(s in ("passed", "timeout") for s in statuses.values()), statuses


def test_the_tests_after_the_budget_say_it_is_spent():
    result = grade(sleeper(), limits=LIMITS)
    timed_out = [t for t in result.tests if t["status"] == "timeout"]
    assert timed_out and all("time budget for running your whole submission (3 s)" in t["message"]
                             for t in timed_out), [t["message"] for t in timed_out]


def test_the_engine_notes_tell_the_student_the_budget_was_spent():
    result = grade(sleeper(), limits=LIMITS)
    assert any("time budget" in note and "3 s" in note for note in result.notes)


def test_an_honest_submission_has_no_budget_note():
    result = grade(HONEST, limits=LIMITS)
    assert result.notes == [] and all(t["status"] == "passed" for t in result.tests
                                      if t["name"] != "lin_model")
