"""Realistic wrong implementations of the A4 functions (the mistakes students make), and
answers that do no work at all.

tests/test_a4.py grafts each one over the reference solution and checks that the hidden tests
take points for it, while the reference gets full marks. MUTANTS maps a grade_id to
(mutant id, source of the replacing functions, the other groups it may also cost points in);
the templates below are the reference's functions with named holes, filled with the reference's
code by default and with one bug per mutant. NO_WORK: zeros or a constant whatever the inputs,
which must score 0 in the tests named (None: the whole group).
"""

from __future__ import annotations

_FORWARD = '''
def nn_forward_pass(params, X):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    hidden = HIDDEN
    scores = SCORES
    return scores, hidden
'''

_FB = '''
def nn_forward_backward(params, X, y=None, reg=0.0):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    N, D = X.shape
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return NO_LABELS
    shifted = scores - scores.max(axis=1, keepdims=True) if SHIFT else scores
    exp_scores = np.exp(shifted)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = (-np.sum(np.log(probs[np.arange(N), y])) / LOSS_N
            + REG_LOSS * reg * (W1_REG * np.sum(W1 * W1) + np.sum(W2 * W2))
            + BIAS_REG_LOSS * reg * (np.sum(b1 * b1) + np.sum(b2 * b2)))
    grads = {}
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= GRAD_N
    grads["W2"] = hidden.T.dot(dscores) + REG_GRAD * reg * W2
    grads["b2"] = dscores.sum(axis=0) + BIAS_REG_GRAD * reg * b2
    dhidden = dscores.dot(W2.T)
    pre = X.dot(W1) + b1
    dpre = dhidden * GATE
    grads["W1"] = DW1 + REG_GRAD * W1_REG * reg * W1
    grads["b1"] = dpre.sum(axis=0) + BIAS_REG_GRAD * reg * b1
    return loss, grads
'''

_FB_DEFAULTS = {
    "NO_LABELS": "scores", "SHIFT": "True", "LOSS_N": "N", "GRAD_N": "N", "REG_LOSS": "1.0",
    "REG_GRAD": "2.0", "W1_REG": "1.0", "BIAS_REG_LOSS": "0.0", "BIAS_REG_GRAD": "0.0",
    "GATE": "(pre > 0)", "DW1": "X.T.dot(dpre)",
}

_PREDICT = '''
def nn_predict(params, loss_func, X):
    scores = SCORES
    return PRED
'''

_TRAIN = '''
def nn_train(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=1e-3,
             learning_rate_decay=0.95, reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = PER_EPOCH
    loss_history, train_acc_history, val_acc_history = [], [], []
    for it in range(num_iters):
        idx = np.random.choice(num_train, batch_size)
        X_batch, y_batch = X[idx], y[idx]
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(float(loss))
        for name in UPDATED:
            params[name] SIGN= learning_rate * grads[name]
        if HISTORY_WHEN:
            train_acc_history.append(float(np.mean(pred_func(params, loss_func, X_batch) == y_batch)))
            val_acc_history.append(float(np.mean(pred_func(params, loss_func, X_val) == y_val)))
        if DECAY_WHEN:
            learning_rate *= learning_rate_decay
    return {"loss_history": loss_history, "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history}
'''

_TRAIN_DEFAULTS = {
    "PER_EPOCH": "max(num_train // batch_size, 1)", "UPDATED": "params", "SIGN": "-",
    "HISTORY_WHEN": "(it + 1) % iterations_per_epoch == 0",
    "DECAY_WHEN": "(it + 1) % iterations_per_epoch == 0",
}

_FIND_BEST_LAST = '''
def find_best_net(X_train, y_train, X_val, y_val, search_params, num_iters=1000,
                  batch_size=200, seed=0, verbose=False):
    learning_rates, hidden_sizes, regs, decays = search_params
    D, C = X_train.shape[1], int(np.max(y_train)) + 1
    results, best = [], None
    for lr in learning_rates:
        for h in hidden_sizes:
            for reg in regs:
                for decay in decays:
                    params = nn_init_params(D, int(h), C, seed=seed)
                    np.random.seed(seed)
                    stats = nn_train(params, nn_forward_backward, nn_predict, X_train, y_train,
                                     X_val, y_val, lr, decay, reg, num_iters, batch_size)
                    val_acc = float(np.mean(nn_predict(params, nn_forward_backward, X_val) == y_val))
                    results.append({"learning_rate": lr, "hidden_size": int(h), "reg": reg,
                                    "learning_rate_decay": decay, "val_acc": val_acc})
                    best = (params, stats)  # the last net, not the best one
    return best[0], best[1], max(r["val_acc"] for r in results), results
'''


