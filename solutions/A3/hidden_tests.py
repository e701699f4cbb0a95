"""Hidden tests of A3 (linear classifiers). Instructor only: never released.

Each test belongs to the group named in `@hidden_test(...)` (= a grade cell's grade_id, points in
`[tests]` of assignment.toml) and splits the group's points with the other tests of the group by
weight. Inputs come from `ctx.rng` (seeded per test from `[private].seed`); the student's code
runs through `ctx.call` (in the sandbox when grading), the trusted reference is `ctx.ref`.

Conventions:
* loss and gradient are separate tests, so a right loss with a wrong gradient earns the loss part;
* every shape or edge case is its own `ctx.case` (partial credit, and an error in one case does not
  hide the others);
* SVM inputs are redrawn until every hinge margin s_j - s_yi + 1 (j != y_i) is at least
  KINK_GAP away from 0, so a numeric gradient check never straddles a kink;
* no points for no work: a self-consistency test (the gradient against the function's own loss,
  the loss with shifted scores) `requires` the loss to match the reference on at least one case,
  since `(0.0, zeros)` is perfectly consistent with itself; a constant answer (zeros, ones, the
  same class for every example, a grid of one repeated value) fails every case;
* no points for numerical differentiation dressed as a vectorized gradient: the vectorized
  gradient tests first ask for dW at CIFAR size (D=3073), where the matrix-product gradient is
  instant and any entry-by-entry derivative (finite differences, a complex step) exceeds the
  worker's time or memory; a function that cannot return it earns nothing in the test;
* messages say how many entries differ and how far off in coarse bands, never an expected value
  or a number computed from one (autograder.grading.hidden.assert_close does the same);
* the best models are graded by the engine from [models]; there is no hidden test for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.grading.hidden import StudentError, directional_mismatch, hidden_test, kind_of

KINK_GAP = 1e-3
RTOL = 1e-6
ATOL = 1e-9  # for gradient entries that are exactly 0 in the reference

# (label, N, D, C, reg, y dtype): the shapes and edge cases every loss is checked on.
LOSS_CASES = [
    ("N=5, D=4, C=3, reg=0.1", 5, 4, 3, 0.1, np.int64),
    ("N=1 (one example)", 1, 6, 4, 0.5, np.int64),
    ("C=2 (two classes)", 7, 5, 2, 0.2, np.int64),
    ("D=1 (one feature)", 6, 1, 3, 1.0, np.int64),
    ("reg=0", 12, 8, 5, 0.0, np.int64),
    ("y as int32", 20, 10, 5, 0.05, np.int32),
    ("N=60, D=30, C=10", 60, 30, 10, 1e-3, np.int64),
]

# (label, N, D, C, reg, directions) for the numeric gradient checks. These tests count once the
# *loss* matches the reference, so they are what takes points from a right loss with a gradient
# wrong in some entries only (a class the gradient's loop skips: a whole column of dW). They
# check dW along random directions (ctx.check_gradient(directions=k)): a wrong entry anywhere
# changes the derivative along almost every direction, at two calls per direction, where a
# sample of entries could miss it (tests/adversarial/test_review_speed.py).
GRADCHECK_CASES = [
    ("reg=0, 3 random directions", 8, 5, 4, 0.0, 3),
    ("reg=0.7, 3 random directions", 20, 12, 6, 0.7, 3),
]


# --------------------------------------------------------------------------- inputs


def _labels(rng: np.random.Generator, N: int, C: int, dtype: type) -> np.ndarray:
    y = rng.integers(0, C, size=N)
    if N >= C:  # every class present, so each column of dW is exercised
        y[:C] = rng.permutation(C)
        rng.shuffle(y)
    return y.astype(dtype)


def min_hinge_gap(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """min over i and j != y_i of |s_ij - s_iy_i + 1| (inf when C = 1)."""
    scores = X @ W
    margins = scores - scores[np.arange(len(y)), y][:, None] + 1.0
    margins[np.arange(len(y)), y] = np.inf
    return float(np.min(np.abs(margins)))


def svm_problem(rng, N, D, C, y_dtype=np.int64, scale=None):
    """W (D, C), X (N, D), y (N,) with every hinge margin clear of its kink by KINK_GAP.

    W is scaled so that scores have a spread of about 1: some margins are positive, some are not.
    """
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    for _ in range(1000):
        W = scale * rng.standard_normal((D, C))
        X = rng.standard_normal((N, D))
        y = _labels(rng, N, C, y_dtype)
        if min_hinge_gap(W, X, y) > KINK_GAP:
            return W, X, y
    raise RuntimeError("could not draw an SVM problem clear of the kinks")  # pragma: no cover


def softmax_problem(rng, N, D, C, y_dtype=np.int64, score_scale=1.0):
    """W (D, C), X (N, D), y (N,) with scores of spread about score_scale."""
    W = score_scale / np.sqrt(D) * rng.standard_normal((D, C))
    X = rng.standard_normal((N, D))
    return W, X, _labels(rng, N, C, y_dtype)


# --------------------------------------------------------------------------- the four losses

# CIFAR-sized (N, D, C, reg): a vectorized gradient is a few matrix products here (~20 ms,
# ~1 MiB), while differentiating the loss numerically entry by entry (finite differences or a
# complex step, looped or vectorized over W's 30,730 entries) needs far more time or memory
# than the worker has. The vectorized gradient tests first ask for dW there, and check it along
# one random direction V: <dW, V> must be the derivative of the loss along V, so dW cannot be
# zeros or any other stand-in for a gradient the code could not compute at that size.
CIFAR_CASE = (256, 3073, 10, 1e-3)
DIRECTION_H = 1e-6  # the step along V (V's entries ~ 1/sqrt(D): scores move by ~1e-6)


def _gradient_scales(ctx, name: str) -> bool:
    """True when `name` returns (loss, dW) at CIFAR size with dW the derivative of a loss along a
    random direction (nothing recorded: values are compared elsewhere); else one failed unit is
    recorded and the calling test earns nothing. Asked of the student's code once per
    submission (ctx.once): both gradient tests of `name` share the answer."""
    N, D, C, _reg = CIFAR_CASE
    why = ctx.once(f"{name} at CIFAR size", lambda c: _why_not_at_cifar_size(c, name))
    if why:
        ctx.check(False, "dW", f"could not be checked at CIFAR size (N={N}, D={D}, C={C}): a "
                  "vectorized gradient is a few matrix products at any size, while a gradient "
                  f"found numerically, one entry at a time, does not scale. {why}")
    return not why


def smooth_direction(rng: np.random.Generator, W: np.ndarray, X: np.ndarray, y: np.ndarray,
                     h: float = DIRECTION_H) -> np.ndarray:
    """A random direction V (W's shape, entries ~ N(0, 1/D)) along which no hinge margin
    s_j - s_yi + 1 crosses 0 between W - hV and W + hV: both losses are smooth on that segment,
    so a centred difference along V is their derivative to rounding."""
    rows = np.arange(len(y))
    margins = X @ W
    margins = margins - margins[rows, y][:, None] + 1.0
    for _ in range(100):
        V = rng.standard_normal(W.shape) / np.sqrt(W.shape[0])
        moves = X @ V
        moves = np.abs(moves - moves[rows, y][:, None])
        crossed = np.abs(margins) <= h * moves
        crossed[rows, y] = False
        if not crossed.any():
            return V
    raise RuntimeError("no direction clear of the hinge kinks")  # pragma: no cover


def _why_not_at_cifar_size(ctx, name: str) -> str:
    """'' when `name` returns (loss, dW) at CIFAR size with <dW, V> the derivative along a random
    direction V of its own loss or of the reference's (a loss bug alone does not close the
    gate), else why not (words only: no value of the check is shown)."""
    W, X, y = ctx.once("the CIFAR-sized problem", _cifar_problem)
    V = smooth_direction(ctx.rng, W, X, y)  # ctx.once's generator, seeded by this check's key
    h = DIRECTION_H
    try:  # reg = 0: a regularization bug alone does not close the gate either
        out = ctx.call(name, W, X, y, 0.0)
        if not (type(out) in (tuple, list) and len(out) == 2 and np.shape(out[1]) == W.shape):
            return f"{name} did not return (loss, dW) with dW of the shape of W."
        plus, minus = ctx.call_many(name, [(W + h * V, X, y, 0.0), (W - h * V, X, y, 0.0)])
    except StudentError as exc:
        return exc.text
    expected = float(np.sum(_reference(ctx, name)(W, X, y, 0.0)[1] * V))
    return directional_mismatch(out[1], V, plus, minus, h, expected, "dW")


def _cifar_problem(ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W, X, y of CIFAR_CASE, drawn once per submission: both vectorized losses are asked for
    their gradient on the same X (6 MiB), which then crosses to the worker once."""
    N, D, C, _reg = CIFAR_CASE
    return softmax_problem(ctx.rng, N, D, C)


