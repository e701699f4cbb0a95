"""Points without work, found by a red team: each case earns nothing for the work it fakes.

Each case is the real release with the instructor's solution in its TODO blocks, then one body
replaced by the attack; the graft builds the graded module as `autograder grade` does and the
engine runs the hidden tests against it in the sandboxed worker (with the assignment's limits).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib

from adversarial.test_no_work import Course, Edit, replace_body
from autograder.core.config import ConfigError, parse_config, solution_dir
from autograder.core.graft import graded_module_source
from autograder.core.models import gate_model
from autograder.core.models import test_split as graders_test_split
from autograder.grading.engine import grade_module

# nn_train's SGD step replaced by a made-up falling loss history: no update, no loss_func call,
# the same minibatch every time. It used to earn 10 of nn_train's 12 points, as the tests read
# the schedule and the fall of the loss from the history the student's own code reports (the
# remaining 2 are the accuracy histories, which this body still computes for real).
FAKE_SGD = """\
prev = learning_rate if it % iterations_per_epoch else learning_rate / learning_rate_decay
loss_history.append(loss_history[-1] - len(params) * prev if loss_history else 0.0)
X_batch, y_batch = X[:batch_size], y[:batch_size]"""


def scores_of(course: Course, edits: tuple[Edit, ...]) -> dict[str, tuple[float, float]]:
    """test name -> (score, max_score) of the solved notebook with `edits`, graded in the
    sandbox."""
    nb = course.solved
    for edit in edits:
        nb = edit(nb)
    result = grade_module(graded_module_source(nb, course.release), course.config, course.tests,
                          course.ref, None)
    return {t["name"]: (t["score"], t["max_score"]) for t in result.tests}


@pytest.fixture(scope="module")
def a4() -> Course:
    return Course("A4")


def test_honest_solution_keeps_every_point_of_training_and_gradients(a4: Course) -> None:
    """The control: the same grading of the untouched solution loses nothing in these groups."""
    scores = scores_of(a4, ())
    names = [t.name for t in a4.tests.__hidden_tests__ if t.grade_id in ("nn_train", "nn_backward")]
    assert names and {n: scores[n] for n in names if scores[n][0] < scores[n][1] - 1e-5} == {}  # scores are rounded


def test_made_up_loss_history_without_sgd_earns_nothing_for_training(a4: Course) -> None:
    scores = scores_of(a4, (replace_body("nn_train", FAKE_SGD, 0),))
    assert scores["learning_rate_decays_once_per_epoch"][0] == 0.0
    assert scores["training_lowers_the_loss"][0] == 0.0


# nn_forward_backward's backward pass replaced by a complex-step derivative of the student's own
# loss, vectorized over the parameters (np.eye perturbs every entry at once, one batched forward
# pass with einsum): no gradient derived, no Python loop over the data, no forbidden call. It
# used to earn all 20 points of nn_backward; on the large net of the hidden tests it needs far
# more memory than the worker has (and a loop over the parameters far more time).
COMPLEX_STEP_BACKWARD = """\
hc = 1e-30
def loss_of(P):
    pre = np.einsum("nd,bdh->bnh", X, P["W1"]) + P["b1"][:, None, :]
    hid = np.where(pre.real > 0, pre, 0)
    s = np.einsum("bnh,bhc->bnc", hid, P["W2"]) + P["b2"][:, None, :]
    s = s - s.real.max(axis=2, keepdims=True)
    lse = np.log(np.exp(s).sum(axis=2))
    data = (lse - s[:, np.arange(N), y]).mean(axis=1)
    return data + reg * ((P["W1"] * P["W1"]).sum(axis=(1, 2)) + (P["W2"] * P["W2"]).sum(axis=(1, 2)))
