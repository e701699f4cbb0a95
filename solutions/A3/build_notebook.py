"""Build the A3 source notebook `linear_classifier.ipynb` (nbgrader source, with solutions).

    .venv/bin/python solutions/A3/build_notebook.py            # writes the notebook
    .venv/bin/python solutions/A3/build_notebook.py --measure  # prints the sanity values
    .venv/bin/python solutions/A3/build_notebook.py --sweep digits  # accuracies behind the bars

The notebook is generated so that it stays easy to review and to change: the cells are listed
below in order, each with a fixed cell id (rebuilding gives byte-identical output, and the
release and integrity checks match cells by id and grade_id). Points come from
`assignment.toml` ([tests] for grade cells, [manual] for inline questions), so the rubric has
one source of truth.

The sanity values written into the grade cells (SANITY below) come from the reference
solution: `--measure` recomputes them from the solution cells of this file, and
tests/test_a3.py checks that both agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from autograder.authoring.notebook_writer import SourceNotebook, rubric_points, solution_namespace, write_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "linear_classifier.ipynb"
CONFIG = HERE / "assignment.toml"

# Expected values printed in the grade cells; recompute with --measure after changing a
# reference solution or a check's inputs.
SANITY = {
    "svm_toy": 2.9954555295159166,
    "softmax_toy": 1.4691284409627396,
}

# --------------------------------------------------------------------------- solution sources
# Kept as module-level strings: --measure and tests/test_a3.py build the reference from them.

SVM_NAIVE = '''
def svm_loss_naive(W, X, y, reg):
    """
    Multiclass SVM loss and its gradient, computed with explicit loops.

    Inputs have dimension D, there are C classes, and we operate on minibatches of N examples.

    Inputs:
    - W: A numpy array of shape (D, C) containing weights.
    - X: A numpy array of shape (N, D) containing a minibatch of data.
    - y: A numpy array of shape (N,) containing training labels; y[i] = c means that X[i] has
      label c, where 0 <= c < C.
    - reg: (float) regularization strength.

    Returns a tuple of:
    - loss: (float) the data loss averaged over the N examples, plus reg * np.sum(W * W)
    - dW: A numpy array of shape (D, C), the gradient of the loss with respect to W
    """
    dW = np.zeros(W.shape)  # initialize the gradient as zero
    loss = 0.0
    # Loop over the examples, then over the classes. Compute the loss and, in the same
    # loops, its gradient; add the regularization loss and its gradient at the end.
    ### BEGIN SOLUTION
    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)  # (C,)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    ### END SOLUTION
    return loss, dW
'''

SVM_VECTORIZED = '''
def svm_loss_vectorized(W, X, y, reg):
    """
    Multiclass SVM loss and its gradient, vectorized (no Python loops at all).

    Inputs and outputs are the same as svm_loss_naive:
    - W: (D, C) weights;  X: (N, D) data;  y: (N,) labels in 0..C-1;  reg: (float).

    Returns a tuple of:
    - loss: (float) the same value as svm_loss_naive
    - dW: A numpy array of shape (D, C), the gradient of the loss with respect to W
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero
    # Hint: compute the (N, C) matrix of margins first. The gradient needs, for every example
    # and class, how much its score pushes on the loss: reuse the margins for that.
    ### BEGIN SOLUTION
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)  # (N, C)
    correct_class_scores = scores[rows, y][:, np.newaxis]  # (N, 1)
    margins = np.maximum(0, scores - correct_class_scores + 1)  # (N, C)
    margins[rows, y] = 0
    loss = margins.sum() / num_train + reg * np.sum(W * W)

    dscores = (margins > 0).astype(np.float64)  # (N, C): d loss_i / d s_ij for j != y_i
    dscores[rows, y] = -dscores.sum(axis=1)  # the correct class is pushed by every violator
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    ### END SOLUTION
    return loss, dW
