"""Honest solutions of A3 and A4 in other people's styles, written for this corpus.

Each style is what a student who learned from another course or another textbook would write:
their own loops and names, in-place updates, one-hots from `np.eye`, lambdas and local helper
functions in loop-free code, grids as numpy arrays, 2-space indentation, non-ASCII comments,
`%`-formatting over several lines. A style gives TODO bodies per cell id (one per TODO block;
None keeps the instructor's body) and, optionally, an edit of the whole notebook (`reformat`)
for what an editor does to it. tests/test_honest_styles.py grades every one: full automatic
marks, no charged deduction, and no visible check fails.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nbformat


@dataclass(frozen=True)
class Style:
    name: str
    assignment: str
    bodies: dict[str, list[str | None]]
    reformat: Callable[[Any], Any] | None = None
    what: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- A3 bodies

SVM_NAIVE_CS231N = '''
C = W.shape[1]
N = X.shape[0]
for i in range(N):
  s = X[i].dot(W)
  s_y = s[y[i]]
  for j in range(C):
    if j == y[i]:
      continue
    m = s[j] - s_y + 1
    if m > 0:
      loss += m
      dW[:, j] += X[i, :]
      dW[:, y[i]] -= X[i, :]
loss /= N
loss += reg * np.sum(W * W)
dW /= N
dW += reg * 2 * W
'''

SVM_NAIVE_WHILE = '''
# Boucle « while » : la marge δ = 1, classe correcte sautée.
i = 0
while i < X.shape[0]:
    scores = W.T @ X[i]
    j = 0
    while j < W.shape[1]:
        if j != y[i]:
            margin = scores[j] - scores[y[i]] + 1.0
            if margin > 0:
                loss = loss + margin
                dW[:, j] = dW[:, j] + X[i]
                dW[:, y[i]] = dW[:, y[i]] - X[i]
        j += 1
    i += 1
loss = loss / X.shape[0] + reg * (W ** 2).sum()
dW = dW / X.shape[0] + 2.0 * reg * W
'''

SVM_VEC_EYE = '''
N, C = X.shape[0], W.shape[1]
one_hot = np.eye(C)[y]                      # (N, C) — 正解クラスの one-hot
S = X @ W
correct = np.sum(S * one_hot, axis=1, keepdims=True)
M = np.maximum(0.0, S - correct + 1.0) * (1 - one_hot)
loss = M.sum() / N + reg * np.sum(W * W)
G = (M > 0).astype(float)
G -= one_hot * G.sum(axis=1, keepdims=True)
dW = X.T @ G / N + 2 * reg * W
'''

SVM_VEC_LAMBDA = '''
hinge = lambda z: np.maximum(z, 0)
def margins_of(scores):
    picked = scores[np.arange(len(y)), y].reshape(-1, 1)
    out = hinge(scores - picked + 1)
    out[np.arange(len(y)), y] = 0
    return out
margins = margins_of(X.dot(W))
loss = np.mean(np.sum(margins, axis=1)) + reg * np.sum(np.square(W))
coeff = np.where(margins > 0, 1.0, 0.0)
coeff[np.arange(len(y)), y] = -np.count_nonzero(margins > 0, axis=1)
dW = X.T.dot(coeff) / len(y) + 2 * reg * W
'''

SOFTMAX_NAIVE_CS231N = '''
num_train, num_classes = X.shape[0], W.shape[1]
for i in range(num_train):
  f = X[i].dot(W)
  f -= np.max(f)
  p = np.exp(f) / np.sum(np.exp(f))
  loss += -np.log(p[y[i]])
  for k in range(num_classes):
    dW[:, k] += (p[k] - (k == y[i])) * X[i]
loss /= num_train
dW /= num_train
loss += reg * np.sum(W * W)
dW += 2 * reg * W
'''

SOFTMAX_NAIVE_ENUMERATE = '''
for i, (x_i, y_i) in enumerate(zip(X, y)):
    logits = x_i @ W
    logits = logits - logits.max()          # stabilité numérique ✓
    log_norm = np.log(np.exp(logits).sum())
    loss += log_norm - logits[y_i]
    probs = np.exp(logits - log_norm)
    for c, p_c in enumerate(probs):
        dW[:, c] += (p_c - float(c == y_i)) * x_i
loss = loss / len(y) + reg * np.sum(W * W)
dW = dW / len(y) + 2 * reg * W
'''

SOFTMAX_VEC_EYE = '''
N, C = X.shape[0], W.shape[1]
Y = np.eye(C)[y]
Z = X @ W
Z -= Z.max(axis=1, keepdims=True)
P = np.exp(Z)
P /= P.sum(axis=1, keepdims=True)
loss = -np.sum(Y * np.log(P)) / N + reg * np.sum(W * W)
dW = X.T @ (P - Y) / N + 2 * reg * W
'''

SOFTMAX_VEC_LOGSUMEXP = '''
stable = lambda s: s - np.max(s, axis=1, keepdims=True)
def log_softmax(s):
    s = stable(s)
    return s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
logp = log_softmax(X.dot(W))
idx = (np.arange(X.shape[0]), y)
loss = -logp[idx].mean() + reg * (W * W).sum()
dlogits = np.exp(logp)
dlogits[idx] -= 1
dW = X.T.dot(dlogits) / X.shape[0] + 2 * reg * W
'''

SAMPLE_BATCH_CHOICE = '''
idx = np.random.choice(num_train, batch_size)
X_batch, y_batch = X[idx, :], y[idx]
'''

SAMPLE_BATCH_RANDINT = '''
batch_idx = np.random.randint(0, num_train, size=batch_size)   # with replacement, seedable
X_batch = X[batch_idx]
y_batch = y[batch_idx]
'''

TRAIN_INPLACE = '''
loss, grad = loss_func(W, X_batch, y_batch, reg)
loss_history.append(loss)
W -= learning_rate * grad
'''

TRAIN_INPLACE_PERCENT = '''
loss, grad = loss_func(W, X_batch, y_batch, reg)
loss_history.append(loss)
W -= learning_rate * grad
if verbose and it % 100 == 0:
    print('it %d / %d: loss %f, lr %g'
          % (it, num_iters, loss, learning_rate))
'''

PREDICT_MATMUL = '''
y_pred = (X @ W).argmax(axis=1)
'''

PREDICT_TWO_STEPS = '''
scores = np.dot(X, W)               # (N, C) — scores par classe
y_pred = np.argmax(scores, axis=1).astype(np.int64)
'''

SVM_GRID_ARRAYS = '''
learning_rates = np.logspace(-1, 0, 3)          # 0.1 … 1.0
regularization_strengths = np.array([1e-4, 1e-3, 1e-2])
'''

SOFTMAX_GRID_ARRAYS_PERCENT = '''
learning_rates = np.array([3e-1, 1.0, 3.0])
regularization_strengths = np.geomspace(1e-4, 1e-2, 3)
summary = ("%d learning rates x %d strengths"
           % (len(learning_rates), len(regularization_strengths)))
table = """
width=%d
""" % 3
'''

# --------------------------------------------------------------------------- A4 bodies

FORWARD_MATMUL = '''
hidden = np.maximum(X @ W1 + b1, 0)
scores = hidden @ W2 + b2
'''

FORWARD_LAMBDA = '''
relu = lambda z: z * (z > 0)
hidden = relu(np.dot(X, W1) + b1)
scores = np.dot(hidden, W2) + b2
'''

LOSS_LOGSUMEXP = '''
shifted = scores - np.max(scores, axis=1, keepdims=True)
log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
probs = np.exp(log_probs)
loss = -log_probs[np.arange(N), y].mean()
loss += reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
'''

LOSS_EYE = '''
Y = np.eye(scores.shape[1])[y]       # one-hot (N, C)
z = scores - scores.max(axis=1, keepdims=True)
probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
# a generator over the two weight matrices: a fixed pair, not a loop over the data
loss = -np.sum(Y * np.log(probs)) / N + reg * sum(np.sum(w * w) for w in (W1, W2))
'''

BACKWARD_EECS498 = '''
dscores = probs.copy()
dscores[range(N), y] -= 1
dscores /= N
grads["W2"] = hidden.T @ dscores + 2 * reg * W2
grads["b2"] = np.sum(dscores, axis=0)
dh = dscores @ W2.T
dh[hidden <= 0] = 0                  # ReLU : porte fermée là où pre <= 0
grads["W1"] = X.T @ dh + 2 * reg * W1
grads["b1"] = dh.sum(axis=0)
'''

BACKWARD_EYE = '''
dz = (probs - np.eye(probs.shape[1])[y]) / N
grads["b2"] = dz.sum(0)
grads["W2"] = hidden.T.dot(dz) + 2 * reg * W2
dpre = dz.dot(W2.T) * (hidden > 0)
grads["b1"] = dpre.sum(0)
grads["W1"] = X.T.dot(dpre) + 2 * reg * W1
'''

NN_PREDICT_ARGMAX = '''
y_pred = loss_func(params, X).argmax(axis=1)
'''

NN_TRAIN_STEP_EECS498 = '''
idx = np.random.choice(num_train, batch_size, replace=True)
X_batch = X[idx]
y_batch = y[idx]
loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
loss_history.append(loss.item())
params['W1'] -= learning_rate * grads['W1']
params['b1'] -= learning_rate * grads['b1']
params['W2'] -= learning_rate * grads['W2']
params['b2'] -= learning_rate * grads['b2']
'''

NN_TRAIN_EPOCH_EECS498 = '''
if it % iterations_per_epoch == iterations_per_epoch - 1:
    y_train_pred = pred_func(params, loss_func, X_batch)
    train_acc = (y_train_pred == y_batch).mean().item()
    y_val_pred = pred_func(params, loss_func, X_val)
    val_acc = (y_val_pred == y_val).mean().item()
    train_acc_history.append(train_acc)
    val_acc_history.append(val_acc)
    learning_rate *= learning_rate_decay
'''

NN_TRAIN_STEP_ITEMS = '''
sample = np.random.choice(num_train, batch_size)
X_batch, y_batch = X[sample], y[sample]
loss, grads = loss_func(params, X_batch, y_batch, reg)
loss_history.append(float(loss))
for name, g in grads.items():
    params[name] -= learning_rate * g
'''

SEARCH_ARRAYS = '''
learning_rates = np.array([0.3, 1.0])
hidden_sizes = np.array([50, 100])
regularization_strengths = np.logspace(-4, -3, 2)
learning_rate_decays = np.array([0.95, 0.99])
'''

FIND_BEST_GRID = '''
grid = np.array(np.meshgrid(learning_rates, hidden_sizes, regularization_strengths,
                            learning_rate_decays, indexing="ij")).reshape(4, -1).T
for lr, hs, reg, decay in grid:
    hs = int(hs)
    params = nn_init_params(D, hs, C, seed=seed)
    np.random.seed(seed)
    stats = nn_train(params, nn_forward_backward, nn_predict, X_train, y_train, X_val, y_val,
                     learning_rate=lr, learning_rate_decay=decay, reg=reg,
                     num_iters=num_iters, batch_size=batch_size)
    val_acc = float((nn_predict(params, nn_forward_backward, X_val) == y_val).mean())
    results.append({"learning_rate": float(lr), "hidden_size": hs, "reg": float(reg),
                    "learning_rate_decay": float(decay), "val_acc": val_acc})
    if verbose:
        print("lr %.1e  hidden %4d  reg %.1e  decay %.2f  val acc %.3f"
              % (lr, hs, reg, decay, val_acc))
    if val_acc > best_val_acc:
        best_params, best_stats, best_val_acc = params, stats, val_acc
'''


# --------------------------------------------------------------------------- editor round trips


def two_space_indent(nb: Any) -> Any:
    """Every TODO cell re-indented with 2 spaces (an editor setting), markers included."""
    from autograder.core.integrity import cell_role, source_of

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and cell_role(cell) == "todo":
            lines = []
            for line in source_of(cell).split("\n"):
                stripped = line.lstrip(" ")
                lines.append(" " * ((len(line) - len(stripped)) // 2) + stripped)
            cell.source = "\n".join(lines)
    return nb


def colab(nb: Any) -> Any:
    """Colab's save: no cell ids (nbformat 4.4), no nbgrader metadata, its own notebook metadata."""
    nb = copy.deepcopy(nb)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata = {"id": uuid.uuid5(uuid.NAMESPACE_URL, cell.source).hex[:12]}
        if cell.cell_type == "code":
            cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
    nb.metadata["colab"] = {"provenance": [], "name": "linear_classifier.ipynb"}
    nb.metadata["accelerator"] = "GPU"
    return nb


