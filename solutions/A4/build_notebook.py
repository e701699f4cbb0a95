"""Build the A4 source notebook `two_layer_net.ipynb` (nbgrader source, with solutions).

    .venv/bin/python solutions/A4/build_notebook.py            # writes the notebook
    .venv/bin/python solutions/A4/build_notebook.py --measure  # prints the sanity values

Same pattern as solutions/A3/build_notebook.py: the cells are listed below in order, each with
a fixed cell id (rebuilding gives byte-identical output, and the release and integrity checks
match cells by id and grade_id). Points come from `assignment.toml` ([tests] for grade cells,
[manual] for inline questions), so the rubric has one source of truth.

The sanity values written into the grade cells (SANITY below) come from the reference
solution: `--measure` recomputes them from the solution sources of this file, and
tests/test_a4.py checks that both agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from autograder.authoring.notebook_writer import SourceNotebook, rubric_points, solution_namespace, write_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "two_layer_net.ipynb"
CONFIG = HERE / "assignment.toml"

# Expected values printed in the grade cells; recompute with --measure after changing a
# reference solution or a check's inputs.
SANITY = {
    "toy_scores": [
        [0.15640755791483724, -0.410290330137017, -0.007891581967142462],
        [0.260001385654849, -0.21708976564563867, -0.1094131941011365],
        [0.1835426021871236, -0.11086010718644354, 0.04118328472428562],
        [0.47085427017196946, -0.23502716012995425, 0.16804275356897858],
        [0.2714990178236144, -0.1717914085433328, -0.27302595461620366],
    ],
    "toy_loss": 1.1584851018950444,
    "toy_train_loss": 0.008117220920637476,
}

# --------------------------------------------------------------------------- solution sources
# Kept as module-level strings: --measure, tests/test_a4.py and bench/ build the reference
# from them.

FORWARD = '''
def nn_init_params(input_size, hidden_size, num_classes, std=1e-2, seed=None):
    """
    Small random weights and zero biases for a two-layer net. (Given: nothing to write here.)

    Inputs:
    - input_size: D, the dimension of one input row.
    - hidden_size: H, the number of hidden units.
    - num_classes: C.
    - std: standard deviation of the random weights.
    - seed: an int gives the same weights every time; None draws from numpy's global random
      state (seed it with np.random.seed or reset_seed).

    Returns params, a dict of float64 arrays:
    - W1: (D, H) first-layer weights;  b1: (H,) first-layer biases (zeros)
    - W2: (H, C) second-layer weights; b2: (C,) second-layer biases (zeros)
    """
    rng = np.random if seed is None else np.random.default_rng(seed)
    return {
        "W1": std * rng.standard_normal((input_size, hidden_size)),
        "b1": np.zeros(hidden_size),
        "W2": std * rng.standard_normal((hidden_size, num_classes)),
        "b2": np.zeros(num_classes),
    }


def nn_forward_pass(params, X):
    """
    The forward pass of the two-layer net: a fully connected layer, ReLU, a fully connected layer.

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    - X: (N, D) input data, one example per row.

    Returns a tuple (scores, hidden):
    - scores: (N, C) class scores, scores = hidden W2 + b2.
    - hidden: (N, H) hidden-layer activations, hidden = max(0, X W1 + b1) (the ReLU).
    """
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    scores, hidden = None, None
    # Two lines, no loops: `X.dot(W1)` (or `X @ W1`) multiplies every row of X at once, and
    # adding b1 of shape (H,) to an (N, H) array adds it to every row (broadcasting).
    ### BEGIN SOLUTION
    hidden = np.maximum(0, X.dot(W1) + b1)  # (N, H)
    scores = hidden.dot(W2) + b2  # (N, C)
    ### END SOLUTION
    return scores, hidden
'''

FORWARD_BACKWARD = '''
def nn_forward_backward(params, X, y=None, reg=0.0):
    """
    The loss of the two-layer net and its gradients (forward pass, then backward pass).

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    - X: (N, D) input data.
    - y: (N,) integer labels, y[i] in 0..C-1; or None.
    - reg: (float) regularization strength.

    Returns:
    - if y is None: scores, (N, C), as nn_forward_pass computes them.
    - else a tuple (loss, grads):
      - loss: (float) the mean over the N examples of the softmax cross-entropy loss, plus
        reg * (np.sum(W1 * W1) + np.sum(W2 * W2)). The biases are not regularized.
      - grads: dict with the keys of params; grads[k] is the gradient of the loss with
        respect to params[k] and has its shape: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    """
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    N, D = X.shape

    scores, hidden = nn_forward_pass(params, X)  # (N, C), (N, H)
    if y is None:
        return scores

    # ---- Part 2: the loss. -------------------------------------------------------------
    # From `scores`, compute the softmax probabilities `probs` (N, C): subtract each row's
    # maximum first (exp of a large score overflows; the probabilities do not change).
    # Then `loss`: the mean over the N examples of -log(probs[i, y[i]]), plus
    # reg * (np.sum(W1 * W1) + np.sum(W2 * W2)). Keep `probs`: the backward pass needs it.
    loss, probs = None, None
    ### BEGIN SOLUTION
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N, C)
    exp_scores = np.exp(shifted)  # (N, C)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)  # (N, C)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    ### END SOLUTION

    # ---- Part 3: the backward pass, "flat". ----------------------------------------------
    # The forward pass was, line by line (`pre` stays inside nn_forward_pass: you have `hidden`):
    #     pre    = X.dot(W1) + b1                       (N, H)   in nn_forward_pass
    #     hidden = np.maximum(0, pre)                   (N, H)   in nn_forward_pass
    #     scores = hidden.dot(W2) + b2                  (N, C)   in nn_forward_pass
    #     probs  = softmax(scores)                      (N, C)   Part 2
    #     loss   = mean_i -log(probs[i, y[i]])  +  reg * (sum(W1 * W1) + sum(W2 * W2))
    # Write the reverses, last line first, one line each: upstream gradient times local gradient.
    #     dscores      (N, C)   from the loss line (the data part of the loss)
    #     grads["W2"]  (H, C)   and grads["b2"] (C,)   from the scores line
    #     dhidden      (N, H)                          from the scores line
    #     dpre         (N, H)   the ReLU gate: 0 where pre <= 0; use `hidden > 0`, which holds
    #                           exactly where pre > 0
    #     grads["W1"]  (D, H)   and grads["b1"] (H,)   from the pre line
    # and add the gradient of the regularization to grads["W2"] and grads["W1"].
    # Every d<name> has the shape of <name>: check it when a product does not fit.
    grads = {}
    ### BEGIN SOLUTION
    dscores = probs.copy()  # (N, C): d loss_i / d scores_i = probs_i - one_hot(y_i)
    dscores[np.arange(N), y] -= 1
    dscores /= N  # the loss is a mean over N examples
    grads["W2"] = hidden.T.dot(dscores) + 2 * reg * W2  # (H, C): mul swaps
    grads["b2"] = dscores.sum(axis=0)  # (C,): b2 was copied to N rows, copies add
    dhidden = dscores.dot(W2.T)  # (N, H): mul swaps
    dpre = dhidden * (hidden > 0)  # (N, H): max routes; 0 where pre <= 0
    grads["W1"] = X.T.dot(dpre) + 2 * reg * W1  # (D, H)
    grads["b1"] = dpre.sum(axis=0)  # (H,)
    ### END SOLUTION
    return loss, grads
'''

PREDICT = '''
def nn_predict(params, loss_func, X):
    """
    Predict labels with a trained two-layer net: the class with the highest score.

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    - loss_func: a function like nn_forward_backward: loss_func(params, X) returns the
      scores (N, C) when called without y. Get the scores from loss_func(params, X), the
      function you are given, not from nn_forward_pass: the checks (and the grader) pass
      other functions as loss_func.
    - X: (N, D) data to classify.

    Returns y_pred: (N,) integer array; y_pred[i] in 0..C-1 is the predicted class of X[i].
    """
    y_pred = None
    ### BEGIN SOLUTION
    scores = loss_func(params, X)  # (N, C)
    y_pred = np.argmax(scores, axis=1)  # (N,)
    ### END SOLUTION
    return y_pred
'''

TRAIN = '''
def nn_train(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=1e-3,
             learning_rate_decay=0.95, reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    """
    Train a two-layer net with minibatch stochastic gradient descent (SGD).

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,). Updated in place: after
      training, params holds the trained weights.
    - loss_func: a function like nn_forward_backward: loss_func(params, X, y, reg) returns
      (loss, grads) with grads[k] of the shape of params[k].
    - pred_func: a function like nn_predict: pred_func(params, loss_func, X) returns (N,) labels.
    - X: (N, D) training data;  y: (N,) training labels in 0..C-1.
    - X_val: (N_val, D) validation data;  y_val: (N_val,) validation labels.
    - learning_rate: (float) the step size of the first epoch.
    - learning_rate_decay: (float) the learning rate is multiplied by it after each epoch.
    - reg: (float) regularization strength, passed to loss_func.
    - num_iters: number of SGD steps.
    - batch_size: examples per step, drawn from X with replacement.
    - verbose: print the loss every 100 iterations.

    One epoch is max(N // batch_size, 1) iterations.

    Returns a dict:
    - loss_history: list of num_iters floats, the minibatch loss of each iteration (before
      its update).
    - train_acc_history: list of floats, one per epoch: the accuracy on the epoch's last
      minibatch, measured at the end of the epoch.
    - val_acc_history: list of floats, one per epoch: the accuracy on (X_val, y_val),
      measured at the end of the epoch.
    Both accuracy lists have num_iters // iterations_per_epoch entries.
    """
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        X_batch, y_batch = None, None
        # One SGD step: draw a minibatch of batch_size rows of X (and their labels) with
        # replacement (np.random.choice), compute the loss and the gradients on it with
        # loss_func, append the loss to loss_history, and update every parameter in place:
        #     params[name] -= learning_rate * grads[name]
        ### BEGIN SOLUTION
        idx = np.random.choice(num_train, batch_size)
        X_batch, y_batch = X[idx], y[idx]
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(float(loss))
        for key in params:
            params[key] -= learning_rate * grads[key]
        ### END SOLUTION

        if verbose and it % 100 == 0:
            print(f"iteration {it} / {num_iters}: loss {loss_history[-1]:f}")

        # At the end of every epoch (after its last iteration): append the accuracy on this
        # minibatch to train_acc_history and the accuracy on (X_val, y_val) to
        # val_acc_history (use pred_func), then multiply the learning rate by
        # learning_rate_decay. Nothing happens at the other iterations.
        ### BEGIN SOLUTION
        if (it + 1) % iterations_per_epoch == 0:
            train_acc = np.mean(pred_func(params, loss_func, X_batch) == y_batch)
            val_acc = np.mean(pred_func(params, loss_func, X_val) == y_val)
            train_acc_history.append(float(train_acc))
            val_acc_history.append(float(val_acc))
            learning_rate *= learning_rate_decay
        ### END SOLUTION

    return {
        "loss_history": loss_history,
        "train_acc_history": train_acc_history,
        "val_acc_history": val_acc_history,
    }
'''

SEARCH_PARAMS = '''
def nn_get_search_params():
    """
    The hyperparameters find_best_net tries: every combination of the four lists.

    Returns a tuple of four lists:
    - learning_rates: floats > 0
    - hidden_sizes: ints > 0 (H)
    - regularization_strengths: floats >= 0
    - learning_rate_decays: floats in (0, 1]
    Keep the number of combinations between 2 and 36 (the product of the four lengths).
    """
    learning_rates = []
    hidden_sizes = []
    regularization_strengths = []
    learning_rate_decays = []
    ### BEGIN SOLUTION
    learning_rates = [0.3, 1.0]
    hidden_sizes = [50, 100]
    regularization_strengths = [1e-4, 1e-3]
    learning_rate_decays = [0.95, 0.99]
    ### END SOLUTION
    return learning_rates, hidden_sizes, regularization_strengths, learning_rate_decays
'''

FIND_BEST = '''
def find_best_net(X_train, y_train, X_val, y_val, search_params, num_iters=1000,
                  batch_size=200, seed=0, verbose=False):
    """
    Train one two-layer net per combination of hyperparameters; keep the best on validation.

    Inputs:
    - X_train: (N, D) training data;  y_train: (N,) labels in 0..C-1.
    - X_val: (N_val, D) validation data;  y_val: (N_val,) labels.
    - search_params: the tuple (learning_rates, hidden_sizes, regularization_strengths,
      learning_rate_decays) that nn_get_search_params returns.
    - num_iters, batch_size: passed to nn_train for every net.
    - seed: every net starts from nn_init_params(..., seed=seed) and np.random.seed(seed)
      before its training, so the nets differ only in their hyperparameters.
    - verbose: print one line per net.

    With C = 1 + max(y_train) classes, returns a tuple (best_params, best_stats, best_val_acc,
    results):
    - best_params: dict W1 (D, H), b1 (H,), W2 (H, C), b2 (C,) of the net with the highest
      validation accuracy (the first one on a tie).
    - best_stats: the dict nn_train returned for that net.
    - best_val_acc: (float) its accuracy on (X_val, y_val), computed with nn_predict.
    - results: a list with one dict per net, in training order, with the keys
      "learning_rate", "hidden_size", "reg", "learning_rate_decay" and "val_acc".
    """
    learning_rates, hidden_sizes, regularization_strengths, learning_rate_decays = search_params
    D = X_train.shape[1]
    C = int(np.max(y_train)) + 1
    best_params, best_stats, best_val_acc = None, None, -1.0
    results = []
    # Loop over every combination; for each: params from nn_init_params(D, hidden_size, C,
    # seed=seed), np.random.seed(seed), nn_train(params, nn_forward_backward, nn_predict, ...)
    # with num_iters and batch_size, then the validation accuracy with nn_predict. Append a
    # dict to results and keep the best params, stats and accuracy.
    ### BEGIN SOLUTION
    for lr in learning_rates:
        for hidden_size in hidden_sizes:
            for reg in regularization_strengths:
                for decay in learning_rate_decays:
                    params = nn_init_params(D, int(hidden_size), C, seed=seed)
                    np.random.seed(seed)
                    stats = nn_train(params, nn_forward_backward, nn_predict, X_train, y_train,
                                     X_val, y_val, learning_rate=lr, learning_rate_decay=decay,
                                     reg=reg, num_iters=num_iters, batch_size=batch_size)
                    val_acc = float(np.mean(nn_predict(params, nn_forward_backward, X_val) == y_val))
                    results.append({"learning_rate": lr, "hidden_size": int(hidden_size),
                                    "reg": reg, "learning_rate_decay": decay, "val_acc": val_acc})
                    if verbose:
                        print(f"lr {lr:.1e}  hidden {hidden_size:4d}  reg {reg:.1e}  "
                              f"decay {decay:.2f}  validation accuracy {val_acc:.3f}")
                    if val_acc > best_val_acc:
                        best_params, best_stats, best_val_acc = params, stats, val_acc
    ### END SOLUTION
    return best_params, best_stats, best_val_acc, results


def nn_predict_saved_model(W1, b1, W2, b2, X):
    """
    Predict with the arrays saved in nn_best_model.npz: this is how the grader scores your saved
    model (with the reference nn_forward_pass). (Given: nothing to write here.)

    Inputs: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); X (N, D).
    Returns y_pred: (N,) integer array, the class with the highest score for each row of X.
    """
    scores, _ = nn_forward_pass({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, X)
    return np.argmax(scores, axis=1)
'''

SOLUTIONS = {
    "nn_forward_pass": FORWARD,
    "nn_forward_backward": FORWARD_BACKWARD,
    "nn_predict": PREDICT,
    "nn_train": TRAIN,
    "nn_get_search_params": SEARCH_PARAMS,
    "find_best_net": FIND_BEST,
}

# The fixed toy problem of the sanity checks (the same lines run in the notebook).
TOY = '''
def init_toy_model():
    """The toy net: D = 4 inputs, H = 10 hidden units, C = 3 classes; a fresh dict each call."""
    rng = np.random.default_rng(0)
    return {
        "W1": 0.1 * rng.standard_normal((4, 10)),
        "b1": 0.1 * rng.standard_normal(10),
        "W2": 0.1 * rng.standard_normal((10, 3)),
        "b2": 0.1 * rng.standard_normal(3),
    }


def init_toy_data():
    """N = 5 toy examples: X (5, 4), y (5,)."""
    rng = np.random.default_rng(1)
    X = 10 * rng.standard_normal((5, 4))
    y = np.array([0, 1, 2, 2, 1])
    return X, y
'''

# The toy training run of the nn_train check (the same call runs in the notebook).
TOY_TRAIN = dict(learning_rate=1e-1, learning_rate_decay=0.99, reg=5e-6, num_iters=100, batch_size=200)
TOY_TRAIN_BAR = 0.02  # the toy loss must fall below this

DEFAULT_NET = dict(hidden_size=50, learning_rate=1e-1, learning_rate_decay=0.95, reg=1e-3,
                   num_iters=1000, batch_size=200)


def _format_scores(rows: list[list[float]]) -> str:
    inner = ",\n".join("    [" + ", ".join(repr(v) for v in row) + "]" for row in rows)
    return "np.array([\n" + inner + ",\n])"


# --------------------------------------------------------------------------- the notebook


def build(points: dict[str, float]) -> nbformat.NotebookNode:
    nb = SourceNotebook()
    S = SANITY
    T = TOY_TRAIN

    nb.md("a4-title", r"""
