"""The `autograder` entry point: help, version, later commands, both invocations."""

from __future__ import annotations

import subprocess
import sys

from autograder import __version__
from autograder.cli import main


def test_version_and_help(capsys) -> None:
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out
    assert main([]) == 2
    assert "release" in capsys.readouterr().out


def test_every_command_of_the_cli_table_is_offered() -> None:
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for command in ("release", "check", "submit", "rescue", "grade", "new", "bundle",
                    "export-gradescope", "export-prairielearn", "data"):
        assert command in out


def test_python_dash_m_works() -> None:
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for command in ("release", "check", "submit", "rescue", "grade"):
        assert command in out


def test_the_kit_does_not_load_jsonschemas_slow_iri_grammar() -> None:
    # A fresh interpreter: `autograder check` must not pay ~1.2 s compiling rfc3987 grammars.
    code = "import autograder.student.check, sys; print(sys.modules.get('rfc3987_syntax', 'absent'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("None", "absent")


def test_an_instructor_command_missing_from_the_student_kit_says_so(monkeypatch, capsys) -> None:
    import autograder.cli as cli

    # the student bundle ships without autograder/grading/platforms/: its module is not importable
    monkeypatch.setitem(cli.HANDLERS, "export-gradescope", ("autograder.platforms_absent.gs", "cli_export"))
    assert main(["export-gradescope", "A3", "-o", "x.zip"]) == 2
    assert "not part of the student kit" in capsys.readouterr().out


def test_jobs_below_one_is_refused_by_the_parser(capsys) -> None:
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["grade", "A3", "subs", "--out", "o", "--jobs", "0"])
    assert info.value.code == 2 and "must be 1 or more" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_never_a_traceback(monkeypatch, capsys) -> None:
    import autograder.cli as cli

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_handler", lambda command: broken)
    assert main(["check", "x.ipynb"]) == 1
    err = capsys.readouterr().err
    assert "unexpected error (RuntimeError: boom)" in err and "Traceback" not in err


def test_a_closed_pipe_ends_quietly_not_as_an_unexpected_error(monkeypatch, capsys) -> None:
    import autograder.cli as cli

    def reader_left(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_handler", lambda command: reader_left)
    assert main(["check", "x.ipynb"]) == 141
    assert "unexpected error" not in capsys.readouterr().err


def test_check_into_a_pipe_nobody_reads_prints_no_error(tmp_path) -> None:
    import os

    bad = tmp_path / "broken.ipynb"
    bad.write_text("{")
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already left: every write gets EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "autograder", "check", str(bad)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == ""


def _course_with_typo(tmp_path, where: str):
    """The fixture course released, then `allowed_imports` misspelled in `where`'s config."""
    import shutil
    from pathlib import Path

    from autograder.authoring.release import release

    course = tmp_path / "course"
    shutil.copytree(Path(__file__).parent / "fixtures" / "course", course)
    assert release(course=course) == 0
    toml = course / where / "F1" / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("allowed_imports", "alowed_imports"),
                    encoding="utf-8")
    return course


def test_check_stops_on_a_misspelled_key_in_the_released_config(tmp_path, capsys) -> None:
    import shutil

    course = _course_with_typo(tmp_path, "assignments")
    shutil.rmtree(course / "solutions")  # what students have: the release only
    code = main(["check", str(course / "assignments/F1/fixture.ipynb"), "--course", str(course)])
    out = capsys.readouterr()
    assert code == 1
    assert ("assignments/F1/assignment.toml: unknown key 'alowed_imports' in [policy] "
            "(did you mean 'allowed_imports'?)") in out.out
    assert "Traceback" not in out.out + out.err and str(course) + "/assignments/F1/assignment" \
        not in out.out


def test_check_stops_on_a_misspelled_key_in_the_instructors_config(tmp_path, capsys) -> None:
    course = _course_with_typo(tmp_path, "solutions")
    code = main(["check", str(course / "assignments/F1/fixture.ipynb"), "--course", str(course)])
    assert code == 1
    assert "solutions/F1/assignment.toml: unknown key 'alowed_imports'" in capsys.readouterr().out


def test_release_stops_on_a_misspelled_key(tmp_path, capsys) -> None:
    course = _course_with_typo(tmp_path, "solutions")
    assert main(["release", "F1", "--course", str(course)]) == 1
    assert "unknown key 'alowed_imports' in [policy]" in capsys.readouterr().out


def test_every_command_of_the_full_kit_has_its_function() -> None:
    import autograder.cli as cli

    # no placeholder commands: each one the parser offers is implemented
    for command in cli.HANDLERS:
        assert callable(cli._handler(command)), command
