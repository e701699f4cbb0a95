"""Disguised loops and replaced graded functions in A3, graded for real: the self-check's rules
on the notebook, then the sandboxed engine on the graded module, scored as the grader scores.

Every evasion here once gave full marks for `svm_loss_vectorized` with no violation: the work
(vectorizing) was not done, the naive loop did it. Each must now earn the vectorized group
nothing and be flagged, and the honest controls (vectorized code with a helper, a lambda used
once, a comprehension over a constant tuple) keep full marks with no violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.core.config import load_config, release_dir, solution_dir
from autograder.core.graft import graded_module, graft
from autograder.core.module import load_trusted_module, module_source
from autograder.core.notebook import read_notebook
from autograder.core.score import score_submission
from autograder.grading.engine import grade_module
from autograder.grading.hidden import load_tests_module
from autograder.student.check import check_notebook

ASSIGNMENT, NOTEBOOK = "A3", "linear_classifier.ipynb"
TARGET = "svm_loss_vectorized"

# Every body below computes the right answer (the hidden tests would pass): only the way it
# gets there is wrong.
PER_EXAMPLE = (
    "N = X.shape[0]\n"
    "losses = list({each}(lambda i: {naive}(W, X[i:i + 1], y[i:i + 1], 0.0)[0], range(N)))\n"
    "grads = list({each}(lambda i: {naive}(W, X[i:i + 1], y[i:i + 1], 0.0)[1], range(N)))\n"
    "loss = np.sum(losses) / N + reg * np.sum(W * W)\n"
    "dW = np.sum(grads, axis=0) / N + 2 * reg * W"
)
FRAMES = (
    "try:\n    raise ValueError\nexcept ValueError as e:\n"
    "    g = e.__traceback__.tb_frame.f_globals\n"
)
EVASIONS = {
    "calls the naive version": "loss, dW = svm_loss_naive(W, X, y, reg)",
    "an alias of map": "mp = map\n" + PER_EXAMPLE.format(each="mp", naive="svm_loss_naive"),
    "map from numpy's module dict": (
        "m = np.__dict__['__builtins__']['ma' + 'p']\n"
        + PER_EXAMPLE.format(each="m", naive="svm_loss_naive")),
    "np.vectorize by a computed name": (
        "xp = np\nvec = getattr(xp, 'vector' + 'ize')\n"
        "N = X.shape[0]\n"
        "parts = vec(lambda i: svm_loss_naive(W, X[i:i + 1], y[i:i + 1], 0.0)[0])(np.arange(N))\n"
        "loss = float(np.sum(parts)) / N + reg * np.sum(W * W)\n"
        "dW = svm_loss_naive(W, X, y, reg)[1]"),
    "recursion through a nested function": (
        "N = X.shape[0]\n"
        "def rec(i):\n"
        "    if i == N:\n        return 0.0, np.zeros_like(W)\n"
        "    l, d = svm_loss_naive(W, X[i:i + 1], y[i:i + 1], 0.0)\n"
        "    rl, rd = rec(i + 1)\n    return l + rl, d + rd\n"
        "total, grad = rec(0)\n"
        "loss = total / N + reg * np.sum(W * W)\ndW = grad / N + 2 * reg * W"),
    "the naive function reached through a traceback": (
        FRAMES + "loss, dW = g['svm_loss_' + 'naive'](W, X, y, reg)"),
}

HONEST = {
    "a helper function": (
        "def hinge(s, rows):\n"
        "    m = np.maximum(0, s - s[rows, y][:, np.newaxis] + 1)\n    m[rows, y] = 0\n    return m\n"
        "N = X.shape[0]\nrows = np.arange(N)\nmargins = hinge(X.dot(W), rows)\n"
        "loss = margins.sum() / N + reg * np.sum(W * W)\n"
        "ds = (margins > 0).astype(np.float64)\nds[rows, y] = -ds.sum(axis=1)\n"
        "dW = X.T.dot(ds) / N + 2 * reg * W"),
    "a lambda used once": (
        "N = X.shape[0]\nrows = np.arange(N)\nscores = X.dot(W)\n"
        "hinge = lambda s: np.maximum(0, s - s[rows, y][:, np.newaxis] + 1)\n"
        "margins = hinge(scores)\nmargins[rows, y] = 0\n"
        "loss = margins.sum() / N + reg * np.sum(W * W)\n"
        "ds = (margins > 0).astype(np.float64)\nds[rows, y] = -ds.sum(axis=1)\n"
        "dW = X.T.dot(ds) / N + 2 * reg * W"),
    "a comprehension over a constant tuple": (
        "N = X.shape[0]\nrows = np.arange(N)\nscores = X.dot(W)\n"
        "margins = np.maximum(0, scores - scores[rows, y][:, np.newaxis] + 1)\nmargins[rows, y] = 0\n"
        "data_loss, reg_loss = [np.sum(a) for a in (margins / N, reg * W * W)]\n"
        "loss = data_loss + reg_loss\n"
        "ds = (margins > 0).astype(np.float64)\nds[rows, y] = -ds.sum(axis=1)\n"
        "dW = X.T.dot(ds) / N + 2 * reg * W"),
}


@dataclass
class Graded:
    """One submission as the grader sees it: findings of both halves, tests, the score."""

    violations: list[dict[str, Any]]
    tests: list[dict[str, Any]]
    score: Any

    def rules(self) -> list[str]:
        return [v["rule"] for v in self.violations]

    def group(self, grade_id: str) -> float:
        return self.score.groups[grade_id].score or 0.0


def make_kit(assignment: str, notebook: str) -> dict[str, Any]:
    """The assignment's config, hidden tests, reference, release and solved notebook."""
    sol = solution_dir(assignment)
    config = load_config(sol / "assignment.toml")
    ref_source = module_source(read_notebook(sol / notebook).cells)
    return {
        "assignment": assignment,
        "config": config,
        "tests": load_tests_module(sol / "hidden_tests.py"),
        "ref": load_trusted_module(ref_source, f"{assignment}_reference"),
        "release": nbformat.read(str(release_dir(assignment) / notebook), as_version=4),
        "solved": mv.solved_real(release_dir(assignment) / notebook, assignment, notebook),
    }


