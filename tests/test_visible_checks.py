"""The student-facing message audit of the visible checks (the grade cells of A3 and A4).

Every assert of every visible check is tried on a wrong implementation written for it (the table
`MUTANTS`): the check must fail at that assert, with its own message, and never with a numpy
error or a traceback from inside the check. The right implementation (the instructor's solution)
passes every check; the honest styles of tests/honest_styles.py are run through them in
tests/test_honest_styles.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import visible_support as vs
from fixtures import make_violations as mv

REFERENCE: dict[str, dict[str, list[str]]] = {}


def reference_bodies(assignment: str) -> dict[str, list[str]]:
    """Cell id -> the instructor's TODO bodies (the source notebook's solution blocks)."""
    if assignment not in REFERENCE:
        import nbformat

        source = vs.REPO / "solutions" / assignment / vs.NOTEBOOKS[assignment]
        REFERENCE[assignment] = mv.solution_bodies(nbformat.read(str(source), as_version=4))[0]
    return REFERENCE[assignment]


@dataclass(frozen=True)
class Mutant:
    """A wrong implementation: the reference with `edits` applied to one cell's TODO body
    (`block`), or to the cell's code outside it (`outside=True`), and the assert of the check
    `check` it must trip (a piece of the assert's message source)."""

    name: str
    assignment: str
    check: str
    cell: str
    edits: tuple[tuple[str, str], ...]
    expect: str
    block: int = 0
    outside: bool = False
    extra: dict[str, list[str]] = field(default_factory=dict)

    def notebook(self):
        nb = vs.release(self.assignment)
        bodies = {cid: list(b) for cid, b in reference_bodies(self.assignment).items()}
        if not self.outside:
            body = bodies[self.cell][self.block]
            for old, new in self.edits:
                assert body.count(old) == 1, f"{self.name}: {old!r} is not once in the body"
                body = body.replace(old, new)
            bodies[self.cell][self.block] = body
        nb = vs.with_bodies(nb, bodies)
        if self.outside:
            cell = next(c for c in nb.cells if vs.cell_id(c) == self.cell)
            for old, new in self.edits:
                assert cell.source.count(old) == 1, f"{self.name}: {old!r} is not once in the cell"
                cell.source = cell.source.replace(old, new)
        return nb


def M(name: str, assignment: str, check: str, cell: str, expect: str, *edits: tuple[str, str],
      block: int = 0, outside: bool = False) -> Mutant:
    return Mutant(name, assignment, check, cell, tuple(edits), expect, block, outside)


SVM_N, SVM_V, SM_N, SM_V = "a3-svm-naive", "a3-svm-vec", "a3-softmax-naive", "a3-softmax-vec"
MUTANTS = [
    # --- A3 svm_loss_naive
    M("svm-naive-dW-transposed", "A3", "a3-svm-naive-check", SVM_N, "dW has shape",
      ("dW += 2 * reg * W", "dW = (dW + 2 * reg * W).T")),
    M("svm-naive-margin-half", "A3", "a3-svm-naive-check", SVM_N, "The toy loss is off",
      ("correct_class_score + 1", "correct_class_score + 0.5")),
    M("svm-naive-wrong-on-big-batches", "A3", "a3-svm-naive-check", SVM_N, "close to C - 1",
      ("loss /= num_train", "loss /= num_train\n    loss += float(num_train > 20)")),
    M("svm-naive-gradient-sign", "A3", "a3-svm-naive-check", SVM_N, "does not match your loss",
      ("dW[:, j] += X[i]", "dW[:, j] -= X[i]")),
    # --- A3 svm_loss_vectorized
    M("svm-vec-dW-column", "A3", "a3-svm-vec-check", SVM_V, "dW has shape",
      ("dW = X.T.dot(dscores) / num_train + 2 * reg * W",
       "dW = (X.T.dot(dscores) / num_train + 2 * reg * W)[:, :1]")),
    M("svm-vec-margin-two", "A3", "a3-svm-vec-check", SVM_V, "vectorized loss differs",
      ("correct_class_scores + 1", "correct_class_scores + 2")),
    M("svm-vec-reg-gradient-sign", "A3", "a3-svm-vec-check", SVM_V, "vectorized gradient differs",
      ("/ num_train + 2 * reg * W", "/ num_train - 2 * reg * W")),
    # --- A3 softmax_loss_naive
    M("softmax-naive-dW-transposed", "A3", "a3-softmax-naive-check", SM_N, "dW has shape",
      ("dW += 2 * reg * W", "dW = (dW + 2 * reg * W).T")),
    M("softmax-naive-half-reg", "A3", "a3-softmax-naive-check", SM_N, "The toy loss is off",
      ("loss += reg * np.sum(W * W)", "loss += 0.5 * reg * np.sum(W * W)")),
    M("softmax-naive-no-max-shift", "A3", "a3-softmax-naive-check", SM_N, "inf/nan for large scores",
      ("scores = scores - np.max(scores)", "scores = scores")),
    M("softmax-naive-special-cases-big-scores", "A3", "a3-softmax-naive-check", SM_N,
      "Shifting all the scores", ("scores = scores - np.max(scores)",
                                  "scores = np.clip(scores, -50, 50) - np.max(np.clip(scores, -50, 50))")),
    M("softmax-naive-wrong-on-big-batches", "A3", "a3-softmax-naive-check", SM_N, "close to log(C)",
      ("loss /= num_train", "loss /= num_train\n    loss += float(num_train > 20)")),
    M("softmax-naive-gradient-without-label", "A3", "a3-softmax-naive-check", SM_N,
      "does not match your loss", ("(p_j - (j == y[i])) * X[i]", "p_j * X[i]")),
    # --- A3 softmax_loss_vectorized
    M("softmax-vec-dW-column", "A3", "a3-softmax-vec-check", SM_V, "dW has shape",
      ("dW = X.T.dot(dscores) / num_train + 2 * reg * W",
       "dW = (X.T.dot(dscores) / num_train + 2 * reg * W)[:, :1]")),
    M("softmax-vec-no-max-shift", "A3", "a3-softmax-vec-check", SM_V, "inf/nan for large scores",
      ("scores = scores - scores.max(axis=1, keepdims=True)", "scores = scores")),
    M("softmax-vec-half-reg", "A3", "a3-softmax-vec-check", SM_V, "vectorized loss differs",
      ("+ reg * np.sum(W * W)", "+ 0.5 * reg * np.sum(W * W)")),
    M("softmax-vec-reg-gradient-once", "A3", "a3-softmax-vec-check", SM_V, "vectorized gradient differs",
      ("/ num_train + 2 * reg * W", "/ num_train + reg * W")),
    # --- A3 sample_batch
    M("sample-batch-transposed", "A3", "a3-sample-batch-check", "a3-sample-batch", "Shapes must be",
      ("X_batch = X[indices]", "X_batch = X[indices].T")),
    M("sample-batch-changed-rows", "A3", "a3-sample-batch-check", "a3-sample-batch", "must be a row of X",
      ("X_batch = X[indices]", "X_batch = X[indices] + 1.0")),
    M("sample-batch-labels-of-other-rows", "A3", "a3-sample-batch-check", "a3-sample-batch",
      "must be the label of the row", ("y_batch = y[indices]", "y_batch = y[(indices + 1) % num_train]")),
    M("sample-batch-without-replacement", "A3", "a3-sample-batch-check", "a3-sample-batch",
      "Sample with replacement", ("replace=True", "replace=False")),
    # --- A3 train_linear_classifier
    M("train-flattens-W", "A3", "a3-train-check", "a3-train", "with the shape of the initial W",
      ("W = W - learning_rate * grad", "W = (W - learning_rate * grad).ravel()")),
    M("train-update-sign", "A3", "a3-train-check", "a3-train", "W = W - learning_rate * grad",
      ("W = W - learning_rate * grad", "W = W + learning_rate * grad")),
    M("train-history-every-other", "A3", "a3-train-check", "a3-train", "one loss per iteration",
      ("loss_history.append(loss)", "if it % 2 == 0:\n            loss_history.append(loss)")),
    M("train-climbs-real-losses", "A3", "a3-train-check", "a3-train", "The loss did not go down",
      ("W = W - learning_rate * grad", "W = W - learning_rate * grad * (1 if loss == 0 else -1)")),
    # --- A3 predict_linear_classifier
    M("predict-column", "A3", "a3-predict-check", "a3-predict", "shape (N,)",
      ("axis=1)", "axis=1)[:, None]")),
    M("predict-floats", "A3", "a3-predict-check", "a3-predict", "must hold integers",
      ("axis=1)", "axis=1).astype(float)")),
    M("predict-lowest-score", "A3", "a3-predict-check", "a3-predict", "highest score",
      ("np.argmax(", "np.argmin(")),
    # --- A3 search grids
    *[M(f"{loss}-grid-of-one", "A3", f"a3-{loss}-search-params-check", f"a3-{loss}-search-params",
        "grid of 2 to 30", (grid, "learning_rates = [0.1]"),
        ("regularization_strengths = [1e-4, 1e-3, 1e-2]", "regularization_strengths = [1e-3]"))
      for loss, grid in (("svm", "learning_rates = [1e-1, 3e-1, 1.0]"),
                         ("softmax", "learning_rates = [3e-1, 1.0, 3.0]"))],
    *[M(f"{loss}-negative-rate", "A3", f"a3-{loss}-search-params-check", f"a3-{loss}-search-params",
        "Learning rates > 0", (grid, "learning_rates = [-0.1, 1.0]"))
      for loss, grid in (("svm", "learning_rates = [1e-1, 3e-1, 1.0]"),
                         ("softmax", "learning_rates = [3e-1, 1.0, 3.0]"))],
    # --- A4 nn_forward_pass
    M("forward-hidden-transposed", "A4", "a4-forward-check", "a4-forward", "hidden has shape",
      ("scores = hidden.dot(W2) + b2  # (N, C)", "scores = hidden.dot(W2) + b2\n    hidden = hidden.T")),
    M("forward-scores-transposed", "A4", "a4-forward-check", "a4-forward", "scores has shape",
      ("scores = hidden.dot(W2) + b2", "scores = (hidden.dot(W2) + b2).T")),
    M("forward-no-relu", "A4", "a4-forward-check", "a4-forward", "can never be negative",
      ("np.maximum(0, X.dot(W1) + b1)", "X.dot(W1) + b1")),
    M("forward-no-b2", "A4", "a4-forward-check", "a4-forward", "The scores differ",
      ("scores = hidden.dot(W2) + b2", "scores = hidden.dot(W2)")),
    # --- A4 the loss
    M("loss-scores-doubled-without-y", "A4", "a4-loss-check", "a4-forward-backward",
      "must return the scores of nn_forward_pass", ("        return scores\n", "        return 2 * scores\n"),
      outside=True),
    M("loss-half-reg", "A4", "a4-loss-check", "a4-forward-backward", "The loss differs",
      ("+ reg * (np.sum(W1 * W1)", "+ 0.5 * reg * (np.sum(W1 * W1)")),
    M("loss-no-max-shift", "A4", "a4-loss-check", "a4-forward-backward", "large scores",
      ("shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores")),
    # --- A4 the backward pass (block 1 of nn_forward_backward)
    M("backward-no-b2", "A4", "a4-backward-check", "a4-forward-backward", "grads must be a dict",
      ('grads["b2"] = dscores.sum(axis=0)', "pass"), block=1),
    M("backward-b2-keepdims", "A4", "a4-backward-check", "a4-forward-backward", "it must have the shape",
      ('grads["b2"] = dscores.sum(axis=0)', 'grads["b2"] = dscores.sum(axis=0, keepdims=True)'), block=1),
    M("backward-no-relu-gate", "A4", "a4-backward-check", "a4-forward-backward",
      "does not match the numeric gradient", ("dpre = dhidden * (hidden > 0)", "dpre = dhidden"), block=1),
    M("backward-gate-open-at-zero", "A4", "a4-backward-check", "a4-forward-backward",
      "pre-activation is exactly 0", ("dpre = dhidden * (hidden > 0)",
                                      "dpre = dhidden * (X.dot(W1) + b1 >= 0)"), block=1),
    M("backward-b1-only-for-batches", "A4", "a4-backward-check", "a4-forward-backward",
      "positive pre-activation must pass", ('grads["b1"] = dpre.sum(axis=0)',
                                            'grads["b1"] = dpre.sum(axis=0) * (N > 1)'), block=1),
    # --- A4 nn_predict
    M("nn-predict-column", "A4", "a4-predict-check", "a4-predict", "y_pred has shape",
      ("np.argmax(scores, axis=1)", "np.argmax(scores, axis=1)[:, None]")),
    M("nn-predict-floats", "A4", "a4-predict-check", "a4-predict", "must hold integers",
      ("np.argmax(scores, axis=1)", "np.argmax(scores, axis=1).astype(float)")),
    M("nn-predict-lowest", "A4", "a4-predict-check", "a4-predict", "highest score",
      ("np.argmax(scores, axis=1)", "np.argmin(scores, axis=1)")),
    M("nn-predict-all-zeros", "A4", "a4-predict-check", "a4-predict", "nn_predict is wrong",
      ("np.argmax(scores, axis=1)", "np.zeros(len(X), dtype=np.int64)")),
    M("nn-predict-ignores-loss-func", "A4", "a4-predict-check", "a4-predict", "loss_func(params, X), the function",
      ("scores = loss_func(params, X)", "scores = nn_forward_pass(params, X)[0]")),
    # --- A4 nn_train (block 0: the step, block 1: the end of an epoch)
    M("nn-train-drops-a-history", "A4", "a4-train-check", "a4-train", "must return a dict",
      ('        "train_acc_history": train_acc_history,\n', ""), outside=True),
    M("nn-train-no-decay", "A4", "a4-train-check", "a4-train", "expected -0.325",
      ("learning_rate *= learning_rate_decay", "pass"), block=1),
    M("nn-train-loss-twice", "A4", "a4-train-check", "a4-train", "one loss per iteration",
      ("loss_history.append(float(loss))", "loss_history += [float(loss)] * 2")),
    M("nn-train-accuracy-every-iteration", "A4", "a4-train-check", "a4-train", "2 complete epochs",
      ("            train_acc_history.append(float(train_acc))\n", ""),
      ("if (it + 1) % iterations_per_epoch == 0:",
       "train_acc_history.append(0.0)\n        if (it + 1) % iterations_per_epoch == 0:"), block=1),
    M("nn-train-val-on-batch", "A4", "a4-train-check", "a4-train", "val_acc_history holds",
      ("val_acc = np.mean(pred_func(params, loss_func, X_val) == y_val)",
       "val_acc = np.mean(pred_func(params, loss_func, X_batch) == y_batch)"), block=1),
    M("nn-train-tiny-steps-on-real-losses", "A4", "a4-train-check", "a4-train", "did not go down enough",
      ("params[key] -= learning_rate * grads[key]",
       "params[key] -= learning_rate * (1 if loss == 0 else 1e-3) * grads[key]")),
    # --- A4 the search
    M("search-three-lists", "A4", "a4-search-check", "a4-search-params", "Return (learning_rates",
      ("    return learning_rates, hidden_sizes, regularization_strengths, learning_rate_decays",
       "    return learning_rates, hidden_sizes, regularization_strengths"), outside=True),
    M("search-one-net", "A4", "a4-search-check", "a4-search-params", "keep it between 2 and 36",
      ("learning_rates = [0.3, 1.0]", "learning_rates = [0.3]"), ("hidden_sizes = [50, 100]", "hidden_sizes = [50]"),
      ("regularization_strengths = [1e-4, 1e-3]", "regularization_strengths = [1e-4]"),
      ("learning_rate_decays = [0.95, 0.99]", "learning_rate_decays = [0.95]")),
    M("search-zero-rate", "A4", "a4-search-check", "a4-search-params", "Learning rates > 0",
      ("learning_rates = [0.3, 1.0]", "learning_rates = [0.0, 1.0]")),
    M("search-fractional-hidden", "A4", "a4-search-check", "a4-search-params", "positive integers",
      ("hidden_sizes = [50, 100]", "hidden_sizes = [50.5, 100]")),
    M("search-decay-above-one", "A4", "a4-search-check", "a4-search-params", "Decays are in (0, 1]",
      ("learning_rate_decays = [0.95, 0.99]", "learning_rate_decays = [0.95, 1.5]")),
    M("find-best-keeps-one-result", "A4", "a4-search-check", "a4-find-best", "one entry per net",
      ("results.append(", "results[:] = (")),
    M("find-best-wrong-hidden-size", "A4", "a4-search-check", "a4-find-best", "best_params must hold W1",
      ("nn_init_params(D, int(hidden_size), C, seed=seed)", "nn_init_params(D, int(hidden_size) + 1, C, seed=seed)")),
    M("find-best-accuracy-of-first", "A4", "a4-search-check", "a4-find-best", "best_val_acc is the best",
      ("                        best_params, best_stats, best_val_acc = params, stats, val_acc",
       "                        best_params, best_stats = params, stats\n"
       "                    best_val_acc = results[0][\"val_acc\"]")),
    M("find-best-rate-ignored", "A4", "a4-search-check", "a4-find-best", "separates the blobs",
      ("learning_rate=lr, learning_rate_decay", "learning_rate=0.0 * lr, learning_rate_decay")),
    M("find-best-params-of-first", "A4", "a4-search-check", "a4-find-best", "best_params must be the parameters",
      ("                        best_params, best_stats, best_val_acc = params, stats, val_acc",
       "                        best_stats, best_val_acc = stats, val_acc\n"
       "                        best_params = best_params or params")),
]


def _fired(mutant: Mutant) -> tuple[vs.Outcome, str]:
    nb = mutant.notebook()
    checks = set(vs.grade_cells(nb)) - {mutant.check}
    outcome = vs.run(nb, until=mutant.check, skip=frozenset(vs.SLOW | checks))[mutant.check]
    return outcome, vs.grade_cells(nb)[mutant.check]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_wrong_implementation_fails_its_check_with_the_check_message(mutant):
    outcome, source = _fired(mutant)
    assert not outcome.ok, f"{mutant.name} passed {mutant.check}"
    assert outcome.error == "AssertionError", f"{mutant.name}: {outcome.error}: {outcome.message}"
    line = vs.assert_at(source, outcome.line)
    assert mutant.expect in vs.asserts_of(source)[line], (mutant.name, outcome.message)
    assert outcome.message.strip(), f"{mutant.name}: the assert has no message"
    assert "Traceback" not in outcome.message and str(vs.REPO) not in outcome.message


@pytest.mark.parametrize("assignment", ["A3", "A4"])
def test_every_visible_check_assert_is_tried_by_a_wrong_implementation(assignment):
    nb = vs.release(assignment)
    wanted = {(cid, msg) for cid, src in vs.grade_cells(nb).items() for msg in vs.asserts_of(src).values()}
    tried = {(m.check, msg) for m in MUTANTS if m.assignment == assignment
             for msg in vs.asserts_of(vs.grade_cells(nb)[m.check]).values() if m.expect in msg}
    assert wanted - tried == set()


@pytest.mark.parametrize("assignment", ["A3", "A4"])
def test_every_visible_check_assert_has_a_message_that_says_what_to_do(assignment):
    for cid, source in vs.grade_cells(vs.release(assignment)).items():
        for line, message in vs.asserts_of(source).items():
            assert len(message) > 20, f"{cid} line {line}: an assert without a helpful message"


@pytest.mark.parametrize("assignment", ["A3", "A4"])
def test_the_right_implementation_passes_every_visible_check(assignment):
    nb = vs.with_bodies(vs.release(assignment), reference_bodies(assignment))
    failed = {cid: o for cid, o in vs.run(nb).items() if not o.ok}
    assert failed == {}


def test_a4_gradient_check_prints_all_eight_errors_in_backprop_order_before_it_fails():
    """A missing ReLU gate fails the A4 gradient check only after every relative error is printed
    (W2, b2, W1, b1 at reg 0, then at reg 0.05), and dW2, db2 pass: the first wrong one is dW1."""
    import contextlib
    import io
    import re

    mutant = next(m for m in MUTANTS if m.name == "backward-no-relu-gate")
    nb = mutant.notebook()
    skip = vs.SLOW | (set(vs.grade_cells(nb)) - {mutant.check})
    namespace: dict = {"__name__": "__main__"}
    printed = io.StringIO()
    for cell in nb.cells:
        cid = vs.cell_id(cell)
        if cell.get("cell_type") != "code" or cid in skip:
            continue
        if cid != mutant.check:
            assert vs.run_cell(vs.source_of(cell), namespace, cid).ok, cid
            continue
        with contextlib.redirect_stdout(printed), pytest.raises(AssertionError, match="dW1"):
            exec(compile(vs.source_of(cell), cid, "exec"), namespace)  # noqa: S102 - our notebook
        break
    found = re.findall(r"d(W2|b2|W1|b1) max relative error: (\S+)", printed.getvalue())
    assert [name for name, _ in found] == ["W2", "b2", "W1", "b1"] * 2
    errors = [float(e) for _, e in found]
    assert max(errors[0], errors[1], errors[4], errors[5]) < 1e-8 < min(errors[2], errors[6])
    assert printed.getvalue().index("reg = 0.0:") < printed.getvalue().index("reg = 0.05:")
