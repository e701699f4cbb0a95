"""Fair to honest students: what a finding costs, charged once; IPython lines read as tokens.

Each test names the behaviour it pins; the real notebooks (A3, A4 releases with the instructor's
solution grafted in) are used where the behaviour was seen on real student code.
"""

from __future__ import annotations

import copy

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.core.config import REPO_ROOT, find_config
from autograder.core.contracts import GradeResult
from autograder.core.integrity import source_of, split_magics
from autograder.core.score import charged_findings, finding_cost, score_submission
from autograder.grading.report import build_report
from autograder.student.check import check_notebook


def report_json(result: dict, config) -> dict:
    """report.json's content for a worker result given in its JSON form."""
    return build_report(GradeResult.from_json(result), config).to_json()


A3_RELEASE = REPO_ROOT / "assignments" / "A3" / "linear_classifier.ipynb"
A4_RELEASE = REPO_ROOT / "assignments" / "A4" / "two_layer_net.ipynb"


@pytest.fixture(scope="module")
def a3():
    return find_config("A3")


@pytest.fixture(scope="module")
def solved_a3():
    return mv.solved_real(A3_RELEASE, "A3", "linear_classifier.ipynb")


def _with_body(nb, function: str, body: str):
    index, block = mv.find_function(nb, function)
    return mv.put_body(nb, index, block, body)


def _rules(result) -> list[str]:
    return [v.rule for v in result.violations]


# --------------------------------------------------------------------------- magics as tokens


def test_percent_continuation_line_is_python_not_a_magic():
    source = "print('it %d, lr %g'\n      % (i, lr))\n"
    assert split_magics(source) == (source, [])


def test_percent_after_backslash_continuation_is_python_not_a_magic():
    source = "x = 'a %d' \\\n    % 2\n"
    assert split_magics(source)[1] == []


def test_magic_like_line_inside_triple_quoted_string_is_text():
    source = 's = """\nwidth=%d\n%matplotlib inline\n"""\nprint(s % 3)\n'
    assert split_magics(source) == (source, [])


def test_magic_and_shell_lines_at_a_logical_line_start_are_found():
    source = "%matplotlib inline\nfiles = !ls\ndef f():\n    !pip install scipy\n"
    assert [line for line, _ in split_magics(source)[1]] == [1, 2, 4]


def test_cell_magic_makes_the_whole_cell_not_python():
    clean, magics = split_magics("%%bash\nls -la\n")
    assert magics == [(1, "%%bash")]
    assert all(line == "pass" for line in clean.split("\n"))


def test_multiline_percent_formatting_in_a_todo_body_is_no_violation(solved_a3, a3):
    nb = _with_body(solved_a3, "svm_get_search_params", "\n".join([
        "learning_rates = [1e-1, 3e-1, 1.0]",
        "regularization_strengths = [1e-4, 1e-3, 1e-2]",
        "note = ('%d learning rates, %d strengths'",
        "        % (len(learning_rates), len(regularization_strengths)))",
        'table = """',
        "width=%d",
        '"""',
    ]))
    result = check_notebook(nb, assignment="A3")
    assert _rules(result) == [], [v.message for v in result.violations]


# --------------------------------------------------------------------------- what a finding costs


def test_warning_only_finding_is_free_whatever_the_rule_deduction(a3):
    assert a3.rule("not-executed").deduction > 0
    assert finding_cost("not-executed", a3, warning_only=True) == ("warning", 0.0)


def test_rule_policy_decides_the_cost_of_an_ordinary_finding(a3):
    policy = a3.rule("locked-cell-modified")
    assert finding_cost("locked-cell-modified", a3) == (policy.severity, policy.deduction)


def test_warning_only_violation_costs_nothing_in_the_score(a3):
    v = {"rule": "locked-cell-modified", "severity": "warning", "message": "Cell 3, line 1: a comment",
         "cell": 3, "line": 1, "deduction": 0.0, "warning_only": True}
    result = score_submission([], [v], a3)
    assert result.deduction == 0.0
    assert result.violation_deductions == [0.0]


def test_report_shows_the_finding_severity_not_the_rule_severity(a3):
    v = {"rule": "locked-cell-modified", "severity": "warning", "message": "Cell 3, line 1: a comment",
         "cell": 3, "line": 1, "deduction": 0.0, "warning_only": True}
    report = report_json({"student_id": "s1", "tests": [], "violations": [v]}, a3)
    (shown,) = report["violations"]
    assert (shown["severity"], shown["deduction"], report["deduction"]) == ("warning", 0.0, 0.0)


