"""Points without work, found by a red team: each case earns nothing for the work it fakes.

Each case is the real release with the instructor's solution in its TODO blocks, then one body
replaced by the attack; the graft builds the graded module as `autograder grade` does and the
engine runs the hidden tests against it in the sandboxed worker (with the assignment's limits).
"""

from __future__ import annotations

import pytest

from adversarial.test_no_work import Course, Edit, replace_body
from autograder.core.graft import graded_module_source
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
    names = [t.name for t in a4.tests.__hidden_tests__ if t.grade_id == "nn_train"]
    assert names and {n: scores[n] for n in names if scores[n][0] < scores[n][1] - 1e-5} == {}  # scores are rounded


def test_made_up_loss_history_without_sgd_earns_nothing_for_training(a4: Course) -> None:
    scores = scores_of(a4, (replace_body("nn_train", FAKE_SGD, 0),))
    assert scores["learning_rate_decays_once_per_epoch"][0] == 0.0
    assert scores["training_lowers_the_loss"][0] == 0.0

