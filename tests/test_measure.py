"""Loop-free, measured in the worker; graded names verified after import (autograder.grading.measure).

A small synthetic assignment, graded for real through the sandboxed worker: `linear_loss` is
loop-free and has a loop probe, `linear_loss_naive` is the looping version the student also
writes. Each disguised loop must be a `loop-in-vectorized`, each rebinding of a graded name a
`sandbox-violation` that zeroes the function's group; honest vectorized code (helpers, a
lambda, a comprehension over a constant tuple) keeps full marks and no violation.
"""

from __future__ import annotations

import types

import pytest

from autograder.core.config import parse_config
from autograder.core.module import PREAMBLE, load_trusted_module
from autograder.grading.engine import EngineResult, grade_module
from autograder.grading.measure import (
    MIN_GROWTH,
    Measurement,
    collect_probes,
    loop_violations,
    measure_loops,
    replaced_violations,
)
from autograder.grading.sandbox import Limits, SandboxCaller
from autograder.grading.worker import WORK_CAP, WORK_TAMPERED

NAIVE = '''

def linear_loss_naive(W, X, y, reg):
    """Least squares on one-hot targets, with loops: (loss, dW)."""
    N, C = X.shape[0], W.shape[1]
    loss, dW = 0.0, np.zeros_like(W)
    for i in range(N):
        t = np.zeros(C)
        t[y[i]] = 1.0
        diff = X[i] @ W - t
        loss += 0.5 * np.sum(diff ** 2)
        dW += np.outer(X[i], diff)
    return loss / N + reg * np.sum(W * W), dW / N + 2 * reg * W
'''

VECTORIZED = '''

def linear_loss(W, X, y, reg):
    """Least squares on one-hot targets, vectorized: (loss, dW)."""
{body}
'''

HONEST_BODY = '''\
    N, C = X.shape[0], W.shape[1]
    diff = X @ W - np.eye(C)[y]
    loss = 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W)
    return loss, X.T @ diff / N + 2 * reg * W'''


def module(body: str = HONEST_BODY, extra: str = "") -> str:
    """The graded module: preamble, the naive function, the loop-free one with `body`."""
    return PREAMBLE + NAIVE + VECTORIZED.format(body=body) + extra


HIDDEN_TESTS = '''
import numpy as np

from autograder.grading.hidden import hidden_test
from autograder.grading.measure import loop_probe


def inputs(rng, n, d, c):
    return rng.normal(size=(d, c)), rng.normal(size=(n, d)), rng.integers(0, c, size=n)


@hidden_test("naive")
def naive_matches_reference(ctx):
    W, X, y = inputs(ctx.rng, 6, 4, 3)
    loss, dW = ctx.call("linear_loss_naive", W, X, y, 0.1)
    ref_loss, ref_dW = ctx.ref.linear_loss_naive(W, X, y, 0.1)
    ctx.assert_close(loss, ref_loss, what="loss")
    ctx.assert_close(dW, ref_dW, what="dW")


@hidden_test("vectorized")
def vectorized_matches_reference(ctx):
    for n in (5, 9):
        W, X, y = inputs(ctx.rng, n, 4, 3)
        with ctx.case(f"N={n}"):
            loss, dW = ctx.call("linear_loss", W, X, y, 0.1)
            ref_loss, ref_dW = ctx.ref.linear_loss(W, X, y, 0.1)
            ctx.assert_close(loss, ref_loss, what="loss")
            ctx.assert_close(dW, ref_dW, what="dW")


@loop_probe("linear_loss")
def linear_loss_inputs(rng, n):
    W, X, y = inputs(rng, n, n // 4 + 2, n // 16 + 2)
    return W, X, y, 0.1
'''

POINTS = {"naive": 2.0, "vectorized": 4.0}
FAST = Limits(call_timeout_s=5.0, load_timeout_s=20.0)
REF = load_trusted_module(module(), "m9_reference")


def config(loop_free: tuple[str, ...] = ("linear_loss",)):
    return parse_config({
        "assignment": {"name": "M9", "notebooks": ["m9.ipynb"], "dataset": "digits"},
        "tests": POINTS,
        "policy": {"loop_free": list(loop_free)},
        "rules": {"loop-in-vectorized": {"severity": "error", "deduction": 5.0, "cap": 10.0},
                  "sandbox-violation": {"severity": "error", "deduction": 10.0, "cap": 10.0}},
        "private": {"seed": 7},
    })


def hidden_module() -> types.ModuleType:
    return load_trusted_module(HIDDEN_TESTS, "m9_hidden_tests")


def grade(source: str, guard: bool = False, **kw) -> EngineResult:
    return grade_module(source, config(**kw), hidden_module(), REF, None, guard=guard,
                        limits=FAST, prestart=False)