'''

SOFTMAX_NAIVE = '''
def softmax_loss_naive(W, X, y, reg):
    """
    Softmax (cross-entropy) loss and its gradient, computed with explicit loops.

    Inputs have dimension D, there are C classes, and we operate on minibatches of N examples.

    Inputs:
    - W: A numpy array of shape (D, C) containing weights.
    - X: A numpy array of shape (N, D) containing a minibatch of data.
    - y: A numpy array of shape (N,) containing training labels; y[i] = c means that X[i] has
      label c, where 0 <= c < C.
    - reg: (float) regularization strength.

    Returns a tuple of:
    - loss: (float) the data loss averaged over the N examples, plus reg * np.sum(W * W)
    - dW: A numpy array of shape (D, C), the gradient of the loss with respect to W
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero
    # Loop over the examples. Shift the scores by their maximum before exponentiating
    # (numerical stability: this is required, the checks below use scores in the thousands).
    ### BEGIN SOLUTION
    num_classes = W.shape[1]
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)  # (C,)
        scores = scores - np.max(scores)  # the largest score is now 0: exp cannot overflow
        sum_exp = np.sum(np.exp(scores))
        loss += np.log(sum_exp) - scores[y[i]]
        for j in range(num_classes):
            p_j = np.exp(scores[j]) / sum_exp
            dW[:, j] += (p_j - (j == y[i])) * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    ### END SOLUTION
    return loss, dW
'''

SOFTMAX_VECTORIZED = '''
def softmax_loss_vectorized(W, X, y, reg):
    """
    Softmax (cross-entropy) loss and its gradient, vectorized (no Python loops at all).

    Inputs and outputs are the same as softmax_loss_naive:
    - W: (D, C) weights;  X: (N, D) data;  y: (N,) labels in 0..C-1;  reg: (float).

    Returns a tuple of:
    - loss: (float) the same value as softmax_loss_naive
    - dW: A numpy array of shape (D, C), the gradient of the loss with respect to W
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero
    # Shift the scores by their row-wise maximum here too (numerical stability).
    ### BEGIN SOLUTION
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)  # (N, C)
    scores = scores - scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    sum_exp = exp_scores.sum(axis=1, keepdims=True)  # (N, 1)
    loss = np.sum(np.log(sum_exp[:, 0]) - scores[rows, y]) / num_train + reg * np.sum(W * W)

    dscores = exp_scores / sum_exp  # (N, C) class probabilities
    dscores[rows, y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    ### END SOLUTION
    return loss, dW
'''

SAMPLE_BATCH = '''
def sample_batch(X, y, num_train, batch_size):
    """
    Sample a minibatch of batch_size examples (with replacement) from the training data.

    Inputs:
    - X: A numpy array of shape (N, D) containing the training data.
    - y: A numpy array of shape (N,) containing the training labels.
    - num_train: (int) draw from the first num_train rows (usually num_train = N).
    - batch_size: (int) number of examples in the minibatch.

    Returns a tuple of:
    - X_batch: A numpy array of shape (batch_size, D), rows of X
    - y_batch: A numpy array of shape (batch_size,), the labels of those same rows
    """
    X_batch = None
    y_batch = None
    # Hint: draw batch_size random row indices with np.random.choice, then index X and y with
    # them. Use np.random (not a Generator of your own) so that the grader can seed it.
    ### BEGIN SOLUTION
    indices = np.random.choice(num_train, batch_size, replace=True)
    X_batch = X[indices]
    y_batch = y[indices]
    ### END SOLUTION
    return X_batch, y_batch
'''

TRAIN = '''
def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
                            batch_size=200, verbose=False):
    """
    Train a linear classifier with stochastic gradient descent (SGD).

    Inputs:
    - loss_func: the loss function, e.g. svm_loss_vectorized; called as
      loss_func(W, X_batch, y_batch, reg) and returns (loss, dW).
    - W: A numpy array of shape (D, C), the initial weights.
    - X: A numpy array of shape (N, D) containing the training data.
    - y: A numpy array of shape (N,) containing the training labels, 0 <= y[i] < C.
    - learning_rate: (float) the step size of SGD.
    - reg: (float) regularization strength.
    - num_iters: (int) number of SGD steps.
    - batch_size: (int) number of training examples in each step.
    - verbose: (bool) if True, print the loss every 100 iterations.

    Returns a tuple of:
    - W: A numpy array of shape (D, C), the weights after the last step
    - loss_history: A list of num_iters floats, the minibatch loss at each step (before it)
    """
    num_train, dim = X.shape
    loss_history = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        # Evaluate the loss and its gradient on the minibatch, record the loss in
        # loss_history, and take one SGD step: move W against the gradient.
        ### BEGIN SOLUTION
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        loss_history.append(loss)
        W = W - learning_rate * grad
        ### END SOLUTION
        if verbose and it % 100 == 0:
            print(f"iteration {it} / {num_iters}: loss {loss_history[-1]:f}")
    return W, loss_history
'''

PREDICT = '''
def predict_linear_classifier(W, X):
    """
    Predict the labels of data points with the trained weights of a linear classifier.

    Inputs:
    - W: A numpy array of shape (D, C) containing weights.
    - X: A numpy array of shape (N, D) containing data points.

    Returns:
    - y_pred: A numpy array of shape (N,) of integers, the predicted class of each row of X
      (the class with the highest score).
    """
    y_pred = np.zeros(X.shape[0], dtype=np.int64)
    ### BEGIN SOLUTION
    y_pred = np.argmax(X.dot(W), axis=1)
    ### END SOLUTION
    return y_pred
'''


def _search_params(loss: str, model: str, learning_rates: str) -> str:
    """`<loss>_get_search_params`: the same grid function for both models, its own solution."""
    return f'''
def {loss}_get_search_params():
    """
    The hyperparameters to try for {model} (a grid: every pair is trained once).

    Returns a tuple of:
    - learning_rates: a list of floats > 0, the learning rates to try
    - regularization_strengths: a list of floats >= 0, the regularization strengths to try
    Keep the grid between 2 and 30 pairs: the search trains one model per pair.
    """
    learning_rates = []
    regularization_strengths = []
    ### BEGIN SOLUTION
    learning_rates = {learning_rates}
    regularization_strengths = [1e-4, 1e-3, 1e-2]
    ### END SOLUTION
    return learning_rates, regularization_strengths
