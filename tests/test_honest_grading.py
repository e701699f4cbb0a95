"""Honest A4 submissions graded for real: `autograder grade` in a fresh process, in the sandbox.

The solved A4 notebook, run once per session (cached like the demo's), edited as honest students' editors
and habits edit it (tests/honest_styles.py), zipped with `autograder submit`, then graded as a
class. Each keeps the full 80 automatic points; each finding is a free warning, and report.json,
feedback.html, grades.csv and the gradebook show the same figures.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from typing import Any

import pytest
import visible_support as vs
from honest_styles import STYLES, Style

from autograder.grading.gradebook import default_db_url, export_totals
from demo import classroom as demo

FULL = 80.0  # A4's automatic points
PICKED = ("a4-eecs498", "a4-eye-lambda", "a4-two-space-colab", "a4-vscode-crlf",
          "a4-server-put-out-of-order", "a4-comment-in-locked-cell")


def rerun_one_cell(nb: Any) -> None:
    """Restart & Run All, then the forward-pass check run again at the end."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    check = next(c for c in code if vs.cell_id(c) == "a4-forward-check")
    check.execution_count = max(c.execution_count or 0 for c in code) + 1


def styled(style: Style):
    """An edit of the solved, run notebook into `style` (outputs kept, as the student's run)."""
    from test_visible_checks import reference_bodies

    def apply(nb: Any) -> None:
        bodies = {cid: list(b) for cid, b in reference_bodies("A4").items()}
        for cid, wanted in style.bodies.items():
            bodies[cid] = [m if m is not None else r for m, r in zip(wanted, bodies[cid], strict=True)]
        new = vs.with_bodies(nb, bodies)
        if style.reformat:
            new = style.reformat(new)
        nb.cells, nb.metadata, nb.nbformat_minor = new.cells, new.metadata, new.nbformat_minor
    return apply


STUDENTS = (
    demo.Student("h00", "the solution as it is"),
    demo.Student("h01", "one cell run again at the end", (rerun_one_cell,)),
    *(demo.Student(f"h{i + 2:02d}", s.what, (styled(s),))
      for i, s in enumerate(s for s in STYLES if s.name in PICKED)),
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("honest-class")
    # the run of the solved notebook comes from the session's cache (tests/conftest.py), which
    # the demo and the adversarial corpus share: the notebook runs once for all three
    course, subs = demo.build_class(root, STUDENTS, echo=lambda *_: None)
    out = root / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "A4", str(subs), "--out", str(out),
                           "--jobs", "2", "--course", str(course)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = {s.sid: json.loads((out / s.sid / "report.json").read_text(encoding="utf-8")) for s in STUDENTS}
    with (out / "grades.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    return reports, rows, out, export_totals(default_db_url(course), "A4")


@pytest.mark.parametrize("student", STUDENTS, ids=[f"{s.sid}-{s.what[:30]}" for s in STUDENTS])
def test_honest_submission_keeps_full_automatic_marks(graded, student):
    reports, _, _, _ = graded
    report = reports[student.sid]
    failing = {t["name"]: t["message"][:200] for t in report["tests"] if t["status"] != "passed"}
    assert (report["status"], report["score"], report["deduction"]) == ("graded", FULL, 0.0), failing


@pytest.mark.parametrize("student", STUDENTS, ids=[f"{s.sid}-{s.what[:30]}" for s in STUDENTS])
def test_honest_submission_findings_are_free_warnings(graded, student):
    reports, _, _, _ = graded
    shown = [(v["rule"], v["severity"], v["deduction"]) for v in reports[student.sid]["violations"]]
    assert all(severity == "warning" and deduction == 0.0 for _, severity, deduction in shown), shown


def test_rerun_and_comment_edit_are_reported_as_free_warnings(graded):
    reports, _, _, _ = graded
    rerun = [(v["rule"], v["severity"], v["deduction"]) for v in reports["h01"]["violations"]]
    comment_sid = next(s.sid for s in STUDENTS if s.what.startswith("a comment edited"))
    comment = [(v["rule"], v["severity"], v["deduction"]) for v in reports[comment_sid]["violations"]]
    assert rerun == [("not-executed", "warning", 0.0)]
    assert comment == [("locked-cell-modified", "warning", 0.0)]


def test_report_csv_feedback_and_gradebook_show_the_same_figure(graded):
    reports, rows, out, totals = graded
    for sid, report in reports.items():
        feedback = (out / sid / "feedback.html").read_text(encoding="utf-8")
        assert float(rows[sid]["score"]) == report["score"] == totals[sid], sid
        assert "minus" not in feedback.split("points from the tests")[1].split("</p>")[0], sid


def test_every_picked_style_is_in_the_corpus():
    assert set(PICKED) <= {s.name for s in STYLES}
