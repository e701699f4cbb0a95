"""Red team of the throughput change: arrays the worker keeps, and `ctx.once` shared outputs.

Kept arrays (protocol.KeptArrays): a large argument crosses to the worker once, and later calls
name its slot. Probed from the student's side (code that rewrites what the worker keeps, or
overwrites its own arguments in place, as honest code sometimes does) on A3's CIFAR-size gate,
whose three calls share one X: each call must still get the grader's X.

`ctx.once` (A3's loss and gradient tests share one call per case): every test that grades a
shared output must count as calling the function (a finding zeroes it too), and the shared
value must not depend on which test happened to ask first: `compute` runs apart from the
asking test (its `ctx.rng` and its calls are seeded by the key, and it starts with no function
timed out). The last two tests were findings of this review,
fixed in `Context.once`.
"""

from __future__ import annotations

import types
from typing import Any

import nbformat
import numpy as np
import pytest
from assignment_support import A3

from autograder.core.module import load_trusted_module, module_source
from autograder.grading.hidden import (
    Context,
    InProcessCaller,
    StudentError,
    StudentTimeout,
    collect_tests,
    hidden_test,
    load_tests_module,
    run_hidden_tests,
    stubs_beside,
)
from autograder.grading.measure import CallLog
from autograder.grading.protocol import KEEP_MIN_BYTES, array_frame, npy_to_array
from autograder.grading.sandbox.caller import SandboxCaller
from autograder.grading.sandbox.limits import Limits


def _a3() -> tuple[types.ModuleType, types.ModuleType]:
    """(A3's hidden tests module, A3's reference module)."""
    source = module_source(nbformat.read(A3.source_nb, as_version=4).cells)
    reference = load_trusted_module(source, "redteam_kept_a3_reference")
    return load_tests_module(A3.source_dir / "hidden_tests.py"), reference


# A hinge loss summed over the examples where the reference averages (a loss bug the gate lets
# through: dW is the gradient of the student's *own* loss), which then reuses its inputs'
# memory: it zeroes X and W in place before returning (honest, if unusual). The gate opens only
# if the losses at W + hV and W - hV, computed on the same X in the next message, move as dW
# predicts: had a kept X carried the zeroing into them, they would not move and it would close.
CLOBBERING_SVM = '''
import numpy as np


def svm_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    rows = np.arange(N)
    scores = X @ W
    margins = np.maximum(0.0, scores - scores[rows, y][:, None] + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() + reg * np.sum(W * W)
    mask = (margins > 0).astype(np.float64)
    mask[rows, y] = -mask.sum(axis=1)
    dW = X.T @ mask + 2 * reg * W
    X[...] = 0.0
    W[...] = 0.0
    return loss, dW
'''

# Rewrites every slot the worker keeps with zeros of the same shape before computing: its own
# later inputs are then zeros, which only it can cause. The store is found through the worker's
# frame reader (the garbage collector does not track the store dict itself: it holds only
# arrays and ints).
KEPT_REWRITER = CLOBBERING_SVM.replace(
    "    N = X.shape[0]\n",
    "    import gc\n"
    "    for obj in gc.get_objects():\n"
    "        store = getattr(obj, 'store', None) if type(obj).__name__ == 'FrameReader' else None\n"
    "        for k, v in list((store or {}).items()):\n"
    "            store[k] = np.zeros_like(v)\n"
    "    N = X.shape[0]\n", 1)