def _reference(ctx, name: str):
    """The reference's loss for `name`: always its vectorized version, which gives the naive
    one's values (tests/test_a3.py checks they agree) in a fraction of the grader's time."""
    return getattr(ctx.ref, name.replace("_naive", "_vectorized"))


def _on_loss_cases(ctx, name: str, problem) -> list[tuple[str, Any, tuple]]:
    """(label, the student's output or their StudentError, the reference's (loss, dW)) for each
    of LOSS_CASES. The loss test and the gradient test of `name` check two parts of the same
    outputs: the student's code runs on each case once per submission (ctx.once), and each test
    records its own cases."""
    def compute(c) -> list[tuple[str, Any, tuple]]:
        rows = []
        for label, N, D, C, reg, y_dtype in LOSS_CASES:
            args = (*problem(c.rng, N, D, C, y_dtype), reg)
            try:
                out = c.call(name, *args)
            except StudentError as exc:  # raised again in each test's own case
                out = exc
            rows.append((label, out, _reference(c, name)(*args)))
        return rows
    return ctx.once(f"{name} on the loss cases", compute)


def _returned(out: Any) -> Any:
    """The student's output, or their error raised (in the calling test's case)."""
    if isinstance(out, StudentError):
        raise out
    return out


def _loss_matches(ctx, name: str, problem) -> None:
    for label, out, (ref_loss, _ref_dW) in _on_loss_cases(ctx, name, problem):
        with ctx.case(label):
            loss, _dW = _returned(out)
            ctx.assert_close(loss, ref_loss, rtol=RTOL, what="loss")


