"""Red team: terminal escape sequences in a student's output reach a TA's `cat grader.log`.

The student's captured output (and any text of theirs inside a traceback) went into
OUT/<id>/grader.log verbatim: ESC sequences could retitle the window, write the clipboard
(OSC 52), clear the screen or hide the real traceback; bidi overrides could reorder what is
shown. Secure behaviour: every control and format character except newline and tab is written
as a visible escape.
"""

from __future__ import annotations

import unicodedata

import pytest

from autograder.core.contracts import Diagnostics, GradeResult
from autograder.grading.report import write_grader_log

HOSTILE = [
    "\x1b]0;GRADER OK\x07",            # OSC: window title, ended by BEL
    "\x1b]52;c;ZXZpbA==\x07",          # OSC 52: clipboard write
    "\x1b[2J\x1b[1A\x1b[2K\x1b[8m",    # CSI: clear, cursor up, erase line, conceal
    "\x9b2J",                          # C1 CSI
    "\u202eevil\u202c",                # bidi override
    "\u2066isolate\u2069",             # bidi isolate
    "a\rb\x08c\x00d\x7f",              # carriage return, backspace, NUL, DEL
]


def _log_text(tmp_path, output: str, log: str) -> str:
    result = GradeResult(student_id="s11", status="graded",
                         diagnostics=Diagnostics(log=log, output=output))
    path = write_grader_log(tmp_path, result)
    assert path is not None
    return path.read_text(encoding="utf-8")


def _controls(text: str) -> set[str]:
    return {ch for ch in text if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf")}


@pytest.mark.parametrize("payload", HOSTILE)
def test_student_output_in_grader_log_has_no_control_characters(tmp_path, payload):
    text = _log_text(tmp_path, f"line one\n{payload}\n\tindented", "t:\nTraceback")
    assert not _controls(text), repr(text)


@pytest.mark.parametrize("payload", HOSTILE)
def test_a_traceback_in_grader_log_has_no_control_characters(tmp_path, payload):
    assert not _controls(_log_text(tmp_path, "", f"t:\nValueError: {payload}")), payload


def test_grader_log_keeps_newlines_and_tabs(tmp_path):
    text = _log_text(tmp_path, "one\n\ttwo", "t:\nTraceback")
    assert "one\n\ttwo" in text