def vscode_crlf(nb: Any) -> Any:
    """VS Code on Windows: CRLF line endings inside the cells, its own metadata."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.source = cell.source.replace("\n", "\r\n")
    nb.metadata["vscode"] = {"interpreter": {"hash": "0" * 64}}
    return nb


def server_put(nb: Any) -> Any:
    """A Jupyter server's contents API (PUT): the JSON model rewritten, sources as strings,
    keys sorted, no indentation, then read back."""
    model = json.loads(nbformat.writes(nb))
    for cell in model["cells"]:
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    text = json.dumps(model, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return nbformat.reads(text, as_version=4)


def rerun_one_cell(nb: Any) -> Any:
    """Restart & Run All, then one check cell run once more at the end (out of order)."""
    nb = copy.deepcopy(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[len(code) // 2].execution_count = max(c.execution_count or 0 for c in code) + 1
    return nb


def out_of_order(nb: Any) -> Any:
    """Cells run top to bottom, then three of them again in another order."""
    nb = copy.deepcopy(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    top = max(c.execution_count or 0 for c in code)
    for offset, index in enumerate((9, 4, 7)):
        code[index].execution_count = top + 1 + offset
    return nb


def comment_in_locked_cell(nb: Any) -> Any:
    """A comment edited in a read-only check cell (that is allowed, as a free warning)."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if c.cell_type == "code"
                and c.get("metadata", {}).get("nbgrader", {}).get("grade") and "# " in c.source)
    first = next(line for line in cell.source.split("\n") if line.startswith("# "))
    cell.source = cell.source.replace(first, first + "  (vu ✓)", 1)
    return nb