def _gradient_matches(ctx, name: str, problem) -> None:
    for label, out, (_ref_loss, ref_dW) in _on_loss_cases(ctx, name, problem):
        with ctx.case(label):
            _loss, dW = _returned(out)
            ctx.assert_close(dW, ref_dW, rtol=RTOL, atol=ATOL, what="dW")


def _gradient_agrees_with_own_loss(ctx, name: str, problem) -> None:
    for label, N, D, C, reg, directions in GRADCHECK_CASES:
        W, X, y = problem(ctx.rng, N, D, C)
        with ctx.case(label):
            _loss, dW = ctx.call(name, W, X, y, reg)
            ctx.check_gradient(name, (W, X, y, reg), wrt=0, analytic=dW, directions=directions)


def _large_scores(ctx, name: str) -> None:
    """Scores in the thousands, spread by a few units within each example.

    Adding the same vector c to every column of W adds x_i . c to all the scores of example i:
    the probabilities, the data loss and (with reg = 0) dW do not change. With |x_i . c| in the
    thousands, exp overflows (or every exp underflows to 0) unless the scores are shifted by
    their maximum, so the student's loss must give the same loss and dW with and without c.
    """
    for label, N, D, C in (("scores ~ +-3000", 10, 6, 4), ("scores ~ +-3000, N=1, C=10", 1, 8, 10)):
        W, X, y = softmax_problem(ctx.rng, N, D, C)
        c = ctx.rng.standard_normal(D)
        c *= 3000.0 / np.sqrt(np.mean((X @ c) ** 2))  # |x_i . c| about 3000
        shifted = W + c[:, None]
        with ctx.case(label):
            loss, dW = ctx.call(name, W, X, y, 0.0)
            big_loss, big_dW = ctx.call(name, shifted, X, y, 0.0)
            ctx.assert_close(big_loss, loss, rtol=1e-6, atol=1e-9,
                             what="loss with all scores shifted by ~3000 (shift them by their max "
                                  "before np.exp) vs. unshifted")
            ctx.assert_close(big_dW, dW, rtol=1e-6, atol=1e-9,
                             what="dW with all scores shifted by ~3000 vs. unshifted")