def _executed(nb):
    return mv.mark_run(copy.deepcopy(nb))


def test_one_cell_run_again_keeps_full_marks_with_a_free_warning(solved_a3, a3):
    nb = _executed(solved_a3)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[5].execution_count = max(c.execution_count for c in code) + 1  # re-ran one cell at the end
    result = check_notebook(nb, assignment="A3")
    report = report_json({"student_id": "s1", "tests": [],
                           "violations": [v.to_dict() for v in result.violations]}, a3)
    assert [v["rule"] for v in report["violations"]] == ["not-executed"]
    assert [(v["severity"], v["deduction"]) for v in report["violations"]] == [("warning", 0.0)]
    assert report["deduction"] == 0.0


def test_comment_edited_in_a_locked_cell_keeps_full_marks_with_a_free_warning(solved_a3, a3):
    nb = _executed(solved_a3)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "Sanity checks for svm_loss_naive" in c.source)
    cell.source = cell.source.replace("# Sanity checks for svm_loss_naive", "# Sanity checks (ran them twice)")
    result = check_notebook(nb, assignment="A3")
    report = report_json({"student_id": "s1", "tests": [],
                           "violations": [v.to_dict() for v in result.violations]}, a3)
    assert [v["rule"] for v in report["violations"]] == ["locked-cell-modified"]
    assert [(v["severity"], v["deduction"]) for v in report["violations"]] == [("warning", 0.0)]
    assert report["deduction"] == 0.0


# --------------------------------------------------------------------------- charged once


def test_np_vectorize_line_is_charged_once(solved_a3, a3):
    nb = _executed(_with_body(solved_a3, "svm_loss_vectorized", "\n".join([
        "hinge = np.vectorize(lambda m: max(m, 0.0))",
        "scores = X.dot(W)",
        "num_train = X.shape[0]",
        "correct = scores[np.arange(num_train), y][:, None]",
        "margins = hinge(scores - correct + 1)",
        "margins[np.arange(num_train), y] = 0",
        "loss = margins.sum() / num_train + reg * np.sum(W * W)",
        "mask = (margins > 0).astype(float)",
        "mask[np.arange(num_train), y] = -mask.sum(axis=1)",
        "dW = X.T.dot(mask) / num_train + 2 * reg * W",
    ])))
    result = check_notebook(nb, assignment="A3")
    assert sorted(_rules(result)) == ["forbidden-call", "loop-in-vectorized"]
    scored = score_submission([], [v.to_dict() for v in result.violations], a3)
    assert scored.deduction == a3.rule("forbidden-call").deduction


def test_findings_about_the_same_function_are_charged_once(a3):
    static = {"rule": "loop-in-vectorized", "message": "a loop", "cell": 12, "line": 4,
              "function": "svm_loss_vectorized"}
    measured = {"rule": "loop-in-vectorized", "message": "grows with N", "cell": None,
                "function": "svm_loss_vectorized"}
    charges = charged_findings([static, measured], a3)
    assert [c.points for c in charges] == [a3.rule("loop-in-vectorized").deduction, 0.0]
    assert "charged under loop-in-vectorized" in charges[1].note


def test_different_mistakes_are_each_charged(a3):
    first = {"rule": "forbidden-call", "message": "np.vectorize", "cell": 12, "line": 4}
    second = {"rule": "forbidden-call", "message": "np.vectorize", "cell": 12, "line": 9}
    assert [c.points for c in charged_findings([first, second], a3)] == [5.0, 5.0]


def test_forbidden_import_refused_in_a_failing_test_is_not_deducted_again(a3):
    found = {"rule": "forbidden-import", "message": "Cell 12, line 3: `from scipy.special import "
             "logsumexp` is not allowed — remove it.", "cell": 12, "line": 3}
    failed = {"name": "softmax_vectorized", "grade_id": "softmax_loss_vectorized", "score": 0.0,
              "max_score": 10.0, "status": "failed",
              "message": "ForbiddenOperation: import scipy (allowed imports: math, numpy, time) "
                         "is not allowed in graded code"}
    result = score_submission([failed], [found], a3)
    assert result.deduction == 0.0
    assert "tests" in result.violation_notes[0]


