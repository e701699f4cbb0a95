"""Hidden tests of A4 (two-layer net, flat backprop). Instructor only: never released.

Each test belongs to the group named in `@hidden_test(...)` (= a grade cell's grade_id, points in
`[tests]` of assignment.toml) and splits the group's points with the other tests of the group by
weight. Inputs come from `ctx.rng` (seeded per test from `[private].seed`); the student's code
runs through `ctx.call` (in the sandbox when grading), the trusted reference is `ctx.ref`.

Conventions (as in A3):
* forward, loss, gradients, predict, training and the search are separate groups, and within a
  group the comparison with the reference and the numeric gradient check are separate tests, so
  a right loss with a wrong gradient earns the loss part;
* every shape or edge case is its own `ctx.case` (partial credit; an error in one case does not
  hide the others);
* inputs are redrawn until every ReLU pre-activation is at least KINK_GAP away from 0, so a
  numeric gradient check never straddles the kink; the one test about the kink
  builds exact zeros on purpose, with integer-valued inputs, and compares with the reference;
* no points for no work: the numeric gradient check `requires` the gradients to match the
  reference on at least one case (zero gradients agree perfectly with a constant loss); a
  constant answer (zeros, ones, class 0 for everything, repeated search values) fails every case;
* messages say how many entries differ and how far off in coarse bands, never an expected value
  or a number computed from one (autograder.grading.hidden.assert_close does the same);
* no points for numerical differentiation dressed as backprop: every gradient test first asks
  for the gradients of a net large enough (134k parameters) that backprop is instant and any
  per-parameter derivative (finite differences, a complex step, looped or vectorized) exceeds
  the worker's time or memory; a function that cannot return them earns nothing in the test;
* nn_predict is observed through a stub loss_func (`nn_linear_scores_loss`: scores X W1 W2)
  whose argmax has at least two classes in every case, so it is graded apart from the forward
  pass and a constant prediction never passes;
* nn_train is observed through the stubs beside this file (stubs.py), never through its own
  report: it runs inside `nn_train_and_params`, which returns the params after training and
  the params, minibatch and loss of every loss_func call; with `nn_probe_loss` (gradients of
  ones) each step moves every entry by exactly -rate, so the rates are read off the params,
  and the fall of the loss is the reference loss of the trained params;
* the best model is graded by the engine from [models]; there is no hidden test for it.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hidden import StudentError, directional_mismatch, hidden_test, kind_of

KINK_GAP = 1e-2  # |pre-activation| at least this where a numeric gradient is taken
RTOL = 1e-6
ATOL = 1e-9  # for entries that are exactly 0 in the reference
PARAM_KEYS = ("W1", "b1", "W2", "b2")

# (label, N, D, H, C, reg, options): the shapes and edge cases of forward, loss and gradients.
NET_CASES = [
    ("N=5, D=4, H=10, C=3, reg=0.05", 5, 4, 10, 3, 0.05, {}),
    ("N=1 (one example)", 1, 6, 7, 4, 0.1, {}),
    ("H=1 (one hidden unit)", 8, 5, 1, 3, 0.1, {}),
    ("reg=0", 12, 8, 6, 5, 0.0, {}),
    ("every pre-activation negative (the ReLU passes nothing)", 6, 4, 5, 3, 0.1, {"dead": True}),
    ("C=2, y as int32", 9, 3, 4, 2, 0.2, {"y_dtype": np.int32}),
    ("large biases, reg=1 (biases are not regularized)", 7, 4, 6, 3, 1.0, {"bias_scale": 3.0}),
    ("N=50, D=20, H=30, C=10", 50, 20, 30, 10, 1e-3, {}),
]

# (label, N, D, H, C, reg, directions) for the numeric gradient checks: each parameter's
# gradient along that many random directions (ctx.check_gradient(directions=k)), two calls per
# direction; a wrong entry anywhere changes the derivative along almost every direction. The
# values themselves are compared with the reference's in gradients_match_reference.
GRADCHECK_CASES = [
    ("N=6, D=4, H=5, C=3, reg=0.1", 6, 4, 5, 3, 0.1, 2),
    ("N=1, H=1, reg=0.3", 1, 3, 1, 4, 0.3, 2),
]


# --------------------------------------------------------------------------- inputs


def _labels(rng: np.random.Generator, N: int, C: int, dtype: type = np.int64) -> np.ndarray:
    y = rng.integers(0, C, size=N)
    if N >= C:  # every class present, so each column of dW2 is exercised
        y[:C] = rng.permutation(C)
        rng.shuffle(y)
    return y.astype(dtype)


def net_problem(rng, N, D, H, C, dead=False, bias_scale=0.1, y_dtype=np.int64, gap=0.0):
    """params (W1, b1, W2, b2), X (N, D), y (N,); every pre-activation at least `gap` from 0.

    Pre-activations X W1 + b1 have a spread of about 1, some positive and some negative; with
    dead=True every one is below -KINK_GAP (b1 very negative), so the hidden layer is all zeros.
    Numeric gradient checks ask for gap=KINK_GAP; comparisons with the reference need no gap.
    """
    for _ in range(1000):
        params = {
            "W1": rng.standard_normal((D, H)) / np.sqrt(D),
            "b1": bias_scale * rng.standard_normal(H) - (10.0 if dead else 0.0),
            "W2": rng.standard_normal((H, C)) / np.sqrt(H),
            "b2": bias_scale * rng.standard_normal(C),
        }
        X = rng.standard_normal((N, D))
        pre = X @ params["W1"] + params["b1"]
        clear = pre.max() < -KINK_GAP if dead else np.min(np.abs(pre)) > gap
        if clear:
            return params, X, _labels(rng, N, C, y_dtype)
    raise RuntimeError("could not draw a problem clear of the ReLU kink")  # pragma: no cover


def exact_zero_problem(rng, N=6, D=3, H=4, C=3):
    """Integer-valued X, W1, b1 with at least one pre-activation exactly 0 in every hidden unit.

    Integer arithmetic is exact in float64, so X W1 + b1 holds true zeros, where the ReLU's
    gradient is taken as 0.
    """
    X = rng.integers(-3, 4, size=(N, D)).astype(np.float64)
    W1 = rng.integers(-2, 3, size=(D, H)).astype(np.float64)
    rows = rng.integers(0, N, size=H)
    b1 = -np.array([X[rows[j]] @ W1[:, j] for j in range(H)])
    params = {"W1": W1, "b1": b1, "W2": rng.standard_normal((H, C)), "b2": 0.1 * rng.standard_normal(C)}
    return params, X, _labels(rng, N, C)


def blobs(rng, N, C=3, spread=0.5):
    """C = 3 well separated clusters in 2-D (centers 4 apart on a circle, randomly rotated):
    X (N, 2), y (N,) int64, classes in turn."""
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(C) / C
    centers = 4.0 / np.sqrt(3.0) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = np.arange(N) % C
    X = centers[y] + spread * rng.standard_normal((N, 2))
    return X, y.astype(np.int64)


def _pair(ctx, out, what: str):
    """out as a 2-tuple, or None after recording a failure."""
    if ctx.check(type(out) in (tuple, list) and len(out) == 2, what,
                 f"expected a tuple of 2 values, got {kind_of(out) if type(out) is np.ndarray else type(out).__name__}"):
        return out
    return None


def _loss_and_grads(ctx, params, X, y, reg):
    """The student's nn_forward_backward(params, X, y, reg) as a (loss, grads) pair, or None
    after recording a failure."""
    return _pair(ctx, ctx.call("nn_forward_backward", params, X, y, reg),
                 "nn_forward_backward(params, X, y, reg) must return (loss, grads)")


def _grads_dict(ctx, grads) -> bool:
    return ctx.check(
        type(grads) is dict and set(grads) == set(PARAM_KEYS), "grads",
        f"expected a dict with the keys {list(PARAM_KEYS)}, got "
        f"{sorted(grads) if type(grads) is dict else type(grads).__name__}",
    )


# --------------------------------------------------------------------------- forward pass


@hidden_test("nn_forward_pass")
def forward_pass_matches_reference(ctx):
    for label, N, D, H, C, _reg, opts in NET_CASES:
        params, X, _y = net_problem(ctx.rng, N, D, H, C, **opts)
        ref_scores, ref_hidden = ctx.ref.nn_forward_pass(params, X)
        with ctx.case(label):
            out = _pair(ctx, ctx.call("nn_forward_pass", params, X), "nn_forward_pass must return (scores, hidden)")
            if out is None:
                continue
            scores, hidden = out
            ctx.assert_close(scores, ref_scores, rtol=RTOL, atol=ATOL, what=f"scores (N, C) = ({N}, {C})")
            ctx.assert_close(hidden, ref_hidden, rtol=RTOL, atol=ATOL,
                             what=f"hidden = max(0, X W1 + b1), (N, H) = ({N}, {H})")


# --------------------------------------------------------------------------- the loss


@hidden_test("nn_loss", weight=4)
def loss_matches_reference(ctx):
    for label, N, D, H, C, reg, opts in NET_CASES:
        params, X, y = net_problem(ctx.rng, N, D, H, C, **opts)
        ref_loss = ctx.ref.nn_forward_backward(params, X, y, reg)[0]
        with ctx.case(label):
            out = _loss_and_grads(ctx, params, X, y, reg)
            if out is not None:
                ctx.assert_close(out[0], ref_loss, rtol=RTOL, what="loss")


# `if y is None: return scores` is given in the release: it counts once the loss is the
# student's own work, so a body that only sets loss = 0.0 earns nothing in this group.
@hidden_test("nn_loss", weight=1, requires="loss_matches_reference")
def loss_returns_scores_without_labels(ctx):
    for label, N, D, H, C in (("N=4, D=3, H=5, C=3", 4, 3, 5, 3), ("N=1, H=1", 1, 2, 1, 4)):
        params, X, _y = net_problem(ctx.rng, N, D, H, C)
        with ctx.case(label):
            scores = ctx.call("nn_forward_backward", params, X)
            ctx.assert_close(scores, ctx.ref.nn_forward_pass(params, X)[0], rtol=RTOL, atol=ATOL,
                             what="nn_forward_backward(params, X) without y: the scores (N, C)")


@hidden_test("nn_loss", weight=1)
def loss_is_stable_for_large_scores(ctx):
    """Scores in the thousands, spread by a few units within each example.

    Adding c (H,) to every column of W2 and the same constant to every entry of b2 adds
    hidden_i . c + 3000 to all the scores of example i: the probabilities and the data loss do
    not change. exp overflows unless each row is shifted by its maximum, so the student's loss
    (reg = 0) must be the same with and without the shift.
    """
    for label, N, D, H, C in (("scores ~ 3000", 10, 5, 6, 4), ("scores ~ 3000, N=1, C=10", 1, 4, 5, 10)):
        params, X, y = net_problem(ctx.rng, N, D, H, C)
        hidden = ctx.ref.nn_forward_pass(params, X)[1]
        c = ctx.rng.standard_normal(H)
        c *= 1000.0 / max(float(np.sqrt(np.mean((hidden @ c) ** 2))), 1e-3)
        big = {**params, "W2": params["W2"] + c[:, None], "b2": params["b2"] + 3000.0}
        ref_loss = ctx.ref.nn_forward_backward(params, X, y, 0.0)[0]
        with ctx.case(label):
            out = _loss_and_grads(ctx, big, X, y, 0.0)
            if out is not None:
                ctx.assert_close(out[0], ref_loss, rtol=RTOL,
                                 what="loss with every score shifted by thousands (subtract each "
                                      "row's max score before np.exp; the probabilities do not change)")


# --------------------------------------------------------------------------- the gradients


# Backprop is instant here (~2 ms, ~2 MiB); a per-parameter numerical derivative (finite
# differences or a complex step, looped or vectorized) needs ~134k forward passes or far more
# memory than the worker has. Every gradient test first asks for the gradients there, and checks
# them along one random direction V: sum_k <grads[k], V[k]> must be the derivative of the loss
# along V, so the gradients cannot be zeros or any other stand-in at that size.
LARGE_NET = (64, 512, 256, 10, 1e-3)  # N, D, H, C, reg: 134k parameters
DIRECTION_H = 1e-6  # the step along V (V's entries ~ N(0, 1/fan-in): pre-activations move ~1e-6)


def _backprop_scales(ctx) -> bool:
    """True when nn_forward_backward returns (loss, grads) on LARGE_NET with grads the
    derivative of a loss along a random direction (nothing recorded: the values are compared
    elsewhere); else one failed unit is recorded and the calling test earns nothing. Asked of
    the student's code once per submission (ctx.once): the three gradient tests share it."""
    N, D, H, C, _reg = LARGE_NET
    why = ctx.once("backprop at LARGE_NET", _why_backprop_does_not_scale)
    if why:
        ctx.check(False, "gradients",
                  f"could not be checked on a large net (N={N}, D={D}, H={H}, C={C}): backprop "
                  "computes every gradient with a few matrix products at any size, while a "
                  f"gradient found numerically, one parameter at a time, does not scale. {why}")
    return not why