# Assignment 4: A two-layer neural network, with backpropagation by hand

In this assignment you build, train and tune a two-layer fully connected network with numpy only:

1. the **forward pass**: scores from inputs, through a hidden layer with a ReLU;
2. the **loss**: softmax cross-entropy plus L2 regularization;
3. the **backward pass**, written "flat": every line of the forward pass reversed, last line first,
   each gradient the upstream gradient times a local gradient; checked numerically;
4. **training** with minibatch SGD and a learning-rate decay, and **prediction**;
5. training on real images, **debugging** the training from its plots, and a **hyperparameter
   search** whose best model you save.

**How this notebook works**

* Write code only between the lines `START OF YOUR CODE` and `END OF YOUR CODE`, and write your
  answers to the inline questions in the cells that say `YOUR ANSWER HERE`. Do not add, delete or
  move cells; the other cells are locked. (A damaged notebook can be repaired with
  `autograder rescue`, which keeps your code.)
* Use numpy, `math` and `time` only. Each function's docstring gives the shapes of its inputs and
  outputs: check yours against them when something does not fit.
* Every graded function is followed by a cell of **sanity checks**. They stop with a message that
  says what is wrong; when they pass, the hidden tests of the grader usually pass too (they use
  more shapes and edge cases).
* Before you submit: *Kernel → Restart & Run All*, keep the outputs, save, then run the last cell.
  `autograder check two_layer_net.ipynb` tells you about any rule the grader enforces.
