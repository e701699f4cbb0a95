"""Red team: what the grader keeps for the staff (grader.log: tracebacks, the hidden tests' own
errors, the student's captured output) never reaches the student's feedback.html, and the
staff's summary.html shows it as a link and escaped text, never as markup."""

from __future__ import annotations

from autograder.core.config import parse_config
from autograder.core.contracts import Diagnostics, GradeResult, TestOutcome
from autograder.grading.report import (
    build_report,
    render_feedback,
    render_summary,
    write_grader_log,
)

CONFIG = parse_config({
    "assignment": {"name": "AX", "notebooks": ["nb.ipynb"]},
    "tests": {"loss": 10},
})
HIDDEN_TRACEBACK = ('Traceback (most recent call last):\n'
                    '  File "/srv/course/solutions/AX/hidden_tests.py", line 12, in test_loss\n'
                    '    assert close(got, 0.4242, seed=987)\nTypeError: hidden bug')
HOSTILE_OUTPUT = '<script>alert("staff")</script> /root/.ssh/id_rsa'
HOST_ERROR = "grader error in step check: RuntimeError: boom at /srv/course/autograder/core/rules/x.py:3"


def _result(status: str, message: str = "") -> GradeResult:
    tests = () if status == "error" else (
        TestOutcome("loss_matches", "loss", 0.0, 10.0, "failed", "loss differs"),)
    return GradeResult(student_id="s1", status=status, message=message, tests=tests,
                       diagnostics=Diagnostics(log=HIDDEN_TRACEBACK, output=HOSTILE_OUTPUT))


def test_the_hidden_tests_traceback_and_output_never_reach_the_feedback():
    page = render_feedback(build_report(_result("graded"), CONFIG), CONFIG)
    for secret in ("hidden_tests", "/srv/course", "0.4242", "987", "Traceback", "alert", "id_rsa"):
        assert secret not in page


def test_a_grader_error_reaches_neither_the_feedback_nor_as_a_score():
    page = " ".join(render_feedback(build_report(_result("error", HOST_ERROR), CONFIG), CONFIG).split())
    assert "/srv/course" not in page and "RuntimeError" not in page and "Traceback" not in page
    assert "– / 10 (not graded yet)" in page


def test_the_grader_log_is_owner_only_text_for_the_staff(tmp_path):
    path = write_grader_log(tmp_path, _result("error", HOST_ERROR))
    assert path is not None and path.stat().st_mode & 0o077 == 0
    text = path.read_text()
    assert HIDDEN_TRACEBACK in text and HOSTILE_OUTPUT in text


def test_the_summary_links_the_log_and_escapes_the_staff_message():
    report = build_report(_result("error", HOST_ERROR + " <img src=x onerror=alert(1)>"), CONFIG)
    page = render_summary([report.to_json()], CONFIG)
    assert 'href="s1/grader.log"' in page
    assert "<img src=x" not in page and "onerror=alert(1)&gt;" in page
    assert "hidden_tests" not in page and HOSTILE_OUTPUT not in page