@hidden_test("svm_loss_naive", weight=2)
def svm_naive_loss_matches_reference(ctx):
    _loss_matches(ctx, "svm_loss_naive", svm_problem)


@hidden_test("svm_loss_naive", weight=2)
def svm_naive_gradient_matches_reference(ctx):
    _gradient_matches(ctx, "svm_loss_naive", svm_problem)


@hidden_test("svm_loss_naive", weight=1, requires="svm_naive_loss_matches_reference")
def svm_naive_gradient_agrees_with_its_loss(ctx):
    _gradient_agrees_with_own_loss(ctx, "svm_loss_naive", svm_problem)


@hidden_test("svm_loss_vectorized", weight=2)
def svm_vectorized_loss_matches_reference(ctx):
    _loss_matches(ctx, "svm_loss_vectorized", svm_problem)


@hidden_test("svm_loss_vectorized", weight=2)
def svm_vectorized_gradient_matches_reference(ctx):
    if _gradient_scales(ctx, "svm_loss_vectorized"):
        _gradient_matches(ctx, "svm_loss_vectorized", svm_problem)


@hidden_test("svm_loss_vectorized", weight=1, requires="svm_vectorized_loss_matches_reference")
def svm_vectorized_gradient_agrees_with_its_loss(ctx):
    if _gradient_scales(ctx, "svm_loss_vectorized"):
        _gradient_agrees_with_own_loss(ctx, "svm_loss_vectorized", svm_problem)


@hidden_test("softmax_loss_naive", weight=3)
def softmax_naive_loss_matches_reference(ctx):
    _loss_matches(ctx, "softmax_loss_naive", softmax_problem)


@hidden_test("softmax_loss_naive", weight=3)
def softmax_naive_gradient_matches_reference(ctx):
    _gradient_matches(ctx, "softmax_loss_naive", softmax_problem)


@hidden_test("softmax_loss_naive", weight=2, requires="softmax_naive_loss_matches_reference")
def softmax_naive_gradient_agrees_with_its_loss(ctx):
    _gradient_agrees_with_own_loss(ctx, "softmax_loss_naive", softmax_problem)


@hidden_test("softmax_loss_naive", weight=2, requires="softmax_naive_loss_matches_reference")
def softmax_naive_is_stable_for_large_scores(ctx):
    _large_scores(ctx, "softmax_loss_naive")


@hidden_test("softmax_loss_vectorized", weight=3)
def softmax_vectorized_loss_matches_reference(ctx):
    _loss_matches(ctx, "softmax_loss_vectorized", softmax_problem)


@hidden_test("softmax_loss_vectorized", weight=3)
def softmax_vectorized_gradient_matches_reference(ctx):
    if _gradient_scales(ctx, "softmax_loss_vectorized"):
        _gradient_matches(ctx, "softmax_loss_vectorized", softmax_problem)


@hidden_test("softmax_loss_vectorized", weight=2, requires="softmax_vectorized_loss_matches_reference")
def softmax_vectorized_gradient_agrees_with_its_loss(ctx):
    if _gradient_scales(ctx, "softmax_loss_vectorized"):
        _gradient_agrees_with_own_loss(ctx, "softmax_loss_vectorized", softmax_problem)


@hidden_test("softmax_loss_vectorized", weight=2, requires="softmax_vectorized_loss_matches_reference")
def softmax_vectorized_is_stable_for_large_scores(ctx):
    _large_scores(ctx, "softmax_loss_vectorized")


# --------------------------------------------------------------------------- sample_batch


def _indexed_data(N: int, D: int):
    """X whose row r is r * 1000 + [0, 1, ..., D-1], and labels y[r] = 7 * r (int64)."""
    X = np.arange(N, dtype=np.float64)[:, None] * 1000.0 + np.arange(D, dtype=np.float64)
    y = 7 * np.arange(N, dtype=np.int64)
    return X, y