for k in ("W1", "b1", "W2", "b2"):
    n = params[k].size
    P = {j: np.broadcast_to(params[j].astype(complex), (n,) + params[j].shape) for j in ("W1", "b1", "W2", "b2")}
    P[k] = params[k][None] + 1j * hc * np.eye(n).reshape((n,) + params[k].shape)
    grads[k] = (loss_of(P).imag / hc).reshape(params[k].shape)"""


def test_complex_step_gradients_earn_nothing_in_nn_backward(a4: Course) -> None:
    scores = scores_of(a4, (replace_body("nn_forward_backward", COMPLEX_STEP_BACKWARD, 1),))
    backward = [t.name for t in a4.tests.__hidden_tests__ if t.grade_id == "nn_backward"]
    assert backward and {name: scores[name] for name in backward if scores[name][0] > 0} == {}


# A3's vectorized losses with an honest loss and dW by numerical differentiation vectorized over
# W's entries: a complex step (softmax) and centered differences (SVM). On the small cases they
# used to match the reference; at CIFAR size they need far more memory than the worker has.
COMPLEX_STEP_SOFTMAX = """\
N, rows = X.shape[0], np.arange(X.shape[0])
def loss_of(Wb):
    s = np.einsum("nd,bdc->bnc", X, Wb)
    s = s - s.real.max(axis=2, keepdims=True)
    data = (np.log(np.exp(s).sum(axis=2)) - s[:, rows, y]).mean(axis=1)
    return data + reg * (Wb * Wb).sum(axis=(1, 2))
loss = loss_of(W[None].astype(complex))[0].real
n = W.size
dW = (loss_of(W[None] + 1j * 1e-30 * np.eye(n).reshape((n,) + W.shape)).imag / 1e-30).reshape(W.shape)"""

CENTERED_DIFFERENCES_SVM = """\
N, rows = X.shape[0], np.arange(X.shape[0])
def loss_of(Wb):
    s = np.einsum("nd,bdc->bnc", X, Wb)
    m = np.maximum(0, s - s[:, rows, y][:, :, None] + 1)
    m[:, rows, y] = 0
    return m.sum(axis=(1, 2)) / N + reg * (Wb * Wb).sum(axis=(1, 2))
loss = loss_of(W[None])[0]
n, h = W.size, 1e-5
E = h * np.eye(n).reshape((n,) + W.shape)
dW = ((loss_of(W[None] + E) - loss_of(W[None] - E)) / (2 * h)).reshape(W.shape)"""


@pytest.fixture(scope="module")
def a3() -> Course:
    return Course("A3")


@pytest.mark.parametrize(("function", "body"), [("softmax_loss_vectorized", COMPLEX_STEP_SOFTMAX),
                                                ("svm_loss_vectorized", CENTERED_DIFFERENCES_SVM)],
                         ids=["complex-step-softmax", "centered-differences-svm"])
def test_numerical_gradients_earn_nothing_for_a3s_vectorized_gradient(a3: Course, function: str,
                                                                      body: str) -> None:
    scores = scores_of(a3, (replace_body(function, body),))
    gradient = [t.name for t in a3.tests.__hidden_tests__
                if t.grade_id == function and "gradient" in t.name]
    assert gradient and {n: scores[n] for n in gradient if scores[n][0] > 0} == {}
    # the loss is honest work and keeps its points
    loss = function.replace("_loss_", "_") + "_loss_matches_reference"
    assert scores[loss][0] == pytest.approx(scores[loss][1], abs=1e-5)


def test_honest_a3_keeps_every_point_of_its_vectorized_losses(a3: Course) -> None:
    """The control for the A3 cases: the untouched solution, graded the same way."""
    scores = scores_of(a3, ())
    names = [t.name for t in a3.tests.__hidden_tests__ if t.grade_id.endswith("_loss_vectorized")]
    assert names and {n: scores[n] for n in names if scores[n][0] < scores[n][1] - 1e-5} == {}


# The untouched release notebook (every TODO still raises) handed in with a best-model file
# from elsewhere (a classmate's, or one trained with any library) used to earn the model's 20
# points with no code at all. The model's points now count once its code earns points.
@pytest.fixture(scope="module")
def borrowed_model(a4: Course, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a good nn_best_model.npz that no student code made (the reference trains
    it on the grader's own test split, so it is well over the full-credit bar)."""
    X, y, C = graders_test_split(a4.config.dataset, False)
    params = a4.ref.nn_init_params(X.shape[1], 64, C, std=0.1, seed=0)
    np.random.seed(0)
    a4.ref.nn_train(params, a4.ref.nn_forward_backward, a4.ref.nn_predict, X, y, X, y,
                    learning_rate=0.5, learning_rate_decay=0.99, reg=1e-4, num_iters=300, batch_size=100)
    folder = tmp_path_factory.mktemp("borrowed")
    np.savez(folder / "nn_best_model.npz", **params)
    return folder


