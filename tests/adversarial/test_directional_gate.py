"""The large-size gate of the gradient tests checks the gradient along a random direction.

A3's vectorized gradient tests and A4's backprop tests first ask for the gradient at a size
where only matrix products or backprop can give it (CIFAR size; a 134k-parameter net). Checking
only its shape let a numerical gradient through: exact where it is cheap, zeros at that size.
The gate now checks <gradient, V> against the derivative of the loss along a random V (the
student's own loss, or the reference's, so a loss bug alone keeps the gate open).
"""

from __future__ import annotations

import types

import nbformat
import pytest
from assignment_support import A3, A4, hidden_scores

from autograder.core.config import load_config
from autograder.core.module import load_trusted_module, module_source
from autograder.grading.hidden import collect_tests
from autograder.grading.hidden.registry import load_tests_module


def _course(assignment) -> tuple[types.ModuleType, str, types.ModuleType, object]:
    source = module_source(nbformat.read(assignment.source_nb, as_version=4).cells)
    reference = load_trusted_module(source, f"gate_{assignment.prefix}_reference")
    tests = load_tests_module(assignment.source_dir / "hidden_tests.py")
    return tests, source, reference, load_config(assignment.source_dir / "assignment.toml")


def _group_points(assignment, replacement: str, grade_id: str) -> tuple[float, dict[str, float]]:
    """(points earned in `grade_id`, test name -> score) with `replacement` over the reference."""
    tests, source, reference, cfg = _course(assignment)
    student = load_trusted_module(source + "\n" + replacement, f"gate_{assignment.prefix}_student")
    scores = hidden_scores(tests, student, reference, cfg)
    names = {t.name for t in collect_tests(tests) if t.grade_id == grade_id}
    return sum(scores[n][0] for n in names), {n: scores[n][0] for n in names}


# Backprop replaced by finite differences over every parameter: exact on the graded sizes,
# zeros on the large net where the loop would run out of time.
NUMERIC_BACKPROP = '''
def nn_forward_backward(params, X, y=None, reg=0.0):
    def loss_of(p):
        hidden = np.maximum(0, X.dot(p["W1"]) + p["b1"])
        scores = hidden.dot(p["W2"]) + p["b2"]
        if y is None:
            return scores
        s = scores - scores.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean() + reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    if y is None:
        return loss_of(params)
    grads = {}
    for k, v in params.items():
        g = np.zeros_like(v)
        if X.shape[0] < 64:
            for i in np.ndindex(v.shape):
                old = v[i]
                v[i] = old + 1e-6
                plus = loss_of(params)
                v[i] = old - 1e-6
                minus = loss_of(params)
                v[i] = old
                g[i] = (plus - minus) / 2e-6
        grads[k] = g
    return loss_of(params), grads
'''

# The reference's vectorized softmax with a loss bug only (twice the data loss): dW is right.
LOSS_BUG_ONLY = '''
_right_softmax_loss_vectorized = softmax_loss_vectorized

def softmax_loss_vectorized(W, X, y, reg):
    loss, dW = _right_softmax_loss_vectorized(W, X, y, reg)
    return 2 * loss, dW
'''


def test_a_numerical_backprop_that_returns_zeros_on_the_large_net_earns_nothing_for_gradients():
    earned, scores = _group_points(A4, NUMERIC_BACKPROP, "nn_backward")
    assert earned == 0.0, scores


def test_a_loss_bug_alone_keeps_the_gradient_points():
    earned, scores = _group_points(A3, LOSS_BUG_ONLY, "softmax_loss_vectorized")
    assert scores["softmax_vectorized_gradient_matches_reference"] > 0, scores
    assert scores["softmax_vectorized_loss_matches_reference"] == 0.0, scores


@pytest.mark.parametrize("assignment", [A3, A4], ids=["A3", "A4"])
def test_the_reference_passes_the_gate_whatever_the_seed(assignment):
    tests, _source, reference, cfg = _course(assignment)
    for seed in range(4):
        cfg.private["seed"] = seed
        scores = hidden_scores(tests, reference, reference, cfg)
        assert {n: s for n, s in scores.items() if s[0] < s[1] - 1e-6} == {}, seed


@pytest.mark.parametrize(("grad", "plus", "minus"), [
    ([[1.0, 2.0]], ("not a number", None), (0.0, None)),                 # a string loss
    ({"W1": [[1.0, 2.0]]}, (1.0, None), (0.0, None)),                     # a dict missing a key
    ([[float("nan"), 0.0]], (float("nan"), None), (float("nan"), None)),  # NaN everywhere
    ([[0.0, 0.0]], (1.0, None), (1.0, None)),                             # zeros, a loss that never moves
    ([[1.0, 2.0]], (), ()),                                               # empty results
], ids=["string-loss", "missing-key", "nan", "constant", "empty"])
def test_the_gate_refuses_what_is_not_a_gradient_with_words_not_a_crash(grad, plus, minus):
    import numpy as np

    from autograder.grading.hidden import directional_mismatch

    V = {"W1": np.ones((1, 2)), "b1": np.ones(2)} if isinstance(grad, dict) else np.ones((1, 2))
    why = directional_mismatch(grad, V, plus, minus, 1e-6, 3.0, "dW")
    assert why and not any(ch.isdigit() for ch in why.replace("dW", ""))  # no value is shown