def _rows_of(ctx, X_batch, y_batch, X, y, num_train, batch_size) -> None:
    """Checks that the batch holds rows of X[:num_train] with their own labels."""
    D = X.shape[1]
    shapes_ok = ctx.check(
        type(X_batch) is np.ndarray and X_batch.shape == (batch_size, D),
        "X_batch shape", f"expected an array of shape ({batch_size}, {D}), got {kind_of(X_batch)}",
    )
    ctx.check(
        type(y_batch) is np.ndarray and y_batch.shape == (batch_size,),
        "y_batch shape", f"expected an array of shape ({batch_size},), got {kind_of(y_batch)}",
    )
    if not shapes_ok or type(y_batch) is not np.ndarray or y_batch.shape != (batch_size,):
        return
    rows = np.rint(X_batch[:, 0] / 1000.0).astype(np.int64)
    valid = (rows >= 0) & (rows < len(X))
    ctx.check(
        valid.all() and np.array_equal(X_batch, X[np.clip(rows, 0, len(X) - 1)]),
        "X_batch", "every row of X_batch must be a whole row of X",
    )
    ctx.check(
        valid.all() and np.array_equal(y_batch, y[np.clip(rows, 0, len(X) - 1)]),
        "y_batch", "y_batch[k] must be the label of the row X_batch[k] (use the same indices)",
    )
    ctx.check(
        valid.all() and rows.max(initial=0) < num_train,
        "num_train", f"draw only from the first num_train = {num_train} rows",
    )


@hidden_test("sample_batch", weight=3)
def sample_batch_draws_rows_with_their_labels(ctx):
    for label, N, D, num_train, batch_size in (
        ("N=50, batch 10", 50, 4, 50, 10),
        ("batch of 1", 30, 3, 30, 1),
        ("batch larger than the data (with replacement)", 8, 2, 8, 40),
        ("num_train < N", 40, 3, 15, 25),
    ):
        X, y = _indexed_data(N, D)
        with ctx.case(label):
            X_batch, y_batch = ctx.call("sample_batch", X, y, num_train, batch_size)
            _rows_of(ctx, X_batch, y_batch, X, y, num_train, batch_size)


# Random noise is random too: randomness counts once the batch holds real rows of X.
@hidden_test("sample_batch", weight=1, requires="sample_batch_draws_rows_with_their_labels")
def sample_batch_is_random(ctx):
    X, y = _indexed_data(1000, 2)
    with ctx.case("two calls differ and are not the first rows"):
        first = ctx.call("sample_batch", X, y, 1000, 50)
        second = ctx.call("sample_batch", X, y, 1000, 50)
        rows = np.rint(np.asarray(first[0])[:, 0] / 1000.0)
        ctx.check(not np.array_equal(rows, np.arange(50)), "randomness",
                  "the batch is the first batch_size rows: draw random indices (np.random.choice)")
        ctx.check(not np.array_equal(np.asarray(first[0]), np.asarray(second[0])), "randomness",
                  "two calls returned the same batch: draw new random indices at every call")


# --------------------------------------------------------------------------- training


@hidden_test("train_linear_classifier", weight=3)
def train_steps_by_learning_rate_times_gradient(ctx):
    """With a loss whose gradient is all ones, W_final = W0 - learning_rate * num_iters."""
    for label, lr, num_iters, batch_size in (("lr=0.05, 13 steps", 0.05, 13, 4),
                                             ("lr=1e-3, 1 step", 1e-3, 1, 2)):
        W0 = ctx.rng.standard_normal((5, 3))
        X = ctx.rng.standard_normal((10, 5))
        y = ctx.rng.integers(0, 3, size=10)
        with ctx.case(label):
            W, history = ctx.call("train_linear_classifier", ctx.stub("linear_constant_gradient_loss"),
                                  W0, X, y, learning_rate=lr, reg=0.0, num_iters=num_iters,
                                  batch_size=batch_size)
            ctx.assert_close(W, W0 - lr * num_iters, rtol=1e-9, atol=1e-12,
                             what="W after training with a gradient of all ones")
            ctx.check(isinstance(history, (list, tuple, np.ndarray)) and len(history) == num_iters,
                      "loss_history", f"needs {num_iters} losses (one per iteration), "
                      "got another number of entries")