def test_forbidden_import_is_deducted_when_no_test_failed_on_it(a3):
    found = {"rule": "forbidden-import", "message": "Cell 5, line 1: `import scipy` is not allowed",
             "cell": 5, "line": 1}
    passed = {"name": "t", "grade_id": "svm_loss_naive", "score": 10.0, "max_score": 10.0,
              "status": "passed", "message": ""}
    assert score_submission([passed], [found], a3).deduction == a3.rule("forbidden-import").deduction


def test_not_executed_notebook_still_costs_what_assignment_toml_says(solved_a3, a3):
    nb = copy.deepcopy(solved_a3)
    for cell in nb.cells:  # saved without being run
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    result = check_notebook(nb, assignment="A3")
    scored = score_submission([], [v.to_dict() for v in result.violations], a3)
    assert "not-executed" in _rules(result)
    assert scored.deduction == a3.rule("not-executed").deduction


def test_check_and_report_agree_on_every_finding_cost(solved_a3, a3):
    nb = _executed(solved_a3)
    nb.cells.insert(3, nbformat.v4.new_code_cell("x = 1", execution_count=1))
    cell = next(c for c in nb.cells if c.cell_type == "code" and "Sanity checks for sample_batch" in source_of(c))
    cell.source = cell.source.replace("assert len(y_batch) == 25", "assert len(y_batch) >= 0")
    result = check_notebook(nb, assignment="A3")
    report = report_json({"student_id": "s1", "tests": [],
                           "violations": [v.to_dict() for v in result.violations]}, a3)
    assert [(v.rule, v.severity) for v in result.violations] == \
        [(v["rule"], v["severity"]) for v in report["violations"]]
    assert sum(v.deduction for v in result.violations) == pytest.approx(report["deduction"])


# --------------------------------------------------------------------------- smaller items


def test_missing_model_message_never_asks_for_a_forbidden_call(tmp_path):
    from autograder.core.models import ModelInvalid, load_model_file

    with pytest.raises(ModelInvalid) as missing:
        load_model_file(tmp_path / "svm_best_model.npz")
    (tmp_path / "softmax_best_model.npz").write_text("not a zip")
    with pytest.raises(ModelInvalid) as broken:
        load_model_file(tmp_path / "softmax_best_model.npz")
    for message in (str(missing.value), str(broken.value)):
        assert "np.savez" not in message and "search cell" in message


def test_grader_stubs_return_a_numpy_loss_so_item_works():
    import numpy as np

    from autograder.grading.hidden import assignment_stubs

    a3 = assignment_stubs(REPO_ROOT / "solutions" / "A3").functions()
    a4 = assignment_stubs(REPO_ROOT / "solutions" / "A4").functions()
    params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3), "W2": np.zeros((3, 2)), "b2": np.zeros(2)}
    X, y = np.ones((4, 2)), np.zeros(4, dtype=np.int64)
    losses = [a3["linear_constant_gradient_loss"](np.zeros((2, 3)), X, y, 0.0)[0]]
    losses += [a4[name](params, X, y)[0] for name in a4 if "loss" in name]
    assert [float(loss.item()) for loss in losses] == [float(loss) for loss in losses]


def test_check_of_a_notebook_with_unfinished_todos_does_not_say_ok():
    from autograder.student.check import format_result

    fresh = mv.mark_run(nbformat.read(str(A3_RELEASE), as_version=4))
    result = check_notebook(fresh, assignment="A3")
    text = format_result(result)
    assert "OK" not in text.split("\n")[0]
    assert "9 TODO block(s) are not done yet" in text


def test_check_of_a_finished_notebook_says_ok(solved_a3):
    from autograder.student.check import format_result

    result = check_notebook(solved_a3, assignment="A3")
    assert result.unfinished == [] and "OK — no policy problems found" in format_result(result)


def test_grade_help_says_what_the_course_folder_holds():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "solutions/" in out and "assignments/" in out


