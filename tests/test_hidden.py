"""The hidden-test API with the in-process caller: registration, units, checks, scores."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

from autograder.core.config import REPO_ROOT
from autograder.core.module import load_trusted_module
from autograder.grading.hidden import (
    Context,
    InProcessCaller,
    Stubs,
    StudentError,
    StudentTimeout,
    assignment_stubs,
    collect_tests,
    hidden_test,
    relative_difference,
    run_hidden_tests,
    run_one,
    stable_seed,
)

REFERENCE = """
import numpy as np

def add(a, b):
    return a + b

def square_loss(W, X, y, reg):
    scores = X @ W
    N = X.shape[0]
    loss = 0.5 * np.sum(scores ** 2) / N + reg * np.sum(W * W)
    dW = X.T @ scores / N + 2 * reg * W
    return loss, dW

def net_loss(params, X, y=None, reg=0.0):
    h = X @ params["W1"]
    loss = 0.5 * np.sum(h ** 2) + reg * np.sum(params["W1"] ** 2)
    return loss, {"W1": X.T @ h + 2 * reg * params["W1"]}

def sgd(W, loss_func, X, y, learning_rate, num_iters):
    for _ in range(num_iters):
        _, dW = loss_func(W, X, y, 0.0)
        W = W - learning_rate * dW
    return W
"""


def module(source: str, name: str = "student") -> types.ModuleType:
    return load_trusted_module(source, name)


def make_tests_module(*funcs) -> types.ModuleType:
    """A fresh module holding the given (already decorated) test functions."""
    mod = types.ModuleType("hidden_under_test")
    mod.__hidden_tests__ = [f.__hidden_test__ for f in funcs]
    return mod


def ctx_for(source: str = REFERENCE, timeout: float | None = None, stubs: Stubs | None = None) -> Context:
    ref = module(REFERENCE, "ref")
    caller = InProcessCaller(module(source), timeout=timeout, stubs=stubs or Stubs())
    return Context(caller, ref, "t", 1)


A3_STUBS = assignment_stubs(REPO_ROOT / "solutions" / "A3")
A4_STUBS = assignment_stubs(REPO_ROOT / "solutions" / "A4").functions()


def test_hidden_test_registers_in_its_module_in_order():
    source = """
from autograder.grading.hidden import hidden_test

@hidden_test("g1")
def second(ctx): pass