""")

    nb.code("a4-setup", r"""
# Setup: run this cell first. If an import fails, activate the kit's environment
# (see the README) and restart the kernel.
import time

import matplotlib.pyplot as plt
import numpy as np

from autograder.core.datasets import load_dataset
from autograder.student.toolkit import (
    eval_numerical_gradient,
    plot_search_heatmap,
    plot_training_stats,
    rel_error,
    reset_seed,
    show_sample_images,
    show_weight_templates,
)

plt.rcParams["figure.figsize"] = (10.0, 6.0)
plt.rcParams["image.interpolation"] = "nearest"
""")

    nb.md("a4-settings-md", r"""
## Your settings

The next cell is yours: you may edit it freely (it is not graded).

* `DATASET`: `"digits"` (8x8 handwritten digits, shipped with the kit; the whole notebook runs in
  seconds) or `"cifar10"` (32x32 color images; download them once with `autograder data cifar10`,
  and expect minutes instead of seconds). Your course grades your saved model on the dataset
  named in `assignment.toml` (`digits` unless your instructor says otherwise).
* `STUDENT_ID`: the id your course uses for you; the last cell puts it in your submission.
""")

    nb.free("a4-settings", r"""
DATASET = "digits"
STUDENT_ID = "your-student-id"
""")

    nb.md("a4-model-md", r"""