def smooth_direction(rng: np.random.Generator, params: dict, X: np.ndarray,
                     h: float = DIRECTION_H) -> dict:
    """A random direction V (params' keys and shapes, entries ~ N(0, 1/fan-in)) along which no
    pre-activation X W1 + b1 crosses 0 between params - hV and params + hV: the loss is smooth
    on that segment, so a centred difference along V is its derivative to rounding."""
    pre = X @ params["W1"] + params["b1"]
    for _ in range(100):
        V = {k: rng.standard_normal(v.shape) / np.sqrt(v.shape[0]) for k, v in params.items()}
        if not (np.abs(pre) <= h * np.abs(X @ V["W1"] + V["b1"])).any():
            return V
    raise RuntimeError("no direction clear of the ReLU kinks")  # pragma: no cover


def _why_backprop_does_not_scale(ctx) -> str:
    """'' when nn_forward_backward returns (loss, grads) on LARGE_NET with the gradients'
    derivative along a random direction that of its own loss or of the reference's (a loss bug
    alone does not close the gate), else why not (words only: no value is shown)."""
    N, D, H, C, _reg = LARGE_NET
    # Its own generator: the test's other inputs stay the ones drawn without this check.
    rng = np.random.default_rng(ctx.rng.bit_generator.seed_seq.spawn(1)[0])
    params, X, y = net_problem(rng, N, D, H, C)
    V = smooth_direction(rng, params, X)
    h = DIRECTION_H
    try:  # reg = 0: a regularization bug alone does not close the gate either
        out = ctx.call("nn_forward_backward", params, X, y, 0.0)
        if not (type(out) in (tuple, list) and len(out) == 2 and type(out[1]) is dict
                and all(np.shape(out[1].get(k)) == params[k].shape for k in PARAM_KEYS)):
            return "nn_forward_backward did not return (loss, grads) with grads of the shapes of params."
        plus, minus = ctx.call_many("nn_forward_backward", [
            ({k: params[k] + h * V[k] for k in PARAM_KEYS}, X, y, 0.0),
            ({k: params[k] - h * V[k] for k in PARAM_KEYS}, X, y, 0.0)])
    except StudentError as exc:
        return exc.text
    ref_grads = ctx.ref.nn_forward_backward(params, X, y, 0.0)[1]
    expected = sum(float(np.sum(ref_grads[k] * V[k])) for k in PARAM_KEYS)
    return directional_mismatch(out[1], V, plus, minus, h, expected, "grads")