def group_score(result: EngineResult, grade_id: str) -> float:
    return sum(t["score"] for t in result.tests if t["grade_id"] == grade_id)


def rules(result: EngineResult) -> list[str]:
    return [v["rule"] for v in result.violations]


# --------------------------------------------------------------------------- honest controls

HONEST_VARIANTS = {
    "plain": HONEST_BODY,
    "helper function": '''\
    def one_hot(labels, classes):
        return np.eye(classes)[labels]
    N = X.shape[0]
    diff = X @ W - one_hot(y, W.shape[1])
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W''',
    "lambda used once": '''\
    square = lambda a: a * a
    N = X.shape[0]
    diff = X @ W - np.eye(W.shape[1])[y]
    return 0.5 * np.sum(square(diff)) / N + reg * np.sum(square(W)), X.T @ diff / N + 2 * reg * W''',
    "comprehension over a constant tuple": '''\
    N = X.shape[0]
    diff = X @ W - np.eye(W.shape[1])[y]
    parts = [np.sum(a * a) for a in (diff, W)]
    return 0.5 * parts[0] / N + reg * parts[1], X.T @ diff / N + 2 * reg * W''',
    "branch on the shape": '''\
    N = X.shape[0]
    if N > 16:
        scale = 1.0 / N
    else:
        scale = 1.0
        scale = scale / N
    diff = X @ W - np.eye(W.shape[1])[y]
    return 0.5 * np.sum(diff ** 2) * scale + reg * np.sum(W * W), X.T @ diff * scale + 2 * reg * W''',
    "a debug print of an array (numpy's printing grows with it)": '''\
    N = X.shape[0]
    diff = X @ W - np.eye(W.shape[1])[y]
    print("diff:", diff, f"{W}")
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W''',
}


@pytest.mark.parametrize("label", list(HONEST_VARIANTS))
def test_honest_vectorized_code_keeps_full_marks_and_no_violation(label: str) -> None:
    result = grade(module(HONEST_VARIANTS[label]))
    assert result.violations == []
    assert group_score(result, "vectorized") == pytest.approx(POINTS["vectorized"])
    assert group_score(result, "naive") == pytest.approx(POINTS["naive"])


# --------------------------------------------------------------------------- disguised loops

DISGUISED = {
    "calls the naive version": "    return linear_loss_naive(W, X, y, reg)",
    "recursion through a nested function": '''\
    N = X.shape[0]
    def rows(i):
        if i == N:
            return np.zeros((0, W.shape[1]))
        t = np.zeros((1, W.shape[1]))
        t[0, y[i]] = 1.0
        return np.vstack([X[i:i + 1] @ W - t, rows(i + 1)])
    diff = rows(0)
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W''',
    "map over a lambda through an alias": '''\
    mp = map
    N, C = X.shape[0], W.shape[1]
    T = np.array(list(mp(lambda k: np.eye(C)[k], y)))
    diff = X @ W - T
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W''',
    "np.vectorize by a computed name": '''\
    xp = np
    N, C = X.shape[0], W.shape[1]
    onehot = getattr(xp, 'vector' + 'ize')(lambda k, j: float(k == j))
    diff = X @ W - onehot(y[:, None], np.arange(C)[None, :])
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W''',
    "the naive function reached through a traceback": '''\
    try:
        raise ValueError
    except ValueError as e:
        g = e.__traceback__.tb_frame.f_globals
    return g['linear_loss' + '_naive'](W, X, y, reg)''',
    "a generator expression": '''\
    N, C = X.shape[0], W.shape[1]
    T = np.stack(tuple(np.eye(C)[k] for k in y))
    diff = X @ W - T
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W''',
}


def measured(source: str, guard: bool = False) -> Measurement:
    """The worker's measurement of linear_loss in `source` (the static rule not consulted)."""
    with SandboxCaller(source, "auto", FAST, guard=guard, loop_free=["linear_loss"]) as caller:
        found, notes = measure_loops(caller, hidden_module(), ["linear_loss"], 7)
    assert notes == [] and len(found) == 1
    return found[0]


@pytest.mark.parametrize("label", list(HONEST_VARIANTS))
def test_honest_vectorized_work_does_not_grow(label: str) -> None:
    m = measured(module(HONEST_VARIANTS[label]))
    assert None not in m.work and not m.grows, m.work


@pytest.mark.parametrize("label", list(DISGUISED))
def test_disguised_loop_is_measured_as_growing_work(label: str) -> None:
    m = measured(module(DISGUISED[label]))
    assert m.grows, m.work


def test_loop_measurement_holds_with_the_import_guard_on() -> None:
    assert measured(module(DISGUISED["calls the naive version"]), guard=True).grows