@hidden_test("g0", weight=3)
def first(ctx): pass
"""
    mod = module(source, "tests_mod")
    specs = collect_tests(mod)
    assert [(s.name, s.grade_id, s.weight) for s in specs] == [("second", "g1", 1.0), ("first", "g0", 3.0)]


def test_points_are_split_by_weight_and_scored_by_units():
    @hidden_test("g", weight=3)
    def big(ctx):
        for i in range(4):
            with ctx.case(f"case {i}"):
                ctx.check(i != 3, "i is not 3")

    @hidden_test("g", weight=1)
    def small(ctx):
        ctx.check(True, "fine")

    results = run_hidden_tests(make_tests_module(big, small), InProcessCaller(module(REFERENCE)),
                               None, {"g": 8.0}, seed=0)
    assert [(r.score, r.max_score, r.status) for r in results] == [(4.5, 6.0, "failed"),
                                                                   (2.0, 2.0, "passed")]
    assert "3 of 4 checks passed" in results[0].message and "[case 3]" in results[0].message


def test_once_computes_a_shared_fact_once_per_submission_and_each_test_records_its_own_check():
    asked = []

    def fact(ctx):
        asked.append(ctx.test_name)
        return ctx.call("add", 2, 3)

    @hidden_test("g")
    def first(ctx):
        ctx.check(ctx.once("sum", fact) == 6, "the sum is 6")

    @hidden_test("g")
    def second(ctx):
        ctx.check(ctx.once("sum", fact) == 5, "the sum is 5")

    tests = make_tests_module(first, second)
    results = run_hidden_tests(tests, InProcessCaller(module(REFERENCE)), None, {"g": 2.0}, seed=0)
    assert asked == ["first"]  # the second test reused the first one's answer
    assert [(r.name, r.status) for r in results] == [("first", "failed"), ("second", "passed")]
    # a new submission (another run) asks again
    run_hidden_tests(tests, InProcessCaller(module(REFERENCE)), None, {"g": 2.0}, seed=0)
    assert asked == ["first", "first"]


def test_every_test_that_uses_a_once_value_counts_as_calling_what_it_called():
    """A finding about a function (replaced, looping) zeroes the tests that called it: a test
    that graded a shared output of it, computed in an earlier test, counts as calling it."""
    from autograder.grading.measure import CallLog

    def outputs(ctx):
        return ctx.call("add", 2, 3)

    @hidden_test("g")
    def first(ctx):
        ctx.check(ctx.once("sums", outputs) == 5, "the sum")

    @hidden_test("g")
    def second(ctx):
        ctx.check(ctx.once("sums", outputs) == 5, "the sum again")

    @hidden_test("g")
    def third(ctx):
        ctx.check(True, "nothing called")

    log = CallLog(InProcessCaller(module(REFERENCE)))
    run_hidden_tests(make_tests_module(first, second, third), log, None, {"g": 3.0}, seed=0,
                     on_result=log.done)
    assert log.tests_of(["add"]) == {"first", "second"}


def test_a_once_computation_draws_from_a_generator_seeded_by_its_key_alone():
    """The same draws whichever test asks first; another key, other draws; neither is the
    test's own generator, which the computation leaves where it was."""
    def draws(test_name: str, key: str) -> tuple[np.ndarray, np.ndarray]:
        ctx = Context(InProcessCaller(module(REFERENCE)), None, test_name, 7)
        inside = ctx.once(key, lambda c: c.rng.normal(size=3))
        return inside, ctx.rng.normal(size=3)

    (k_one, own_one), (k_two, _) = draws("one", "k"), draws("two", "k")
    np.testing.assert_array_equal(k_one, k_two)
    assert not np.allclose(k_one, draws("one", "j")[0])
    assert not np.allclose(k_one, own_one)
    np.testing.assert_array_equal(  # the test's own draws are as if there had been no once
        own_one, Context(InProcessCaller(module(REFERENCE)), None, "one", 7).rng.normal(size=3))


def test_rng_is_seeded_per_test_name_and_stable():
    a = Context(InProcessCaller(module(REFERENCE)), None, "name", 7).rng.normal(size=3)
    b = Context(InProcessCaller(module(REFERENCE)), None, "name", 7).rng.normal(size=3)
    c = Context(InProcessCaller(module(REFERENCE)), None, "other", 7).rng.normal(size=3)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert stable_seed("x") == stable_seed("x") and stable_seed("x") != stable_seed("y")


def test_calls_get_plain_copies_of_their_arguments():
    source = REFERENCE + "\ndef mutate(a):\n    a[0] = 99.0\n    return a\n"
    ctx = ctx_for(source)
    a = np.zeros(3)
    out = ctx.call("mutate", a)
    assert a[0] == 0 and out[0] == 99 and type(out) is np.ndarray


def test_assert_close_message_counts_the_entries_that_differ_and_bands_the_error():
    ctx = ctx_for()
    expected = np.zeros((2, 3))
    actual = expected.copy()
    actual[1, 2] = 0.5
    assert not ctx.assert_close(actual, expected, what="dW")
    msg = ctx.units[-1].failures[0]
    assert msg == ("dW: 1 of 6 entries differ from the expected values; off by more than 10% "
                   "(relative; the tolerance is 1e-06)")


@pytest.mark.parametrize(("actual", "words"), [
    (3.3714, "off by less than 0.1%"),
    (3.4, "off by 0.1% to 10%"),
    (0.0, "off by more than 10%"),
    (-3.37138, "off by more than 10%"),
])
def test_assert_close_tells_how_far_off_in_coarse_bands(actual, words):
    ctx = ctx_for()
    assert not ctx.assert_close(actual, 3.37138, what="loss")
    assert ctx.units[-1].failures[0] == (f"loss differs from the expected value; {words} "
                                         "(relative; the tolerance is 1e-06)")


# ---- feedback never reveals a hidden value (the reference's result on a hidden input)