## 1. The network and its forward pass

The network maps an input $x$ (a row of `X`, $D$ numbers) to $C$ class scores through $H$ hidden
units:

$$
\text{pre} = X W_1 + b_1, \qquad h = \max(0, \text{pre}), \qquad s = h W_2 + b_2
$$

| name | shape | what |
|---|---|---|
| `X` | `(N, D)` | a minibatch of $N$ inputs, one per row |
| `W1`, `b1` | `(D, H)`, `(H,)` | first layer |
| `pre`, `hidden` | `(N, H)` | pre-activations and hidden activations: `hidden = max(0, pre)`, the **ReLU** |
| `W2`, `b2` | `(H, C)`, `(C,)` | second layer |
| `scores` | `(N, C)` | one score per class for every input |

The parameters live in one dict, `params`, with the keys `"W1"`, `"b1"`, `"W2"`, `"b2"`;
`nn_init_params` (given in the next cell) makes a fresh one with small random weights and zero
biases. Implement `nn_forward_pass` without loops: a matrix product processes all $N$ rows at once,
and adding a bias of shape `(H,)` to an `(N, H)` array adds it to every row (broadcasting).
""")

    nb.solution("a4-forward", FORWARD)

    nb.md("a4-toy-md", r"""
We check each piece on a **toy problem** small enough to look at: $N = 5$ inputs of dimension
$D = 4$, $H = 10$ hidden units, $C = 3$ classes, with fixed random weights and biases (the biases
are not zero, so a forgotten bias shows up). `init_toy_model()` returns a fresh copy each time.
""")

    nb.code("a4-toy", TOY.strip() + r"""


toy_params = init_toy_model()
X_toy, y_toy = init_toy_data()
for name, value in toy_params.items():
    print(f"{name}: {value.shape}")
print(f"X_toy: {X_toy.shape}, y_toy: {y_toy}")
""")

    nb.grade("a4-forward-check", "nn_forward_pass", points["nn_forward_pass"], rf"""
# Sanity checks for nn_forward_pass. Run this cell; do not edit it.
scores, hidden = nn_forward_pass(init_toy_model(), X_toy)
assert np.shape(hidden) == (5, 10), f"hidden has shape {{np.shape(hidden)}}; it must be (N, H) = (5, 10)."
assert np.shape(scores) == (5, 3), f"scores has shape {{np.shape(scores)}}; it must be (N, C) = (5, 3)."
assert np.all(hidden >= 0), "hidden must be max(0, X W1 + b1): it can never be negative."
print("Your scores:")
print(scores)
correct_scores = {_format_scores(S["toy_scores"])}
difference = np.max(np.abs(scores - correct_scores))
print(f"max difference from the correct scores: {{difference:.3e}}   (must be below 1e-10)")
assert difference < 1e-10, (
    "The scores differ. Check the order of the products (X W1, then hidden W2), the biases, "
    "and that the ReLU is applied to the hidden layer only (not to the scores).")
print("nn_forward_pass sanity checks passed.")
""")

    nb.md("a4-loss-md", r"""
## 2. The loss

The network's scores become class probabilities through the **softmax**, and the loss of one
example is the **cross-entropy**, $-\log$ of the probability of the correct class:

$$
p_{ij} = \frac{e^{s_{ij}}}{\sum_{k} e^{s_{ik}}}, \qquad
L = \frac{1}{N} \sum_{i=1}^{N} -\log p_{i y_i}
    \;+\; \lambda \left( \sum_{k,l} (W_1)_{kl}^2 + \sum_{k,l} (W_2)_{kl}^2 \right)
$$

with $\lambda$ = `reg`. Note: the data loss is the **mean** over the $N$ examples; the
regularization is `reg * (np.sum(W1 * W1) + np.sum(W2 * W2))`, **without a factor 1/2**, and the
**biases are not regularized**.

Numerical stability: $e^{s}$ overflows float64 (to `inf`) once $s$ exceeds about 709, and scores
that large do happen with big weights or a too-large learning rate. Subtracting each row's maximum
score before exponentiating changes no probability (the factor $e^{-\max}$ cancels in the
fraction) and keeps every exponent $\le 0$. This is required.

Write the first TODO block of `nn_forward_backward` (Part 2) and run the check after the cell. The
second block (Part 3, the backward pass) comes next: until you write it, the check reads the loss
your first block computed and tells you the rest is still to do.
""")

    nb.solution("a4-forward-backward", FORWARD_BACKWARD)

    nb.grade("a4-loss-check", "nn_loss", points["nn_loss"], rf"""
# Sanity checks for the loss of nn_forward_backward (Part 2). Run this cell; do not edit it.
def loss_before_backward(params, X, y, reg):
    '''Your loss, even while Part 3 (the backward pass) still raises NotImplementedError.'''
    try:
        return nn_forward_backward(params, X, y, reg=reg)[0]
    except NotImplementedError as exc:
        tb = exc.__traceback__
        while tb is not None:  # find nn_forward_backward's frame and read its local `loss`
            local = tb.tb_frame.f_locals
            if tb.tb_frame.f_code.co_name == "nn_forward_backward" and local.get("loss") is not None:
                print("(Part 3 is still to do: reading the loss your Part 2 computed.)")
                return local["loss"]
            tb = tb.tb_next
        raise

# 1. Without labels, the function returns the scores of nn_forward_pass.
scores = nn_forward_backward(init_toy_model(), X_toy)
assert np.allclose(scores, nn_forward_pass(init_toy_model(), X_toy)[0]), (
    "nn_forward_backward(params, X) must return the scores of nn_forward_pass.")

# 2. The toy loss with reg = 0.05.
loss = loss_before_backward(init_toy_model(), X_toy, y_toy, 0.05)
correct_loss = {S['toy_loss']!r}
print(f"Your loss: {{loss:.16f}}\ncorrect:   {{correct_loss:.16f}}")
difference = abs(loss - correct_loss)
print(f"difference: {{difference:.3e}}   (must be below 1e-10)")
assert difference < 1e-10, (
    "The loss differs. Check the mean over N (not the sum), -log of the correct class's "
    "probability, and reg * (np.sum(W1 * W1) + np.sum(W2 * W2)): no 1/2, no biases.")