def test_endless_python_work_is_stopped_at_the_cap_and_grows() -> None:
    body = "    k = 0\n    while k < 10 ** 7:\n        k += 1\n" + HONEST_BODY
    m = measured(module(body))
    assert m.work == [WORK_CAP] * 3 and m.grows


def test_code_that_switches_the_tracer_off_is_reported() -> None:
    body = "    import sys\n    sys.settrace(None)\n" + HONEST_BODY  # guard off: the import works
    m = measured(module(body))
    assert m.work == [WORK_TAMPERED] * 3 and m.tampered
    found = grade(module(body)).violations
    assert [v["rule"] for v in found] == ["loop-in-vectorized"]
    assert "switched off Python's tracing" in found[0]["message"]


MUTED = (
    "    try:\n        raise ValueError\n    except ValueError as e:\n"
    "        fr = e.__traceback__.tb_frame\n"
    "    fr.{attr} = {value}\n"
    "    t = 0\n    for i in range(X.shape[0]):\n        t += 1\n"
)


@pytest.mark.parametrize(("attr", "value"), [("f_trace", "None"), ("f_trace_lines", "False")])
def test_code_that_mutes_its_own_frame_is_reported(attr: str, value: str) -> None:
    m = measured(module(MUTED.format(attr=attr, value=value) + HONEST_BODY))
    assert m.work == [WORK_TAMPERED] * 3 and m.tampered


def test_loop_only_the_measurement_sees_is_one_loop_in_vectorized() -> None:
    result = grade(module(DISGUISED["the naive function reached through a traceback"]))
    found = [v for v in result.violations if v["rule"] == "loop-in-vectorized"]
    assert len(found) == 1, result.violations
    assert found[0]["message"].startswith("`linear_loss` must be loop-free, but its Python-level work grows")
    assert (found[0]["deduction"], found[0]["function"]) == (5.0, "linear_loss")


def test_measured_loop_earns_its_group_nothing_and_the_rest_stays() -> None:
    result = grade(module(DISGUISED["the naive function reached through a traceback"]))
    assert group_score(result, "vectorized") == 0.0
    assert group_score(result, "naive") == pytest.approx(POINTS["naive"])
    entry = next(t for t in result.tests if t["grade_id"] == "vectorized")
    assert entry["message"].startswith("`linear_loss` must be loop-free and it loops")


def test_a_loop_the_static_rule_sees_is_not_charged_again() -> None:
    body = '''\
    N, C = X.shape[0], W.shape[1]
    T = np.zeros((N, C))
    for i in range(N):
        T[i, y[i]] = 1.0
    diff = X @ W - T
    return 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W), X.T @ diff / N + 2 * reg * W'''
    result = grade(module(body))
    assert rules(result) == []  # the static rule of the self-check charges it
    assert group_score(result, "vectorized") == 0.0  # and the group earns nothing all the same


def test_a_loop_over_a_fixed_number_of_items_keeps_the_tests() -> None:
    body = "    for k in range(2):\n        pass\n" + HONEST_BODY  # the static rule's finding only
    result = grade(module(body))
    assert rules(result) == []
    assert group_score(result, "vectorized") == pytest.approx(POINTS["vectorized"])


def test_function_not_declared_loop_free_is_not_measured() -> None:
    source = module(DISGUISED["the naive function reached through a traceback"])
    assert rules(grade(source, loop_free=())) == []


def test_message_names_the_work_at_each_size_and_no_host_path() -> None:
    found = grade(module(DISGUISED["the naive function reached through a traceback"])).violations[0]
    assert "at size 8" in found["message"] and "at size 128" in found["message"]
    assert "/" not in found["message"].replace("/or", "")


# --------------------------------------------------------------------------- graded names

REBINDINGS = {
    "module-level assignment after a dedent": "\nlinear_loss = linear_loss_naive\n",
    "a second top-level def": "\ndef linear_loss(W, X, y, reg):\n    return linear_loss_naive(W, X, y, reg)\n",
    "a decorator applied by hand": (
        "\ndef _wrap(f):\n    def inner(*a):\n        return linear_loss_naive(*a)\n    return inner\n"
        "linear_loss = _wrap(linear_loss)\n"),
    "the code object swapped": "\nlinear_loss.__code__ = linear_loss_naive.__code__\n",
}


@pytest.mark.parametrize("label", list(REBINDINGS))
def test_rebinding_a_graded_name_scores_0_with_a_sandbox_violation(label: str) -> None:
    result = grade(module(extra=REBINDINGS[label]))
    assert "sandbox-violation" in rules(result)
    found = next(v for v in result.violations if v["rule"] == "sandbox-violation")
    assert found["message"].startswith("`linear_loss` is not the function its own cell defines")
    assert group_score(result, "vectorized") == 0.0
    assert group_score(result, "naive") == pytest.approx(POINTS["naive"])


