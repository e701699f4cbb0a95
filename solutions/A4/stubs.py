"""A4's stubs: functions a hidden test passes to a student's function, by name (`ctx.stub`).

A test passes `ctx.stub("nn_probe_loss")` where the student's code expects a `loss_func` or
`pred_func`; the grader's worker resolves the name to the function here. Stubs make a behaviour
observable: with a loss whose gradient is all ones, each SGD step moves every parameter by
exactly `-learning_rate`, so the learning-rate schedule can be read off the updates.

Instructor only (never released), but no secret: stubs run inside the worker next to student
code. numpy only, no grader imports, no hidden values. Every top-level function whose name does
not start with `_` is a stub. Every stub's loss is a numpy float, as a student's own loss is:
`loss.item()` works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def nn_constant_gradient_loss(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0
) -> Any:
    """A two-layer-net loss: scores zeros (N, C) if y is None, else (0.0, grads of ones).

    C is the number of columns of params['W2']; grads has the keys and shapes of params.
    """
    if y is None:
        return np.zeros((X.shape[0], params["W2"].shape[1]))
    return np.float64(0.0), {k: np.ones_like(v) for k, v in params.items()}


def nn_zero_predict(params: dict[str, np.ndarray], loss_func: Callable, X: np.ndarray) -> np.ndarray:
    """A predict function that says class 0 for every example: (N,) int64 zeros."""
    return np.zeros(X.shape[0], dtype=np.int64)


# The learning-rate schedule of nn_train, read from the dict nn_train returns (the worker's
# params are not visible to the grader).
def nn_probe_loss(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0
) -> Any:
    """A two-layer-net loss whose value is the sum of the first entry of every parameter, with
    gradients of ones.

    Each SGD step lowers every entry by exactly that step's learning rate, so consecutive
    entries of `loss_history` differ by len(params) times the rate:
    loss_history[t] - loss_history[t + 1] = len(params) * rate of step t (a parameter that is
    not updated shows up as a smaller difference). Scores are zeros (N, C) when y is None,
    like nn_constant_gradient_loss.
    """
    if y is None:
        return np.zeros((X.shape[0], params["W2"].shape[1]))
    loss = np.float64(sum(float(np.ravel(v)[0]) for v in params.values()))
    return loss, {k: np.ones_like(v) for k, v in params.items()}


# For nn_predict's test: scores that vary from example to example and that no student function
# computes, so predictions must come from the loss_func passed in, and a constant guess (every
# example class 0) cannot pass.
def nn_linear_scores_loss(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None = None, reg: float = 0.0
) -> Any:
    """A two-layer-net loss whose scores are X W1 W2 (no biases, no ReLU), shape (N, C), when
    y is None; else (0.0, grads of ones) like nn_constant_gradient_loss."""
    if y is None:
        return X @ params["W1"] @ params["W2"]
    return np.float64(0.0), {k: np.ones_like(v) for k, v in params.items()}
