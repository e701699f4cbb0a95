"""Realistic wrong implementations of the A3 functions (the mistakes students make), and
answers that do no work at all.

tests/test_a3.py grafts each one over the reference solution and checks that the hidden tests
take points for it, while the reference gets full marks. MUTANTS maps a grade_id to
(mutant id, source of the replacing function); the function named in the source replaces the
reference's. Only the bug differs from the reference. NO_WORK has the same form: zeros or a
constant whatever the inputs, which must score 0 in their group.
"""

from __future__ import annotations

from collections.abc import Callable

# --------------------------------------------------------------------------- SVM, naive

_SVM_NAIVE = '''
def svm_loss_naive(W, X, y, reg):
    dW = np.zeros(W.shape)
    loss = 0.0
    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if SKIP_CORRECT and j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    if DIVIDE:
        loss /= num_train
        dW /= num_train
    loss += REG_LOSS * reg * np.sum(W * W)
    dW += REG_GRAD * reg * W
    return loss, dW
'''


def _svm_naive(skip_correct=True, divide=True, reg_loss=1.0, reg_grad=2.0) -> str:
    return (_SVM_NAIVE.replace("SKIP_CORRECT", str(skip_correct)).replace("DIVIDE", str(divide))
            .replace("REG_LOSS", repr(reg_loss)).replace("REG_GRAD", repr(reg_grad)))


# --------------------------------------------------------------------------- SVM, vectorized

_SVM_VEC = '''
def svm_loss_vectorized(W, X, y, reg):
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    correct_class_scores = scores[rows, y][:, np.newaxis]
    margins = np.maximum(0, scores - correct_class_scores + 1)
    if SKIP_CORRECT:
        margins[rows, y] = 0
    n = num_train if DIVIDE else 1
    loss = margins.sum() / n + REG_LOSS * reg * np.sum(W * W)
    dscores = (margins > 0).astype(np.float64)
    dscores[rows, y] = CORRECT_SIGN * dscores.sum(axis=1)
    dW = X.T.dot(dscores) / n + REG_GRAD * reg * W
    return loss, dW
'''


def _svm_vec(skip_correct=True, divide=True, reg_loss=1.0, reg_grad=2.0, correct_sign=-1) -> str:
    return (_SVM_VEC.replace("SKIP_CORRECT", str(skip_correct)).replace("DIVIDE", str(divide))
            .replace("REG_LOSS", repr(reg_loss)).replace("REG_GRAD", repr(reg_grad))
            .replace("CORRECT_SIGN", str(correct_sign)))


# --------------------------------------------------------------------------- softmax, naive

_SOFTMAX_NAIVE = '''
def softmax_loss_naive(W, X, y, reg):
    loss = 0.0
    dW = np.zeros(W.shape)
    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)
        if SHIFT:
            scores = scores - np.max(scores)
        probs = np.exp(scores) / np.sum(np.exp(scores))
        loss += -np.log(probs[y[i]])
        for j in range(num_classes):
            dW[:, j] += (probs[j] - ONE_HOT * (j == y[i])) * X[i]
    if DIVIDE:
        loss /= num_train
        dW /= num_train
    loss += reg * np.sum(W * W)
    dW += REG_GRAD * reg * W
    return loss, dW
'''


def softmax_naive(shift=True, divide=True, reg_grad=2.0, one_hot=1, classes="num_classes") -> str:
    """The naive softmax with its holes filled (the defaults give the reference's behaviour);
    `classes`: how many classes the gradient's loop visits."""
    return (_SOFTMAX_NAIVE.replace("SHIFT", str(shift)).replace("DIVIDE", str(divide))
            .replace("REG_GRAD", repr(reg_grad)).replace("ONE_HOT", str(one_hot))
            .replace("for j in range(num_classes):", f"for j in range({classes}):"))


# --------------------------------------------------------------------------- softmax, vectorized

_SOFTMAX_VEC = '''
def softmax_loss_vectorized(W, X, y, reg):
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    if SHIFT:
        scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    n = num_train if DIVIDE else 1
    loss = -np.sum(np.log(probs[rows, y])) / n + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[rows, y] -= ONE_HOT
    dW = X.T.dot(dscores) / n + REG_GRAD * reg * W
    return loss, dW
'''