@hidden_test("nn_backward", weight=4)
def gradients_match_reference(ctx):
    if not _backprop_scales(ctx):
        return
    for label, N, D, H, C, reg, opts in NET_CASES:
        params, X, y = net_problem(ctx.rng, N, D, H, C, **opts)
        ref_grads = ctx.ref.nn_forward_backward(params, X, y, reg)[1]
        with ctx.case(label):
            out = _loss_and_grads(ctx, params, X, y, reg)
            if out is None or not _grads_dict(ctx, out[1]):
                continue
            for key in PARAM_KEYS:
                ctx.assert_close(out[1][key], ref_grads[key], rtol=RTOL, atol=ATOL,
                                 what=f"grads[{key!r}] {params[key].shape}")


@hidden_test("nn_backward", weight=4, requires="gradients_match_reference")
def gradients_agree_with_own_loss(ctx):
    """Every gradient along random directions against centered differences of the student's own
    loss (the values themselves are compared with the reference's in gradients_match_reference)."""
    if not _backprop_scales(ctx):
        return
    for label, N, D, H, C, reg, directions in GRADCHECK_CASES:
        params, X, y = net_problem(ctx.rng, N, D, H, C, gap=KINK_GAP)
        got: list = []  # the analytic gradients, asked for once per case (again after an error)
        for key in PARAM_KEYS:
            with ctx.case(f"{label}: d{key}"):
                if not got:
                    got.append(ctx.call("nn_forward_backward", params, X, y, reg))
                out = got[0]
                if _pair(ctx, out, "nn_forward_backward must return (loss, grads)") is None:
                    continue
                if not _grads_dict(ctx, out[1]):
                    continue
                ctx.check_gradient("nn_forward_backward", (params, X, y, reg), wrt=(0, key),
                                   analytic=out[1][key], directions=directions)