def test_forbidden_import_in_a_graded_function_is_charged_once_through_the_sandbox(solved_a3, a3):
    """Graded for real: the worker refuses the import, the function's tests fail, and the
    forbidden-import finding is then shown with no deduction."""
    from autograder.core.graft import graded_module_source
    from autograder.core.module import load_trusted_module, module_source
    from autograder.grading.engine import grade_module
    from autograder.grading.hidden import load_tests_module

    index, block = mv.find_function(solved_a3, "softmax_loss_vectorized")
    nb = mv.add_to_body(solved_a3, index, "from scipy.special import logsumexp", block)
    solutions = REPO_ROOT / "solutions" / "A3"
    reference = load_trusted_module(
        module_source(nbformat.read(str(solutions / "linear_classifier.ipynb"), as_version=4).cells), "a3_ref_fair")
    engine = grade_module(graded_module_source(nb, nbformat.read(str(A3_RELEASE), as_version=4)), a3,
                          load_tests_module(solutions / "hidden_tests.py"), reference, None)
    found = [v.to_dict() for v in check_notebook(nb, assignment="A3").violations]
    report = report_json({"student_id": "s1", "tests": engine.tests, "violations": found + engine.violations}, a3)
    assert [v["rule"] for v in report["violations"]] == ["forbidden-import"]
    assert report["deduction"] == 0.0 and report["violations"][0]["note"]
    assert any(t["status"] != "passed" for t in report["tests"] if t["grade_id"] == "softmax_loss_vectorized")


def test_feedback_shows_why_a_finding_is_not_deducted(a3):
    from autograder.grading.report import render_feedback

    first = {"rule": "forbidden-call", "message": "Cell 12, line 4: `np.vectorize` — write it with numpy.",
             "cell": 12, "line": 4}
    second = {"rule": "loop-in-vectorized", "message": "Cell 12, line 4: a loop — use numpy.",
              "cell": 12, "line": 4}
    report = build_report(GradeResult.from_json({"student_id": "s1", "tests": [],
                                                 "violations": [first, second]}), a3)
    html = render_feedback(report, a3)
    assert report.deduction == 5.0
    assert "the same mistake is charged under forbidden-call" in html


def test_self_check_shows_one_mistake_charged_once(solved_a3):
    nb = _executed(_with_body(solved_a3, "svm_loss_vectorized", "\n".join([
        "hinge = np.vectorize(lambda m: max(m, 0.0))",
        "num_train = X.shape[0]",
        "scores = X.dot(W)",
        "margins = hinge(scores - scores[np.arange(num_train), y][:, None] + 1)",
        "margins[np.arange(num_train), y] = 0",
        "loss = margins.sum() / num_train + reg * np.sum(W * W)",
        "mask = (margins > 0).astype(float)",
        "mask[np.arange(num_train), y] = -mask.sum(axis=1)",
        "dW = X.T.dot(mask) / num_train + 2 * reg * W",
    ])))
    result = check_notebook(nb, assignment="A3")
    assert sorted(v.deduction for v in result.violations) == [0.0, 5.0]


def _a4_cell(grade_id: str) -> str:
    nb = nbformat.read(str(A4_RELEASE), as_version=4)
    return next(source_of(c) for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def test_nn_predict_docstring_states_that_scores_come_from_loss_func():
    source = _a4_cell("a4-predict")
    assert "loss_func(params, X)" in source and "not from nn_forward_pass" in source


def test_backward_pass_guidance_uses_only_names_the_student_can_reach():
    """`pre` lives inside nn_forward_pass: the Part 3 comments say to use `hidden > 0` instead."""
    source = _a4_cell("a4-forward-backward")
    part3 = source.split("Part 3")[1]
    assert "`pre` stays inside nn_forward_pass" in part3 and "use `hidden > 0`" in part3


def test_large_score_markdown_states_where_exp_overflows():
    nb = nbformat.read(str(A4_RELEASE), as_version=4)
    text = "\n".join(source_of(c) for c in nb.cells if c.cell_type == "markdown")
    assert "scores in the hundreds" not in text and "709" in text


def test_checked_and_measured_finding_about_one_function_are_one_mistake(a3):
    static = {"rule": "loop-in-vectorized", "message": "a loop", "cell": 12, "line": 4,
              "function": "svm_loss_vectorized", "file": "linear_classifier.ipynb"}
    measured = {"rule": "loop-in-vectorized", "message": "grows with N", "cell": None,
                "function": "svm_loss_vectorized"}  # the engine's finding names no notebook
    assert score_submission([], [static, measured], a3).deduction == a3.rule("loop-in-vectorized").deduction