@pytest.fixture(scope="module")
def kit() -> dict[str, Any]:
    return make_kit(ASSIGNMENT, NOTEBOOK)


@pytest.fixture(scope="module")
def kit4() -> dict[str, Any]:
    return make_kit("A4", "two_layer_net.ipynb")


def grade(kit: dict[str, Any], nb: nbformat.NotebookNode) -> Graded:
    """The self-check's rules, then the engine on the graft, then the score."""
    config = kit["config"]
    static = [v.to_dict() for v in check_notebook(dict(nb), assignment=kit["assignment"]).violations]
    module = graded_module(graft(nb, kit["release"]))
    result = grade_module(module.source, config, kit["tests"], kit["ref"], None, prestart=False,
                          where=module.where)
    violations = static + result.violations
    return Graded(violations, result.tests, score_submission(result.tests, violations, config))


def with_body(kit: dict[str, Any], function: str, body: str) -> nbformat.NotebookNode:
    index, block = mv.find_function(kit["solved"], function)
    return mv.put_body(kit["solved"], index, block, body)


@pytest.mark.parametrize("label", list(EVASIONS))
def test_disguised_loop_earns_the_vectorized_group_nothing_and_is_flagged(kit, label: str) -> None:
    graded = grade(kit, with_body(kit, TARGET, EVASIONS[label]))
    assert graded.group(TARGET) == 0.0
    assert "loop-in-vectorized" in graded.rules(), graded.violations
    assert graded.group("svm_loss_naive") == kit["config"].tests["svm_loss_naive"]


@pytest.mark.parametrize("label", list(EVASIONS))
def test_disguised_loop_is_charged_once(kit, label: str) -> None:
    graded = grade(kit, with_body(kit, TARGET, EVASIONS[label]))
    loops = [i for i, v in enumerate(graded.violations) if v["rule"] == "loop-in-vectorized"]
    charged = [graded.score.violation_deductions[i] for i in loops]
    assert sorted(charged, reverse=True)[0] > 0 and sum(1 for c in charged if c > 0) == 1


