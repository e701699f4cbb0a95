"""A3's stubs: functions a hidden test passes to a student's function, by name (`ctx.stub`).

A test passes `ctx.stub("linear_constant_gradient_loss")` where the student's code expects a
`loss_func`; the grader's worker resolves the name to the function here. With a loss whose
gradient is all ones, each SGD step moves W by exactly `-learning_rate`, so the learning rate
(and the number of steps) can be read off the weights train_linear_classifier returns.

Instructor only (never released), but no secret: stubs run inside the worker next to student
code. numpy only, no grader imports, no hidden values. Every top-level function whose name does
not start with `_` is a stub.
"""

from __future__ import annotations

import numpy as np


def linear_constant_gradient_loss(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float
) -> tuple[float, np.ndarray]:
    """A linear-classifier loss with loss 0 and gradient dW = ones, shape (D, C) like W.

    The loss is a numpy float, as a student's own loss is: `loss.item()` works."""
    return np.float64(0.0), np.ones_like(W)
