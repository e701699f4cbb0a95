"""The student-facing message audit of the policy rules, on the real A3 and A4 releases.

Every violation message is tried on a wrong notebook (each maker of
tests/fixtures/make_violations.py, at least two per rule) and on the right one (the instructor's
solution grafted in and run): the right one gets no violation at all; each wrong one gets its
rule, with a message that says where (cell and line), what happened and what to do, and never
shows a host path or a traceback. What the self-check says a finding costs is what the report
charges.
"""

from __future__ import annotations

import pytest
from fixtures import make_violations as mv

from autograder.core.config import REPO_ROOT, find_config
from autograder.core.contracts import GradeResult
from autograder.grading.report import RULE_HINTS, build_report
from autograder.student.check import check_notebook


def report_json(result: dict, config) -> dict:
    """report.json's content for a worker result given in its JSON form."""
    return build_report(GradeResult.from_json(result), config).to_json()


RELEASES = {"A3": "linear_classifier.ipynb", "A4": "two_layer_net.ipynb"}
POLICIES = {
    "A3": mv.policy_for("A3", ("svm_loss_vectorized", "softmax_loss_vectorized"), ("np.vectorize",)),
    "A4": mv.policy_for("A4", ("nn_forward_pass", "nn_forward_backward", "nn_predict"), ("np.vectorize",)),
}
CASES = [(a, rule, label, maker) for a in RELEASES for rule, makers in mv.MAKERS.items()
         for label, maker in makers]
_SOLVED: dict[str, object] = {}


def solved(assignment: str):
    if assignment not in _SOLVED:
        _SOLVED[assignment] = mv.solved_real(REPO_ROOT / "assignments" / assignment / RELEASES[assignment],
                                             assignment, RELEASES[assignment])
    return _SOLVED[assignment]


@pytest.mark.parametrize("assignment", list(RELEASES))
def test_the_right_notebook_gets_no_violation(assignment):
    result = check_notebook(solved(assignment), assignment=assignment)
    assert ([v.message for v in result.violations], result.unfinished) == ([], [])


@pytest.mark.parametrize(("assignment", "rule", "label", "maker"), CASES,
                         ids=[f"{a}-{r}-{label}" for a, r, label, _ in CASES])
def test_violation_message_says_where_what_and_what_to_do(assignment, rule, label, maker):
    wrong = maker(solved(assignment), POLICIES[assignment])
    result = check_notebook(wrong, assignment=assignment)
    mine = [v for v in result.violations if v.rule == rule]
    assert mine, [v.rule for v in result.violations]
    for v in result.violations:
        text = v.message + v.detail
        assert "Traceback" not in text and str(REPO_ROOT) not in text and "/tmp/" not in text, text
        if v.cell is not None:
            assert v.message.startswith(f"Cell {v.cell}"), v.message
        what, _, todo = v.message.partition(" — ")
        assert what and len(todo.strip()) > 10, f"{v.rule}: no action in {v.message!r}"
        assert RULE_HINTS.get(v.rule), f"{v.rule} has no hint in the feedback"


@pytest.mark.parametrize(("assignment", "rule", "label", "maker"), CASES,
                         ids=[f"{a}-{r}-{label}" for a, r, label, _ in CASES])
def test_self_check_and_report_agree_on_what_each_finding_costs(assignment, rule, label, maker):
    result = check_notebook(maker(solved(assignment), POLICIES[assignment]), assignment=assignment)
    report = report_json({"student_id": "s1", "tests": [],
                           "violations": [v.to_dict() for v in result.violations]}, find_config(assignment))
    shown = [(v["rule"], v["severity"]) for v in report["violations"]]
    assert shown == [(v.rule, v.severity) for v in result.violations]
    assert report["deduction"] <= sum(v.deduction for v in result.violations) + 1e-9