# 3. Large scores must not overflow: adding 1000 to every score (through b2) makes np.exp of an
#    unshifted score overflow (above about 709), but changes no probability, so not the loss.
big = init_toy_model()
big["b2"] = big["b2"] + 1000.0
with np.errstate(over="ignore", invalid="ignore"):
    big_loss = loss_before_backward(big, X_toy, y_toy, 0.0)
    small_loss = loss_before_backward(init_toy_model(), X_toy, y_toy, 0.0)
assert np.isfinite(big_loss) and abs(big_loss - small_loss) < 1e-8, (
    "The loss is wrong for large scores (it must not change when every score grows by 1000): "
    "subtract each row's maximum score before np.exp.")
print("nn_forward_backward loss sanity checks passed.")
""")

    nb.md("a4-backward-md", r"""
## 3. The backward pass, written flat

The gradient of the loss with respect to each parameter comes from the **chain rule**, applied
to the forward pass one line at a time, **last line first**. For a line `out = f(a, b)`, once you
know the *upstream* gradient `dout` $= \partial L / \partial \text{out}$, the gradient of each
input is the upstream gradient times the *local* gradient $\partial \text{out} / \partial a$.
Four patterns cover every line of this network:

* **add distributes**: `out = a + b` gives `da = dout` and `db = dout`: the gradient flows to both
  inputs unchanged.
* **mul swaps**: `out = a * b` gives `da = dout * b` and `db = dout * a`: each input gets the
  upstream gradient times the *other* input. For matrices, `out = A.dot(B)` with `A` `(N, H)` and
  `B` `(H, C)` gives `dA = dout.dot(B.T)` `(N, H)` and `dB = A.T.dot(dout)` `(H, C)`.
* **max routes**: `out = max(0, a)` gives `da = dout` where `a > 0` and `0` where `a <= 0`: the
  ReLU is a gate. At exactly `a = 0` the derivative does not exist; we take it as `0` (the grader
  checks this).
* **copy adds**: when a value is used several times, its gradient is the sum of the gradients of
  every use. The bias `b2` `(C,)` is broadcast, i.e. copied, to all $N$ rows of `scores`, so
  `db2 = dscores.sum(axis=0)`.

**Shapes.** $L$ is a single number, so $\partial L / \partial x$ has one entry per entry of $x$:
`dx` always has **the shape of `x`**. That is how to find the arrangement of a matrix product
without index gymnastics: `dW2` must be `(H, C)`, made of `hidden` `(N, H)` and `dscores` `(N, C)`;
the only product that fits is `hidden.T.dot(dscores)`.

**Where backprop starts.** For the softmax cross-entropy, the gradient of example $i$'s loss with
respect to its scores is $p_i - \mathbb{1}_{y_i}$ (the probabilities, minus 1 at the correct
class); the loss is a mean, so `dscores` is that divided by $N$. The regularization
$\lambda \sum W^2$ adds $2 \lambda W$ to `dW1` and `dW2`.

Now write **Part 3**, the second TODO block of `nn_forward_backward` above: its comments list the
forward lines; write their reverses, one line per gradient. Then run the checks below.