def _fill(template: str, defaults: dict[str, str], **changes: str) -> str:
    values = {**defaults, **changes}
    # longest names first, so W1_REG is not eaten by a shorter key
    for key in sorted(values, key=len, reverse=True):
        template = template.replace(key, values[key])
    return template


def fb_source(**changes: str) -> str:
    return _fill(_FB, _FB_DEFAULTS, **changes)


def train_source(**changes: str) -> str:
    return _fill(_TRAIN, _TRAIN_DEFAULTS, **changes)


ANY = "any"
# grade_id -> [(mutant id, source, other groups it may also cost)]. nn_train's test on real
# training and find_best_net run the student's own functions, so a bug there may cost them too.
MUTANTS: dict[str, list[tuple[str, str, object]]] = {
    "nn_forward_pass": [
        ("relu-on-scores", _fill(_FORWARD, {"HIDDEN": "np.maximum(0, X.dot(W1) + b1)",
                                            "SCORES": "np.maximum(0, hidden.dot(W2) + b2)"}), ANY),
        ("no-b1", _fill(_FORWARD, {"HIDDEN": "np.maximum(0, X.dot(W1))",
                                   "SCORES": "hidden.dot(W2) + b2"}), ANY),
        ("no-relu", _fill(_FORWARD, {"HIDDEN": "X.dot(W1) + b1", "SCORES": "hidden.dot(W2) + b2"}), ANY),
    ],
    "nn_loss": [
        ("missing-/N", fb_source(LOSS_N="1", GRAD_N="1"), {"nn_backward", "nn_train", "nn_search"}),
        ("regularized-biases", fb_source(BIAS_REG_LOSS="1.0", BIAS_REG_GRAD="2.0"), {"nn_backward"}),
        ("reg-with-1/2", fb_source(REG_LOSS="0.5", REG_GRAD="1.0"), {"nn_backward", "nn_train"}),
        ("reg-on-W2-only", fb_source(W1_REG="0.0"), {"nn_backward", "nn_train"}),
        ("no-max-shift", fb_source(SHIFT="False"), set()),
        ("returns-hidden-too-without-labels", fb_source(NO_LABELS="(scores, hidden)"),
         {"nn_predict", "nn_search"}),
    ],
    "nn_backward": [
        ("relu-gate-open-at-0", fb_source(GATE="(pre >= 0)"), set()),
        ("no-relu-gate", fb_source(GATE="1.0"), {"nn_train"}),
        ("relu-mask-on-upstream", fb_source(GATE="(dhidden > 0)"), {"nn_train"}),
        ("dW1-skips-the-gate", fb_source(DW1="X.T.dot(dhidden)"), {"nn_train"}),
        ("dW1-wrong-transpose", fb_source(DW1="dpre.T.dot(X).reshape(W1.shape)"), {"nn_train", "nn_search"}),
        # (H, H) + (D, H) raises when D != H: the loss is lost with the gradient
        ("dW1-from-hidden", fb_source(DW1="hidden.T.dot(dpre)"), {"nn_loss", "nn_train", "nn_search"}),
        ("gradient-missing-/N", fb_source(GRAD_N="1"), {"nn_train", "nn_search"}),
        ("reg-gradient-without-2", fb_source(REG_GRAD="1.0"), {"nn_train"}),
        ("bias-gradient-regularized", fb_source(BIAS_REG_GRAD="2.0"), {"nn_train"}),
    ],
    "nn_predict": [
        ("float-labels", _fill(_PREDICT, {"SCORES": "loss_func(params, X)",
                                          "PRED": "np.argmax(scores, axis=1).astype(np.float64)"}), set()),
        ("argmax-over-examples", _fill(_PREDICT, {"SCORES": "loss_func(params, X)",
                                                  "PRED": "np.argmax(scores, axis=0)"}), {"nn_search"}),
        ("ignores-loss-func", _fill(_PREDICT, {"SCORES": "nn_forward_pass(params, X)[0]",
                                               "PRED": "np.argmax(scores, axis=1)"}), set()),
    ],
    "nn_train": [
        ("no-decay", train_source(DECAY_WHEN="False"), set()),
        ("decay-every-iteration", train_source(DECAY_WHEN="True"), {"nn_search"}),
        ("decay-at-epoch-start", train_source(DECAY_WHEN="it % iterations_per_epoch == 0",
                                        HISTORY_WHEN="it % iterations_per_epoch == 0"), set()),
        ("epoch-without-max", train_source(PER_EPOCH="num_train // batch_size"), set()),
        ("gradient-ascent", train_source(SIGN="+"), {"nn_search"}),
        ("weights-only-updated", train_source(UPDATED='("W1", "W2")'), {"nn_search"}),
        ("accuracy-every-iteration", train_source(HISTORY_WHEN="True"), set()),
    ],
    "nn_search": [
        ("huge-grid", '''
def nn_get_search_params():
    return [1e-2, 3e-2, 1e-1, 3e-1, 1.0], [25, 50, 100], [1e-4, 1e-3, 1e-2], [0.95, 0.99]
''', set()),
        ("keeps-the-last-net", _FIND_BEST_LAST, set()),
    ],
}


