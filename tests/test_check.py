"""`autograder check` — the API, the command's output and exit codes, zips, bad input."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.student.check import CheckResult, check_notebook, cli_check

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mv.make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture()
def clean(tmp_path: Path) -> Path:
    return mv.write(mv.solved_synthetic(), tmp_path / "mini.ipynb")


def run_cli(path: Path, course: Path, **options: object) -> int:
    args = argparse.Namespace(path=str(path), assignment=options.get("assignment"),
                              json=bool(options.get("json")), course=str(course))
    return cli_check(args)


def only_invalid(result: CheckResult) -> str:
    assert [v.rule for v in result.violations] == ["notebook-invalid"]
    (v,) = result.violations
    assert v.severity == "error" and "\n" not in v.message and "Traceback" not in v.message
    return v.message


# --------------------------------------------------------------------------------------------
# the API and the command
# --------------------------------------------------------------------------------------------


def test_clean_notebook_exits_0_and_says_ok(course: Path, clean: Path, capsys) -> None:
    assert run_cli(clean, course) == 0
    assert "OK" in capsys.readouterr().out


def test_notebook_with_errors_exits_1_with_one_line_per_violation(course: Path, tmp_path: Path, capsys) -> None:
    nb = mv.import_os_in_body(mv.added_code_cell(mv.solved_synthetic(), {}), {})
    assert run_cli(mv.write(nb, tmp_path / "mini.ipynb"), course) == 1
    out = capsys.readouterr().out.splitlines()
    assert any("cell-added" in line and "Cell 4:" in line for line in out)
    assert any("forbidden-import" in line and "Cell 3, line 5:" in line for line in out)


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    lenient = mv.make_course(tmp_path / "c", strict=False)
    path = mv.write(mv.added_code_cell(mv.solved_synthetic(), {}), tmp_path / "mini.ipynb")
    assert run_cli(path, lenient) == 0


def test_json_prints_the_violations_list_of_the_report_format(course: Path, tmp_path: Path, capsys) -> None:
    path = mv.write(mv.added_code_cell(mv.solved_synthetic(), {}), tmp_path / "mini.ipynb")
    assert run_cli(path, course, json=True) == 1
    (v,) = json.loads(capsys.readouterr().out)
    assert {"rule", "severity", "message", "cell", "deduction"} <= set(v)
    assert (v["rule"], v["severity"], v["cell"], v["deduction"]) == ("cell-added", "error", 4, 1.0)


def test_json_of_a_clean_notebook_is_an_empty_list(course: Path, clean: Path, capsys) -> None:
    assert run_cli(clean, course, json=True) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_check_accepts_a_notebook_object(course: Path) -> None:
    result = check_notebook(mv.solved_synthetic(), course=course)
    assert result.ok and result.errors == 0 and result.assignment == "T1"


def test_outside_change_shows_a_short_diff_under_the_line(course: Path, tmp_path: Path, capsys) -> None:
    path = mv.write(mv.outside_return_changed(mv.solved_synthetic(), {}), tmp_path / "mini.ipynb")
    run_cli(path, course)
    out = capsys.readouterr().out
    assert "+unused = 0" in out and "autograder rescue mini.ipynb --assignment T1" in out


def test_python_m_autograder_check_runs_end_to_end(course: Path, clean: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "check", str(clean), "--course", str(course), "--json"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


# --------------------------------------------------------------------------------------------
# zips
# --------------------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_gets_the_graders_zip_rules_without_writing_next_to_it(
    course: Path, clean: Path, tmp_path: Path
) -> None:
    z = _zip(tmp_path / "T1_123.zip", {"mini.ipynb": clean.read_bytes(), "MANIFEST.json": b"{}"})
    before = sorted(p.name for p in tmp_path.iterdir())
    result = check_notebook(z, course=course)
    # the notebook itself is clean; a manifest without hashes is what grading would flag too
    assert [v.rule for v in result.violations] == ["zip-manifest"]
    assert result.path.endswith("!mini.ipynb")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_zip_with_the_assignment_given_picks_its_notebook(course: Path, clean: Path, tmp_path: Path) -> None:
    z = _zip(tmp_path / "s.zip", {"other.ipynb": b"{}", "mini.ipynb": clean.read_bytes()})
    found = check_notebook(z, assignment="T1", course=course).violations
    assert [v.rule for v in found] == ["zip-structure", "zip-manifest"]  # extra file, self-made zip
    assert "other.ipynb" in found[0].message


def test_a_nested_notebook_is_found_and_checked_as_the_grader_does(course: Path, clean: Path,
                                                                  tmp_path: Path) -> None:
    z = _zip(tmp_path / "T1_1.zip", {"folder/mini.ipynb": clean.read_bytes()})
    found = check_notebook(z, course=course).violations
    assert [v.rule for v in found] == ["zip-structure", "zip-manifest"]
    assert "folder" in found[0].message and found[0].severity == "warning"


@pytest.mark.parametrize(("members", "words"), [
    ({"readme.txt": b"hi"}, "no notebook"),
    ({"a.ipynb": b"{}", "b.ipynb": b"{}"}, "several notebooks"),
])
def test_bad_zip_structure_is_one_clear_message(course: Path, tmp_path: Path, members, words: str) -> None:
    message = only_invalid(check_notebook(_zip(tmp_path / "s.zip", members), None, course))
    assert words in message


def test_a_file_named_zip_that_is_not_one(course: Path, tmp_path: Path) -> None:
    path = tmp_path / "s.zip"
    path.write_bytes(b"not a zip at all")
    assert "not a valid zip" in only_invalid(check_notebook(path, course=course))


# --------------------------------------------------------------------------------------------
# malformed input: one clear message, never a traceback
# --------------------------------------------------------------------------------------------


def _file(tmp_path: Path, data: bytes | str, name: str = "mini.ipynb") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_invalid_json(course: Path, tmp_path: Path) -> None:
    message = only_invalid(check_notebook(_file(tmp_path, '{"cells": [}'), course=course))
    assert "JSON" in message


def test_nbformat_3(course: Path, tmp_path: Path) -> None:
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    assert "nbformat 3" in only_invalid(check_notebook(_file(tmp_path, json.dumps(old)), course=course))


def test_missing_metadata(course: Path, tmp_path: Path) -> None:
    nb = mv.solved_synthetic()
    del nb.metadata["autograder"]
    message = only_invalid(check_notebook(mv.write(nb, tmp_path / "mini.ipynb"), course=course))
    assert "metadata" in message and "rescue" in message


def test_notebook_of_another_assignment(course: Path, clean: Path) -> None:
    message = only_invalid(check_notebook(clean, assignment="A4", course=course))
    assert "T1, not A4" in message


def test_unknown_assignment(tmp_path: Path) -> None:
    nb = mv.solved_synthetic()
    nb.metadata["autograder"]["assignment"] = "Z9"
    message = only_invalid(check_notebook(mv.write(nb, tmp_path / "mini.ipynb"), course=tmp_path))
    assert "Z9" in message


def test_non_notebook_file(course: Path, tmp_path: Path) -> None:
    only_invalid(check_notebook(_file(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00", "picture.png"), course=course))
    only_invalid(check_notebook(_file(tmp_path, "print('hello')\n", "script.py"), course=course))


def test_missing_file_and_folder(course: Path, tmp_path: Path) -> None:
    assert "not found" in only_invalid(check_notebook(tmp_path / "nope.ipynb", course=course))
    assert "folder" in only_invalid(check_notebook(tmp_path, course=course))


def test_damaged_cell_list(course: Path, tmp_path: Path) -> None:
    nb = json.loads(nbformat.writes(mv.solved_synthetic()))
    nb["cells"][2] = {"oops": True}
    only_invalid(check_notebook(_file(tmp_path, json.dumps(nb)), course=course))


def test_malformed_input_through_the_command_prints_one_line_and_exits_1(course: Path, tmp_path: Path, capsys) -> None:
    assert run_cli(_file(tmp_path, "{broken"), course) == 1
    out = capsys.readouterr()
    assert "notebook-invalid" in out.out and "Traceback" not in out.out + out.err


def test_a_zip_with_a_model_of_the_wrong_shape_is_model_invalid(tmp_path: Path, repo_root: Path) -> None:
    import io

    import numpy as np

    from autograder.student.submission import submit

    nb_name = "linear_classifier.ipynb"
    solved = mv.mark_run(mv.solved_real(repo_root / "assignments" / "A3" / nb_name, "A3", nb_name))
    work = tmp_path / "work"
    work.mkdir()
    mv.write(solved, work / nb_name)
    for model in ("svm_best_model.npz", "softmax_best_model.npz"):
        buf = io.BytesIO()
        np.savez(buf, W=np.zeros((3, 3)))  # digits needs W of shape (65, 10)
        (work / model).write_bytes(buf.getvalue())
    result = submit("A3", "s1", work, echo=lambda *_: None)
    assert result.ok
    found = check_notebook(result.zip_path).violations
    assert sorted(v.rule for v in found) == ["model-invalid", "model-invalid"]
    assert "(3, 3)" in found[0].message