**The numeric check.** We compare your gradients with centered differences,
$\frac{L(w + h) - L(w - h)}{2h}$ with $h = 10^{-5}$, for every entry of every parameter, in float64.
With a correct backward pass the relative error is below $10^{-8}$ (usually around $10^{-10}$);
an error of $10^{-4}$ or more means a bug. (No pre-activation of the toy problem is near 0, where
the ReLU's kink would make the numeric gradient unreliable.)
""")

    nb.grade("a4-backward-check", "nn_backward", points["nn_backward"], r"""
# Sanity checks for the backward pass of nn_forward_backward (Part 3). Do not edit.
params = init_toy_model()
loss, grads = nn_forward_backward(params, X_toy, y_toy, reg=0.05)
assert isinstance(grads, dict) and set(grads) == set(params), (
    f"grads must be a dict with the keys {sorted(params)}; it has {sorted(grads) if isinstance(grads, dict) else grads}.")
for name in params:
    assert np.shape(grads[name]) == params[name].shape, (
        f"grads[{name!r}] has shape {np.shape(grads[name])}; it must have the shape of {name}, {params[name].shape}.")

# 1. Every parameter against the numeric gradient (reg = 0.05, so regularization counts).
for name in sorted(params):
    f = lambda _: nn_forward_backward(params, X_toy, y_toy, reg=0.05)[0]
    numeric = eval_numerical_gradient(f, params[name], h=1e-5)
    error = rel_error(numeric, grads[name])
    print(f"{name} max relative error: {error:.2e}")
    assert error < 1e-8, (
        f"d{name} does not match the numeric gradient. Check its line of the backward pass and "
        "the ones before it (a wrong upstream gradient spreads to every later line).")

# 2. The ReLU gate at exactly 0: hidden unit 0 has pre-activation 1*2 + 2*(-1) + 0 = 0 exactly.
params0 = {"W1": np.array([[2.0, 1.0], [-1.0, 1.0]]), "b1": np.zeros(2),
           "W2": np.array([[1.0, -1.0], [0.5, 2.0]]), "b2": np.zeros(2)}
_, grads0 = nn_forward_backward(params0, np.array([[1.0, 2.0]]), np.array([0]), reg=0.0)
assert grads0["b1"][0] == 0 and np.all(grads0["W1"][:, 0] == 0), (
    "A hidden unit whose pre-activation is exactly 0 must pass no gradient: the ReLU gate is "
    "open only where pre > 0.")
assert grads0["b1"][1] != 0, "A hidden unit with a positive pre-activation must pass the gradient."
print("nn_forward_backward backward-pass sanity checks passed.")
""")

    nb.md("a4-q-relu", r"""
**Inline Question 1** (the ReLU gate)

Suppose that, for one hidden unit $j$, the pre-activation `pre[i, j]` is negative for **every**
training example (e.g. after a too-large update made its bias very negative). What gradient do
column $j$ of `W1` and entry $j$ of `b1` receive from the data loss, and what does that mean for
this unit during the rest of training? Name one way to make it less likely.
""")

    nb.answer("a4-a-relu", "inline_relu_gate", points["inline_relu_gate"], r"""
**Your answer:**

### BEGIN SOLUTION
The ReLU gate is closed for that unit on every example, so `dpre[:, j] = 0` and the data loss
gives `dW1[:, j] = X.T.dot(dpre[:, j]) = 0` and `db1[j] = 0` (only the regularization term
$2\lambda W_1$ still acts, and it merely shrinks the weights). Its output is 0 for every input, so
it also contributes nothing to the scores, and nothing ever pushes its pre-activation back above 0:
the unit is "dead" for the rest of training (a wasted unit, the net has effectively fewer than $H$
hidden units). Ways to make it less likely: a smaller learning rate (or a decay) so no update throws
the bias far negative, a careful initialization (small random weights, biases 0 or slightly
positive), or a leaky ReLU that passes a small gradient where pre < 0.
### END SOLUTION
""")

    nb.md("a4-train-md", r"""
## 4. Training with SGD

To classify, pick the class with the highest score: write `nn_predict` first; it takes the loss
function as an argument (called without `y`, it returns the scores). Take the scores from the
`loss_func` you are given, not from `nn_forward_pass`: the check below passes another function.

Then `nn_train`: minibatch **stochastic gradient descent**. Each iteration draws `batch_size`
examples with replacement, computes the loss and the gradients on them, and moves every parameter
a step against its gradient, **in place** (the caller's `params` dict holds the trained weights):

$$
W \leftarrow W - \eta \, \frac{\partial L}{\partial W}
$$

An **epoch** is `max(N // batch_size, 1)` iterations (about one pass over the training data). At
the **end of each epoch**, `nn_train` measures the accuracy on the epoch's last minibatch and on
the validation set, then multiplies the learning rate $\eta$ by `learning_rate_decay`: the first
epoch uses `learning_rate`, the second `learning_rate * learning_rate_decay`, and so on. Large
steps early make fast progress; smaller steps later settle into a minimum instead of bouncing
around it.
""")

    nb.solution("a4-predict", PREDICT)

    nb.grade("a4-predict-check", "nn_predict", points["nn_predict"], r"""
# Sanity checks for nn_predict. Do not edit.
y_pred = nn_predict(init_toy_model(), nn_forward_backward, X_toy)
print("toy predictions:", y_pred)
assert np.shape(y_pred) == (5,), f"y_pred has shape {np.shape(y_pred)}; it must be (N,) = (5,)."
assert np.issubdtype(np.asarray(y_pred).dtype, np.integer), "y_pred must hold integers (class indices)."
expected = np.argmax(nn_forward_pass(init_toy_model(), X_toy)[0], axis=1)
assert np.array_equal(y_pred, expected), "Each prediction is the class with the highest score."

# The scores must come from the loss_func passed in: here one that prefers class 2 for every row.
def prefers_class_2(params, X, y=None, reg=0.0):
    return np.tile([0.0, 1.0, 5.0], (X.shape[0], 1))

y_pred_2 = nn_predict(init_toy_model(), prefers_class_2, X_toy)
assert np.array_equal(y_pred_2, [2, 2, 2, 2, 2]), (
    "nn_predict must take the scores from loss_func(params, X), the function it is given, "
    "not from nn_forward_pass.")
print("nn_predict sanity checks passed.")
""")

    nb.solution("a4-train", TRAIN)

    nb.grade("a4-train-check", "nn_train", points["nn_train"], rf"""
# Sanity checks for nn_train. Do not edit.
# 1. The learning-rate schedule: a loss whose gradient is always 1 moves every parameter by
#    exactly -learning_rate per step. N = 6 and batch_size = 3: an epoch is 2 iterations, so
#    5 steps use the rates 0.1, 0.1, 0.05, 0.05, 0.025 (decay 0.5 after each epoch).
def constant_gradient_loss(params, X, y=None, reg=0.0):
    if y is None:
        return np.zeros((X.shape[0], params["W2"].shape[1]))
    return np.float64(0.0), {{name: np.ones_like(value) for name, value in params.items()}}

def zero_predict(params, loss_func, X):
    return np.zeros(X.shape[0], dtype=np.int64)

params = {{"W1": np.zeros((2, 3)), "b1": np.zeros(3), "W2": np.zeros((3, 2)), "b2": np.zeros(2)}}
stats = nn_train(params, constant_gradient_loss, zero_predict, np.ones((6, 2)), np.zeros(6, dtype=np.int64),
                 np.ones((4, 2)), np.array([0, 0, 0, 1]), learning_rate=0.1, learning_rate_decay=0.5,
                 num_iters=5, batch_size=3)
print("W1[0, 0] after 5 steps:", params["W1"][0, 0], "  expected:", -0.325)
assert isinstance(stats, dict) and {{"loss_history", "train_acc_history", "val_acc_history"}} <= set(stats), (
    "nn_train must return a dict with loss_history, train_acc_history and val_acc_history.")
for name in params:
    assert np.allclose(params[name], -0.325), (
        f"params[{{name!r}}] is {{np.ravel(params[name])[0]}}, expected -0.325: update every parameter in "
        "place, params[name] -= learning_rate * grads[name], and decay the rate once per epoch, "
        "after the epoch's last iteration.")
assert len(stats["loss_history"]) == 5, "loss_history needs one loss per iteration."
assert len(stats["val_acc_history"]) == 2 and len(stats["train_acc_history"]) == 2, (
    "5 iterations with 2 per epoch make 2 complete epochs: one accuracy per epoch in each history.")
assert np.allclose(stats["val_acc_history"], 0.75), "val_acc_history holds the validation accuracy."

# 2. Training on the toy problem: the loss falls below {TOY_TRAIN_BAR}.
np.random.seed(0)
toy_params = init_toy_model()
toy_stats = nn_train(toy_params, nn_forward_backward, nn_predict, X_toy, y_toy, X_toy, y_toy,
                     learning_rate={T['learning_rate']!r}, learning_rate_decay={T['learning_rate_decay']!r},
                     reg={T['reg']!r}, num_iters={T['num_iters']!r}, batch_size={T['batch_size']!r})
final_loss = toy_stats["loss_history"][-1]
print(f"final training loss on the toy problem: {{final_loss:.6f}}   (must be below {TOY_TRAIN_BAR};"
      f" the reference reaches {S['toy_train_loss']:.4f})")
assert final_loss < {TOY_TRAIN_BAR}, (
    "The loss did not go down enough: check the sign of the update and that every parameter "
    "is updated.")
print("nn_train sanity checks passed.")
""")

    nb.md("a4-toy-plot-md", r"""
The loss on the toy problem should fall quickly and smoothly (the "minibatch" is drawn from 5
examples); the accuracy reaches 1.0 within a few epochs.
""")

    nb.code("a4-toy-plot", r"""
plot_training_stats(toy_stats)
plt.show()
print(f"toy problem: loss {toy_stats['loss_history'][0]:.3f} -> {toy_stats['loss_history'][-1]:.3f}, "
      f"final training accuracy {toy_stats['train_acc_history'][-1]:.2f}")
""")

    nb.md("a4-data-md", r"""
## 5. Real images

Now the net classifies images. `load_dataset` returns float64 splits: **train** (to fit the
weights), **val** (to choose hyperparameters), **test** (touched once, at the very end). Each row
of `X` is one image, flattened, with pixels scaled to $[0, 1]$ and the mean training image
subtracted. There is no bias trick here: the network has its own biases `b1` and `b2`.
""")

    nb.code("a4-load-data", r"""
data = load_dataset(DATASET, bias_trick=False)
X_train, y_train = data["X_train"], data["y_train"]
X_val, y_val = data["X_val"], data["y_val"]
X_test, y_test = data["X_test"], data["y_test"]
mean_image, class_names, image_shape = data["mean_image"], data["class_names"], data["image_shape"]

input_size = X_train.shape[1]
num_classes = len(class_names)
for split in ("train", "val", "test"):
    print(f"{split:>5}: X {data['X_' + split].shape}, y {data['y_' + split].shape}")
print(f"{num_classes} classes: {class_names}; each image has shape {image_shape}")
show_sample_images(X_train + mean_image, y_train, class_names, image_shape)
plt.show()
""")

    nb.md("a4-default-md", r"""
### A first net

Train a net with $H = 50$ hidden units and a first guess for the hyperparameters. It trains, but
not well: the validation accuracy stays far from what this network can do.
""")

    nb.code("a4-default-train", rf"""
DEFAULT_NET = {DEFAULT_NET!r}

reset_seed(0)
params = nn_init_params(input_size, DEFAULT_NET["hidden_size"], num_classes, seed=0)
tic = time.time()
stats = nn_train(params, nn_forward_backward, nn_predict, X_train, y_train, X_val, y_val,
                 learning_rate=DEFAULT_NET["learning_rate"],
                 learning_rate_decay=DEFAULT_NET["learning_rate_decay"], reg=DEFAULT_NET["reg"],
                 num_iters=DEFAULT_NET["num_iters"], batch_size=DEFAULT_NET["batch_size"], verbose=True)
print(f"training took {{time.time() - tic:.1f}} s")
val_acc = np.mean(nn_predict(params, nn_forward_backward, X_val) == y_val)
print(f"validation accuracy: {{val_acc:.3f}}")
""")

    nb.md("a4-debug-md", r"""
### Debug the training from its plots

A single accuracy number says *that* something is off, not *what*. Three plots usually do:

* **The loss per iteration.** A good run falls fast, then flattens while staying a little noisy.
  Almost flat from the start, near $\log C$ (2.30 for 10 classes, the loss of uniform guessing):
  the steps are too small (a low learning rate, or a decay that shrinks it to nothing too soon).
  Jumping up, or `nan`: the steps are too large.
* **Train and validation accuracy per epoch.** Both low and close together: the net
  **underfits** (too small, too little training, or too much regularization). Train far above
  validation: it **overfits** (more regularization, or a smaller net).
* **The first-layer weights as images.** Each column of `W1` is one hidden unit's template, with
  one weight per pixel. A trained unit shows a structure (strokes, edges, blobs); a unit that still
  looks like noise has not learned.
""")

    nb.code("a4-debug-plots", r"""
plot_training_stats(stats)
plt.show()
num_shown = min(20, params["W1"].shape[1])
show_weight_templates(params["W1"][:, :num_shown], image_shape, [f"unit {j}" for j in range(num_shown)])
plt.suptitle("first-layer weights (W1) of the first net")
plt.show()
print("learning rate in the last epoch:",
      DEFAULT_NET["learning_rate"] * DEFAULT_NET["learning_rate_decay"] ** len(stats["val_acc_history"]))
""")

    nb.md("a4-q-debug", r"""
**Inline Question 2** (debugging)

What do the three plots of the first net tell you: is it underfitting or overfitting, and which
hyperparameter is most to blame? Support your answer with what you see in the plots (and the
learning rate printed at the end). What would you change first?
""")

    nb.answer("a4-a-debug", "inline_debug", points["inline_debug"], r"""
**Your answer:**

### BEGIN SOLUTION
The loss barely moves: it starts at about $\log 10 \approx 2.30$ and is still close to it after 1000
iterations, decreasing slowly and almost linearly. Training and validation accuracy are both low
(about 0.3) and close to each other, so the net underfits: it has not learned yet, and overfitting is not the
issue. The templates of `W1` still look like noise. The cause is the size of the steps: the
learning rate 0.1 is too small for these weights (gradients are tiny while the weights are tiny),
and a decay of 0.95 per epoch, with only 6 iterations per epoch on digits, shrinks it to almost
nothing after about a hundred epochs (the rate in the last epoch is about 2e-5). I would first
raise the learning rate (e.g. 0.3 to 1) and decay more slowly (0.99), then search over the hidden
size and the regularization strength, which matter once the net fits the training data.
### END SOLUTION
""")

    nb.md("a4-search-md", r"""
## 6. Tuning the hyperparameters

Fill in `nn_get_search_params` with the values to try (the search trains one net per combination:
keep it between 2 and 36 nets; on digits each takes about a second), then `find_best_net`, which
trains them and keeps the one with the best **validation** accuracy. Tips:

* fix the learning rate and the decay first: the loss curve must fall quickly, then flatten;
* the hidden size gives capacity; the regularization strength limits how it is used;
* try values on a log scale (`1e-4, 1e-3, 1e-2`), then refine around the best.

The grader calls `find_best_net` on small problems of its own, and grades the model you save.
""")

    nb.solution("a4-search-params", SEARCH_PARAMS)

    nb.solution("a4-find-best", FIND_BEST)

    nb.grade("a4-search-check", "nn_search", points["nn_search"], r"""
# Sanity checks for nn_get_search_params and find_best_net. Do not edit.
search_params = nn_get_search_params()
assert len(search_params) == 4, "Return (learning_rates, hidden_sizes, regularization_strengths, learning_rate_decays)."
lrs, hidden_sizes, regs, decays = search_params
print("learning rates:", lrs, "\nhidden sizes:", hidden_sizes, "\nregularization strengths:", regs,
      "\nlearning rate decays:", decays)
num_nets = len(lrs) * len(hidden_sizes) * len(regs) * len(decays)
assert 2 <= num_nets <= 36, f"The search trains {num_nets} nets; keep it between 2 and 36."
assert all(lr > 0 for lr in lrs) and all(reg >= 0 for reg in regs), "Learning rates > 0, regs >= 0."
assert all(int(h) == h and h > 0 for h in hidden_sizes), "Hidden sizes are positive integers."
assert all(0 < d <= 1 for d in decays), "Decays are in (0, 1]."

# find_best_net on a tiny problem: 3 well-separated blobs in 2-D; learning rate 0 cannot learn.
rng = np.random.default_rng(0)
centers = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
y_blobs = np.arange(60) % 3
X_blobs = centers[y_blobs] + rng.standard_normal((60, 2))
best_params, best_stats, best_val_acc, results = find_best_net(
    X_blobs[:40], y_blobs[:40], X_blobs[40:], y_blobs[40:], ([0.0, 0.5], [8], [1e-4], [0.95]),
    num_iters=100, batch_size=20)
print("results:", results)
assert len(results) == 2, "results needs one entry per net (2 here)."
assert {W.shape for W in (best_params["W1"], best_params["W2"])} == {(2, 8), (8, 3)}, (
    "best_params must hold W1 (D, H) = (2, 8) and W2 (H, C) = (8, 3) here.")
assert best_val_acc == max(r["val_acc"] for r in results), "best_val_acc is the best of the results."
assert best_val_acc > 0.9, "A net trained with learning rate 0.5 separates the blobs: keep the best net."
assert np.mean(nn_predict(best_params, nn_forward_backward, X_blobs[40:]) == y_blobs[40:]) == best_val_acc, (
    "best_params must be the parameters of the net with the best validation accuracy.")
print("nn_get_search_params and find_best_net sanity checks passed.")
""")

    nb.md("a4-search-run-md", r"""
The locked cell below runs your search on the dataset, shows the validation accuracy of each
(learning rate, regularization) pair (the best over the other hyperparameters), saves the best
net as `nn_best_model.npz` and prints its **test** accuracy, measured once. On digits, a careful
search reaches a test accuracy of about 0.95 or more; on CIFAR-10, about 0.50.
""")

    nb.grade("a4-search-run", "nn_best_model", points["nn_best_model"], r"""
# The search: trains one net per combination and saves the best as nn_best_model.npz. Do not edit.
SEARCH_ITERS = 1000 if DATASET == "digits" else 3000
tic = time.time()
best_params, best_stats, best_val_acc, results = find_best_net(
    X_train, y_train, X_val, y_val, nn_get_search_params(), num_iters=SEARCH_ITERS, verbose=True)
print(f"the search took {time.time() - tic:.1f} s")
heatmap = {}
for r in results:
    key = (r["learning_rate"], r["reg"])
    heatmap[key] = max(heatmap.get(key, 0.0), r["val_acc"])
plot_search_heatmap(heatmap, title="Validation accuracy (best over hidden sizes and decays)")
plt.show()
plot_training_stats(best_stats)
plt.show()
np.savez("nn_best_model.npz", **{k: np.asarray(best_params[k], dtype=np.float64) for k in ("W1", "b1", "W2", "b2")})
# The test accuracy of the saved file, computed the way the grader computes it.
with np.load("nn_best_model.npz", allow_pickle=False) as saved:
    test_acc = np.mean(nn_predict_saved_model(saved["W1"], saved["b1"], saved["W2"], saved["b2"], X_test) == y_test)
print(f"best validation accuracy: {best_val_acc:.3f}; saved nn_best_model.npz; test accuracy: {test_acc:.3f}")
""")

    nb.code("a4-best-templates", r"""
num_shown = min(20, best_params["W1"].shape[1])
show_weight_templates(best_params["W1"][:, :num_shown], image_shape, [f"unit {j}" for j in range(num_shown)])
plt.suptitle("first-layer weights (W1) of the best net")
plt.show()
train_acc = np.mean(nn_predict(best_params, nn_forward_backward, X_train) == y_train)
print(f"best net: training accuracy {train_acc:.3f}, validation {best_val_acc:.3f}, test {test_acc:.3f}")
""")

    nb.md("a4-q-gap", r"""
**Inline Question 3** (generalization)

Compare the best net's accuracy on the training set with its test accuracy. Where does the gap
come from? Which of these can narrow it, and why: (1) train on more data, (2) add more hidden
units, (3) increase the regularization strength, (4) train for more iterations? Answer for each.
""")

    nb.answer("a4-a-gap", "inline_generalization", points["inline_generalization"], r"""
**Your answer:**

### BEGIN SOLUTION
The training accuracy is higher than the test accuracy: the weights are fitted to the training
images, including their accidents (noise, particular writers), which the test images do not share;
the gap measures that overfitting. (1) More data narrows it: accidents average out, and the net has
to fit what the classes have in common. (2) More hidden units usually widens it: more capacity to
fit the training set's accidents (it can still help the test accuracy if the net underfits). (3)
More regularization narrows it (up to a point where both accuracies drop): small weights make a
smoother function that cannot fit every accident. (4) More iterations fit the training set better,
so the gap tends to grow, not shrink; stopping early, at the best validation accuracy, narrows it.
### END SOLUTION
""")

    nb.md("a4-submit-md", r"""
## 7. Submit

Before you run the last cell: *Kernel → Restart & Run All*, check that every cell ran without an
error and that `nn_best_model.npz` is next to this notebook, then **save the notebook** (the zip
holds the saved file). The cell runs the self-check and writes `A4_<STUDENT_ID>.zip`; upload that
file.
""")

    nb.code("a4-submit", r"""
try:
    from autograder.student.submission import submit_from_notebook
except ImportError:
    print("The submission command is not available yet in this version of the kit.\n"
          "Your work is saved in this notebook and nn_best_model.npz: nothing is lost. "
          "Update the kit later and run this cell again.")
else:
    submit_from_notebook("A4", student_id=STUDENT_ID)
""")

    return nb.notebook()


# --------------------------------------------------------------------------- entry points


def reference_namespace() -> dict:
    """The solution functions executed in a fresh namespace (trusted source: this file)."""
    return solution_namespace(SOLUTIONS.values(), "<A4 solution>")


def measure() -> dict:
    """Recompute SANITY from the reference solution."""
    import numpy as np

    ns = reference_namespace()
    exec(compile(TOY, "<toy>", "exec"), ns)  # noqa: S102
    X, y = ns["init_toy_data"]()
    scores, _ = ns["nn_forward_pass"](ns["init_toy_model"](), X)
    loss, _ = ns["nn_forward_backward"](ns["init_toy_model"](), X, y, reg=0.05)
    np.random.seed(0)
    stats = ns["nn_train"](ns["init_toy_model"](), ns["nn_forward_backward"], ns["nn_predict"],
                           X, y, X, y, **TOY_TRAIN)
    return {
        "toy_scores": [[float(v) for v in row] for row in scores],
        "toy_loss": float(loss),
        "toy_train_loss": float(stats["loss_history"][-1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help="print the sanity values")
    parser.add_argument("-o", "--output", default=str(NOTEBOOK))
    args = parser.parse_args(argv)
    if args.measure:
        for key, value in measure().items():
            print(f"{key} = {value!r}\n    (SANITY has {SANITY.get(key)!r})")
        return 0
    nb = build(rubric_points(CONFIG))
    write_notebook(nb, args.output)
    print(f"wrote {args.output} ({len(nb.cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