SECRET_LOSS = 3.37138
SECRET_DW = np.array([[0.0, 1.25, -2.5], [3.75, 0.0, -0.125]])
# What a student who wants the answer without the work hands in, one submission each: zeros,
# ones, a doubling series, signs, huge and tiny values.
CRAFTED = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, -1.0, 0.5, 1e6, -1e6, 1e-12]


def feedback(answer, expected) -> str:
    """The report message a student reads when their function returns `answer` and the hidden
    test compares it with `expected` (the whole path: call, assert_close, the runner)."""
    student = types.ModuleType("student")
    student.f = lambda: answer

    @hidden_test("g")
    def compares(ctx):
        with ctx.case("one hidden case"):
            ctx.assert_close(ctx.call("f"), expected, rtol=1e-6, atol=1e-9, what="value")

    (result,) = run_hidden_tests(make_tests_module(compares), InProcessCaller(student), None,
                                 {"g": 1.0}, 0)
    assert result.score == 0.0  # every crafted answer is wrong
    return result.message


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?", text)]


def candidates(answers: list, messages: list[str]) -> list[float]:
    """What an attacker computes from each (answer, message): every number shown, and the
    expected value it would give if it were an absolute or relative error or a ratio."""
    out = []
    for answer, message in zip(answers, messages, strict=True):
        for a in np.ravel(answer):
            for n in numbers_in(message):
                out += [n, a - n, a + n, n - a, a * n]
                out += [a / (1 + n), a / n] if n not in (0.0, -1.0) else []
                out += [a / (1 - n)] if n != 1.0 else []
    return out


def test_crafted_answers_do_not_recover_a_hidden_loss():
    messages = [feedback(a, SECRET_LOSS) for a in CRAFTED]
    recovered = [c for c in candidates(CRAFTED, messages)
                 if np.isclose(c, SECRET_LOSS, rtol=1e-3, atol=0)]
    assert recovered == [], messages


def test_crafted_answers_get_the_same_feedback_whatever_the_hidden_loss():
    """Two different hidden values, the same messages: nothing computed from them can tell
    which one it was, so nothing can recover it."""
    assert [feedback(a, SECRET_LOSS) for a in CRAFTED] == [feedback(a, 5.0) for a in CRAFTED]


def test_crafted_arrays_do_not_recover_a_hidden_gradient():
    shape = SECRET_DW.shape
    arrays = [np.full(shape, a) for a in CRAFTED] + [np.arange(6.0).reshape(shape)]
    messages = [feedback(a, SECRET_DW) for a in arrays]
    secrets = SECRET_DW[SECRET_DW != 0]
    recovered = [c for c in candidates(arrays, messages)
                 if np.isclose(c, secrets, rtol=1e-3, atol=0).any()]
    assert recovered == [], messages
    assert messages == [feedback(a, 1.7 * SECRET_DW) for a in arrays]


def test_an_expected_zero_entry_gives_no_absurd_relative_error():
    ctx = ctx_for()
    for answer in (5.6, 1e-300, -7.0):
        assert not ctx.assert_close(np.array([answer, 1.0]), np.array([0.0, 1.0]), atol=0.0, what="dW")
        message = ctx.units[-1].failures[0]
        assert "off by more than 10%" in message
        assert all(abs(n) <= 100 for n in numbers_in(message)), message


def test_relative_difference_is_bounded_and_symmetric():
    a = np.array([0.0, 5.6, 1e-300, 2.0, 3.0, np.nan])
    e = np.array([3.37, 0.0, 0.0, 1.0, 3.0, 1.0])
    rel = relative_difference(a, e)
    np.testing.assert_array_equal(rel[:5], [1.0, 1.0, 1.0, 0.5, 0.0])
    assert np.isnan(rel[5])
    np.testing.assert_array_equal(relative_difference(e[:5], a[:5]), rel[:5])


