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


# nn_train updates params in place and returns only its histories, which are the student's own
# report. This wrapper is the call target of nn_train's tests (ctx.call_stub): it calls the
# student's nn_train, passed in as `train`, and returns what training did to the parameters.
# Everything is stacked into a few arrays: a reply may hold only a few dozen arrays.
def _stacked(values: list[Any]) -> np.ndarray | None:
    """The values as one array (n, ...), or None if they do not stack (shapes changed)."""
    try:
        return np.stack([np.asarray(v, dtype=np.float64) for v in values])
    except (ValueError, TypeError):
        return None


def nn_train_and_params(train: Callable, params: dict[str, np.ndarray], loss_func: Callable,
                        *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run train(params, recording_loss, *args, **kwargs), recording_loss being loss_func that
    also records every call made with labels, and return a dict:

    - stats: what train returned (any value);
    - params: {key: array} after training (the dict train was to update in place);
    - calls: the number n of loss_func calls with labels (calls without, for scores, are not
      recorded);
    - seen: {key: (n, *shape)} the params each of those calls received, None for a key whose
      shape changed;
    - X: (n, B, D) and y: (n, B) their minibatches, None if their sizes vary;
    - losses: (n,) the losses loss_func returned.
    """
    seen: list[tuple[dict[str, Any], Any, Any, float]] = []

    def recording_loss(p: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None = None,
                       reg: float = 0.0) -> Any:
        out = loss_func(p, X, y, reg)
        if y is not None:
            seen.append(({k: np.array(v, dtype=np.float64) for k, v in p.items()},
                         np.array(X, dtype=np.float64), np.array(y), float(out[0])))
        return out

    stats = train(params, recording_loss, *args, **kwargs)
    final = {k: np.array(v, dtype=np.float64) for k, v in params.items()} if type(params) is dict else {}
    keys = list(params) if type(params) is dict else []
    return {
        "stats": stats,
        "params": final,
        "calls": len(seen),
        "seen": {k: _stacked([p.get(k) for p, _X, _y, _l in seen]) if seen else None for k in keys},
        "X": _stacked([X for _p, X, _y, _l in seen]) if seen else None,
        "y": _stacked([y for _p, _X, y, _l in seen]) if seen else None,
        "losses": np.array([loss for _p, _X, _y, loss in seen], dtype=np.float64),
    }