_FB_CONSTANT = '''
def nn_forward_backward(params, X, y=None, reg=0.0):
    if y is None:
        return np.FILL((X.shape[0], params["W2"].shape[1]))
    return LOSS, {k: np.FILL_like(v) for k, v in params.items()}
'''

_FORWARD_CONSTANT = '''
def nn_forward_pass(params, X):
    N = X.shape[0]
    return np.FILL((N, params["W2"].shape[1])), np.FILL((N, params["W1"].shape[1]))
'''

_TRAIN_CONSTANT = '''
def nn_train(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=1e-3,
             learning_rate_decay=0.95, reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    return {"loss_history": HISTORY, "train_acc_history": HISTORY, "val_acc_history": HISTORY}
'''

_SEARCH_PARAMS = "def nn_get_search_params():\n    return {}, {}, {}, {}\n"

_FIND_BEST_CONSTANT = '''
def find_best_net(X_train, y_train, X_val, y_val, search_params, num_iters=1000,
                  batch_size=200, seed=0, verbose=False):
    return RESULT
'''

_CONSTANT_FIND_BEST = ('{k: np.ones(1) for k in ("W1", "b1", "W2", "b2")}, {}, 1.0, '
                       '[{"val_acc": 1.0}] * len(search_params[0])')
_SEARCH_TEST, _FIND_BEST_TEST = "search_params_are_sensible", "find_best_net_keeps_the_best"


def _constant(template: str, **values: str) -> str:
    return _fill(template, {}, **values)


_ZERO_FB = _constant(_FB_CONSTANT, FILL="zeros", LOSS="0.0")
_ONE_FB = _constant(_FB_CONSTANT, FILL="ones", LOSS="1.0")
_ZERO_SEARCH = _SEARCH_PARAMS.format("[0.0]", "[0]", "[0.0]", "[0.0]")
_ZERO_FIND_BEST = _constant(_FIND_BEST_CONSTANT, RESULT="{}, {}, 0.0, []")

# (grade_id, mutant id, source, the tests of the group it must get 0 in; None: all of them).
# nn_forward_backward is graded in two groups (the loss, the gradients); nn_search holds two
# functions, each mutated alone (0 in its own test) and both together (0 in the group).
NO_WORK: list[tuple[str, str, str, tuple[str, ...] | None]] = [
    ("nn_forward_pass", "zeros", _constant(_FORWARD_CONSTANT, FILL="zeros"), None),
    ("nn_forward_pass", "constant", _constant(_FORWARD_CONSTANT, FILL="ones"), None),
    ("nn_loss", "zeros", _ZERO_FB, None),
    ("nn_loss", "constant", _ONE_FB, None),
    ("nn_backward", "zeros", _ZERO_FB, None),
    ("nn_backward", "constant", _ONE_FB, None),
    ("nn_predict", "zeros", "def nn_predict(params, loss_func, X):\n"
                            "    return np.zeros(X.shape[0], dtype=np.int64)\n", None),
    ("nn_predict", "constant", "def nn_predict(params, loss_func, X):\n"
                               "    return np.ones(X.shape[0], dtype=np.int64)\n", None),
    ("nn_train", "empty-histories", _constant(_TRAIN_CONSTANT, HISTORY="[]"), None),
    ("nn_train", "constant", _constant(_TRAIN_CONSTANT, HISTORY="[1.0] * num_iters"), None),
    ("nn_train", "made-up-falling-history",
     _constant(_TRAIN_CONSTANT, HISTORY="[1.0 / (1 + t) for t in range(num_iters)]"), None),
    ("nn_search", "search-params-empty", _SEARCH_PARAMS.format("[]", "[]", "[]", "[]"),
     (_SEARCH_TEST,)),
    ("nn_search", "search-params-zeros", _ZERO_SEARCH, (_SEARCH_TEST,)),
    ("nn_search", "search-params-constant",
     _SEARCH_PARAMS.format("[0.1] * 2", "[10] * 2", "[1e-4] * 2", "[0.95] * 2"), (_SEARCH_TEST,)),
    ("nn_search", "find-best-net-zeros", _ZERO_FIND_BEST, (_FIND_BEST_TEST,)),
    ("nn_search", "find-best-net-constant", _constant(_FIND_BEST_CONSTANT, RESULT=_CONSTANT_FIND_BEST),
     (_FIND_BEST_TEST,)),
    ("nn_search", "both-zeros", _ZERO_SEARCH + _ZERO_FIND_BEST, None),
]