def test_check_gradient_message_shows_no_values():
    ctx = ctx_for()
    rng = np.random.default_rng(0)
    W, X, y = rng.normal(size=(4, 3)), rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    _, dW = ctx.call("square_loss", W, X, y, 0.3)
    assert not ctx.check_gradient("square_loss", (W, X, y, 0.3), 0, np.zeros_like(dW))
    message = ctx.units[-1].failures[0]
    assert message.startswith("gradient of square_loss w.r.t. argument 0: 12 of 12 entries "
                              "differ from the numeric gradient of your own loss, the first at [0, 0]")
    assert "off by more than 10%" in message
    assert not any(np.isclose(n, dW, rtol=1e-3).any() for n in numbers_in(message)), message


@pytest.mark.parametrize(
    "actual, words",
    [
        (np.zeros((3, 2)), "size along axis 0 differs"),  # no sizes: a shape can carry a value
        (np.zeros(6), "different number of dimensions than expected (2)"),
        (np.zeros((2, 3), dtype=bool), "booleans"),
        (np.zeros((2, 3), dtype=np.int64), "integer array"),
        ("text", "got str"),
        (None, "got NoneType"),
        ({"a": 1}, "got dict"),
        (np.full((2, 3), np.nan), "NaN or inf"),
        ([[0.0, 0.0, 0.0], [0.0, 0.0]], "ragged"),
    ],
)
def test_assert_close_rejects_what_is_not_a_plain_float_array(actual, words):
    ctx = ctx_for()
    assert not ctx.assert_close(actual, np.zeros((2, 3)), what="dW")
    assert words in ctx.units[-1].failures[0]


def test_assert_close_accepts_scalars_lists_and_ints_for_int_results():
    ctx = ctx_for()
    assert ctx.assert_close(1, 1.0) and ctx.assert_close([1.0, 2.0], np.array([1.0, 2.0]))
    assert ctx.assert_close(np.array([1, 2]), np.array([1, 2]))


def test_check_gradient_accepts_the_right_gradient_and_rejects_a_wrong_one():
    ctx = ctx_for()
    rng = np.random.default_rng(0)
    W, X, y = rng.normal(size=(4, 3)), rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    _, dW = ctx.call("square_loss", W, X, y, 0.3)
    assert ctx.check_gradient("square_loss", (W, X, y, 0.3), 0, dW)
    wrong = dW.copy()
    wrong[2, 1] += 1e-3
    assert not ctx.check_gradient("square_loss", (W, X, y, 0.3), 0, wrong)
    assert "first at [2, 1]" in ctx.units[-1].failures[0]


def test_check_gradient_along_random_directions_catches_one_wrong_entry_in_two_calls_each():
    ctx = ctx_for()
    rng = np.random.default_rng(0)
    W, X, y = rng.normal(size=(4, 3)), rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    _, dW = ctx.call("square_loss", W, X, y, 0.3)
    calls = ctx._calls
    assert ctx.check_gradient("square_loss", (W, X, y, 0.3), 0, dW, directions=3)
    assert ctx._calls == calls + 1  # one round trip of 2 x 3 calls
    wrong = dW.copy()
    wrong[2, 1] += 1e-3  # one entry of twelve, which a sample of entries could miss
    assert not ctx.check_gradient("square_loss", (W, X, y, 0.3), 0, wrong, directions=3)
    message = ctx.units[-1].failures[0]
    assert "along 3 of 3 random directions" in message
    assert not re.search(r"\d\.\d{3,}", message)  # no value of the check is shown


def test_check_gradient_perturbs_a_dict_argument_and_samples_entries():
    ctx = ctx_for()
    rng = np.random.default_rng(1)
    params, X = {"W1": rng.normal(size=(3, 5))}, rng.normal(size=(4, 3))
    _, grads = ctx.call("net_loss", params, X, None, 0.1)
    assert ctx.check_gradient("net_loss", (params, X, None, 0.1), (0, "W1"), grads["W1"],
                              num_checks=4)
    bad = grads["W1"] * 1.01
    assert not ctx.check_gradient("net_loss", (params, X, None, 0.1), (0, "W1"), bad)
    assert "gradient of net_loss w.r.t. W1" in ctx.units[-1].failures[0]


