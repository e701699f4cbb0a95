"""Red team: a student's exception message echoes a hidden input back into their feedback.

`raise ValueError(str(a.ravel().tolist()))` in a graded function used to put the hidden test's
private input, at full precision, into the test's message (report.json and feedback.html).
Hidden inputs are the same for every submission, so a class could harvest them. Secure
behaviour: the student sees the exception's type and where their code raised it; the full
message reaches only the staff's log.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograder.grading.hidden.errors import from_reply
from tests.test_engine import HONEST, by_name, grade

LEAKY = HONEST.replace("    return a + b\n", "    raise ValueError(str(a.ravel().tolist()))\n", 1)
FLOAT = re.compile(r"-?\d\.\d{6,}")  # a float printed at full precision


def test_a_hidden_input_in_an_exception_message_is_not_shown_to_the_student():
    result = grade(LEAKY)
    entry = by_name(result)["add_matches_reference"]
    assert entry["status"] == "error"
    assert not FLOAT.search(entry["message"]), entry["message"]
    assert "ValueError" in entry["message"]


def test_the_student_is_told_where_their_code_raised_and_how_to_see_the_message():
    lines = LEAKY.splitlines()
    raise_line = next(i for i, ln in enumerate(lines, 1) if "raise ValueError" in ln)
    result = grade(LEAKY, where=lambda line: (7, line - raise_line + 2))
    message = by_name(result)["add_matches_reference"]["message"]
    assert "ValueError raised in add (cell 7, line 2)" in message
    assert "check cell for add" in message


def test_the_full_exception_message_goes_to_the_staff_log():
    result = grade(LEAKY)
    assert FLOAT.search("\n".join(result.log))


def test_an_exception_class_named_by_the_student_is_not_shown_by_name():
    leaky = HONEST.replace("    return a + b\n",
                           "    raise type('E' + str(a.size), (Exception,), {})()\n", 1)
    message = by_name(grade(leaky))["add_matches_reference"]["message"]
    assert "E12" not in message and "a class your code defines" in message


def test_a_forged_bad_result_reply_does_not_carry_text_through():
    forged = {"ok": False, "kind": "bad-result", "type": "BadResult",
              "message": "add returned [-2.21906154784222, -1.0408597552710535]"}
    assert not FLOAT.search(from_reply(forged, "add").text)


def test_a_forged_grader_error_type_does_not_carry_text_through():
    forged = {"ok": False, "kind": "exception", "type": "NameError",
              "message": "add is not defined -2.21906154784222"}
    assert not FLOAT.search(from_reply(forged, "add").text)


def test_a_result_shape_chosen_from_a_hidden_input_is_not_echoed():
    from tests.test_hidden import ctx_for

    ctx = ctx_for()  # the student's result has int(X[0, 0] * 1e6) entries: a value in its shape
    assert not ctx.assert_close(np.zeros((2219061, 3)), np.zeros((2, 3)), what="scores")
    message = ctx.units[-1].failures[0]
    assert "2219061" not in message and "axis 0" in message


def _returns_the_input_as_text(inside_case: bool):
    from autograder.grading.hidden import InProcessCaller, hidden_test, run_hidden_tests
    from tests.test_hidden import REFERENCE, make_tests_module, module

    source = REFERENCE + "\ndef acc(X):\n    return str(X.ravel().tolist())\n"

    @hidden_test("g")
    def t(ctx):
        X = ctx.rng.normal(size=(2, 3))
        if inside_case:
            with ctx.case("accuracy"):
                ctx.check(float(ctx.call("acc", X)) > 0.5, "accuracy")
        else:
            ctx.check(float(ctx.call("acc", X)) > 0.5, "accuracy")

    (r,) = run_hidden_tests(make_tests_module(t), InProcessCaller(module(source)), None, {"g": 1}, 0)
    return r


@pytest.mark.parametrize("inside_case", [True, False], ids=["in a case", "outside a case"])
def test_an_input_returned_as_text_is_not_echoed_by_the_tests_own_error(inside_case):
    # float() of the student's string fails in the test's code: its message quotes the string.
    r = _returns_the_input_as_text(inside_case)
    assert "could not check the result (ValueError" in r.message
    assert not FLOAT.search(r.message), r.message
    assert FLOAT.search(r.internal)  # the traceback, for the staff


def test_a_forged_guard_refusal_does_not_carry_text_through():
    forged = {"ok": False, "kind": "exception", "type": "ForbiddenOperation",
              "message": "import os (allowed imports: 2219061, 5) is not allowed in graded code"}
    text = from_reply(forged, "add", allowed=("math", "numpy")).text
    assert "2219061" not in text and "import os (allowed imports: math, numpy)" in text


def test_a_refused_import_named_only_at_run_time_is_not_named():
    forged = {"ok": False, "kind": "exception", "type": "ForbiddenOperation",
              "message": "import cbbjbgaef is not allowed in graded code"}
    text = from_reply(forged, "add", source="def add(a, b):\n    return a + b\n").text
    assert "cbbjbgaef" not in text and "not allowed in graded code" in text


def test_a_result_of_a_class_the_student_names_is_not_shown_by_name():
    reply = {"ok": False, "kind": "bad-result", "type": "BadResult",
             "message": "add returned an object of type student.E2219061 (only numbers, strings, "
                        "numpy arrays, lists, tuples and dicts can be graded)"}
    text = from_reply(reply, "add").text
    assert "2219061" not in text and "an object of type a class your code defines" in text