def test_rebinding_at_run_time_from_another_function_scores_0() -> None:
    naive_that_rebinds = NAIVE.replace(
        '    N, C = X.shape[0], W.shape[1]\n',
        '    N, C = X.shape[0], W.shape[1]\n'
        '    try:\n        raise ValueError\n    except ValueError as e:\n'
        '        e.__traceback__.tb_frame.f_globals["linear_loss"] = linear_loss_naive\n', 1)
    source = PREAMBLE + naive_that_rebinds + VECTORIZED.format(body=HONEST_BODY)
    result = grade(source)
    assert "sandbox-violation" in rules(result)
    assert group_score(result, "vectorized") == 0.0


def test_replaced_violation_gets_the_students_cell_through_where() -> None:
    source = module(extra=REBINDINGS["a second top-level def"])
    found = replaced_violations(config(), source, {"linear_loss": "line 40: defined 2 times"},
                                where=lambda line: (7, line - 30))
    assert (found[0]["cell"], found[0]["line"]) == (7, 10)
    assert found[0]["message"].startswith("Cell 7, line 10: `linear_loss`")


def test_replaced_names_the_module_does_not_define_are_ignored() -> None:
    assert replaced_violations(config(), module(), {"no_such_function": "line 3: x"}) == []


# --------------------------------------------------------------------------- the decision


def measurement(*work: int | None) -> Measurement:
    return Measurement("linear_loss", [8, 32, 128], list(work))


@pytest.mark.parametrize("work", [(40, 40, 40), (40, 40 + MIN_GROWTH - 1, 40), (50, 44, 44)])
def test_constant_work_does_not_grow(work: tuple[int, ...]) -> None:
    assert not measurement(*work).grows


@pytest.mark.parametrize("work", [
    (40, 64, 160),          # one step per item
    (200, 900, None),       # loops, then fails at the largest size
    (900, 300, 40),         # loops only on small inputs
    (40, 40, WORK_CAP),     # too much work to count
])
def test_work_that_changes_with_the_size_grows(work: tuple[int | None, ...]) -> None:
    assert measurement(*work).grows


def test_switched_off_meter_is_a_loop_violation() -> None:
    found = loop_violations(config(), module(), [measurement(40, WORK_TAMPERED, 40)])
    assert len(found) == 1 and "switched off Python's tracing" in found[0]["message"]


def test_function_that_only_calls_a_flagged_function_is_not_charged_twice() -> None:
    extra = "\ndef outer(W, X, y, reg):\n    return linear_loss(W, X, y, reg)\n"
    looping = [Measurement("linear_loss", [8, 32, 128], [40, 100, 400]),
               Measurement("outer", [8, 32, 128], [45, 105, 405])]
    found = loop_violations(config(("linear_loss", "outer")), module(extra=extra), looping)
    assert [v["message"].split("`")[1] for v in found] == ["linear_loss"]


def test_probes_are_collected_by_function_name() -> None:
    assert list(collect_probes(hidden_module())) == ["linear_loss"]


@pytest.mark.parametrize("assignment", ["A2", "A3", "A4"])
def test_every_loop_free_function_of_a_real_assignment_has_a_probe(assignment: str) -> None:
    from autograder.core.config import load_config, solution_dir
    from autograder.grading.hidden import load_tests_module

    sol = solution_dir(assignment)
    loop_free = load_config(sol / "assignment.toml").loop_free
    assert loop_free and set(loop_free) <= set(collect_probes(load_tests_module(sol / "hidden_tests.py")))


def test_a_broken_probe_is_a_note_for_the_instructor_not_a_crash() -> None:
    broken = load_trusted_module(HIDDEN_TESTS.replace("return W, X, y, 0.1", "return W, X, y, object()"),
                                 "m9_broken_probe")
    result = grade_module(module(), config(), broken, REF, None, guard=False, limits=FAST, prestart=False)
    assert result.violations == []
    assert any("@loop_probe of 'linear_loss' failed" in line for line in result.log)


def test_joined_where_maps_a_line_of_joined_modules_to_its_own_module() -> None:
    from autograder.core.graft import GradedModule
    from autograder.grading.measure import joined_where

    first = GradedModule("a\nb", [(1, 1), (1, 2)])
    second = GradedModule("c\nd\ne", [(2, 1), (3, 5), (3, 6)])
    where = joined_where([first, second])
    assert [where(n) for n in range(1, 7)] == [(1, 1), (1, 2), (2, 1), (3, 5), (3, 6), (None, None)]
