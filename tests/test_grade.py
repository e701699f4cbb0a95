"""The class pipeline: parallel, resumable, never stopped by one student, into nbgrader's gradebook.

The fixture course (tests/fixtures/course, assignment F1) is released into a temporary copy.
`FakeSteps` below stands in for check/graft/engine (intake is the real one), driven by markers
in the student's notebook, so each behaviour of the pipeline is tested fast and on purpose:
`return a + b` passes, `CRASH` is a grader bug, `DIE` kills the worker process, `SLEEP=<s>`
makes grading slow, `import scipy` is a forbidden import, `BADRESULT` a result the parent
cannot score.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.core.config import find_config
from autograder.core.contracts import GradeTask, TestOutcome, Violation
from autograder.grading.grade import StepFailed, grade_class, grading_key, plan, sha256_path
from autograder.grading.gradebook import DEDUCTIONS_CELL, default_db_url, export_totals
from autograder.grading.overrides import add_override, read_score_log
from autograder.grading.pipeline import Found, GraderCrash, StudentPipeline, grade_one
from autograder.grading.report import validate_report

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "course"


@dataclass(frozen=True)
class FakeSteps:
    """Fake check/graft/engine (intake is the real one): see the module docstring."""

    def run(self, task: GradeTask, work: Path, found: Found) -> None:
        from autograder.core.submission_zip import extract_submission

        config = find_config(task.assignment, Path(task.course))
        found.step = "intake"
        intake = extract_submission(task.path, work / "submission", config)
        found.violations += [Violation.from_json(v) for v in intake.violations]
        if not intake.ok:
            raise StepFailed(intake.message)
        text = intake.files["fixture.ipynb"].read_text()
        found.notebooks["fixture.ipynb"] = text
        found.step = "engine"
        if "CRASH" in text:
            raise RuntimeError("simulated grader bug")
        if "DIE" in text:
            os._exit(3)
        if m := re.search(r"SLEEP=([\d.]+)", text):
            time.sleep(float(m.group(1)))
        if "INTERNAL" in text:  # a hidden test's own traceback, for the staff only
            found.log.append("add_matches:\nTraceback (most recent call last):\nTypeError: hidden bug")
        if "import scipy" in text:
            found.violations.append(Violation(rule="forbidden-import", severity="error",
                                              message="scipy is not allowed", cell=3))
        ok = "a + b" in text
        if "BADRESULT" in text:  # a result the parent cannot score (not a number)
            found.tests = [TestOutcome(name="x", grade_id="add", score="not a number",  # type: ignore[arg-type]
                                       max_score=0.0, status="error")]
            return
        found.tests = [TestOutcome(name="add_matches", grade_id="add", score=2.0 if ok else 0.0,
                                   max_score=2.0, status="passed" if ok else "failed",
                                   message="" if ok else "sum differs at index 0")]
        found.sandbox = "fake"


STEPS = FakeSteps()


@dataclass(frozen=True)
class CrashingRule(StudentPipeline):
    """The real steps, with the forbidden-import rule raising (a grader bug), patched inside the
    pool worker that runs them."""

    def run(self, task: GradeTask, work: Path, found: Found) -> None:
        from autograder.core.rules.imports import ForbiddenImport

        def broken(rule, ctx):
            raise RuntimeError("simulated rule bug")

        ForbiddenImport.check = broken
        super().run(task, work, found)


# --- the course and the class --------------------------------------------------------------


@pytest.fixture(scope="session")
def released(tmp_path_factory) -> Path:
    from autograder.authoring.release import release

    root = tmp_path_factory.mktemp("released") / "course"
    shutil.copytree(FIXTURE, root)
    assert release(["F1"], course=root) == 0
    return root


@pytest.fixture
def course(released, tmp_path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(released, root)
    return root


def student_notebook(course: Path, body: str) -> str:
    nb = nbformat.read(course / "assignments" / "F1" / "fixture.ipynb", as_version=4)
    for cell in nb.cells:
        if "def add_vectors" in cell.source:
            cell.source = cell.source.replace("raise NotImplementedError", body)
    return nbformat.writes(nb)


def make_zip(folder: Path, sid: str, text: str, manifest: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"F1_{sid}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fixture.ipynb", text)
        if manifest:
            digest = hashlib.sha256(text.encode()).hexdigest()
            zf.writestr("MANIFEST.json", json.dumps({"assignment": "F1", "student_id": sid,
                                                     "files": {"fixture.ipynb": digest}}))
    return path


CLASS = {
    "s01": "return a + b",
    "s02": "return a - b",
    "s03": "import scipy\n    return a + b",
    "s04": "return a + b  # CRASH",
}


def make_class(course: Path, bodies: dict[str, str] = CLASS) -> Path:
    subs = course.parent / "submissions"
    for sid, body in bodies.items():
        make_zip(subs, sid, student_notebook(course, body))
    return subs


def grade(course: Path, subs: Path, out: Path | None = None, **kw):
    out = out or course.parent / "out"
    # not strict: these tests are about what a grader crash becomes (an `error` status)
    return grade_class("F1", subs, out, course=course, pipeline=STEPS, strict=False,
                       jobs=kw.pop("jobs", 2), **kw)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


# --- the tests ----------------------------------------------------------------------------


def test_a_class_is_graded_into_reports_csv_summary_and_gradebook(course):
    subs = make_class(course)
    run = grade(course, subs)
    out = course.parent / "out"
    rows = {r["student_id"]: r for r in read_csv(out / "grades.csv")}
    assert {sid: r["score"] for sid, r in rows.items()} == {"s01": "2", "s02": "0", "s03": "1", "s04": ""}
    assert rows["s03"]["violations"] == "forbidden-import"
    for sid in CLASS:
        assert (out / sid / "report.json").is_file() and (out / sid / "feedback.html").is_file()
    assert (out / "summary.html").is_file()
    assert sorted(run.graded) == sorted(CLASS)
    assert export_totals(default_db_url(course), "F1") == {"s01": 2.0, "s02": 0.0, "s03": 1.0, "s04": 0.0}


def test_a_crash_in_one_student_is_that_students_error_and_never_a_silent_zero(course):
    grade(course, make_class(course))
    out = course.parent / "out"
    report = json.loads((out / "s04" / "report.json").read_text())
    assert report["status"] == "error"
    assert "simulated grader bug" in report["message"] and "engine" in report["message"]
    row = {r["student_id"]: r for r in read_csv(out / "grades.csv")}["s04"]
    assert row["status"] == "error" and row["score"] == ""
    assert "s04" in (out / "summary.html").read_text()


def test_every_report_a_class_writes_validates_against_the_schema(course):
    grade(course, make_class(course, {**CLASS, "s07": "return a + b  # INTERNAL"}))
    reports = sorted((course.parent / "out").glob("*/report.json"))
    assert len(reports) == len(CLASS) + 1
    for path in reports:
        validate_report(json.loads(path.read_text()))


def test_a_crash_writes_the_traceback_to_an_owner_only_grader_log(course):
    grade(course, make_class(course))
    log = course.parent / "out" / "s04" / "grader.log"
    assert "Traceback" in log.read_text() and "simulated grader bug" in log.read_text()
    assert log.stat().st_mode & 0o077 == 0
    assert not (course.parent / "out" / "s01" / "grader.log").exists()


def test_a_regrade_without_trouble_removes_the_earlier_grader_log(course):
    subs = make_class(course, {"s04": "return a + b  # CRASH"})
    grade(course, subs)
    make_zip(subs, "s04", student_notebook(course, "return a + b  # fixed"))
    run = grade(course, subs)
    assert run.reports["s04"]["status"] == "graded" and "log" not in run.reports["s04"]["grader"]
    assert not (course.parent / "out" / "s04" / "grader.log").exists()


def test_the_hidden_tests_own_tracebacks_reach_the_grader_log_not_the_feedback(course):
    run = grade(course, make_class(course, {"s07": "return a + b  # INTERNAL"}))
    out = course.parent / "out"
    assert run.reports["s07"]["status"] == "graded" and run.reports["s07"]["grader"]["log"] == "grader.log"
    assert "TypeError: hidden bug" in (out / "s07" / "grader.log").read_text()
    assert "hidden bug" not in (out / "s07" / "feedback.html").read_text()


def test_a_crashing_rule_is_an_error_with_a_grader_log_and_a_summary_line(course):
    """Outside strict mode (a real class), a rule that raises is never a silent no-deduction."""
    subs = make_class(course, {"c1": "return a + b"})
    out = course.parent / "out"
    run = grade_class("F1", subs, out, course=course, pipeline=CrashingRule(), strict=False, jobs=1)
    report = run.reports["c1"]
    assert report["status"] == "error" and "rule crashed" in report["message"]
    log = (out / "c1" / "grader.log").read_text()
    assert "forbidden-import" in log and "RuntimeError: simulated rule bug" in log
    assert 'href="c1/grader.log"' in (out / "summary.html").read_text()
    feedback = (out / "c1" / "feedback.html").read_text()
    assert "Traceback" not in feedback and "simulated rule bug" not in feedback
    assert str(course) not in feedback and "/tmp" not in feedback


def test_strict_mode_reraises_a_crashing_rule(course):
    subs = make_class(course, {"c1": "return a + b"})
    with pytest.raises(GraderCrash, match="simulated rule bug"):
        grade_class("F1", subs, course.parent / "out", course=course, pipeline=CrashingRule(),
                    strict=True, jobs=1)


def test_strict_mode_reraises_a_crashing_step_in_the_worker(course):
    zip_path = make_zip(course.parent / "subs", "s04", student_notebook(course, "return a  # CRASH"))
    task = GradeTask(student_id="s04", path=str(zip_path), sha256="", assignment="F1", course=str(course))
    assert grade_one(task, STEPS, strict=False).status == "error"
    with pytest.raises(RuntimeError, match="simulated grader bug"):
        grade_one(task, STEPS, strict=True)


def test_a_worker_process_that_dies_costs_only_its_student(course):
    subs = make_class(course, {"s01": "return a + b", "s05": "return a + b  # DIE"})
    run = grade(course, subs)
    assert run.reports["s01"]["score"] == 2.0
    assert run.reports["s05"]["status"] == "error"
    assert "process died" in run.reports["s05"]["message"]


def test_a_failure_while_saving_one_student_is_that_students_error(course):
    subs = make_class(course, {"s01": "return a + b", "s06": "return a + b  # BADRESULT"})
    run = grade(course, subs)
    assert run.reports["s01"]["score"] == 2.0
    assert run.reports["s06"]["status"] == "error"
    assert "while saving" in run.reports["s06"]["message"]


def test_an_unusable_zip_is_failed_with_the_intake_message(course):
    subs = make_class(course, {"s01": "return a + b"})
    (subs / "F1_s09.zip").write_bytes(b"not a zip at all")
    run = grade(course, subs)
    assert run.reports["s09"]["status"] == "failed"
    assert "F1_s09.zip" in run.reports["s09"]["message"]
    # the report still names the level this batch grades at, and the feedback says nothing ran
    assert run.reports["s09"]["grader"]["sandbox"] in ("bwrap", "uid", "process")
    feedback = (run.out / "s09" / "feedback.html").read_text()
    assert "No check could run" in feedback and "checks passed" not in feedback


def test_a_rerun_skips_unchanged_submissions_and_regrades_changed_ones(course):
    subs = make_class(course, {"s01": "return a + b", "s02": "return a - b"})
    grade(course, subs)
    make_zip(subs, "s02", student_notebook(course, "return b + a  # fixed: a + b"))
    run = grade(course, subs)
    assert run.skipped == ["s01"] and run.graded == ["s02"]
    assert run.reports["s02"]["score"] == 2.0
    causes = [(e["student_id"], e["cause"]) for e in read_score_log(course, "F1")]
    assert ("s02", "new submission (sha256 changed)") in causes


def test_force_regrades_everyone_with_the_same_scores(course):
    subs = make_class(course)
    first = grade(course, subs)
    again = grade(course, subs, force=True)
    assert sorted(again.graded) == sorted(CLASS)
    assert {s: r["score"] for s, r in again.reports.items()} == {s: r["score"] for s, r in first.reports.items()}


def test_only_regrades_the_named_students(course):
    subs = make_class(course, {"s01": "return a + b", "s02": "return a - b"})
    grade(course, subs)
    run = grade(course, subs, only=["s02"])
    assert run.graded == ["s02"] and run.skipped == ["s01"]
    assert len(read_csv(course.parent / "out" / "grades.csv")) == 2


def test_errored_students_are_retried_on_a_rerun(course):
    subs = make_class(course, {"s04": "return a + b  # CRASH"})
    grade(course, subs)
    assert grade(course, subs).graded == ["s04"]


def test_ta_overrides_survive_force_and_every_change_is_logged(course):
    subs = make_class(course, {"s03": "import scipy\n    return a + b"})
    grade(course, subs)
    add_override(course, "F1", "s03", "waive", "forbidden-import", reason="allowed by email", by="ta1")
    assert grade(course, subs).reports["s03"]["score"] == 2.0  # applied without regrading
    run = grade(course, subs, force=True)
    assert run.reports["s03"]["score"] == 2.0
    assert export_totals(default_db_url(course), "F1")["s03"] == 2.0
    log = [(e["old"], e["new"], e["cause"]) for e in read_score_log(course, "F1") if e["student_id"] == "s03"]
    assert log[0] == (None, 1.0, "graded")
    assert log[1][:2] == (1.0, 2.0) and "allowed by email" in log[1][2]
    assert len(log) == 2  # the --force regrade gave the same score: nothing to log


def test_the_grading_key_changes_with_the_rubric(course):
    config = find_config("F1", course)
    before = grading_key(config, course)
    toml = course / "solutions" / "F1" / "assignment.toml"
    toml.write_text(toml.read_text().replace("deduction = 1.0", "deduction = 2.0"))
    assert grading_key(find_config("F1", course), course) != before


def test_plan_regrades_when_the_report_is_missing_or_stale(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.json").write_text(json.dumps(
        {"student_id": "a", "status": "graded", "submission": {"sha256": "x"}, "grader": {"key": "k"}}))
    tasks = [GradeTask(student_id=sid, path="", sha256=sha, assignment="F1", course="", key="k")
             for sid, sha in (("a", "x"), ("b", "y"), ("a2", "x"))]
    grade_, reuse, cause = plan(tasks, tmp_path, force=False, only=None)
    assert [t.student_id for t in grade_] == ["b", "a2"] and [r["student_id"] for r in reuse] == ["a"]
    grade_, _, cause = plan(tasks[:1], tmp_path, force=True, only=None)
    assert cause == {"a": "regraded (--force)"}


def test_sha256_of_a_folder_depends_on_names_and_bytes(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("1")
    before = sha256_path(tmp_path / "d")
    (tmp_path / "d" / "x").rename(tmp_path / "d" / "y")
    assert sha256_path(tmp_path / "d") != before


def test_plain_log_lines_when_not_a_terminal(course):
    import io

    stream = io.StringIO()
    grade(course, make_class(course, {"s01": "return a + b"}), stream=stream)
    assert "[1/1] s01: graded 2/3" in stream.getvalue()


def test_killed_mid_batch_then_rerun_gives_the_uninterrupted_results(course, tmp_path):
    bodies = {f"k{i}": ("return a + b" if i % 2 else "return a - b") + "  # SLEEP=0.4" for i in range(5)}
    subs = make_class(course, bodies)
    clean = tmp_path / "clean"
    shutil.copytree(course, clean)
    grade(clean, subs, out=tmp_path / "out_clean")

    out = tmp_path / "out_killed"
    code = ("import sys; from autograder.grading.grade import grade_class; "
            "from test_grade import STEPS; "
            f"grade_class('F1', {str(subs)!r}, {str(out)!r}, course={str(course)!r}, jobs=1, pipeline=STEPS)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.glob("*/report.json"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader and its workers, mid-batch
    proc.wait()
    done_before = len(list(out.glob("*/report.json")))
    assert 2 <= done_before < 5, "the kill did not land mid-batch"
    assert not (out / "grades.csv").exists()

    run = grade(course, subs, out=out)
    assert len(run.skipped) == done_before
    assert (out / "grades.csv").read_text() == (tmp_path / "out_clean" / "grades.csv").read_text()
    assert export_totals(default_db_url(course), "F1") == export_totals(default_db_url(clean), "F1")


def test_the_real_pipeline_grades_the_fixture_course_through_the_cli(course, capsys):
    """`autograder grade` with intake, check, graft and the sandboxed engine for real."""
    from autograder.cli import main

    # F1 allows only numpy and math: the graded module's preamble (which imports time) loads anyway.
    subs = make_class(course, {"r1": "return a + b", "r2": "return a * b",
                               "r3": "import scipy\n    return a + b"})
    make_zip(subs, "r4", '{"cells": [')  # broken JSON
    out = course.parent / "out"
    assert main(["grade", "F1", str(subs), "--out", str(out), "--course", str(course), "--jobs", "2"]) == 0
    reports = {sid: json.loads((out / sid / "report.json").read_text()) for sid in ("r1", "r2", "r3", "r4")}
    # the broken notebook is named as the student submitted it, not as the grader's private copy
    assert reports["r4"]["status"] == "failed"
    assert "F1_r4.zip/fixture.ipynb" in reports["r4"]["message"] and "/tmp" not in reports["r4"]["message"]
    assert (reports["r1"]["status"], reports["r1"]["score"]) == ("graded", 2.0)
    assert (reports["r2"]["status"], reports["r2"]["score"]) == ("graded", 0.0)
    assert "forbidden-import" in {v["rule"] for v in reports["r3"]["violations"]}
    assert reports["r1"]["grader"]["sandbox"] in ("bwrap", "uid", "process")
    assert "grades.csv" in capsys.readouterr().out


def test_cli_says_what_is_wrong_when_the_class_cannot_be_graded(course, capsys):
    from autograder.cli import main

    assert main(["grade", "NOPE", str(course), "--out", str(course / "o"), "--course", str(course)]) == 1
    assert "NOPE" in capsys.readouterr().err


def test_formgrader_lists_the_autograded_notebook_for_manual_grading(course):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    grade(course, make_class(course, {"s01": "return a + b"}))
    assert (course / "autograded" / "s01" / "F1" / "fixture.ipynb").is_file()
    coursedir = CourseDirectory(root=str(course), db_url=default_db_url(course))
    api = NbGraderAPI(coursedir=coursedir)
    (sub,) = api.get_submissions("F1")
    assert sub["student"] == "s01" and sub["autograded"] and sub["needs_manual_grade"]
    (nb,) = api.get_notebook_submissions("F1", "fixture")
    assert nb["student"] == "s01" and nb["needs_manual_grade"] and nb["index"] == 0
    with api.gradebook as gb:
        q1 = gb.find_grade("q1", "fixture", "F1", "s01")
        assert q1.needs_manual_grade and q1.auto_score is None
        assert gb.find_grade("add", "fixture", "F1", "s01").auto_score == 2.0
        # a TA grades the inline question in formgrader; the next run keeps it and reports it
        q1.manual_score = 1.0
        gb.db.commit()
    run = grade(course, course.parent / "submissions")
    assert run.reports["s01"]["score"] == 3.0
    assert export_totals(default_db_url(course), "F1") == {"s01": 3.0}


def test_deductions_are_a_zero_point_grade_cell_that_export_includes(course):
    from nbgrader.api import Gradebook

    grade(course, make_class(course, {"s03": "import scipy\n    return a + b"}))
    with Gradebook(default_db_url(course)) as gb:
        assert gb.find_grade_cell(DEDUCTIONS_CELL, "fixture", "F1").max_score == 0.0
        assert gb.find_grade(DEDUCTIONS_CELL, "fixture", "F1", "s03").auto_score == -1.0
        assert gb.find_assignment("F1").max_score == 3.0
    nb = nbformat.read(course / "autograded" / "s03" / "F1" / "fixture.ipynb", as_version=4)
    assert nb.cells[-1].metadata.nbgrader.grade_id == DEDUCTIONS_CELL
    assert "scipy is not allowed" in nb.cells[-1].source


def test_cli_reads_student_ids_off_a_canvas_export_through_the_roster(course, tmp_path):
    from autograder.cli import main

    subs = tmp_path / "canvas"
    text = student_notebook(course, "return a + b")
    make_zip(subs, "c1", text).rename(subs / "doejane_12345_67890_F1_c1.zip")
    roster = tmp_path / "roster.csv"
    roster.write_text("lms_id,student_id\n12345,2022000001\n")
    out = tmp_path / "out"
    assert main(["grade", "F1", str(subs), "--out", str(out), "--course", str(course),
                 "--lms", "canvas", "--roster", str(roster), "--jobs", "1"]) == 0
    report = json.loads((out / "2022000001" / "report.json").read_text())
    assert report["status"] == "graded"
    # the manifest says c1, the LMS (through the roster) says 2022000001: a copied zip is flagged
    assert "student-id-mismatch" in {v["rule"] for v in report["violations"]}


def test_a_bad_db_url_is_one_line_naming_the_option(course, capsys):
    from autograder.cli import main

    subs = make_class(course, {"b1": "return a + b"})
    args = ["grade", "F1", str(subs), "--out", str(course.parent / "o"), "--course", str(course)]
    assert main([*args, "--db", "notaurl"]) == 1
    err = capsys.readouterr().err
    assert "--db" in err and "Traceback" not in err