def _model_entry(course: Course, nb: Any, folder: Path) -> dict[str, Any]:
    result = grade_module(graded_module_source(nb, course.release), course.config, course.tests,
                          course.ref, folder)
    return next(t for t in result.tests if t["grade_id"] == "nn_best_model")


def test_borrowed_model_with_the_solved_code_earns_its_points(a4: Course, borrowed_model: Path) -> None:
    """The control: the model file is good, so a zero below is the gate's."""
    entry = _model_entry(a4, a4.solved, borrowed_model)
    assert entry["score"] == pytest.approx(entry["max_score"])


def test_borrowed_model_with_an_untouched_release_earns_nothing(a4: Course, borrowed_model: Path) -> None:
    entry = _model_entry(a4, a4.release, borrowed_model)
    assert entry["score"] == 0.0
    assert ("count once your code passes forward_pass_matches_reference and "
            "learning_rate_decays_once_per_epoch") in entry["message"]


def test_model_requiring_a_model_is_a_config_error() -> None:
    data = tomllib.loads((solution_dir("A4") / "assignment.toml").read_text())
    data["models"]["nn_best_model"]["requires"] = ["nn_train", "nn_best_model"]
    with pytest.raises(ConfigError, match=r"models\.nn_best_model\.requires\[1\]"):
        parse_config(data)


def test_model_requiring_an_unknown_test_is_the_instructors_error_not_a_silent_zero(a4: Course) -> None:
    spec = dataclasses.replace(a4.config.models["nn_best_model"], requires=("nn_trian",))
    entry = {"name": "nn_best_model", "grade_id": "nn_best_model", "score": 20.0, "max_score": 20.0,
             "status": "passed", "message": "test accuracy 0.980"}
    gated = gate_model(entry, spec, {"nn_train": 12.0, "learning_rate_decays_once_per_epoch": 6.0})
    assert gated["status"] == "error" and gated["message"].startswith("internal:")


@pytest.fixture(scope="module")
def borrowed_linear_model(a3: Course, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a good svm_best_model.npz that no student code made (least squares on the
    grader's own test split, with the bias column)."""
    X, y, C = graders_test_split(a3.config.dataset, True)
    W = np.linalg.lstsq(X, np.eye(C)[y], rcond=None)[0]
    folder = tmp_path_factory.mktemp("borrowed_linear")
    np.savez(folder / "svm_best_model.npz", W=W)
    return folder


def _linear_model_entry(course: Course, nb: Any, folder: Path) -> dict[str, Any]:
    result = grade_module(graded_module_source(nb, course.release), course.config, course.tests,
                          course.ref, folder)
    return next(t for t in result.tests if t["grade_id"] == "svm_best_model")


def test_borrowed_linear_model_with_the_solved_code_earns_its_points(a3: Course,
                                                                     borrowed_linear_model: Path) -> None:
    """The control: the file is good, so a zero below is the gate's."""
    entry = _linear_model_entry(a3, a3.solved, borrowed_linear_model)
    assert entry["score"] == pytest.approx(entry["max_score"])


def test_borrowed_linear_model_with_an_untouched_a3_release_earns_nothing(a3: Course,
                                                                           borrowed_linear_model: Path) -> None:
    entry = _linear_model_entry(a3, a3.release, borrowed_linear_model)
    assert entry["score"] == 0.0
    assert "count once your code passes svm_vectorized_gradient_matches_reference" in entry["message"]