def test_rebinding_from_another_function_at_run_time_earns_nothing(kit) -> None:
    index, block = mv.find_function(kit["solved"], "svm_loss_naive")
    naive = mv.add_to_body(kit["solved"], index, FRAMES + "g['svm_loss_vectorized'] = svm_loss_naive", block)
    nb = mv.put_body(naive, *mv.find_function(naive, TARGET), "raise NotImplementedError")
    graded = grade(kit, nb)
    assert graded.group(TARGET) == 0.0
    assert "sandbox-violation" in graded.rules() and "forbidden-call" in graded.rules()


def test_rebinding_through_a_global_statement_earns_nothing(kit) -> None:
    index, block = mv.find_function(kit["solved"], "svm_loss_naive")
    naive = mv.add_to_body(kit["solved"], index,
                           "global svm_loss_vectorized\nsvm_loss_vectorized = svm_loss_naive", block)
    nb = mv.put_body(naive, *mv.find_function(naive, TARGET), "raise NotImplementedError")
    graded = grade(kit, nb)
    assert graded.group(TARGET) == 0.0
    assert graded.violations


@pytest.mark.parametrize("label", list(HONEST))
def test_honest_vectorized_control_keeps_full_marks(kit, label: str) -> None:
    graded = grade(kit, with_body(kit, TARGET, HONEST[label]))
    assert graded.violations == []
    assert graded.group(TARGET) == kit["config"].tests[TARGET]


def test_the_solution_itself_keeps_full_marks(kit) -> None:
    graded = grade(kit, kit["solved"])
    assert graded.violations == []
    assert all(t["status"] == "passed" for t in graded.tests), graded.tests


# A4: a loop the rules cannot see (map taken from numpy's module dict), and the honest
# comprehension over the weights' names.

A4_MAP_FROM_NUMPY = (
    "m = np.__dict__['__builtins__']['ma' + 'p']\n"
    "hidden = np.array(list(m(lambda r: np.maximum(0, r.dot(W1) + b1), X)))\n"
    "scores = hidden.dot(W2) + b2"
)
A4_WEIGHT_NAMES = (
    "shifted = scores - scores.max(axis=1, keepdims=True)\n"
    "exp_scores = np.exp(shifted)\n"
    "probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)\n"
    "penalty = sum(np.sum(params[k] * params[k]) for k in ('W1', 'W2'))\n"
    "loss = -np.mean(np.log(probs[np.arange(N), y])) + reg * penalty"
)


def test_a4_loop_only_the_measurement_sees_earns_nothing(kit4) -> None:
    graded = grade(kit4, with_body(kit4, "nn_forward_pass", A4_MAP_FROM_NUMPY))
    assert graded.group("nn_forward_pass") == 0.0
    found = [v for v in graded.violations if v["rule"] == "loop-in-vectorized"]
    assert len(found) == 1 and "Python-level work grows" in found[0]["message"]
    assert "forbidden-call" in graded.rules()  # np.__dict__ and the '__builtins__' key


def test_a4_comprehension_over_the_weight_names_keeps_full_marks(kit4) -> None:
    graded = grade(kit4, with_body(kit4, "nn_forward_backward", A4_WEIGHT_NAMES))
    assert graded.violations == []
    assert all(t["status"] == "passed" for t in graded.tests), graded.tests


def test_a4_loop_over_the_params_keys_costs_its_deduction_not_the_tests(kit4) -> None:
    # A `for` over a dict's four keys is a loop to the rules (they cannot know the dict is
    # small), but its work does not grow with the data: the tests keep their points.
    body = ("shifted = scores - scores.max(axis=1, keepdims=True)\n"
            "exp_scores = np.exp(shifted)\n"
            "probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)\n"
            "penalty = 0.0\n"
            "for k in params:\n"
            "    if k.startswith('W'):\n"
            "        penalty += np.sum(params[k] * params[k])\n"
            "loss = -np.mean(np.log(probs[np.arange(N), y])) + reg * penalty")
    graded = grade(kit4, with_body(kit4, "nn_forward_backward", body))
    assert graded.rules() == ["loop-in-vectorized"]
    assert all(t["status"] == "passed" for t in graded.tests), graded.tests
