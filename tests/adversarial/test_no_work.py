"""Submissions that do no work earn nothing for it, graded for real.

A function that returns `(0.0, zeros)` is perfectly consistent with itself: its gradient agrees
with the numeric gradient of its own loss, and shifting the scores changes nothing. Such tests
used to pay for it (A3: four zero losses earned 12 of 40; A4: loss 0 with zero gradients 8 of
the 20 of nn_backward). Each case here is the real release with the instructor's solution in
its TODO blocks, then some bodies replaced by a no-work answer; the graft builds the graded
module exactly as `autograder grade` does, and the engine runs the hidden tests against it in
the sandboxed worker. The no-work groups must score 0; the honest control, graded the same way,
keeps full marks in every group (its untouched functions keep theirs in the no-work cases too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fixtures import make_violations as mv

from autograder.core.config import load_config, release_dir, solution_dir
from autograder.core.graft import graded_module_source
from autograder.core.module import load_trusted_module, module_source
from autograder.core.notebook import read_notebook
from autograder.grading.engine import grade_module
from autograder.grading.hidden import load_tests_module

NOTEBOOKS = {"A3": "linear_classifier.ipynb", "A4": "two_layer_net.ipynb"}
A3_LOSSES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")

Edit = Callable[[Any], Any]


def replace_body(function: str, body: str, block: int = 0) -> Edit:
    """The student's TODO body number `block` of `function` (counted from the function's first
    block) replaced by `body`."""

    def apply(nb: Any) -> Any:
        index, first = mv.find_function(nb, function)
        return mv.put_body(nb, index, first + block, body)

    return apply


# (case id, assignment, edits, groups that must score 0, other groups that may lose points
# because their tests run the broken function: A3's training needs one correct loss, A4's
# training and search train with the student's nn_forward_backward)
CASES: list[tuple[str, str, tuple[Edit, ...], tuple[str, ...], tuple[str, ...]]] = [
    ("a3-honest", "A3", (), (), ()),
    ("a3-zero-losses", "A3",
     tuple(replace_body(name, "return 0.0, np.zeros_like(W)") for name in A3_LOSSES), A3_LOSSES,
     ("train_linear_classifier",)),
    ("a3-constant-losses", "A3",
     tuple(replace_body(name, "return 1.0, np.ones_like(W)") for name in A3_LOSSES), A3_LOSSES,
     ("train_linear_classifier",)),
    ("a4-honest", "A4", (), (), ()),
    # Part 2 (the loss) and Part 3 (the gradients) of nn_forward_backward left without work;
    # the release's own lines (forward pass call, `if y is None: return scores`) still run.
    ("a4-zero-loss-and-gradients", "A4",
     (replace_body("nn_forward_backward", "loss = 0.0", 0),
      replace_body("nn_forward_backward", "grads = {k: np.zeros_like(v) for k, v in params.items()}", 1)),
     ("nn_loss", "nn_backward"), ("nn_train", "nn_search")),
    ("a4-zero-gradients-honest-loss", "A4",
     (replace_body("nn_forward_backward", "grads = {k: np.zeros_like(v) for k, v in params.items()}", 1),),
     ("nn_backward",), ("nn_train", "nn_search")),
]


class Course:
    """What grading one assignment needs, loaded once: release, solved notebook, config, the
    hidden tests and the reference (trusted side)."""

    def __init__(self, assignment: str) -> None:
        notebook = NOTEBOOKS[assignment]
        self.release = read_notebook(release_dir(assignment) / notebook)
        self.solved = mv.solved_real(release_dir(assignment) / notebook, assignment, notebook)
        sol = solution_dir(assignment)
        self.config = load_config(sol / "assignment.toml")
        self.tests = load_tests_module(sol / "hidden_tests.py")
        self.ref = load_trusted_module(module_source(read_notebook(sol / notebook).cells),
                                       f"reference_{assignment}_no_work")

    def group_scores(self, edits: tuple[Edit, ...]) -> dict[str, tuple[float, float]]:
        """grade_id -> (score, max_score) of the solved notebook with `edits`, graded in the
        sandbox (no model files: the best-model groups are not part of these cases)."""
        nb = self.solved
        for edit in edits:
            nb = edit(nb)
        source = graded_module_source(nb, self.release)
        result = grade_module(source, self.config, self.tests, self.ref, None)
        groups: dict[str, tuple[float, float]] = {}
        for test in result.tests:
            score, top = groups.get(test["grade_id"], (0.0, 0.0))
            groups[test["grade_id"]] = (score + test["score"], top + test["max_score"])
        return {g: (round(s, 6), round(m, 6)) for g, (s, m) in groups.items()}


@pytest.fixture(scope="module")
def courses() -> dict[str, Course]:
    return {name: Course(name) for name in NOTEBOOKS}


@pytest.mark.parametrize(("case", "assignment", "edits", "no_work", "dependents"), CASES,
                         ids=[c[0] for c in CASES])
def test_no_work_scores_0_in_its_groups_and_honest_work_keeps_its_points(
    courses: dict[str, Course], case: str, assignment: str, edits: tuple[Edit, ...],
    no_work: tuple[str, ...], dependents: tuple[str, ...],
) -> None:
    groups = courses[assignment].group_scores(edits)
    assert set(no_work) <= set(groups), f"{case}: no hidden test ran for {set(no_work) - set(groups)}"
    paid = {g: s for g, s in groups.items() if g in no_work and s[0] > 0}
    assert paid == {}, f"{case}: points for no work"
    # Only the edited groups lose points: the rest of the honest solution keeps full marks.
    lost = {g: s for g, s in groups.items()
            if g not in no_work + dependents and s[0] < s[1] - 1e-6}
    assert lost == {}, f"{case}: honest groups lost points"