def test_student_error_inside_a_case_fails_it_and_the_test_goes_on():
    source = REFERENCE + "\ndef boom(x):\n    raise ValueError('bad shape ' + str(x))\n"

    @hidden_test("g")
    def t(ctx):
        with ctx.case("raises"):
            ctx.call("boom", 1)
        with ctx.case("fine"):
            ctx.assert_close(ctx.call("add", 1.0, 2.0), 3.0)

    (r,) = run_hidden_tests(make_tests_module(t), InProcessCaller(module(source)), None, {"g": 2}, 0)
    assert (r.score, r.status) == (1.0, "error")
    assert "ValueError raised in boom" in r.message and "bad shape" not in r.message
    assert "Traceback" not in r.message and "hidden" not in r.message


def test_student_error_outside_a_case_ends_the_test():
    source = REFERENCE + "\ndef boom():\n    raise KeyError('W1')\n"

    @hidden_test("g")
    def t(ctx):
        ctx.check(True, "first")
        ctx.call("boom")
        ctx.check(True, "never reached")

    (r,) = run_hidden_tests(make_tests_module(t), InProcessCaller(module(source)), None, {"g": 2}, 0)
    assert (r.score, r.status) == (1.0, "error")
    assert r.message.splitlines()[-1].startswith("KeyError raised in boom") and "W1" not in r.message


def test_a_missing_function_is_a_student_error():
    with pytest.raises(StudentError, match="NameError: nope is not defined"):
        ctx_for().call("nope")


def test_an_unusable_result_fails_the_case_not_the_grader():
    source = REFERENCE + "\ndef pair():\n    return 1.0\n"

    @hidden_test("g")
    def t(ctx):
        with ctx.case("unpack"):
            loss, dW = ctx.call("pair")

    (r,) = run_hidden_tests(make_tests_module(t), InProcessCaller(module(source)), None, {"g": 1}, 0)
    assert r.status == "failed" and "could not check the result (TypeError" in r.message
    assert "Traceback" in r.internal  # for the instructor, not in the message


def test_an_object_result_is_a_bad_result():
    source = REFERENCE + """
class Yes:
    def __eq__(self, other):
        return True

def add(a, b):
    return Yes()
"""
    with pytest.raises(StudentError, match="BadResult: add returned an object of type"):
        ctx_for(source).call("add", 1.0, 2.0)


def test_in_process_timeout_and_no_second_wait_in_the_same_test():
    source = REFERENCE + "\ndef spin():\n    while True:\n        pass\n"
    ctx = ctx_for(source, timeout=0.2)
    with pytest.raises(StudentTimeout):
        ctx.call("spin")
    with pytest.raises(StudentTimeout, match="timed out earlier"):
        ctx.call("spin")


def test_student_output_is_captured_per_test():
    source = REFERENCE + "\ndef chatty():\n    print('hello from student')\n    return 1\n"

    @hidden_test("g")
    def t(ctx):
        ctx.check(ctx.call("chatty") == 1, "returns 1")

    (r,) = run_hidden_tests(make_tests_module(t), InProcessCaller(module(source)), None, {"g": 1}, 0)
    assert r.status == "passed" and "hello from student" in r.output


def test_np_random_is_seeded_before_every_call():
    source = REFERENCE + "\ndef draw():\n    return np.random.rand(3)\n"
    ctx = ctx_for(source)
    a, b = ctx.call_many("draw", [(), ()])
    np.testing.assert_array_equal(a, b)  # same batch, same seed
    assert ctx_for(source).call("draw").tolist() == ctx_for(source).call("draw").tolist()


def test_stubs_pass_by_name_and_reveal_the_learning_rate():
    ctx = ctx_for(stubs=A3_STUBS)
    W = np.zeros((2, 3))
    out = ctx.call("sgd", W, ctx.stub("linear_constant_gradient_loss"), np.ones((4, 2)), None,
                   0.25, 3)
    np.testing.assert_allclose(out, np.full((2, 3), -0.75))
    with pytest.raises(KeyError):
        ctx.stub("no_such_stub")


