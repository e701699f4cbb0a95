"""report.json, feedback.html, summary.html and grades.csv."""

from __future__ import annotations

import csv
import json

from autograder.core.config import parse_config
from autograder.core.contracts import GradeResult, Report
from autograder.grading.report import (
    build_report,
    grades_rows,
    read_report_json,
    render_feedback,
    render_summary,
    student_safe,
    summary_context,
    write_feedback,
    write_grades_csv,
    write_report_json,
    write_summary,
)

CONFIG = parse_config({
    "assignment": {"name": "AX", "title": "Test assignment", "notebooks": ["nb.ipynb"]},
    "tests": {"loss": 10, "grad": 6},
    "manual": {"inline_q1": 4},
    "rules": {"cell-added": {"severity": "error", "deduction": 1.0, "cap": 2.0},
              "not-executed": {"severity": "warning", "deduction": 0.0}},
})


def result(sid: str = "s1", status: str = "graded", **kw) -> GradeResult:
    base = {
        "student_id": sid,
        "status": status,
        "message": "",
        "tests": [
            {"name": "loss_matches", "grade_id": "loss", "score": 10, "max_score": 10,
             "status": "passed", "message": ""},
            {"name": "grad_check", "grade_id": "grad", "score": 0, "max_score": 6,
             "status": "failed", "message": "dW differs: max rel error 0.31 (tolerance 1e-06)"},
        ],
        "violations": [{"rule": "cell-added", "severity": "warning", "message": "Cell 9 was added",
                        "cell": 9, "diff": "+ print('debug')"}],
        "sandbox": "process",
        "seconds": 1.25,
        "submission": {"file": f"AX_{sid}.zip", "sha256": "ab", "notes": []},
    }
    base.update(kw)
    return GradeResult.from_json(base)


def report_json(*args, **kw) -> dict:
    """report.json's content for `result(*args, **kw)`."""
    return build_report(result(*args, **kw), CONFIG).to_json()


def test_report_has_the_documented_keys_and_the_scored_deductions():
    r = report_json()
    for key in ("student_id", "assignment", "score", "max_score", "tests", "violations", "grader"):
        assert key in r
    assert set(r["grader"]) >= {"version", "sandbox", "seconds"}
    assert (r["score"], r["max_score"], r["deduction"]) == (9.0, 20.0, 1.0)
    v = r["violations"][0]
    assert (v["rule"], v["severity"], v["cell"], v["deduction"]) == ("cell-added", "error", 9, 1.0)
    assert set(r["tests"][0]) >= {"name", "grade_id", "score", "max_score", "status", "message"}


def test_report_json_round_trips(tmp_path):
    r = build_report(result(), CONFIG)
    write_report_json(tmp_path, r)
    assert read_report_json(tmp_path, "s1") == json.loads(json.dumps(r.to_json()))
    assert Report.from_json(read_report_json(tmp_path, "s1")) == r
    assert read_report_json(tmp_path, "nobody") is None


def test_student_messages_lose_hidden_test_paths_and_seeds():
    text = 'Traceback\n  File "/course/solutions/A3/hidden_tests.py", line 4\nseed=12345 loss differs'
    clean = student_safe(text)
    assert "hidden_tests" not in clean and "12345" not in clean and "loss differs" in clean


def test_student_messages_never_show_the_references_values():
    clean = student_safe("first bad at [0, 0]: got -0.0414186, expected -0.0556342; expected 3e-05")
    assert "0.0556342" not in clean and "3e-05" not in clean and "got -0.0414186" in clean


def test_feedback_shows_scores_failed_checks_violations_and_hints():
    page = render_feedback(build_report(result(), CONFIG), CONFIG)
    assert "9 / 20" in page
    assert "dW differs: max rel error 0.31" in page
    assert "cell 9" in page and "print(&#39;debug&#39;)" in page
    assert "Delete the cells you added" in page


def test_feedback_is_self_contained():
    page = render_feedback(build_report(result(), CONFIG), CONFIG)
    assert "<link" not in page and "src=\"http" not in page and "<script" not in page


def test_feedback_escapes_student_controlled_text():
    r = result(violations=[{"rule": "cell-added", "message": "<script>alert(1)</script>", "cell": 1}])
    page = render_feedback(build_report(r, CONFIG), CONFIG)
    assert "<script>alert" not in page


def test_feedback_of_an_error_says_a_ta_will_grade_it():
    r = build_report(result(status="error", message="grader crashed: MemoryError", tests=[]), CONFIG)
    page = render_feedback(r, CONFIG)
    # the grader's own error is for the staff (summary.html), not the student
    assert "could not be graded automatically" in page and "MemoryError" not in page


def test_grades_csv_has_the_documented_columns_and_errors_are_not_zeros(tmp_path):
    reports = [report_json("s2"), report_json("s1", status="error", message="boom", tests=[])]
    write_grades_csv(tmp_path / "grades.csv", reports, CONFIG)
    rows = list(csv.reader((tmp_path / "grades.csv").open()))
    assert rows[0][:6] == ["student_id", "score", "max_score", "loss", "grad", "inline_q1"]
    assert rows[0][6] == "violations"
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_id["s1"]["score"] == "" and by_id["s1"]["status"] == "error"
    assert by_id["s2"]["score"] == "9" and by_id["s2"]["grad"] == "0"
    assert by_id["s2"]["inline_q1"] == "" and by_id["s2"]["violations"] == "cell-added"
    assert [row[0] for row in rows[1:]] == ["s1", "s2"]


def test_violations_cell_counts_repeats():
    r = report_json(violations=[{"rule": "cell-added"}] * 3 + [{"rule": "not-executed"}])
    assert grades_rows([r], CONFIG)[1][6] == "cell-added×3; not-executed"


def test_summary_numbers():
    reports = [report_json("a"), report_json("b", seconds=9.0),
               report_json("c", status="error", message="boom", tests=[])]
    c = summary_context(reports, CONFIG)
    assert c["status"] == {"graded": 2, "error": 1}
    assert dict(c["pass_rates"]) == {"loss_matches": 1.0, "grad_check": 0.0}
    assert c["violations"] == [("cell-added", 3, 3)]
    assert c["slowest"][0] == ("b", 9.0)
    assert [sid for sid, _ in c["look"]] == ["c"]


def test_summary_embeds_its_charts_as_png(tmp_path):
    reports = [report_json(s) for s in ("a", "b", "c")]
    write_summary(tmp_path, reports, CONFIG)
    page = (tmp_path / "summary.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "cell-added" in page and "Slowest" in page


def test_summary_of_an_empty_class_renders():
    assert "No graded submissions" in render_summary([], CONFIG)


def test_write_feedback_puts_it_in_the_students_folder(tmp_path):
    path = write_feedback(tmp_path, build_report(result(), CONFIG), CONFIG)
    assert path == tmp_path / "s1" / "feedback.html" and path.read_text().startswith("<!DOCTYPE html>")