# --------------------------------------------------------------------------- the corpus

A3_CS231N = {
    "a3-svm-naive": [SVM_NAIVE_CS231N], "a3-svm-vec": [SVM_VEC_EYE],
    "a3-softmax-naive": [SOFTMAX_NAIVE_CS231N], "a3-softmax-vec": [SOFTMAX_VEC_EYE],
    "a3-sample-batch": [SAMPLE_BATCH_CHOICE], "a3-train": [TRAIN_INPLACE],
    "a3-predict": [PREDICT_MATMUL],
}
A3_OTHER = {
    "a3-svm-naive": [SVM_NAIVE_WHILE], "a3-svm-vec": [SVM_VEC_LAMBDA],
    "a3-softmax-naive": [SOFTMAX_NAIVE_ENUMERATE], "a3-softmax-vec": [SOFTMAX_VEC_LOGSUMEXP],
    "a3-sample-batch": [SAMPLE_BATCH_RANDINT], "a3-train": [TRAIN_INPLACE_PERCENT],
    "a3-predict": [PREDICT_TWO_STEPS], "a3-svm-search-params": [SVM_GRID_ARRAYS],
    "a3-softmax-search-params": [SOFTMAX_GRID_ARRAYS_PERCENT],
}
A4_EECS498 = {
    "a4-forward": [FORWARD_MATMUL], "a4-forward-backward": [LOSS_LOGSUMEXP, BACKWARD_EECS498],
    "a4-predict": [NN_PREDICT_ARGMAX], "a4-train": [NN_TRAIN_STEP_EECS498, NN_TRAIN_EPOCH_EECS498],
    "a4-search-params": [SEARCH_ARRAYS], "a4-find-best": [FIND_BEST_GRID],
}
A4_OTHER = {
    "a4-forward": [FORWARD_LAMBDA], "a4-forward-backward": [LOSS_EYE, BACKWARD_EYE],
    "a4-predict": [NN_PREDICT_ARGMAX], "a4-train": [NN_TRAIN_STEP_ITEMS, None],
}

