"""The sandbox is checked once before a batch: a machine that cannot run student code safely
stops `autograder grade` with one line naming what to install, before any student is graded."""

from __future__ import annotations

import shutil

import pytest

import autograder.grading.sandbox as sandbox
from autograder.cli import main
from autograder.grading.sandbox import SandboxError, levels, preflight


def hide(monkeypatch: pytest.MonkeyPatch, *missing: str, root: bool = True) -> None:
    """A machine without the given executables (and a Python the uid level cannot read)."""
    real_which = shutil.which
    monkeypatch.setattr(levels.shutil, "which",
                        lambda name, *a, **k: None if name in missing else real_which(name, *a, **k))
    monkeypatch.setattr(levels, "bwrap_works", lambda *a, **k: False)
    monkeypatch.setattr(levels, "runtime_readable_by_others", lambda rt: False)
    monkeypatch.setattr(levels, "is_root", lambda: root)
    monkeypatch.setattr(levels.sys, "platform", "linux")


def test_preflight_returns_the_level_of_a_worker_that_answered() -> None:
    assert preflight() in sandbox.LEVELS


def test_preflight_as_root_without_bubblewrap_names_bubblewrap_in_one_line(monkeypatch) -> None:
    hide(monkeypatch, "bwrap")
    with pytest.raises(SandboxError) as info:
        preflight()
    message = str(info.value)
    assert "install bubblewrap" in message and "apt-get install bubblewrap" in message
    assert "\n" not in message


def test_preflight_as_root_without_setpriv_names_util_linux(monkeypatch) -> None:
    hide(monkeypatch, "setpriv")
    with pytest.raises(SandboxError) as info:
        preflight()
    assert "setpriv (util-linux)" in str(info.value) and "bubblewrap (" not in str(info.value)


def test_preflight_with_bubblewrap_that_cannot_start_says_namespaces(monkeypatch) -> None:
    hide(monkeypatch)  # both installed, but bwrap refuses to start the worker
    with pytest.raises(SandboxError) as info:
        preflight()
    assert "bubblewrap is installed but cannot start" in str(info.value)


def test_grade_stops_before_any_student_with_one_line_naming_bubblewrap(monkeypatch, tmp_path,
                                                                       capsys) -> None:
    hide(monkeypatch, "bwrap")
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    assert main(["grade", "A4", str(subs), "--out", str(out), "--jobs", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "bubblewrap" in err and "Nothing was graded" in err
    assert not out.exists()


def test_grade_exits_non_zero_when_a_student_got_a_grader_error(monkeypatch, tmp_path,
                                                                capsys) -> None:
    import autograder.grading.grade as grade

    def fake_grade_class(*args, **kwargs):
        run = grade.ClassRun(out=tmp_path)
        run.reports = {"s1": {"status": "graded"}, "s2": {"status": "error"}}
        return run

    monkeypatch.setattr(grade, "grade_class", fake_grade_class)
    monkeypatch.setattr(grade, "print_table", lambda run, config: None)
    assert main(["grade", "A4", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "1 student(s) could not be graded" in err and "s2" in err


def test_grade_at_level_process_warns_in_one_line(monkeypatch, tmp_path, capsys) -> None:
    import autograder.grading.grade as grade

    monkeypatch.setattr(sandbox, "preflight", lambda *a, **k: "process")
    monkeypatch.setattr(grade, "grade_class", lambda *a, **k: grade.ClassRun(out=tmp_path))
    monkeypatch.setattr(grade, "print_table", lambda run, config: None)
    assert main(["grade", "A4", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "level 'process'" in line and "install bubblewrap" in line


def test_grade_checks_and_grades_at_the_level_named_by_the_sandbox_option(monkeypatch, tmp_path) -> None:
    import autograder.grading.grade as grade

    asked: list[str] = []
    graded: list[str] = []
    monkeypatch.setattr(sandbox, "preflight", lambda level="auto", *a, **k: asked.append(level) or level)
    monkeypatch.setattr(grade, "grade_class",
                        lambda *a, **k: graded.append(k["sandbox"]) or grade.ClassRun(out=tmp_path))
    monkeypatch.setattr(grade, "print_table", lambda run, config: None)
    assert main(["grade", "A4", str(tmp_path), "--out", str(tmp_path / "out"), "--sandbox", "uid"]) == 0
    assert asked == ["uid"] and graded == ["uid"]


def test_grade_refuses_an_unknown_sandbox_level(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["grade", "A4", str(tmp_path), "--out", str(tmp_path / "out"), "--sandbox", "docker"])
    assert exited.value.code == 2 and "invalid choice: 'docker'" in capsys.readouterr().err


def test_grade_at_a_named_level_that_cannot_work_here_says_why_in_one_line(monkeypatch, tmp_path,
                                                                          capsys) -> None:
    hide(monkeypatch, root=True)  # root, setpriv present, but a Python the dropped uid cannot read
    subs = tmp_path / "subs"
    subs.mkdir()
    assert main(["grade", "A4", str(subs), "--out", str(tmp_path / "out"), "--sandbox", "uid"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "sandbox level 'uid'" in line and "not readable by an unprivileged uid" in line
    assert "Nothing was graded" in line and not (tmp_path / "out").exists()