def _softmax_vec(shift=True, divide=True, reg_grad=2.0, one_hot=1) -> str:
    return (_SOFTMAX_VEC.replace("SHIFT", str(shift)).replace("DIVIDE", str(divide))
            .replace("REG_GRAD", repr(reg_grad)).replace("ONE_HOT", str(one_hot)))


# --------------------------------------------------------------------------- SGD pieces

SAMPLE_LABELS_DRAWN_SEPARATELY = '''
def sample_batch(X, y, num_train, batch_size):
    X_batch = X[np.random.choice(num_train, batch_size)]
    y_batch = y[np.random.choice(num_train, batch_size)]
    return X_batch, y_batch
'''

SAMPLE_FIRST_ROWS = '''
def sample_batch(X, y, num_train, batch_size):
    return X[:batch_size], y[:batch_size]
'''

SAMPLE_IGNORES_NUM_TRAIN = '''
def sample_batch(X, y, num_train, batch_size):
    indices = np.random.choice(X.shape[0], batch_size)
    return X[indices], y[indices]
'''

SAMPLE_WITHOUT_REPLACEMENT = '''
def sample_batch(X, y, num_train, batch_size):
    indices = np.random.choice(num_train, batch_size, replace=False)
    return X[indices], y[indices]
'''

_TRAIN = '''
def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
                            batch_size=200, verbose=False):
    num_train, dim = X.shape
    loss_history = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        if RECORD:
            loss_history.append(loss)
        W = W SIGN LR * grad
    return W, loss_history
'''


def _train(record=True, sign="-", lr="learning_rate") -> str:
    return _TRAIN.replace("RECORD", str(record)).replace("SIGN", sign).replace("LR", lr)


PREDICT_FLOAT = '''
def predict_linear_classifier(W, X):
    return np.argmax(X.dot(W), axis=1).astype(np.float64)
'''

PREDICT_ARGMIN = '''
def predict_linear_classifier(W, X):
    return np.argmin(X.dot(W), axis=1)
'''

PREDICT_WRONG_AXIS = '''
def predict_linear_classifier(W, X):
    return np.argmax(X.dot(W), axis=0)
'''


def _search(name: str, lrs: str, regs: str) -> str:
    return f"def {name}():\n    return {lrs}, {regs}\n"


def _svm_mistakes(svm: Callable[..., str]) -> list[tuple[str, str]]:
    """The mistakes made in both SVM losses, naive and vectorized (`svm` makes one of them)."""
    return [
        ("no-regularization-gradient", svm(reg_grad=0.0)),
        ("no-division-by-N", svm(divide=False)),
        ("counts-j-equal-y_i", svm(skip_correct=False)),
    ]


def _softmax_mistakes(softmax: Callable[..., str]) -> list[tuple[str, str]]:
    """The mistakes made in both softmax losses, naive and vectorized."""
    return [
        ("no-max-shift", softmax(shift=False)),
        ("no-regularization-gradient", softmax(reg_grad=0.0)),
        ("no-division-by-N", softmax(divide=False)),
        ("forgets-the-one-hot", softmax(one_hot=0)),
    ]