STYLES = [
    Style("a3-cs231n-inplace", "A3", A3_CS231N, what="CS231n loops, 2-space bodies, np.eye one-hots, W -= lr * grad"),
    Style("a3-while-lambda-arrays", "A3", A3_OTHER,
          what="while loops, lambdas and local helpers in loop-free code, numpy grids, % over lines, non-ASCII"),
    Style("a3-two-space-cells", "A3", A3_CS231N, two_space_indent, "whole TODO cells re-indented with 2 spaces"),
    Style("a3-colab", "A3", A3_OTHER, colab, "saved by Colab: no cell ids, no nbgrader metadata"),
    Style("a3-vscode-crlf", "A3", A3_CS231N, vscode_crlf, "saved by VS Code with CRLF"),
    Style("a3-server-put", "A3", A3_OTHER, server_put, "round trip through a Jupyter server's PUT"),
    Style("a3-rerun-one-cell", "A3", A3_CS231N, rerun_one_cell, "one cell run again at the end"),
    Style("a3-out-of-order", "A3", A3_OTHER, out_of_order, "cells re-run out of order"),
    Style("a3-comment-in-locked-cell", "A3", A3_CS231N, comment_in_locked_cell, "a comment edited in a check cell"),
    Style("a4-eecs498", "A4", A4_EECS498, what="EECS 498: @, logsumexp, .item(), per-key in-place updates, meshgrid"),
    Style("a4-eye-lambda", "A4", A4_OTHER,
          what="np.eye one-hots, a ReLU lambda, a generator over (W1, W2), updates over grads.items()"),
    Style("a4-two-space-colab", "A4", A4_EECS498, lambda nb: colab(two_space_indent(nb)),
          "2-space cells saved by Colab"),
    Style("a4-vscode-crlf", "A4", A4_OTHER, vscode_crlf, "saved by VS Code with CRLF"),
    Style("a4-server-put-out-of-order", "A4", A4_EECS498, lambda nb: server_put(out_of_order(nb)),
          "re-run out of order, saved through a Jupyter server"),
    Style("a4-comment-in-locked-cell", "A4", A4_OTHER, comment_in_locked_cell, "a comment edited in a check cell"),
]