@hidden_test("nn_backward", weight=2)
def relu_gradient_at_exactly_zero_is_zero(ctx):
    """Pre-activations exactly 0: the ReLU gate is open only where pre > 0."""
    if not _backprop_scales(ctx):
        return
    for label, N, D, H, C, reg in (("N=6, D=3, H=4, C=3", 6, 3, 4, 3, 0.0),
                                   ("N=8, D=4, H=6, C=5, reg=0.1", 8, 4, 6, 5, 0.1)):
        params, X, y = exact_zero_problem(ctx.rng, N, D, H, C)
        ref_grads = ctx.ref.nn_forward_backward(params, X, y, reg)[1]
        with ctx.case(label):
            out = _loss_and_grads(ctx, params, X, y, reg)
            if out is None or not _grads_dict(ctx, out[1]):
                continue
            for key in ("W1", "b1"):
                ctx.assert_close(out[1][key], ref_grads[key], rtol=RTOL, atol=ATOL,
                                 what=f"grads[{key!r}] where some pre-activations are exactly 0 "
                                      "(the ReLU passes no gradient where pre <= 0)")


# --------------------------------------------------------------------------- predict


def _stub_scores_problem(rng, N, D, H, C):
    """params, X whose stub scores X W1 W2 pick at least two different classes (for N >= 2)."""
    for _ in range(1000):
        params, X, _y = net_problem(rng, N, D, H, C)
        if N < 2 or len(np.unique(np.argmax(X @ params["W1"] @ params["W2"], axis=1))) >= 2:
            return params, X
    raise RuntimeError("could not draw a problem with two classes")  # pragma: no cover