MUTANTS: dict[str, list[tuple[str, str]]] = {
    "svm_loss_naive": [
        *_svm_mistakes(_svm_naive),
        ("regularization-with-one-half", _svm_naive(reg_loss=0.5, reg_grad=1.0)),
    ],
    "svm_loss_vectorized": [
        *_svm_mistakes(_svm_vec),
        ("correct-class-gradient-sign", _svm_vec(correct_sign=1)),
    ],
    "softmax_loss_naive": _softmax_mistakes(softmax_naive),
    "softmax_loss_vectorized": _softmax_mistakes(_softmax_vec),
    "sample_batch": [
        ("labels-drawn-separately", SAMPLE_LABELS_DRAWN_SEPARATELY),
        ("first-rows", SAMPLE_FIRST_ROWS),
        ("ignores-num_train", SAMPLE_IGNORES_NUM_TRAIN),
        ("without-replacement", SAMPLE_WITHOUT_REPLACEMENT),
    ],
    "train_linear_classifier": [
        ("gradient-ascent", _train(sign="+")),
        ("ignores-learning_rate", _train(lr="1e-3")),
        ("no-loss-history", _train(record=False)),
    ],
    "predict_linear_classifier": [
        ("float-labels", PREDICT_FLOAT),
        ("argmin", PREDICT_ARGMIN),
        ("wrong-axis", PREDICT_WRONG_AXIS),
    ],
    "svm_get_search_params": [
        ("grid-too-large", _search("svm_get_search_params", "[1e-3 * k for k in range(1, 11)]",
                                   "[1e-4 * k for k in range(1, 11)]")),
        ("empty-lists", _search("svm_get_search_params", "[]", "[]")),
        ("negative-learning-rate", _search("svm_get_search_params", "[-0.1, 0.1]", "[1e-3]")),
    ],
    "softmax_get_search_params": [
        ("grid-too-large", _search("softmax_get_search_params", "[1e-3 * k for k in range(1, 11)]",
                                   "[1e-4 * k for k in range(1, 11)]")),
        ("empty-lists", _search("softmax_get_search_params", "[]", "[]")),
        ("not-a-tuple", "def softmax_get_search_params():\n    return [0.1, 1.0]\n"),
    ],
}


# --------------------------------------------------------------------------- no work at all

def _loss_constant(name: str, loss: str, fill: str) -> str:
    return f"def {name}(W, X, y, reg):\n    return {loss}, np.{fill}_like(W)\n"


def _no_work_losses(name: str) -> list[tuple[str, str]]:
    return [("zeros", _loss_constant(name, "0.0", "zeros")),
            ("constant", _loss_constant(name, "1.0", "ones"))]


# Answers that ignore the inputs: all zeros, or one constant. Each must score 0 in its group
# (tests/test_a3.py), whatever the self-consistency tests would say about them.
NO_WORK: dict[str, list[tuple[str, str]]] = {
    "svm_loss_naive": _no_work_losses("svm_loss_naive"),
    "svm_loss_vectorized": _no_work_losses("svm_loss_vectorized"),
    "softmax_loss_naive": _no_work_losses("softmax_loss_naive"),
    "softmax_loss_vectorized": _no_work_losses("softmax_loss_vectorized"),
    "sample_batch": [
        ("zeros", "def sample_batch(X, y, num_train, batch_size):\n"
                  "    return np.zeros((batch_size, X.shape[1])), np.zeros(batch_size, dtype=y.dtype)\n"),
        ("constant", "def sample_batch(X, y, num_train, batch_size):\n"
                     "    return np.ones((batch_size, X.shape[1])), np.ones(batch_size, dtype=y.dtype)\n"),
        ("random-noise", "def sample_batch(X, y, num_train, batch_size):\n"
                         "    return (np.random.rand(batch_size, X.shape[1]),\n"
                         "            np.random.randint(0, 10, batch_size).astype(y.dtype))\n"),
    ],
    "train_linear_classifier": [
        ("zeros", "def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5,\n"
                  "                            num_iters=100, batch_size=200, verbose=False):\n"
                  "    return np.zeros_like(W), []\n"),
        ("returns-W-unchanged",
         "def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5,\n"
         "                            num_iters=100, batch_size=200, verbose=False):\n"
         "    return W, [1.0] * num_iters\n"),
    ],
    "predict_linear_classifier": [
        ("zeros", "def predict_linear_classifier(W, X):\n"
                  "    return np.zeros(X.shape[0], dtype=np.int64)\n"),
        ("constant", "def predict_linear_classifier(W, X):\n"
                     "    return np.ones(X.shape[0], dtype=np.int64)\n"),
    ],
    **{name: [("empty-lists", _search(name, "[]", "[]")),
              ("zeros", _search(name, "[0.0]", "[0.0]")),
              ("constant", _search(name, "[1e-3] * 3", "[1e-4] * 3"))]
       for name in ("svm_get_search_params", "softmax_get_search_params")},
}
