"""Red team: terminal control sequences from an LMS file name reach the instructor's terminal.

Moodle keeps the student's original file name. `autograder grade` prints the intake message,
which quotes that name, in its progress line and its summary table. Rich drops BEL but passes
ESC through, so CSI sequences (cursor up, erase line, clear screen, colours) written by a student
run in the grader's terminal: enough to overwrite earlier lines of the summary with made-up scores.

Secure behaviour: nothing a submission carries is written to the console with control characters.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from demo import classroom as demo

NAME = "x\x1b[2J\x1b[1A\x1b[2K\x1b[32mALL GRADED 100 of 100.zip"


def test_file_name_escape_sequences_do_not_reach_the_console(tmp_path: Path) -> None:
    course = demo.demo_course(tmp_path / "course")
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr(f"Att Acker_1002_assignsubmission_file_/{NAME}", b"not a zip")
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "A4", str(export), "--out",
                          str(tmp_path / "out"), "--course", str(course)],
                         capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    assert "not a zip" in run.stdout + run.stderr, (run.stdout, run.stderr)
    assert "\x1b" not in run.stdout + run.stderr, repr(run.stdout + run.stderr)
