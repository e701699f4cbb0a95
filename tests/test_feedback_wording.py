"""What a student reads when the grader failed them, and the summary's first line: one clear
instruction, no host path, no grader internals."""

from __future__ import annotations

from autograder.core.config import parse_config
from autograder.core.contracts import GradeResult
from autograder.grading.report import build_report, render_feedback, render_summary

CONFIG = parse_config({
    "assignment": {"name": "GX", "notebooks": ["nb.ipynb"]},
    "tests": {"add": 4},
    "rules": {"zip-manifest": {"severity": "error", "deduction": 2.0}},
})
HOST_ERROR = ("grader error in step engine: SandboxError: sandbox level 'uid': the Python runtime "
              "(/root/.pyenv/versions/3.11.7/bin/python3.11) is not readable at sandbox.py:361")


def report(status: str = "graded", message: str = "", score: float = 4.0, violations=()):
    tests = [] if status == "error" else [
        {"name": "t_add", "grade_id": "add", "score": score, "max_score": 4, "status": "passed"}]
    return build_report(GradeResult.from_json({"student_id": "s1", "status": status, "message": message,
                                               "tests": tests, "violations": [{"rule": r} for r in violations]}),
                        CONFIG)


def test_an_errored_student_never_sees_the_graders_error_or_a_host_path():
    html = " ".join(render_feedback(report("error", HOST_ERROR), CONFIG).split())
    assert "/root/" not in html and "sandbox.py" not in html and "SandboxError" not in html
    assert "problem on the grader's side" in html


def test_an_errored_student_gets_one_instruction_not_two():
    html = " ".join(render_feedback(report("error", HOST_ERROR), CONFIG).split())
    assert "you do not need to do anything" in html
    assert "build the zip again" not in html and "No check could run" not in html


def test_a_floored_total_says_why_it_is_not_negative():
    html = " ".join(render_feedback(report(score=0.0, violations=["zip-manifest"]), CONFIG).split())
    assert "minus 2 for the violations below (a score never goes below 0)" in html


def test_a_total_above_the_deductions_has_no_floor_note():
    html = " ".join(render_feedback(report(score=4.0, violations=["zip-manifest"]), CONFIG).split())
    assert "minus 2 for the violations below." in html and "never goes below 0" not in html


def test_the_summary_line_has_a_space_before_the_mean():
    html = " ".join(render_summary([report().to_json()], CONFIG).split())
    assert "1 graded · mean" in html


def test_a_cut_off_zip_is_named_once(tmp_path):
    import zipfile

    from autograder.core.submission_zip import extract_submission

    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as zf:
        zf.writestr("nb.ipynb", "x" * 5000)
    cut = tmp_path / "GX_s15.zip"
    cut.write_bytes(whole.read_bytes()[:200])  # starts like a zip, ends early
    intake = extract_submission(cut, tmp_path / "out", CONFIG)
    assert not intake.ok and intake.message.count("GX_s15.zip") == 1
    assert "incomplete" in intake.message


def test_an_error_without_the_file_name_gets_it_once(tmp_path):
    from autograder.core.submission_zip import extract_submission

    bad = tmp_path / "GX_s16.zip"
    bad.write_bytes(b"hello world")
    intake = extract_submission(bad, tmp_path / "out", CONFIG)
    assert not intake.ok and intake.message.count("GX_s16.zip") == 1