def test_stubs_have_the_documented_shapes():
    W = np.zeros((3, 4))
    loss, dW = A3_STUBS.functions()["linear_constant_gradient_loss"](W, np.zeros((5, 3)), np.zeros(5), 0.1)
    assert loss == 0.0 and np.array_equal(dW, np.ones_like(W))
    params = {"W1": np.zeros((3, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 4)), "b2": np.zeros(4)}
    assert A4_STUBS["nn_constant_gradient_loss"](params, np.zeros((5, 3))).shape == (5, 4)
    loss, grads = A4_STUBS["nn_constant_gradient_loss"](params, np.zeros((5, 3)), np.zeros(5))
    assert loss == 0.0 and all(np.array_equal(grads[k], np.ones_like(v)) for k, v in params.items())
    pred = A4_STUBS["nn_zero_predict"](params, None, np.zeros((5, 3)))
    assert pred.dtype == np.int64 and pred.shape == (5,) and not pred.any()


def test_a_test_without_checks_is_reported():
    @hidden_test("g")
    def empty(ctx):
        pass

    (r,) = run_hidden_tests(make_tests_module(empty), InProcessCaller(module(REFERENCE)), None,
                            {"g": 1}, 0)
    assert r.status == "error" and "no checks" in r.message


# ---- self-consistency counts only after a reference match (`requires`)

CONSTANT = "def loss():\n    return 0.0\n"
RIGHT = "def loss():\n    return 3.0\n"


def gated_tests(ran: list[str]) -> types.ModuleType:
    """A reference-matching test and a self-consistency test that requires it."""

    @hidden_test("g", weight=1)
    def loss_matches_reference(ctx):
        for label in ("a", "b"):
            with ctx.case(label):
                ctx.assert_close(ctx.call("loss"), 3.0, what="loss")

    @hidden_test("g", weight=1, requires="loss_matches_reference")
    def loss_agrees_with_itself(ctx):
        ran.append("consistent")
        ctx.check(ctx.call("loss") == ctx.call("loss"), "the same loss twice")

    return make_tests_module(loss_matches_reference, loss_agrees_with_itself)


def test_self_consistency_earns_nothing_before_a_reference_match():
    ran: list[str] = []
    results = run_hidden_tests(gated_tests(ran), InProcessCaller(module(CONSTANT)), None,
                               {"g": 4.0}, 0)
    assert [(r.score, r.status) for r in results] == [(0.0, "failed"), (0.0, "failed")]
    assert ran == []  # not run at all: no calls spent on it
    assert "loss_matches_reference" in results[1].message and "Traceback" not in results[1].message


def test_self_consistency_counts_after_a_reference_match():
    ran: list[str] = []
    results = run_hidden_tests(gated_tests(ran), InProcessCaller(module(RIGHT)), None,
                               {"g": 4.0}, 0)
    assert [(r.score, r.status) for r in results] == [(2.0, "passed"), (2.0, "passed")]
    assert ran == ["consistent"]


def test_one_matching_case_is_enough_for_self_consistency_to_count():
    source = "calls = []\ndef loss():\n    calls.append(1)\n    return 3.0 if len(calls) == 1 else 0.0\n"
    results = run_hidden_tests(gated_tests([]), InProcessCaller(module(source)), None, {"g": 4.0}, 0)
    assert [r.score for r in results] == [1.0, 2.0]


def test_requires_must_name_an_earlier_test():
    @hidden_test("g", requires="defined_later")
    def first(ctx):
        ctx.check(True, "x")

    @hidden_test("g")
    def defined_later(ctx):
        ctx.check(True, "x")

    with pytest.raises(ValueError, match="requires 'defined_later'"):
        collect_tests(make_tests_module(first, defined_later))


def test_a_gated_test_run_alone_never_counts():
    tests = collect_tests(gated_tests([]))
    result = run_one(tests[1], InProcessCaller(module(RIGHT)), None, 2.0, 0)
    assert (result.score, result.status) == (0.0, "failed")


def test_kind_of_names_what_was_returned_without_its_sizes() -> None:
    """A returned array's shape is the student's to choose, so a hidden test's message names
    only its number of axes (a size could carry a hidden input out)."""
    from autograder.grading.hidden import kind_of

    assert kind_of(np.zeros(123456)) == "an array with 1 axis"
    assert kind_of(np.zeros((7, 3))) == "an array with 2 axes"
    assert kind_of([1, 2]) == "list"
    assert "123456" not in kind_of(np.zeros(123456))