def _predictions_are_the_argmax(ctx, params, X) -> None:
    """Checks nn_predict(params, loss_func, X) with the stub loss_func: the argmax of its
    scores X W1 W2, as integers."""
    N = X.shape[0]
    y_pred = ctx.call("nn_predict", params, ctx.stub("nn_linear_scores_loss"), X)
    if not ctx.check(type(y_pred) is np.ndarray and y_pred.shape == (N,), "y_pred",
                     f"must be an array of shape ({N},), got {kind_of(y_pred)}"):
        return
    ctx.check(y_pred.dtype.kind in "iu", "y_pred dtype",
              f"class indices must be integers, got {y_pred.dtype} (np.argmax gives ints)")
    expected = np.argmax(X @ params["W1"] @ params["W2"], axis=1)
    ctx.check(np.array_equal(y_pred, expected), "y_pred",
              f"{int(np.sum(y_pred != expected))} of {N} predictions are not the class with the "
              "highest score: compute the scores with loss_func(params, X) (the loss_func passed "
              "in, whatever it is), then take the argmax of each row")


@hidden_test("nn_predict")
def predict_is_the_argmax_with_an_integer_dtype(ctx):
    for label, N, D, H, C in (("N=30, D=5, H=8, C=4", 30, 5, 8, 4), ("C=2, H=1", 12, 4, 1, 2),
                              ("N=10, D=3, H=5, C=4", 10, 3, 5, 4)):
        params, X = _stub_scores_problem(ctx.rng, N, D, H, C)
        with ctx.case(label):
            _predictions_are_the_argmax(ctx, params, X)
    with ctx.case("N=1 (one example at a time, two examples of different classes)"):
        params, X = _stub_scores_problem(ctx.rng, 2, 3, 4, 3)
        for row in (0, 1):
            _predictions_are_the_argmax(ctx, params, X[row:row + 1])


# --------------------------------------------------------------------------- training


def _zero_params(D=2, H=3, C=2):
    return {"W1": np.zeros((D, H)), "b1": np.zeros(H), "W2": np.zeros((H, C)), "b2": np.zeros(C)}


def _history(ctx, stats, key: str, length: int | None = None):
    """stats[key] as a float array, or None after recording a failure."""
    if not ctx.check(type(stats) is dict and key in stats, "nn_train",
                     f"must return a dict with the key {key!r}"):
        return None
    value = stats[key]
    ok = type(value) in (list, tuple, np.ndarray)
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1) if ok else None
    except (TypeError, ValueError):
        arr = None
    if not ctx.check(arr is not None, key, "must be a list of numbers"):
        return None
    if length is not None and not ctx.check(len(arr) == length, key,
                                            f"needs {length} entries, got another number"):
        return None
    return arr


