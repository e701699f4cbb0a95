"""Review of the per-submission speed-ups (ctx.once, sampled gradient checks, .npy header
caching, workers stopped on a thread): what they must not give away or break.

* A numeric gradient check that samples a few entries must still take the points of
  "agrees with its own loss" from a gradient that is wrong in a whole column: in A3 that test
  counts once the *loss* matches the reference, so it is the only one of the group that sees
  such a gradient after the loss is right.
* A forged `.npy` header with negative dimensions is a refused frame (ProtocolError: the
  worker is killed and the call is a BadResult), never numpy's ValueError escaping into the
  hidden test as a grader error.
"""

from __future__ import annotations

import io

import nbformat
import numpy as np
import pytest
from assignment_support import A3
from mutants_a3 import softmax_naive

from adversarial.test_redteam_points_without_work import COMPLEX_STEP_SOFTMAX
from autograder.core.config import load_config
from autograder.core.module import load_trusted_module, module_source
from autograder.grading import protocol
from autograder.grading.hidden import InProcessCaller, collect_tests, stubs_beside
from autograder.grading.hidden.registry import load_tests_module
from autograder.grading.hidden.runner import run_one

# The reference's naive softmax with one realistic slip: the gradient's loop over classes stops
# one class short (the loss, computed from all the probabilities, is right).
LAST_COLUMN_MISSING = softmax_naive(classes="num_classes - 1")


@pytest.fixture(scope="module")
def a3():
    """(hidden tests module, reference, mutant, [tests] points) of A3."""
    source = module_source(nbformat.read(A3.source_nb, as_version=4).cells)
    reference = load_trusted_module(source, "review_speed_a3_reference")
    mutant = load_trusted_module(source + "\n" + LAST_COLUMN_MISSING, "review_speed_a3_mutant")
    tests = load_tests_module(A3.source_dir / "hidden_tests.py")
    return tests, reference, mutant, load_config(A3.source_dir / "assignment.toml").tests


@pytest.mark.parametrize("seed", range(12))
def test_a_gradient_wrong_in_a_whole_column_earns_nothing_for_agreeing_with_its_loss(a3, seed):
    tests_module, reference, mutant, points = a3
    by_name = {t.name: t for t in collect_tests(tests_module)}
    caller = InProcessCaller(mutant, timeout=30, stubs=stubs_beside(tests_module))
    loss = run_one(by_name["softmax_naive_loss_matches_reference"], caller, reference, 1.0, seed)
    assert loss.score == pytest.approx(1.0)  # the loss is right: the self-consistency test runs
    agrees = run_one(by_name["softmax_naive_gradient_agrees_with_its_loss"], caller, reference,
                     1.0, seed, prior={loss.name: loss})
    assert agrees.score == 0.0, agrees.message


def _npy(shape: tuple[int, ...], fortran: bool = False) -> bytearray:
    """A version 1.0 float64 frame whose header says `shape`, with as many data bytes as the
    product of its dimensions asks for (0 when it is negative)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": fortran, "shape": shape})
    return bytearray(buf.getvalue() + b"\0" * (8 * max(int(np.prod(shape)), 0)))


@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("shape", [(-1, -4), (-2, -2), (-1, -1), (2, -1, -1), (0, -1)])
def test_an_array_frame_with_negative_dimensions_is_a_refused_frame(shape, fortran):
    with pytest.raises(protocol.ProtocolError):
        protocol.npy_to_array(_npy(shape, fortran), protocol.MAX_ITEMSIZE)


# --------------------------------------------------------------------------- the CIFAR-size check

# A3's softmax_loss_vectorized with an honest loss and dW by a complex step vectorized over W's
# entries (as in test_redteam_points_without_work), which only looks at the input size: above
# 20,000 entries of W (CIFAR: 30,730; the loop probes: at most ~1,200) it returns zeros of W's
# shape, which is all the CIFAR-size precondition (asked once per submission, ctx.once) looks at.
# The red team's complex-step softmax, honest where it is cheap, zeros at CIFAR size.
SIZE_AWARE_COMPLEX_STEP = COMPLEX_STEP_SOFTMAX.replace("\ndW = (", "\ndW = np.zeros(W.shape) if n > 20000 else (")


def test_numerical_gradient_that_returns_zeros_at_cifar_size_earns_nothing_for_its_gradient():
    from adversarial.test_no_work import Course, replace_body
    from adversarial.test_redteam_points_without_work import scores_of

    a3 = Course("A3")
    scores = scores_of(a3, (replace_body("softmax_loss_vectorized", SIZE_AWARE_COMPLEX_STEP),))
    gradient = [t.name for t in a3.tests.__hidden_tests__
                if t.grade_id == "softmax_loss_vectorized" and "gradient" in t.name]
    assert gradient and {n: scores[n] for n in gradient if scores[n][0] > 0} == {}


@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("shape", [(2**70, 0), (0, 2**63), (2**62, 0), (0, 2**40, 2**40)],
                         ids=["2^70x0", "0x2^63", "2^62x0", "0x2^40x2^40"])
def test_an_empty_array_frame_claiming_dimensions_numpy_cannot_hold_is_a_refused_frame(shape, fortran):
    with pytest.raises(protocol.ProtocolError):
        protocol.npy_to_array(_npy(shape, fortran), protocol.MAX_ITEMSIZE)


def test_an_empty_array_frame_numpy_can_hold_still_decodes():
    """The control: a header the checks above refuse only when numpy cannot hold it."""
    assert protocol.npy_to_array(_npy((0, 10**6), fortran=True), protocol.MAX_ITEMSIZE).shape == (0, 10**6)