'''


SVM_SEARCH = _search_params("svm", "the SVM", "[1e-1, 3e-1, 1.0]")
SOFTMAX_SEARCH = _search_params("softmax", "softmax", "[3e-1, 1.0, 3.0]")

SOLUTIONS = {
    "svm_loss_naive": SVM_NAIVE,
    "svm_loss_vectorized": SVM_VECTORIZED,
    "softmax_loss_naive": SOFTMAX_NAIVE,
    "softmax_loss_vectorized": SOFTMAX_VECTORIZED,
    "sample_batch": SAMPLE_BATCH,
    "train_linear_classifier": TRAIN,
    "predict_linear_classifier": PREDICT,
    "svm_get_search_params": SVM_SEARCH,
    "softmax_get_search_params": SOFTMAX_SEARCH,
}

# The fixed toy problem of the sanity checks (the same lines run in the notebook).
TOY = '''
rng = np.random.default_rng(231)
W_toy = 0.1 * rng.standard_normal((10, 4))   # D = 10, C = 4
X_toy = rng.standard_normal((20, 10))        # N = 20
y_toy = rng.integers(0, 4, size=20)
'''


# --------------------------------------------------------------------------- the notebook


def _search_params_check(loss: str) -> str:
    """The sanity check of `<loss>_get_search_params` (the same for both models)."""
    return rf"""
# Sanity check for {loss}_get_search_params. Do not edit.
{loss}_lrs, {loss}_regs = {loss}_get_search_params()
print("learning rates:", {loss}_lrs, "\nregularization strengths:", {loss}_regs)
assert 2 <= len({loss}_lrs) * len({loss}_regs) <= 30, "Use a grid of 2 to 30 (learning rate, reg) pairs."
assert all(lr > 0 for lr in {loss}_lrs) and all(reg >= 0 for reg in {loss}_regs), "Learning rates > 0, regs >= 0."
"""


def build(points: dict[str, float]) -> nbformat.NotebookNode:
    nb = SourceNotebook()
    S = SANITY

    nb.md("a3-title", r"""
# Assignment 3: Linear classifiers (SVM and softmax)

In this assignment you build two linear image classifiers from scratch, with numpy only:

1. the **multiclass SVM** loss and its gradient, first with loops, then **vectorized**;
2. the **softmax** loss and its gradient, the same way;
3. **stochastic gradient descent** (SGD) to train them, and a prediction function;
4. a **hyperparameter search** (learning rate and regularization), whose best models you save;
5. a look at what the classifiers learned.

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
  `autograder check linear_classifier.ipynb` tells you about any rule the grader enforces.
""")

    nb.code("a3-setup", r"""
# Setup: run this cell first. If an import fails, activate the kit's environment
# (see the README) and restart the kernel.
import time

import matplotlib.pyplot as plt
import numpy as np

from autograder.core.datasets import load_dataset
from autograder.student.toolkit import (
    grad_check_sparse,
    plot_loss_history,
    plot_search_heatmap,
    rel_error,
    show_sample_images,
    show_weight_templates,
    time_function,
)

plt.rcParams["figure.figsize"] = (10.0, 6.0)
plt.rcParams["image.interpolation"] = "nearest"
""")

    nb.md("a3-settings-md", r"""
## Your settings

The next cell is yours: you may edit it freely (it is not graded).

* `DATASET`: `"digits"` (8x8 handwritten digits, shipped with the kit; the whole notebook runs in
  seconds) or `"cifar10"` (32x32 color images; download them once with `autograder data cifar10`,
  and expect minutes instead of seconds). Your course grades your saved models on the dataset
  named in `assignment.toml` (`digits` unless your instructor says otherwise).
* `STUDENT_ID`: the id your course uses for you; the last cell puts it in your submission.
""")

    nb.free("a3-settings", r"""
DATASET = "digits"
STUDENT_ID = "your-student-id"
""")

    nb.md("a3-data-md", r"""
## 1. Data

`load_dataset` returns float64 splits: **train** (to fit $W$), **val** (to choose
hyperparameters), **test** (touched once, at the very end) and **dev** (a small subset of train
for quick checks). Each row of `X` is one image, flattened; pixels are scaled to $[0, 1]$.
""")

    nb.code("a3-load-data", r"""
data = load_dataset(DATASET)
X_train, y_train = data["X_train"], data["y_train"]
X_val, y_val = data["X_val"], data["y_val"]
X_test, y_test = data["X_test"], data["y_test"]
X_dev, y_dev = data["X_dev"], data["y_dev"]
mean_image, class_names, image_shape = data["mean_image"], data["class_names"], data["image_shape"]

num_classes = len(class_names)
for split in ("train", "val", "test", "dev"):
    print(f"{split:>5}: X {data['X_' + split].shape}, y {data['y_' + split].shape}")
print(f"{num_classes} classes: {class_names}; each image has shape {image_shape}")
""")

    nb.md("a3-samples-md", "A few training images of each class:")

    nb.code("a3-samples", r"""
# The loader already preprocessed X_train (see below); adding the mean image back and dropping
# the column of ones recovers the original pixels for display.
show_sample_images(X_train[:, :-1] + mean_image, y_train, class_names, image_shape)
plt.show()
""")

    nb.md("a3-preprocess-md", r"""
### Preprocessing: the mean image and the bias trick

With $P$ pixel values per image ($P = 64$ for digits, $P = 3072$ for CIFAR-10), the loader did two
things to every split:

1. **Subtracted the mean image** of the *training* split (shape `(P,)`), so every pixel is centered
   around 0. The same training mean is subtracted from val, test and dev: the model must never
   see statistics of the data it is evaluated on.
2. **Appended a column of ones** (the *bias trick*): each `X` has shape `(N, D)` with $D = P + 1$.
   A score $s = x W + b$ with $W$ of shape `(P, C)` and $b$ of shape `(C,)` becomes $s = x W$ with
   $W$ of shape `(D, C)`: the last row of $W$ is the bias. From now on there is only $W$.
""")

    nb.code("a3-preprocess", r"""
print("mean image:", mean_image.shape, "  X_train:", X_train.shape, "  D =", X_train.shape[1])
print("last column of X_train is all ones:", bool(np.all(X_train[:, -1] == 1.0)))
print("pixel columns have mean ~0 on train:", bool(np.allclose(X_train[:, :-1].mean(axis=0), 0.0)))
plt.figure(figsize=(3, 3))
plt.imshow(mean_image.reshape(image_shape), cmap="gray" if len(image_shape) == 2 else None)
plt.title("mean training image")
plt.axis("off")
plt.show()
""")

    nb.md("a3-svm-md", r"""
## 2. The multiclass SVM

For an example $x_i$ (a row of `X`, shape `(D,)`) with label $y_i$, the scores are
$s_i = x_i W$ (shape `(C,)`); write $s_{ij}$ for the score of class $j$. The SVM wants the correct
class to score higher than every other class by a **margin of 1**:

$$
L = \frac{1}{N} \sum_{i=1}^{N} \sum_{j \neq y_i} \max\left(0,\; s_{ij} - s_{i y_i} + 1\right)
    \;+\; \lambda \sum_{k,l} W_{kl}^2
$$

with $\lambda$ = `reg`. Note: the sum skips $j = y_i$; the data loss is the **mean** over the
$N$ examples; the regularization is `reg * np.sum(W * W)` **without a factor 1/2**, so its
gradient is $2 \lambda W$.

For the gradient: $\max(0, m)$ has derivative 1 where $m > 0$ and 0 where $m < 0$. Each term with
a positive margin adds $x_i$ to the column $j$ of the gradient and subtracts $x_i$ from the
column $y_i$.

Implement `svm_loss_naive` with loops over the examples and the classes.
""")

    nb.solution("a3-svm-naive", SVM_NAIVE)

    nb.grade("a3-svm-naive-check", "svm_loss_naive", points["svm_loss_naive"], rf"""
# Sanity checks for svm_loss_naive. Run this cell; do not edit it.
{TOY.strip()}

# 1. A fixed problem with a known answer.
loss, dW = svm_loss_naive(W_toy, X_toy, y_toy, 0.1)
print(f"toy loss: {{loss:.10f}}   expected: {S['svm_toy']:.10f}")
assert dW.shape == W_toy.shape, f"dW has shape {{dW.shape}}; it must have the shape of W, {{W_toy.shape}}"
assert abs(loss - {S['svm_toy']!r}) < 1e-6, (
    "The toy loss is off by more than 1e-6. Check the margin of 1, that j = y_i is skipped, "
    "the mean over N, and reg * np.sum(W * W) (no 1/2).")

# 2. With tiny random weights every score is ~0, so every margin is ~1: the loss is ~C - 1.
W = 0.0001 * np.random.default_rng(0).standard_normal((X_dev.shape[1], num_classes))
loss, _ = svm_loss_naive(W, X_dev, y_dev, 0.0)
print(f"dev loss with tiny weights: {{loss:.4f}}   expected about C - 1 = {{num_classes - 1}}")
assert abs(loss - (num_classes - 1)) < 0.05, "With tiny weights the loss should be close to C - 1."

# 3. Numeric gradient checks, without and with regularization. Every relative error must be
#    below 1e-5; most are below 1e-8 (an entry whose gradient is close to 0 gets a larger relative
#    error from rounding alone). A wrong gradient gives errors of 1e-3 and more.
W = 0.01 * np.random.default_rng(1).standard_normal((X_dev.shape[1], num_classes))
for reg in (0.0, 10.0):
    print(f"gradient check with reg = {{reg}}:")
    loss, dW = svm_loss_naive(W, X_dev, y_dev, reg)
    errors = grad_check_sparse(lambda w: svm_loss_naive(w, X_dev, y_dev, reg)[0], W, dW, seed=0)
    assert max(errors) < 1e-5, (
        f"With reg = {{reg}} a relative error is {{max(errors):.1e}} (should be < 1e-5): your gradient "
        "does not match your loss" + (" in the regularization term (its gradient is 2 * reg * W)." if reg else "."))
print("All svm_loss_naive sanity checks passed.")
""")

    nb.md("a3-q-kinks", r"""
**Inline Question 1** (kinks)

Once in a while, one entry of a gradient check of the SVM loss does not match, even though the
code is correct. What can cause such a discrepancy? Is it a reason for concern? Give a simple
example in one dimension where a gradient check could fail. How would changing the margin
(1 here) affect how often it happens? *Hint: the SVM loss is not differentiable everywhere.*
""")

    nb.answer("a3-a-kinks", "inline_svm_kinks", points["inline_svm_kinks"], r"""
**Your answer:**

### BEGIN SOLUTION
The hinge $\max(0, m)$ has a kink at $m = 0$: there the loss is not differentiable. If a margin
$s_{ij} - s_{iy_i} + 1$ lies within about $h$ of 0, the centered difference
$(f(x+h) - f(x-h)) / 2h$ straddles the kink and averages the two one-sided slopes, while the
analytic gradient takes one side. This is not a bug and not a concern as long as it is rare.
One-dimensional example: $f(x) = \max(0, x)$ at $x = 10^{-6}$ with $h = 10^{-5}$: the analytic
derivative is 1, the numerical one is $(10^{-5} + 10^{-6}) / (2 \cdot 10^{-5}) = 0.55$.
The margin only shifts where the kinks are: with tiny random weights, all margins sit near the
margin value itself, so a margin close to 0 (e.g. $\Delta = 0$) would put many terms at a kink and
make such failures frequent; a larger margin makes them rarer. Using fewer data points also
makes a kink less likely to be hit.
### END SOLUTION
""")

    nb.md("a3-svm-vec-md", r"""
### The vectorized SVM loss

Loops in Python are slow. Implement `svm_loss_vectorized` with **no loops at all** (no `for`,
`while` or comprehensions; the grader checks this): matrix products, broadcasting, boolean masks
and integer-array indexing such as `scores[np.arange(N), y]` are all you need.
""")

    nb.solution("a3-svm-vec", SVM_VECTORIZED)

    nb.grade("a3-svm-vec-check", "svm_loss_vectorized", points["svm_loss_vectorized"], r"""
# Sanity checks for svm_loss_vectorized: it must agree with svm_loss_naive. Do not edit.
W = 0.01 * np.random.default_rng(2).standard_normal((X_dev.shape[1], num_classes))
for reg in (0.0, 0.5):
    loss_naive, grad_naive = svm_loss_naive(W, X_dev, y_dev, reg)
    loss_vec, grad_vec = svm_loss_vectorized(W, X_dev, y_dev, reg)
    assert np.shape(grad_vec) == W.shape, f"dW has shape {np.shape(grad_vec)}; it must be {W.shape}"
    loss_diff = abs(loss_naive - loss_vec)
    grad_diff = np.linalg.norm(grad_naive - grad_vec)
    print(f"reg = {reg}: loss naive {loss_naive:.10f}, vectorized {loss_vec:.10f}; "
          f"difference {loss_diff:.1e}, gradient difference (Frobenius norm) {grad_diff:.1e}")
    assert loss_diff < 1e-9, "The vectorized loss differs from the naive loss by more than 1e-9."
    assert grad_diff < 1e-9, "The vectorized gradient differs from the naive one by more than 1e-9."
print("svm_loss_vectorized agrees with svm_loss_naive.")
""")

    nb.code("a3-svm-timing", r"""
# How much faster is the vectorized version? (On the dev set; the gap grows with N and D.)
t_naive = time_function(svm_loss_naive, W, X_dev, y_dev, 0.5)
t_vec = time_function(svm_loss_vectorized, W, X_dev, y_dev, 0.5)
print(f"naive: {t_naive * 1e3:.2f} ms   vectorized: {t_vec * 1e3:.3f} ms   "
      f"speedup: {t_naive / t_vec:.0f}x")
""")

    nb.md("a3-softmax-md", r"""
## 3. Softmax

The softmax classifier turns scores into probabilities
$p_{ij} = e^{s_{ij}} / \sum_k e^{s_{ik}}$ and minimizes the cross-entropy (the negative log
probability of the correct class):

$$
L = \frac{1}{N} \sum_{i=1}^{N} \left( -\log \frac{e^{s_{i y_i}}}{\sum_{k} e^{s_{ik}}} \right)
    \;+\; \lambda \sum_{k,l} W_{kl}^2 ,
\qquad
\frac{\partial L_i}{\partial s_{ij}} = p_{ij} - \mathbb{1}[j = y_i].
$$

**Numerical stability is required.** $e^{s}$ overflows for $s$ above about 709. Subtracting the
largest score of each example from all its scores, $s_{ij} \leftarrow s_{ij} - \max_k s_{ik}$,
does not change the probabilities (numerator and denominator are multiplied by the same
$e^{-\max_k s_{ik}}$) and keeps every exponent $\le 0$. The checks below use scores in the
thousands. Regularization is the same as for the SVM: `reg * np.sum(W * W)`, gradient
$2 \lambda W$.
""")

    nb.solution("a3-softmax-naive", SOFTMAX_NAIVE)

    nb.grade("a3-softmax-naive-check", "softmax_loss_naive", points["softmax_loss_naive"], rf"""
# Sanity checks for softmax_loss_naive. Run this cell; do not edit it.
{TOY.strip()}

# 1. A fixed problem with a known answer.
loss, dW = softmax_loss_naive(W_toy, X_toy, y_toy, 0.1)
print(f"toy loss: {{loss:.10f}}   expected: {S['softmax_toy']:.10f}")
assert dW.shape == W_toy.shape, f"dW has shape {{dW.shape}}; it must have the shape of W, {{W_toy.shape}}"
assert abs(loss - {S['softmax_toy']!r}) < 1e-6, (
    "The toy loss is off by more than 1e-6. Check the sign of the log, the mean over N, and "
    "reg * np.sum(W * W) (no 1/2).")

# 2. Scores in the thousands. Adding the same vector to every column of W adds the same
#    number to all the scores of an example (here about +-3000): the probabilities, the loss
#    and the gradient must not change, and nothing may overflow.
W_shift = 1000 * np.random.default_rng(1).standard_normal((10, 1))  # (D, 1): the same for every class
loss_small, dW_small = softmax_loss_naive(W_toy, X_toy, y_toy, 0.0)
loss_big, dW_big = softmax_loss_naive(W_toy + W_shift, X_toy, y_toy, 0.0)
print(f"scores up to {{np.abs(X_toy @ (W_toy + W_shift)).max():.0f}} in size: loss {{loss_big:.10f}}   "
      f"expected (same scores, unshifted): {{loss_small:.10f}}")
assert np.isfinite(loss_big) and np.all(np.isfinite(dW_big)), (
    "The loss or gradient is inf/nan for large scores: subtract each example's maximum score "
    "before np.exp.")
assert abs(loss_big - loss_small) < 1e-6 and np.allclose(dW_big, dW_small, rtol=1e-6, atol=1e-9), (
    "Shifting all the scores of an example by the same amount changed the loss or the gradient.")

# 3. With tiny random weights, the loss is close to log(C) (Inline Question 2 asks why).
W = 0.0001 * np.random.default_rng(0).standard_normal((X_dev.shape[1], num_classes))
loss, _ = softmax_loss_naive(W, X_dev, y_dev, 0.0)
print(f"dev loss with tiny weights: {{loss:.4f}}   expected about log(C) = {{np.log(num_classes):.4f}}")
assert abs(loss - np.log(num_classes)) < 0.05, "With tiny weights the loss should be close to log(C)."

# 4. Numeric gradient checks, without and with regularization. Every relative error must be
#    below 1e-5; most are below 1e-8. A wrong gradient gives errors of 1e-3 and more.
W = 0.01 * np.random.default_rng(1).standard_normal((X_dev.shape[1], num_classes))
for reg in (0.0, 10.0):
    print(f"gradient check with reg = {{reg}}:")
    loss, dW = softmax_loss_naive(W, X_dev, y_dev, reg)
    errors = grad_check_sparse(lambda w: softmax_loss_naive(w, X_dev, y_dev, reg)[0], W, dW, seed=0)
    assert max(errors) < 1e-5, (
        f"With reg = {{reg}} a relative error is {{max(errors):.1e}} (should be < 1e-5): your gradient "
        "does not match your loss" + (" in the regularization term (its gradient is 2 * reg * W)." if reg else "."))
print("All softmax_loss_naive sanity checks passed.")
""")

    nb.md("a3-q-softmax", r"""
**Inline Question 2** (the initial loss)

With tiny random weights, why is the softmax loss close to $\log(C)$ ($\approx 2.303$ for
$C = 10$)? Explain in one or two sentences.
""")

    nb.answer("a3-a-softmax", "inline_softmax_init", points["inline_softmax_init"], r"""
**Your answer:**

### BEGIN SOLUTION
With tiny weights every score is close to 0, so all $C$ classes get (almost) the same
probability $e^0 / \sum_k e^0 = 1/C$. The loss of each example is then
$-\log(1/C) = \log(C)$, and so is their mean; the regularization term is negligible.
### END SOLUTION
""")

    nb.md("a3-softmax-vec-md", r"""
### The vectorized softmax loss

Same rules as for the SVM: **no loops at all**, and shift the scores of each row by its maximum.
""")

    nb.solution("a3-softmax-vec", SOFTMAX_VECTORIZED)

    nb.grade("a3-softmax-vec-check", "softmax_loss_vectorized", points["softmax_loss_vectorized"], r"""
# Sanity checks for softmax_loss_vectorized: it must agree with softmax_loss_naive. Do not edit.
W = 0.01 * np.random.default_rng(2).standard_normal((X_dev.shape[1], num_classes))
# The last case adds 1e5 to the bias row of W: every score grows by 1e5 (shift by the max!).
W_shift = np.zeros((X_dev.shape[1], 1))
W_shift[-1] = 1e5
for shift, reg in ((0, 0.0), (0, 0.5), (1, 0.0)):
    loss_naive, grad_naive = softmax_loss_naive(W + shift * W_shift, X_dev, y_dev, reg)
    loss_vec, grad_vec = softmax_loss_vectorized(W + shift * W_shift, X_dev, y_dev, reg)
    assert np.shape(grad_vec) == W.shape, f"dW has shape {np.shape(grad_vec)}; it must be {W.shape}"
    loss_diff = abs(loss_naive - loss_vec)
    grad_diff = np.linalg.norm(grad_naive - grad_vec)
    print(f"scores {'+ 1e5' if shift else 'as is'}, reg = {reg}: loss naive {loss_naive:.10f}, "
          f"vectorized {loss_vec:.10f}; difference {loss_diff:.1e}, gradient difference "
          f"(Frobenius norm) {grad_diff:.1e}")
    assert np.isfinite(loss_vec), "The loss is inf/nan for large scores: shift each row by its maximum."
    assert loss_diff < 1e-9, "The vectorized loss differs from the naive loss by more than 1e-9."
    assert grad_diff < 1e-9, "The vectorized gradient differs from the naive one by more than 1e-9."
print("softmax_loss_vectorized agrees with softmax_loss_naive.")
""")

    nb.code("a3-softmax-timing", r"""
t_naive = time_function(softmax_loss_naive, W, X_dev, y_dev, 0.5)
t_vec = time_function(softmax_loss_vectorized, W, X_dev, y_dev, 0.5)
print(f"naive: {t_naive * 1e3:.2f} ms   vectorized: {t_vec * 1e3:.3f} ms   "
      f"speedup: {t_naive / t_vec:.0f}x")
""")

    nb.md("a3-sgd-md", r"""
## 4. Training with stochastic gradient descent

Computing the loss on all training examples for every step is wasteful: SGD estimates the
gradient on a random **minibatch** and takes a small step against it,
$W \leftarrow W - \eta \, \nabla_W L_{\text{batch}}$, with learning rate $\eta$.
First, sampling a minibatch.
""")

    nb.solution("a3-sample-batch", SAMPLE_BATCH)

    nb.grade("a3-sample-batch-check", "sample_batch", points["sample_batch"], r"""
# Sanity checks for sample_batch. Do not edit.
np.random.seed(0)
X_small = np.arange(30, dtype=np.float64).reshape(10, 3)   # row r is [3r, 3r + 1, 3r + 2]
y_small = np.arange(10) + 100                              # label of row r is r + 100
X_batch, y_batch = sample_batch(X_small, y_small, 10, 4)
print("X_batch:", np.shape(X_batch), " y_batch:", np.shape(y_batch))
assert np.shape(X_batch) == (4, 3) and np.shape(y_batch) == (4,), "Shapes must be (batch_size, D) and (batch_size,)."
rows = (X_batch[:, 0] / 3).astype(int)
assert np.all(X_batch == X_small[rows]), "Every row of X_batch must be a row of X."
assert np.all(y_batch == y_small[rows]), "y_batch[k] must be the label of the row X_batch[k]."
try:
    X_batch, y_batch = sample_batch(X_small, y_small, 10, 25)
except ValueError:  # np.random.choice(..., replace=False) refuses a batch larger than the data
    y_batch = []
assert len(y_batch) == 25, "Sample with replacement (replace=True): batch_size may exceed num_train."
print("sample_batch sanity checks passed.")
""")

    nb.md("a3-train-md", r"""
Now the training loop: `train_linear_classifier` takes the loss function as an argument, so the
same loop trains the SVM and softmax.
""")

    nb.solution("a3-train", TRAIN)

    nb.grade("a3-train-check", "train_linear_classifier", points["train_linear_classifier"], r"""
# Sanity checks for train_linear_classifier. Do not edit.
# 1. A loss whose gradient is always 1: each step must move every weight by exactly -learning_rate.
def constant_gradient_loss(W, X, y, reg):
    return np.float64(0.0), np.ones_like(W)

W0 = np.zeros((3, 2))
W1, history = train_linear_classifier(constant_gradient_loss, W0, np.ones((5, 3)), np.zeros(5, dtype=np.int64),
                                      learning_rate=0.1, num_iters=7, batch_size=2)
print("weights after 7 steps of size 0.1 with gradient 1:", np.asarray(W1)[0])
assert np.shape(W1) == (3, 2), "Return the weights W with the shape of the initial W."
assert np.allclose(W1, -0.7), "Each step must be W = W - learning_rate * grad."
assert len(history) == 7, "loss_history needs one loss per iteration."

# 2. Three well separated clusters of 2-D points (plus the bias column): 200 steps of SGD on
#    the softmax loss must bring the loss on the whole set down by more than half.
rng = np.random.default_rng(3)
y_blobs = np.arange(150) % 3
X_blobs = np.array([[4.0, 0.0], [-2.0, 3.5], [-2.0, -3.5]])[y_blobs] + 0.5 * rng.standard_normal((150, 2))
X_blobs = np.hstack([X_blobs, np.ones((150, 1))])
W0 = 0.001 * rng.standard_normal((3, 3))
loss_before = softmax_loss_vectorized(W0, X_blobs, y_blobs, 1e-3)[0]
np.random.seed(0)
# A copy: an update in place (W -= learning_rate * grad) is fine, and must not change W0 here.
W1, history = train_linear_classifier(softmax_loss_vectorized, W0.copy(), X_blobs, y_blobs,
                                      learning_rate=0.1, reg=1e-3, num_iters=200, batch_size=30)
loss_after = softmax_loss_vectorized(W1, X_blobs, y_blobs, 1e-3)[0]
print(f"loss on the whole set: before {loss_before:.4f}, after {loss_after:.4f}")
assert loss_after < 0.5 * loss_before, "The loss did not go down: check the sign of the update."
print("train_linear_classifier sanity checks passed.")
""")

    nb.md("a3-predict-md", "To classify, pick the class with the highest score.")

    nb.solution("a3-predict", PREDICT)

    nb.grade("a3-predict-check", "predict_linear_classifier", points["predict_linear_classifier"], r"""
# Sanity checks for predict_linear_classifier. Do not edit.
W_p = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])      # D = 2, C = 3
X_p = np.array([[3.0, 1.0], [1.0, 3.0], [-1.0, -1.0]])  # scores [3,2,0], [1,6,0], [-1,-2,0]
y_pred = predict_linear_classifier(W_p, X_p)
print("predictions:", y_pred)
assert np.shape(y_pred) == (3,), "y_pred must have shape (N,)."
assert np.issubdtype(np.asarray(y_pred).dtype, np.integer), "y_pred must hold integers (class indices)."
assert np.array_equal(y_pred, [0, 1, 2]), "Each prediction is the class with the highest score."
print("predict_linear_classifier sanity checks passed.")
""")

    nb.md("a3-sgd-run-md", r"""
Let's train an SVM on the training set and look at the loss curve. It should fall quickly, then
flatten out while staying noisy (each step sees a different minibatch).
""")

    nb.code("a3-sgd-run", r"""
# A learning rate and regularization that work for each dataset (you choose yours in section 5).
learning_rate, reg = {"digits": (1e-1, 1e-3), "cifar10": (5e-3, 0.4)}[DATASET]
np.random.seed(0)
W0 = 0.001 * np.random.default_rng(0).standard_normal((X_train.shape[1], num_classes))
tic = time.time()
W_svm, loss_history = train_linear_classifier(svm_loss_vectorized, W0, X_train, y_train,
                                              learning_rate=learning_rate, reg=reg, num_iters=1000,
                                              verbose=True)
print(f"training took {time.time() - tic:.1f} s")
plot_loss_history(loss_history, title="SVM training loss")
plt.show()
train_acc = np.mean(predict_linear_classifier(W_svm, X_train) == y_train)
val_acc = np.mean(predict_linear_classifier(W_svm, X_val) == y_val)
print(f"training accuracy: {train_acc:.3f}   validation accuracy: {val_acc:.3f}")
""")

    nb.md("a3-search-md", r"""
## 5. Hyperparameter search

The learning rate and the regularization strength are chosen on the **validation** set: train
one model per pair of a grid, keep the one with the best validation accuracy. Try values on a
log scale (e.g. `1e-2, 1e-1, 1`), look at the heatmap, then refine around the best cell. Keep the
grid between 2 and 30 pairs.

Fill in `svm_get_search_params`; the locked cell after it runs the search (every model gets
the same number of iterations), saves the best weights in `svm_best_model.npz` and prints the
test accuracy. The grader measures the accuracy of your saved models on the test set of the
course's dataset: full credit from a test accuracy of **0.93 on digits** (a careful search
reaches 0.95 to 0.97) or **0.37 on CIFAR-10**, partial credit down to 0.80 (digits) or 0.30
(CIFAR-10). The search driver is fixed: improve your results through the grid only.
""")

    nb.code("a3-search-driver", r"""
# The search shared by the SVM and softmax (locked; it is not graded itself).
SEARCH_ITERS = 1500

def run_search(loss_func, learning_rates, regularization_strengths, model_file):
    results = {}  # (learning_rate, reg) -> validation accuracy
    best_val, best_W = -1.0, None
    for lr in learning_rates:
        for reg in regularization_strengths:
            np.random.seed(0)
            W0 = 0.001 * np.random.default_rng(0).standard_normal((X_train.shape[1], num_classes))
            W, _ = train_linear_classifier(loss_func, W0, X_train, y_train, learning_rate=lr,
                                           reg=reg, num_iters=SEARCH_ITERS)
            results[(lr, reg)] = val_acc = float(np.mean(predict_linear_classifier(W, X_val) == y_val))
            print(f"lr {lr:.1e}  reg {reg:.1e}  validation accuracy {val_acc:.3f}")
            if val_acc > best_val:
                best_val, best_W = val_acc, W
    plot_search_heatmap(results)
    plt.show()
    np.savez(model_file, W=np.asarray(best_W, dtype=np.float64))
    test_acc = np.mean(predict_linear_classifier(best_W, X_test) == y_test)
    print(f"best validation accuracy: {best_val:.3f}; saved {model_file}; test accuracy: {test_acc:.3f}")
    return best_W
""")

    nb.solution("a3-svm-search-params", SVM_SEARCH)

    nb.grade("a3-svm-search-params-check", "svm_get_search_params", points["svm_get_search_params"],
             _search_params_check("svm"))

    nb.grade("a3-svm-search", "svm_best_model", points["svm_best_model"], r"""
# The SVM search: trains one model per pair and saves the best as svm_best_model.npz. Do not edit.
best_svm_W = run_search(svm_loss_vectorized, svm_lrs, svm_regs, "svm_best_model.npz")
""")

    nb.md("a3-softmax-search-md", r"""
The same for softmax: fill in `softmax_get_search_params`; the locked cell after it runs the
search and saves `softmax_best_model.npz`. The best values need not be the SVM's.
""")

    nb.solution("a3-softmax-search-params", SOFTMAX_SEARCH)

    nb.grade("a3-softmax-search-params-check", "softmax_get_search_params", points["softmax_get_search_params"],
             _search_params_check("softmax"))

    nb.grade("a3-softmax-search", "softmax_best_model", points["softmax_best_model"], r"""
# The softmax search: saves the best model as softmax_best_model.npz. Do not edit.
best_softmax_W = run_search(softmax_loss_vectorized, softmax_lrs, softmax_regs, "softmax_best_model.npz")
""")

    nb.md("a3-templates-md", r"""
## 6. What did the classifiers learn?

Each column of $W$ (without the bias row) has one weight per pixel: shown as an image, it is the
**template** the classifier matches against an input, since the score of class $j$ is the dot
product of the image with column $j$.
""")

    nb.code("a3-templates", r"""
show_weight_templates(best_svm_W, image_shape, class_names)
plt.suptitle("SVM templates")
plt.show()
show_weight_templates(best_softmax_W, image_shape, class_names)
plt.suptitle("Softmax templates")
plt.show()
""")

    nb.md("a3-q-templates", r"""
**Inline Question 3** (templates)

Describe what the templates look like, and explain why they look this way. Where does a single
template per class fall short?
""")

    nb.answer("a3-a-templates", "inline_weight_templates", points["inline_weight_templates"], r"""
**Your answer:**

### BEGIN SOLUTION
Each template looks like a blurry average of its class: bright where images of that class tend to
have ink (or, for CIFAR-10, typical colors: blue sky or water for planes and ships, green for
frogs), dark where ink (or color) is evidence for other classes. They look this way because the
score is a dot product: SGD raises the weights of pixels that separate the class from the others
and lowers the rest, and with the mean subtracted a template also encodes what the class lacks
compared with the average image. One template per class is a single linear detector: it cannot
represent a class that comes in several distinct shapes (a 7 with or without a bar, a horse facing
left or right, cars of different colors), so it averages them, which limits the accuracy.
### END SOLUTION
""")

    nb.md("a3-submit-md", r"""
## 7. Submit

Before you run the last cell: *Kernel → Restart & Run All*, check that every cell ran without an
error and that `svm_best_model.npz` and `softmax_best_model.npz` are next to this notebook, then
**save the notebook** (the zip holds the saved file). The cell runs the self-check and writes
`A3_<STUDENT_ID>.zip`; upload that file.
""")

    nb.code("a3-submit", r"""
try:
    from autograder.student.submission import submit_from_notebook
except ImportError:
    print("The submission command is not available yet in this version of the kit.\n"
          "Your work is saved in this notebook and the two .npz files: nothing is lost. "
          "Update the kit later and run this cell again.")
else:
    submit_from_notebook("A3", student_id=STUDENT_ID)
""")

    return nb.notebook()


# --------------------------------------------------------------------------- entry points


def reference_namespace() -> dict:
    """The solution functions executed in a fresh namespace (trusted source: this file)."""
    return solution_namespace(SOLUTIONS.values(), "<A3 solution>")


def measure() -> dict[str, float]:
    """Recompute SANITY from the reference solution."""
    ns = reference_namespace()
    exec(compile(TOY, "<toy>", "exec"), ns)  # noqa: S102
    W, X, y = ns["W_toy"], ns["X_toy"], ns["y_toy"]
    return {
        "svm_toy": float(ns["svm_loss_vectorized"](W, X, y, 0.1)[0]),
        "softmax_toy": float(ns["softmax_loss_vectorized"](W, X, y, 0.1)[0]),
    }


def sweep(dataset: str = "digits", num_iters: int = 1500) -> None:
    """Print validation/test accuracy of both reference models over a wide grid, trained like
    the notebook's search driver does: the measurement behind the [models] bars."""
    import numpy as np

    from autograder.core.datasets import load_dataset

    ns = reference_namespace()
    data = load_dataset(dataset)
    X, y = data["X_train"], data["y_train"]
    regs = [0.0, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1]
    print(f"{dataset}, {num_iters} iterations; val/test accuracy; columns: reg {regs}")
    for loss in ("svm", "softmax"):
        for lr in (3e-2, 1e-1, 3e-1, 1.0, 3.0):
            row = []
            for reg in regs:
                np.random.seed(0)
                W0 = 0.001 * np.random.default_rng(0).standard_normal((X.shape[1], len(data["class_names"])))
                W, _ = ns["train_linear_classifier"](ns[f"{loss}_loss_vectorized"], W0, X, y,
                                                     learning_rate=lr, reg=reg, num_iters=num_iters)
                accuracy = [np.mean(ns["predict_linear_classifier"](W, data[f"X_{s}"]) == data[f"y_{s}"])
                            for s in ("val", "test")]
                row.append("{:.3f}/{:.3f}".format(*accuracy))
            print(f"{loss:>8} lr {lr:<5g}", " ".join(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", action="store_true", help="print the sanity values")
    parser.add_argument("--sweep", metavar="DATASET", help="print accuracies over a wide grid")
    parser.add_argument("-o", "--output", default=str(NOTEBOOK))
    args = parser.parse_args(argv)
    if args.measure:
        for key, value in measure().items():
            print(f"{key} = {value!r}   (SANITY has {SANITY.get(key)!r})")
        return 0
    if args.sweep:
        sweep(args.sweep)
        return 0
    nb = build(rubric_points(CONFIG))
    write_notebook(nb, args.output)
    print(f"wrote {args.output} ({len(nb.cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