# (label, num_train, batch_size, num_iters, learning_rate, decay)
SCHEDULE_CASES = [
    ("N=10, batch 4: 2 iterations per epoch", 10, 4, 7, 0.1, 0.5),
    ("N=12, batch 4: 3 iterations per epoch", 12, 4, 8, 0.2, 0.9),
    ("batch larger than N: 1 iteration per epoch", 3, 5, 5, 0.1, 0.5),
    ("decay 1: a constant rate", 8, 2, 6, 0.05, 1.0),
]


def _trained(ctx, params, loss_func, *args, **kwargs):
    """The student's nn_train(params, loss_func, ...) run through the stub nn_train_and_params
    (its docstring says what the returned dict holds)."""
    return ctx.call_stub("nn_train_and_params", ctx.func("nn_train"), params, loss_func, *args, **kwargs)


def _trajectory(ctx, out, num_iters: int):
    """{key: (num_iters + 1, *shape) array}: the params each loss_func call received, then the
    params after training; None after recording a failure."""
    if not ctx.check(out["calls"] == num_iters, "nn_train",
                     f"called loss_func with labels {out['calls']} times in {num_iters} iterations; "
                     "it must compute the loss and gradients once per iteration"):
        return None
    final, seen = out["params"], out["seen"]
    if not ctx.check(set(final) == set(PARAM_KEYS), "params",
                     f"after training must still hold the keys {list(PARAM_KEYS)} (update them in place)"):
        return None
    try:
        return {k: np.concatenate([seen[k], np.asarray(final[k], dtype=np.float64)[None]]) for k in PARAM_KEYS}
    except (KeyError, ValueError, TypeError):
        ctx.check(False, "params", "changed keys or shapes during training")
        return None