def _separable(rng, N=120, C=3):
    """Three well separated 2-D clusters, with the bias column: X (N, 3), y (N,)."""
    centers = 4.0 * np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])[:C]
    y = np.arange(N) % C
    X = centers[y] + 0.5 * rng.standard_normal((N, 2))
    return np.hstack([X, np.ones((N, 1))]), y.astype(np.int64)


def _a_correct_loss(ctx, X, y, W):
    """The name of one of the student's loss functions that agrees with the reference, or None.

    Training is graded on its own: a wrong loss elsewhere must not cost these points too.
    """
    for name in ("softmax_loss_vectorized", "svm_loss_vectorized", "softmax_loss_naive",
                 "svm_loss_naive"):
        try:
            loss, dW = ctx.call(name, W, X, y, 1e-3)
        except StudentError:
            continue
        ref_loss, ref_dW = getattr(ctx.ref, name)(W, X, y, 1e-3)
        try:
            if np.allclose(loss, ref_loss, rtol=1e-6) and np.allclose(dW, ref_dW, rtol=1e-6, atol=1e-9):
                return name
        except (TypeError, ValueError):
            continue
    return None


@hidden_test("train_linear_classifier", weight=5)
def train_lowers_the_loss_on_a_separable_problem(ctx):
    X, y = _separable(ctx.rng)
    W0 = 0.001 * ctx.rng.standard_normal((3, 3))
    name = _a_correct_loss(ctx, X, y, W0)
    with ctx.case("SGD on three separable clusters"):
        if not ctx.check(name is not None, "training",
                         "could not be checked: none of your four loss functions is correct yet "
                         "(fix one of them and this check runs)"):
            return
        W, history = ctx.call("train_linear_classifier", ctx.func(name), W0, X, y,
                              learning_rate=0.1, reg=1e-3, num_iters=150, batch_size=30,
                              verbose=True)
        ref_loss = getattr(ctx.ref, name)
        ctx.check(type(W) is np.ndarray and W.shape == W0.shape, "W",
                  f"expected the trained W of shape {W0.shape}, got {kind_of(W)}")
        if type(W) is not np.ndarray or W.shape != W0.shape:
            return
        before, after = ref_loss(W0, X, y, 1e-3)[0], ref_loss(W, X, y, 1e-3)[0]
        # No loss values in the message: they are the reference's, on hidden data.
        went = "rose" if not after <= before else "fell by less than half"
        ctx.check(np.isfinite(after) and after < 0.5 * before, "training",
                  f"with {name}, the loss on the training data {went}; it should at least halve "
                  "(check the sign of the update)")
        accuracy = float(np.mean(np.argmax(X @ W, axis=1) == y))
        ctx.check(accuracy >= 0.95, "training",
                  f"the trained W classifies {accuracy:.0%} of a separable training set correctly")
        ctx.check(hasattr(history, "__len__") and len(history) == 150, "loss_history",
                  "expected one loss per iteration (150)")


# --------------------------------------------------------------------------- predict


def _two_class_problem(rng, N, D, C):
    """W (D, C), X (N, D) whose argmax classes are not all the same (a constant guess never
    passes a case)."""
    for _ in range(1000):
        W = rng.standard_normal((D, C))
        X = rng.standard_normal((N, D))
        if len(np.unique(np.argmax(X @ W, axis=1))) >= 2:
            return W, X
    raise RuntimeError("could not draw a problem with two classes")  # pragma: no cover


