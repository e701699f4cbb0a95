"""nbgrader's gradebook as the kit writes it: release grade cells, auto scores, the deductions cell."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.core.config import parse_config
from autograder.core.contracts import GradeResult, Violation
from autograder.grading.gradebook import (
    DEDUCTIONS_CELL,
    GradebookWriter,
    autograded_cells_markdown,
    deduction_line,
    default_db_url,
    export_totals,
    release_grade_cells,
)
from autograder.grading.report import build_report

CONFIG = parse_config({
    "assignment": {"name": "GX", "notebooks": ["nb.ipynb"]},
    "tests": {"add": 4, "model": 6},
    "manual": {"q1": 2},
    "rules": {"forbidden-import": {"severity": "error", "deduction": 5.0}},
})


def meta(gid: str, **kw) -> dict:
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, **kw}}


RELEASE = new_notebook(cells=[
    new_code_cell("def add(a, b):\n    raise NotImplementedError", metadata=meta("add_impl", solution=True)),
    new_code_cell("assert add(1, 1) == 2", metadata=meta("add", grade=True, locked=True, points=4)),
    new_markdown_cell("YOUR ANSWER HERE", metadata=meta("q1", grade=True, solution=True, points=2)),
    new_code_cell("print('hi')", metadata=meta("ro", locked=True)),
])


def report(sid: str = "s1", add: float = 4.0, model: float = 6.0, violations=(), status="graded"):
    tests = [{"name": "t_add", "grade_id": "add", "score": add, "max_score": 4, "status": "passed"},
             {"name": "t_model", "grade_id": "model", "score": model, "max_score": 6, "status": "passed"}]
    return build_report(GradeResult.from_json({"student_id": sid, "status": status, "tests": tests,
                                               "violations": [{"rule": r} for r in violations]}),
                        CONFIG)


@pytest.fixture
def writer(tmp_path: Path):
    w = GradebookWriter(default_db_url(tmp_path), CONFIG, {"nb.ipynb": RELEASE})
    w.sync_assignment()
    yield w
    w.close()


def test_release_cells_are_grade_and_solution_cells_by_grade_id():
    cells = release_grade_cells({"nb.ipynb": RELEASE})["nb"]
    assert [(c["name"], c["kind"]) for c in cells] == [
        ("add_impl", "solution"), ("add", "grade"), ("q1", "grade"), ("q1", "solution")]


def test_sync_adds_a_cell_for_groups_without_one_and_the_zero_point_deductions_cell(writer):
    gb = writer.gb
    assert {c.name: c.max_score for c in gb.find_notebook("nb", "GX").grade_cells} == {
        "add": 4.0, "q1": 2.0, "model": 6.0, DEDUCTIONS_CELL: 0.0}
    assert gb.find_assignment("GX").max_score == CONFIG.max_score == 12.0


def test_sync_twice_changes_nothing(writer):
    writer.sync_assignment()
    assert len(writer.gb.find_notebook("nb", "GX").grade_cells) == 4


def test_record_writes_auto_scores_and_leaves_manual_questions_to_formgrader(writer):
    assert writer.record(report(add=3.0)) == 9.0
    gb = writer.gb
    assert gb.find_grade("add", "nb", "GX", "s1").auto_score == 3.0
    q1 = gb.find_grade("q1", "nb", "GX", "s1")
    assert q1.auto_score is None and q1.needs_manual_grade


def test_deductions_are_a_negative_auto_score_that_export_includes(writer, tmp_path):
    r = report(violations=["forbidden-import"])
    assert r.score == 5.0
    writer.record(r)
    assert writer.gb.find_grade(DEDUCTIONS_CELL, "nb", "GX", "s1").auto_score == -5.0
    assert export_totals(default_db_url(tmp_path), "GX") == {"s1": 5.0}


def test_a_deduction_is_in_the_code_score_never_a_negative_written_score(writer):
    writer.record(report(violations=["forbidden-import"]))  # 4 + 6 - 5, q1 not graded yet
    sub = writer.gb.find_submission("GX", "s1")
    assert (sub.code_score, sub.written_score, sub.score) == (5.0, 0.0, 5.0)
    assignment = writer.gb.find_assignment("GX")
    assert (assignment.max_code_score, assignment.max_written_score) == (10.0, 2.0)
    assert writer.gb.average_assignment_written_score("GX") == 0.0


def test_a_gradebook_with_markdown_extra_cells_is_moved_to_code_cells(writer):
    for name, points in (("model", 6.0), (DEDUCTIONS_CELL, 0.0)):  # as an older kit wrote them
        writer.gb.update_or_create_grade_cell(name, "nb", "GX", max_score=points, cell_type="markdown")
    writer.sync_assignment()
    cells = {c.name: c.cell_type for c in writer.gb.find_notebook("nb", "GX").grade_cells}
    assert cells == {"add": "code", "q1": "markdown", "model": "code", DEDUCTIONS_CELL: "code"}


def test_floored_score_is_the_gradebook_total_too(writer):
    r = report(add=1.0, model=0.0, violations=["forbidden-import"])
    assert r.score == 0.0
    assert writer.record(r) == 0.0


def test_regrading_keeps_a_tas_manual_score(writer):
    writer.record(report())
    q1 = writer.gb.find_grade("q1", "nb", "GX", "s1")
    q1.manual_score = 2.0
    writer.gb.db.commit()
    assert writer.manual_scores("s1") == {"q1": 2.0}
    writer.record(report(add=0.0))
    assert writer.gb.find_grade("q1", "nb", "GX", "s1").manual_score == 2.0


def test_an_errored_submission_is_flagged_for_manual_grading_not_zeroed(writer):
    writer.record(report(status="error"))
    grades = [writer.gb.find_grade(n, "nb", "GX", "s1") for n in ("add", "model", DEDUCTIONS_CELL)]
    assert all(g.auto_score is None and g.needs_manual_grade for g in grades)


def test_a_failed_record_rolls_back_the_whole_student(writer):
    bad = replace(report("s2"), score="not a number")  # fails half way, after the grades were touched
    with pytest.raises(ValueError):
        writer.record(bad)
    from nbgrader.api import Student

    assert writer.gb.db.query(Student).filter_by(id="s2").count() == 0


def test_autograded_notebook_gets_the_extra_grade_cells_with_their_text():
    cells = autograded_cells_markdown(report(violations=["forbidden-import"]), CONFIG, {"nb.ipynb": RELEASE})
    assert [c.metadata.nbgrader.grade_id for c in cells] == ["model", DEDUCTIONS_CELL]
    assert "forbidden-import" in cells[-1].source
    nbformat.validate(new_notebook(cells=cells))


def test_a_deduction_line_says_point_or_points_and_omits_an_unknown_cell():
    one = deduction_line(Violation(rule="cell-deleted", cell=4, message="a cell was deleted",
                                   deduction=1.0))
    assert one == "- `cell-deleted` (cell 4): a cell was deleted (−1 point)"
    many = deduction_line(Violation(rule="sandbox-violation", cell=None, message="no os",
                                    deduction=10.0))
    assert many == "- `sandbox-violation`: no os (−10 points)"
    free = deduction_line(Violation(rule="zip-structure", message="nested", deduction=0.0))
    assert free.endswith("(no points)")


def test_timestamps_are_stored_as_naive_utc(writer):
    writer.record(report(), "2026-03-01T10:00:00+01:00")
    ts = writer.gb.find_submission("GX", "s1").timestamp
    assert ts.isoformat() == "2026-03-01T09:00:00"