@hidden_test("nn_train", weight=3)
def learning_rate_decays_once_per_epoch(ctx):
    """Step t must use learning_rate * decay ** (t // iterations_per_epoch), on every parameter:
    read off the params (gradients of ones: step t moves every entry by exactly -rate_t).
    Minibatches must be batch_size rows of X, loss_history the losses loss_func returned."""
    for label, N, batch_size, num_iters, lr, decay in SCHEDULE_CASES:
        X = ctx.rng.standard_normal((N, 2))
        y = np.zeros(N, dtype=np.int64)
        per_epoch = max(N // batch_size, 1)
        with ctx.case(label):
            out = _trained(ctx, _zero_params(), ctx.stub("nn_probe_loss"), ctx.stub("nn_zero_predict"),
                           X, y, X[:2], y[:2], learning_rate=lr, learning_rate_decay=decay, reg=0.0,
                           num_iters=num_iters, batch_size=batch_size)
            steps = _trajectory(ctx, out, num_iters)
            if steps is None:
                continue
            rates = lr * decay ** (np.arange(num_iters) // per_epoch)
            moved = np.concatenate([[0.0], np.cumsum(rates)])  # (num_iters + 1,)
            for key in PARAM_KEYS:
                expected = -moved.reshape((-1,) + (1,) * (steps[key].ndim - 1)) * np.ones_like(steps[key])
                ctx.assert_close(steps[key], expected, rtol=1e-9, atol=1e-12,
                                 what=f"params[{key!r}] step by step (each step must move every entry "
                                      "by -learning_rate * gradient, in place, and the rate decays "
                                      "after each epoch's last iteration)")
            rows = {tuple(r) for r in X}
            batches = out["X"]
            ctx.check(batches is not None and batches.shape[1:] == (batch_size, 2)
                      and all(tuple(r) in rows for r in batches.reshape(-1, 2)),
                      "minibatches", f"each must be {batch_size} rows of X (np.random.choice with "
                      "replacement), with their labels")
            losses = _history(ctx, out["stats"], "loss_history", num_iters)
            if losses is not None:
                ctx.assert_close(losses, out["losses"], rtol=1e-9, atol=1e-12,
                                 what="loss_history (the loss loss_func returned at each iteration)")


@hidden_test("nn_train", weight=1)
def accuracy_histories_have_one_entry_per_epoch(ctx):
    for label, N, batch_size, num_iters in (("N=10, batch 4, 7 iterations", 10, 4, 7),
                                            ("batch larger than N", 3, 5, 4)):
        X = ctx.rng.standard_normal((N, 2))
        y = np.zeros(N, dtype=np.int64)
        X_val, y_val = ctx.rng.standard_normal((4, 2)), np.array([0, 1, 0, 0])
        epochs = num_iters // max(N // batch_size, 1)
        with ctx.case(label):
            stats = ctx.call("nn_train", _zero_params(), ctx.stub("nn_constant_gradient_loss"),
                             ctx.stub("nn_zero_predict"), X, y, X_val, y_val, learning_rate=0.1,
                             num_iters=num_iters, batch_size=batch_size)
            val = _history(ctx, stats, "val_acc_history", epochs)
            train = _history(ctx, stats, "train_acc_history", epochs)
            if val is not None:
                ctx.assert_close(val, np.full(epochs, 0.75), what="val_acc_history (the predictor says "
                                 "0 for everything; 3 of 4 validation labels are 0)")
            if train is not None:
                ctx.assert_close(train, np.ones(epochs), what="train_acc_history (every label is 0)")


# Judged on the parameters nn_train leaves behind, with the reference loss. It counts once the
# SGD loop is real (the learning rate read off its updates is right on a case), as it runs the
# student's own nn_forward_backward.
@hidden_test("nn_train", weight=2, requires="learning_rate_decays_once_per_epoch")
def training_lowers_the_loss(ctx):
    X, y = blobs(ctx.rng, 90)
    params0 = ctx.ref.nn_init_params(2, 10, 3, std=0.1, seed=int(ctx.rng.integers(1 << 30)))
    with ctx.case("SGD on three separable clusters"):
        loss, grads = ctx.call("nn_forward_backward", params0, X, y, 1e-4)
        ref_loss, ref_grads = ctx.ref.nn_forward_backward(params0, X, y, 1e-4)
        try:
            correct = bool(np.isclose(loss, ref_loss, rtol=1e-6)) and all(
                np.allclose(grads[k], ref_grads[k], rtol=1e-6, atol=1e-9) for k in PARAM_KEYS)
        except (TypeError, ValueError, KeyError, IndexError):
            correct = False
        if not ctx.check(correct, "training",
                         "could not be checked: nn_forward_backward does not match the reference "
                         "yet (fix it and this check runs)"):
            return
        out = _trained(ctx, params0, ctx.func("nn_forward_backward"), ctx.stub("nn_zero_predict"),
                       X[:60], y[:60], X[60:], y[60:], learning_rate=0.5, learning_rate_decay=0.95,
                       reg=1e-4, num_iters=150, batch_size=20)
        trained = out["params"]
        if not ctx.check(set(trained) == set(PARAM_KEYS)
                         and all(np.shape(trained[k]) == params0[k].shape for k in PARAM_KEYS),
                         "params", "after training must keep their keys and shapes (update them in place)"):
            return
        before = float(ctx.ref.nn_forward_backward(params0, X[:60], y[:60], 1e-4)[0])
        after = float(ctx.ref.nn_forward_backward(trained, X[:60], y[:60], 1e-4)[0])
        ctx.check(np.isfinite(after) and after < 0.25 * before, "training",
                  "after 150 SGD steps the training-set loss of params is not below a quarter of "
                  "its value before training: update every parameter in place with "
                  "params[name] -= learning_rate * grads[name] (check the sign)")


# --------------------------------------------------------------------------- the search


@hidden_test("nn_search", weight=1)
def search_params_are_sensible(ctx):
    with ctx.case("four lists, 2 to 36 combinations"):
        result = ctx.call("nn_get_search_params")
        if not ctx.check(type(result) in (tuple, list) and len(result) == 4, "return value",
                         "return a tuple (learning_rates, hidden_sizes, regularization_strengths, "
                         "learning_rate_decays)"):
            return
        lists = []
        for name, value in zip(("learning_rates", "hidden_sizes", "regularization_strengths",
                                "learning_rate_decays"), result, strict=True):
            ok = type(value) in (list, tuple, np.ndarray) and np.size(value) > 0
            if not ctx.check(ok, name, "must be a non-empty list"):
                return
            try:
                lists.append(np.asarray(value, dtype=np.float64).reshape(-1))
            except (TypeError, ValueError):
                ctx.check(False, name, "must hold numbers only")
                return
        lrs, sizes, regs, decays = lists
        # Different combinations: repeating one value searches nothing.
        count = int(np.prod([len(np.unique(v)) for v in lists]))
        ctx.check(2 <= count <= 36, "search size",
                  f"{count} different combinations; keep it between 2 and 36")
        ctx.check(np.all(lrs > 0), "learning_rates", "must all be > 0")
        ctx.check(np.all(sizes >= 1) and np.all(sizes == np.round(sizes)), "hidden_sizes",
                  "must all be positive integers")
        ctx.check(np.all(regs >= 0), "regularization_strengths", "must all be >= 0")
        ctx.check(np.all((decays > 0) & (decays <= 1)), "learning_rate_decays", "must all be in (0, 1]")


@hidden_test("nn_search", weight=2)
def find_best_net_keeps_the_best(ctx):
    """Two nets, one that cannot learn (rate 0): the best one must be returned, in either order."""
    for label, lrs in (("learning rates [0, 0.5]", [0.0, 0.5]), ("learning rates [0.5, 0]", [0.5, 0.0])):
        X, y = blobs(ctx.rng, 60)
        with ctx.case(label):
            out = ctx.call("find_best_net", X[:40], y[:40], X[40:], y[40:], (lrs, [6], [1e-4], [0.95]),
                           num_iters=100, batch_size=20)
            if not ctx.check(type(out) in (tuple, list) and len(out) == 4, "find_best_net",
                             "return (best_params, best_stats, best_val_acc, results)"):
                continue
            best_params, _stats, best_val_acc, results = out
            if not ctx.check(type(results) in (list, tuple) and len(results) == 2
                             and all(type(r) is dict and "val_acc" in r for r in results),
                             "results", "one dict with a 'val_acc' per net (2 here)"):
                continue
            ok = type(best_params) is dict and all(
                type(best_params.get(k)) is np.ndarray for k in PARAM_KEYS)
            if not ctx.check(ok, "best_params", f"a dict of arrays with the keys {list(PARAM_KEYS)}"):
                continue
            shapes = {k: best_params[k].shape for k in PARAM_KEYS}
            want = {"W1": (2, 6), "b1": (6,), "W2": (6, 3), "b2": (3,)}
            if not ctx.check(shapes == want, "best_params", f"shapes {shapes}, must be {want}"):
                continue
            scores = ctx.ref.nn_forward_pass(best_params, X[40:])[0]
            actual = float(np.mean(np.argmax(scores, axis=1) == y[40:]))
            best_of_results = max(float(r["val_acc"]) for r in results)
            ctx.check(abs(float(best_val_acc) - best_of_results) < 1e-12, "best_val_acc",
                      "is not the best val_acc of the results you returned")
            ctx.check(abs(actual - best_of_results) < 1e-12, "best_params",
                      "their validation accuracy is not the best net's: return the parameters "
                      "of the best net")
            ctx.check(best_of_results >= 0.9, "find_best_net",
                      "the best validation accuracy is below 0.9 on separable clusters "
                      "(a net trained with learning rate 0.5 reaches 0.9)")


# --------------------------------------------------------------------------- loop probes
# Inputs of growing size n for measuring the loop-free functions (autograder.grading.measure): their
# Python-level work must not grow with n. Examples, inputs, hidden units and classes all grow,
# so a loop over any of them shows. nn_predict gets a grader stub as its loss_func, so only
# its own work is measured.

from autograder.grading.measure import loop_probe, stub_function  # noqa: E402 - the probes' own section


def _probe_net(rng, n):
    D, H, C = n // 4 + 2, n // 4 + 2, n // 16 + 2
    params = {"W1": rng.normal(size=(D, H)) * 0.1, "b1": rng.normal(size=H) * 0.1,
              "W2": rng.normal(size=(H, C)) * 0.1, "b2": rng.normal(size=C) * 0.1}
    return params, rng.normal(size=(n, D)), rng.integers(0, C, size=n)


@loop_probe("nn_forward_pass")
def nn_forward_pass_probe(rng, n):
    params, X, _ = _probe_net(rng, n)
    return params, X


@loop_probe("nn_forward_backward")
def nn_forward_backward_probe(rng, n):
    params, X, y = _probe_net(rng, n)
    return params, X, y, 0.05


@loop_probe("nn_predict")
def nn_predict_probe(rng, n):
    params, X, _ = _probe_net(rng, n)
    return params, stub_function("nn_constant_gradient_loss"), X