def _predictions_are_the_argmax(ctx, W, X) -> None:
    """Checks that the student's predict on (W, X) is argmax(X W) with an integer dtype."""
    N = X.shape[0]
    expected = np.argmax(X @ W, axis=1)
    y_pred = ctx.call("predict_linear_classifier", W, X)
    is_array = ctx.check(type(y_pred) is np.ndarray and y_pred.shape == (N,), "y_pred",
                         f"must be an array of shape ({N},), got {kind_of(y_pred)}")
    if is_array:
        ctx.check(y_pred.dtype.kind in "iu", "y_pred dtype",
                  f"class indices must be integers, got {y_pred.dtype} (np.argmax gives ints)")
        ctx.check(np.array_equal(y_pred, expected), "y_pred",
                  f"{int(np.sum(y_pred != expected))} of {N} predictions are not the "
                  "class with the highest score")


@hidden_test("predict_linear_classifier")
def predict_is_the_argmax_with_an_integer_dtype(ctx):
    for label, N, D, C in (("N=40, D=6, C=5", 40, 6, 5), ("C=2", 25, 3, 2), ("D=1", 10, 1, 4)):
        W, X = _two_class_problem(ctx.rng, N, D, C)
        with ctx.case(label):
            _predictions_are_the_argmax(ctx, W, X)
    with ctx.case("N=1 (one example at a time, two examples of different classes)"):
        W, X = _two_class_problem(ctx.rng, 2, 4, 3)
        for row in (0, 1):
            _predictions_are_the_argmax(ctx, W, X[row:row + 1])


# --------------------------------------------------------------------------- search grids


def _grid_checks(ctx, name: str) -> None:
    ok = search = False
    lrs: list = []
    regs: list = []
    with ctx.case("two lists of numbers, at least 2 different pairs"):
        result = ctx.call(name)
        ok = ctx.check(type(result) in (tuple, list) and len(result) == 2, "return value",
                       "return a tuple (learning_rates, regularization_strengths)")
        if not ok:
            return
        lrs, regs = result
        ok = ctx.check(all(type(v) in (list, tuple, np.ndarray) for v in (lrs, regs)), "return value",
                       "learning_rates and regularization_strengths must be lists")
        if not ok:
            return
        lrs = np.asarray(lrs, dtype=object).ravel().tolist()
        regs = np.asarray(regs, dtype=object).ravel().tolist()
        numbers = ctx.check(all(type(v) in (int, float) for v in lrs + regs), "values",
                            "every value must be a number (float)")
        # A grid of one repeated value searches nothing: no points for its format alone.
        search = numbers and ctx.check(
            len(set(lrs)) * len(set(regs)) >= 2, "grid",
            "a search tries at least 2 different (learning rate, regularization) pairs")
    if not ok or not search:
        for what in ("values in range", "grid size"):
            ctx.check(False, what, "not checked: return two lists of numbers that make a search")
        return
    with ctx.case("values in range"):
        ctx.check(len(lrs) > 0 and all(np.isfinite(v) and v > 0 for v in lrs), "learning_rates",
                  f"need at least one, all finite and > 0; got {lrs}")
        ctx.check(len(regs) > 0 and all(np.isfinite(v) and v >= 0 for v in regs),
                  "regularization_strengths", f"need at least one, all finite and >= 0; got {regs}")
    with ctx.case("grid of 2 to 30 pairs"):
        pairs = len(lrs) * len(regs)
        ctx.check(2 <= pairs <= 30, "grid size", f"{len(lrs)} x {len(regs)} = {pairs} pairs; use 2 to 30")


@hidden_test("svm_get_search_params")
def svm_search_grid_is_sensible(ctx):
    _grid_checks(ctx, "svm_get_search_params")


@hidden_test("softmax_get_search_params")
def softmax_search_grid_is_sensible(ctx):
    _grid_checks(ctx, "softmax_get_search_params")


# --------------------------------------------------------------------------- loop probes
# Inputs of growing size n for measuring the loop-free functions (autograder.grading.measure): their
# Python-level work must not grow with n. Examples, features and classes all grow, so a loop
# over any of them shows.

from autograder.grading.measure import loop_probe  # noqa: E402 - the probes' own section


@loop_probe("svm_loss_vectorized")
@loop_probe("softmax_loss_vectorized")
def linear_loss_probe(rng, n):
    D, C = n // 2 + 2, n // 8 + 2
    W = rng.normal(size=(D, C)) * 0.01
    return W, rng.normal(size=(n, D)), rng.integers(0, C, size=n), 0.1