def _gate(student_source: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(why A3's CIFAR-size gate of svm_loss_vectorized is closed, '' if open; the grader's X
    after the gate; X as drawn) with the student's code in a process-level sandbox."""
    tests, reference = _a3()
    with SandboxCaller(student_source, "process", guard=False) as caller:
        ctx = Context(caller, reference, "svm_vectorized_gradient_matches_reference", 7)
        why = tests._why_not_at_cifar_size(ctx, "svm_loss_vectorized")
        _W, X, _y = ctx.once("the CIFAR-sized problem", tests._cifar_problem)
        # drawn again as a fresh submission's once draws it (from a generator seeded by its key)
        drawn = Context(caller, reference, "other", 7).once("the CIFAR-sized problem",
                                                            tests._cifar_problem)[1]
    return why, X, drawn


def test_the_cifar_x_is_large_enough_to_be_kept():
    """The gate's X is what the kept-array path carries (else the next tests probe nothing)."""
    tests, reference = _a3()
    _W, X, _y = tests._cifar_problem(Context(InProcessCaller(reference), reference, "t", 7))
    assert X.nbytes >= KEEP_MIN_BYTES and X.flags.c_contiguous


def test_an_honest_loss_that_overwrites_its_inputs_still_opens_the_cifar_gate():
    why, X, drawn = _gate(CLOBBERING_SVM)
    assert why == ""
    assert np.array_equal(X, drawn)  # the grader's X never changed


def test_code_that_rewrites_what_the_worker_keeps_only_closes_its_own_gate():
    """Rewriting the worker's kept X feeds the student's own later calls zeros: the gate (which
    compares with the grader's own arrays) closes; the grader's X is untouched."""
    why, X, drawn = _gate(KEPT_REWRITER)
    assert why != ""
    assert np.array_equal(X, drawn)


SUMMER = """
import numpy as np


def total(X, hang=False):
    while hang:
        pass
    return float(X.sum())
"""

BIG = (256, 600)  # 1.2 MiB of float64: kept


def test_after_a_timeout_restarts_the_worker_a_kept_array_is_sent_whole_again():
    """The new worker keeps nothing: naming the old worker's slot would make an honest call
    fail (a ProtocolError in the worker, reported as the student's WorkerDied)."""
    X = np.random.default_rng(2).standard_normal(BIG)
    with SandboxCaller(SUMMER, "process", Limits(call_timeout_s=1.0), guard=False) as caller:
        assert caller.call_many("total", [((X,), {})], seed=0) == [float(X.sum())]
        with pytest.raises(StudentTimeout):
            caller.call_many("total", [((X, True), {})], seed=0)
        assert caller.call_many("total", [((X,), {})], seed=0) == [float(X.sum())]
        assert caller.starts == 2


def test_after_an_argument_that_cannot_be_sent_a_new_large_array_is_sent_whole():
    """A message that failed to encode named a slot for its large array and never went: the
    next message must not refer to that slot (it holds nothing, or an older array)."""
    X = np.random.default_rng(3).standard_normal(BIG)
    Y = np.random.default_rng(4).standard_normal(BIG)
    with SandboxCaller(SUMMER, "process", guard=False) as caller:
        assert caller.call_many("total", [((X,), {})], seed=0) == [float(X.sum())]
        with pytest.raises(TypeError, match="cannot be sent"):
            caller.call_many("total", [((Y, {1}), {})], seed=0)
        assert caller.call_many("total", [((Y,), {}), ((X,), {})], seed=0) == [
            float(Y.sum()), float(X.sum())]
        assert caller.starts == 1


@pytest.mark.parametrize("make", [
    lambda: np.arange(5.0)[::-1][:1],  # one entry, negative stride
    lambda: np.arange(10.0)[::3][:1],  # one entry, a step
    lambda: np.arange(6.0).reshape(1, 6)[:, ::-1][:, :1],
    lambda: np.broadcast_to(np.arange(3.0), (1, 3)),  # stride 0
    lambda: np.zeros((0, 3))[:, ::2],
], ids=["reversed", "stepped", "reversed-2d", "broadcast", "empty"])
def test_a_zero_copy_frame_carries_exactly_the_arrays_values_whatever_its_strides(make):
    """Arrays numpy calls C-contiguous with odd strides are written from their own memory: the
    frame must hold their values, not the bytes around them (no grader memory crosses)."""
    a = make()
    header, data = array_frame(a)
    assert bytes(data) == np.ascontiguousarray(a).tobytes()
    assert np.array_equal(npy_to_array(header + bytes(data)), a)


# --------------------------------------------------------------------------- ctx.once in A3


SHARED_LOSS_TESTS = {
    "svm_loss_naive": ("svm_naive_loss_matches_reference", "svm_naive_gradient_matches_reference"),
    "softmax_loss_naive": ("softmax_naive_loss_matches_reference",
                           "softmax_naive_gradient_matches_reference"),
}


@pytest.mark.parametrize("name", sorted(SHARED_LOSS_TESTS))
def test_the_a3_gradient_test_counts_as_calling_the_loss_it_grades_from_the_loss_test(name):
    """The gradient test grades dW of outputs the loss test computed (ctx.once): it must count
    as calling the loss, so a finding about it (replaced, looping) zeroes both tests."""
    tests, reference = _a3()
    wanted = set(SHARED_LOSS_TESTS[name])
    only = types.ModuleType("redteam_once_a3")
    only.__hidden_tests__ = [t for t in collect_tests(tests) if t.name in wanted]
    log = CallLog(InProcessCaller(reference, timeout=30, stubs=stubs_beside(tests)))
    results = run_hidden_tests(only, log, reference, {name: 1.0}, seed=3, on_result=log.done)
    assert [r.status for r in results] == ["passed", "passed"]
    assert log.tests_of([name]) == wanted


# --------------------------------------------------------------------------- ctx.once apart


class _FakeCaller:
    """Answers `f(x)` with [x, the call's seed]; `f("hang")` times out (no real waiting)."""

    level = "fake"

    def __init__(self) -> None:
        self.stubs = InProcessCaller(types.ModuleType("empty")).stubs

    def call_many(self, name: str, calls: list[tuple[Any, dict]], seed: int) -> list[Any]:
        out = []
        for args, _kwargs in calls:
            if args[0] == "hang":
                raise StudentTimeout(f"{name}: no result within 1 s")
            out.append([args[0], seed])
        return out

    def take_output(self) -> str:
        return ""


def _outputs(ctx: Context) -> list[Any]:
    """The shared computation: f on three inputs, errors kept (as A3's _on_loss_cases does)."""
    rows = []
    for x in (1, 2, 3):
        try:
            rows.append(ctx.call("f", x))
        except StudentError as exc:
            rows.append(exc.text)
    return rows


def _shared_value_seen(order: list[str]) -> dict[str, list[Any]]:
    """Run tests in `order` (each asks for the same once value; "hanging" first makes a call
    that times out, "busy" first makes one ordinary call): what each test got."""
    seen: dict[str, list[Any]] = {}

    def asker(test_name: str, before: Any):
        def body(ctx):
            if before is not None:
                try:
                    ctx.call("f", before)
                except StudentError:
                    pass
            seen[test_name] = ctx.once("f on 1, 2, 3", _outputs)
            ctx.check(True, "asked")
        body.__name__ = body.__qualname__ = test_name
        return hidden_test("g")(body)

    befores = {"hanging": "hang", "busy": 0, "quiet": None}
    tests = types.ModuleType("redteam_once_order")
    tests.__hidden_tests__ = [asker(n, befores[n]).__hidden_test__ for n in order]
    run_hidden_tests(tests, _FakeCaller(), None, {"g": 1.0}, seed=11)
    return seen


def test_a_once_value_does_not_inherit_a_timeout_of_the_test_that_asked_first():
    seen = _shared_value_seen(["hanging", "quiet"])
    # f answers 1, 2 and 3 at once: only the call on "hang" timed out
    assert [row[0] for row in seen["quiet"]] == [1, 2, 3]


def test_a_once_value_gets_the_same_call_seeds_whichever_test_asks_first():
    one = _shared_value_seen(["busy", "quiet"])["quiet"]
    other = _shared_value_seen(["quiet", "busy"])["quiet"]
    assert one == other
