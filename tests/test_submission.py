"""`autograder submit`, `submit_from_notebook` and the zip they write (docs/submission.md)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import types
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import autograder
from autograder.cli import main as cli_main
from autograder.core.config import REPO_ROOT
from autograder.core.submission_zip import extract_submission
from autograder.student import submission
from autograder.student.submission import (
    SAVE_REMINDER,
    SubmitRefused,
    inspect_npz,
    submit,
    submit_from_notebook,
    validate_student_id,
)

NB = "linear_classifier.ipynb"
REQUIRED = [NB, "svm_best_model.npz", "softmax_best_model.npz"]
TOML = f"""
[assignment]
name = "A3"
notebooks = ["{NB}"]
required_files = {json.dumps(REQUIRED)}

[models.svm_best_model]
file = "svm_best_model.npz"
predict = "predict_linear_classifier"
keys = {{ W = ["D", "C"] }}
bands.digits = {{ floor = 0.8, full = 0.9 }}

[rules.zip-manifest]
severity = "error"
deduction = 2.0
"""


def notebook(outputs: bool = True, version: str | None = "1") -> dict:
    cell = {
        "cell_type": "code",
        "execution_count": 1 if outputs else None,
        "id": "c1",
        "metadata": {},
        "source": "print(1)",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}] if outputs else [],
    }
    meta = {"autograder": {"assignment": "A3", "version": version}} if version else {}
    return {
        "cells": [{"cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# A3"}, cell],
        "metadata": meta,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder with the released assignment.toml (what find_config reads)."""
    (tmp_path / "course" / "assignments" / "A3").mkdir(parents=True)
    (tmp_path / "course" / "assignments" / "A3" / "assignment.toml").write_text(TOML)
    return tmp_path / "course"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A student's folder: the notebook (saved, with outputs) and both models."""
    folder = tmp_path / "work"
    folder.mkdir()
    np.savez(folder / "svm_best_model.npz", W=np.zeros((65, 10)))
    np.savez(folder / "softmax_best_model.npz", W=np.ones((65, 10)))
    (folder / NB).write_text(json.dumps(notebook()))
    return folder


@pytest.fixture(autouse=True)
def no_checker(monkeypatch: pytest.MonkeyPatch):
    """Tests choose the self-check they want; by default it is absent."""
    monkeypatch.setitem(sys.modules, "autograder.student.check", None)


def fake_checker(
    monkeypatch: pytest.MonkeyPatch, violations: list[dict] | None = None, crash: bool = False
):
    calls: list[tuple] = []

    class Violation:
        def __init__(self, **kw):
            self.__dict__.update(kw)

        def to_dict(self):
            return dict(self.__dict__)

    def check_notebook(path, assignment=None, course=None):
        calls.append((Path(path), assignment, course))
        if crash:
            raise RuntimeError("checker bug")
        found = [Violation(**v) for v in violations or []]
        return types.SimpleNamespace(
            violations=found, errors=sum(v["severity"] == "error" for v in violations or [])
        )

    module = types.ModuleType("autograder.student.check")
    module.check_notebook = check_notebook  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "autograder.student.check", module)
    return calls


def members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def manifest_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("MANIFEST.json"))


# ------------------------------------------------------------------------------ the zip


def test_zip_holds_the_required_files_at_the_root_in_config_order_then_the_manifest(
    work: Path, course: Path
):
    result = submit("A3", "2022123456", work, course=course)
    assert result.ok and result.zip_path == work / "A3_2022123456.zip"
    assert members(result.zip_path) == [*REQUIRED, "MANIFEST.json"]
    with zipfile.ZipFile(result.zip_path) as zf:
        assert zf.read(NB) == (work / NB).read_bytes()


def test_manifest_has_every_field_docs_submission_lists(work: Path, course: Path):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    manifest = manifest_of(submit("A3", "2022123456", work, course=course).zip_path)
    assert set(manifest) == {
        "assignment",
        "student_id",
        "kit_version",
        "numpy_version",
        "release_version",
        "files",
        "created_at",
    }
    assert (manifest["assignment"], manifest["student_id"]) == ("A3", "2022123456")
    assert manifest["kit_version"] == autograder.__version__
    assert manifest["numpy_version"] == np.__version__
    assert manifest["release_version"] == "1"
    assert manifest["files"] == {
        n: hashlib.sha256((work / n).read_bytes()).hexdigest() for n in REQUIRED
    }
    created = datetime.fromisoformat(manifest["created_at"])
    assert created.utcoffset().total_seconds() == 0 and created >= before


def test_submitted_zip_reads_back_clean_through_the_intake(
    work: Path, course: Path, tmp_path: Path
):
    result = submit("A3", "2022123456", work, course=course)
    from autograder.core.config import find_config

    intake = extract_submission(result.zip_path, tmp_path / "x", find_config("A3", course))
    assert intake.ok and intake.violations == []
    assert intake.manifest_student_id == "2022123456"


def test_member_order_does_not_depend_on_the_folder_listing(work: Path, course: Path, monkeypatch):
    first = members(submit("A3", "s1", work, course=course).zip_path)
    real_iterdir = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: reversed(list(real_iterdir(self))))
    assert members(submit("A3", "s1", work, course=course).zip_path) == first


def test_out_may_be_a_folder_or_a_zip_path(work: Path, course: Path, tmp_path: Path):
    assert (
        submit("A3", "s1", work, out=tmp_path / "outdir", course=course).zip_path
        == tmp_path / "outdir" / "A3_s1.zip"
    )
    assert (
        submit("A3", "s1", work, out=tmp_path / "mine.zip", course=course).zip_path
        == tmp_path / "mine.zip"
    )


def test_config_next_to_the_notebook_is_used_without_a_course(work: Path):
    (work / "assignment.toml").write_text(TOML)
    result = submit("A3", "s1", work)
    assert result.ok
    assert "assignment.toml" not in members(result.zip_path)


def test_rewrite_is_atomic_a_failed_write_keeps_the_old_zip(work: Path, course: Path, monkeypatch):
    old = submit("A3", "s1", work, course=course).zip_path.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    result = submit("A3", "s1", work, course=course)
    assert not result.ok and "No space left" in result.problems[0]
    assert (work / "A3_s1.zip").read_bytes() == old
    assert (
        sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
    )  # no temp file left


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "bad, why",
    [
        ("", "not filled in"),
        ("../x", "'/'"),
        ("a/b", "'/'"),
        ("a\\b", "'\\\\'"),
        (".hidden", "starts with '.'"),
        ("jane doe", "' '"),
        ("a1" * 33, "64"),
        ("YOUR_STUDENT_ID", "not filled in"),
        (None, "not filled in"),
        ("xxxx", "not filled in"),
        ("2022:1", "':'"),
    ],
)
def test_bad_student_ids_are_refused_with_the_reason(bad, why: str):
    with pytest.raises(SubmitRefused) as info:
        validate_student_id(bad)
    assert why in info.value.problems[0]


@pytest.mark.parametrize("good", ["2022123456", "jane.doe", "A-1_b", 2022123456])
def test_good_student_ids_pass(good):
    assert validate_student_id(good) == str(good)


def test_bad_student_id_writes_nothing(work: Path, course: Path, capsys):
    result = submit("A3", "../../evil", work, course=course)
    assert not result.ok and result.exit_code == 1
    assert not list(work.parent.rglob("*.zip"))
    assert "Submission NOT created" in capsys.readouterr().out


def test_missing_files_are_refused_with_one_numbered_action_each(work: Path, course: Path, capsys):
    (work / "svm_best_model.npz").unlink()
    (work / NB).rename(work / "Copy of linear_classifier.ipynb")
    result = submit("A3", "s1", work, course=course)
    out = capsys.readouterr().out
    assert not result.ok and len(result.problems) == 2
    assert (
        "  1. linear_classifier.ipynb is missing" in out
        and "rename it to linear_classifier.ipynb" in out
    )
    assert "  2. svm_best_model.npz is missing" in out and "locked search cell that saves it" in out
    assert not (work / "A3_s1.zip").exists()


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"cells": [', "broken JSON"),
        ('{"hello": 1}', "not a notebook"),
        ('{"worksheets": [], "nbformat": 3}', "too old"),
        ("\udcff", "UTF-8"),
    ],
)
def test_notebook_that_is_not_a_notebook_is_refused(
    work: Path, course: Path, text: str, words: str
):
    (work / NB).write_bytes(text.encode("utf-8", "surrogateescape"))
    result = submit("A3", "s1", work, course=course)
    assert not result.ok and words in result.problems[0]
    assert not (work / "A3_s1.zip").exists()


def test_model_needing_pickle_is_refused_and_never_unpickled(
    work: Path, course: Path, tmp_path: Path
):
    marker = tmp_path / "unpickled"

    class Trap:  # unpickling it would create the marker file
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.savez(work / "svm_best_model.npz", W=np.array([Trap()], dtype=object))
    result = submit("A3", "s1", work, course=course)
    assert (
        not result.ok
        and "svm_best_model.npz" in result.problems[0]
        and "pickle" in result.problems[0]
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, words", [(b"not a zip", "not a readable .npz"), (None, "single .npy")]
)
def test_unreadable_model_is_refused(work: Path, course: Path, content, words: str):
    path = work / "softmax_best_model.npz"
    if content is None:
        with open(path, "wb") as fh:
            np.save(fh, np.zeros(3))
    else:
        path.write_bytes(content)
    result = submit("A3", "s1", work, course=course)
    assert not result.ok and words in result.problems[0]


def test_model_keys_are_listed_and_missing_keys_noted(work: Path, course: Path, capsys):
    np.savez(work / "svm_best_model.npz", weights=np.zeros((2, 3)))
    assert submit("A3", "s1", work, course=course).ok
    assert (
        "svm_best_model.npz: weights (2, 3) (missing W: the model cannot be graded)"
        in capsys.readouterr().out
    )


def test_file_larger_than_the_grader_accepts_is_refused(work: Path, course: Path, monkeypatch):
    from autograder.core.archive import ExtractLimits

    monkeypatch.setattr(submission, "STUDENT_LIMITS", ExtractLimits(max_member_bytes=1000))
    result = submit("A3", "s1", work, course=course)
    assert not result.ok
    assert any(
        "svm_best_model.npz is 0.0 MiB, more than the 0 MiB the grader accepts" in p
        for p in result.problems
    )


def test_unknown_assignment_is_refused_clearly(work: Path, course: Path):
    result = submit("A9", "s1", work, course=course)
    assert not result.ok and "A9" in result.problems[0]


def test_inspect_npz_lists_shapes():
    import io

    buf = io.BytesIO()
    np.savez(buf, W=np.zeros((3, 2)), b=np.zeros(2))
    assert inspect_npz(buf.getvalue()) == {"W": (3, 2), "b": (2,)}


# ------------------------------------------------------------------------------ self-check


def test_without_a_checker_the_zip_is_built_with_a_clear_line(work: Path, course: Path, capsys):
    assert submit("A3", "s1", work, course=course).ok
    assert "Self-check not available" in capsys.readouterr().out


def test_violations_are_printed_one_per_line_and_the_zip_is_still_built(
    work: Path, course: Path, monkeypatch, capsys
):
    calls = fake_checker(
        monkeypatch,
        [
            {
                "rule": "forbidden-call",
                "severity": "error",
                "message": "np.vectorize is not allowed",
                "cell": 7,
                "line": 12,
            },
            {
                "rule": "not-executed",
                "severity": "warning",
                "message": "not run before saving",
                "cell": 9,
                "line": None,
            },
        ],
    )
    result = submit("A3", "s1", work, course=course)
    out = capsys.readouterr().out
    assert result.ok and len(result.violations) == 2
    assert calls == [(work / NB, "A3", course)]
    assert "  error    cell 7, line 12  [forbidden-call] np.vectorize is not allowed" in out
    assert "  warning  cell 9  [not-executed] not run before saving" in out
    assert "1 error(s)" in out and "will cost points" in out


def test_a_place_already_in_the_message_is_not_repeated():
    v = {
        "rule": "forbidden-import",
        "severity": "error",
        "cell": 6,
        "line": 1,
        "message": "Cell 6, line 1: `import scipy` is not allowed",
    }
    assert (
        submission.format_violation(v)
        == "  error    [forbidden-import] Cell 6, line 1: `import scipy` is not allowed"
    )


def test_clean_self_check_says_so(work: Path, course: Path, monkeypatch, capsys):
    fake_checker(monkeypatch, [])
    assert submit("A3", "s1", work, course=course).ok
    out = capsys.readouterr().out
    assert "no problems found" in out and "will cost points" not in out


def test_a_crashing_checker_does_not_block_the_zip(work: Path, course: Path, monkeypatch, capsys):
    fake_checker(monkeypatch, crash=True)
    assert submit("A3", "s1", work, course=course).ok
    assert "could not run (RuntimeError: checker bug)" in capsys.readouterr().out


# ------------------------------------------------------------------------------ CLI


def test_cli_submit_exit_codes(work: Path, course: Path):
    assert (
        cli_main(
            ["submit", "A3", "--student-id", "s1", "--dir", str(work), "--course", str(course)]
        )
        == 0
    )
    assert (work / "A3_s1.zip").is_file()
    assert (
        cli_main(
            ["submit", "A3", "--student-id", "a/b", "--dir", str(work), "--course", str(course)]
        )
        == 1
    )


# ------------------------------------------------------------------------------ from the notebook


def test_from_notebook_uses_the_working_directory_and_reminds_to_save(
    work: Path, monkeypatch, capsys
):
    (work / "assignment.toml").write_text(TOML)
    monkeypatch.chdir(work)
    result = submit_from_notebook("A3", student_id=2022123456)
    assert result.ok and result.zip_path == work / "A3_2022123456.zip"
    assert capsys.readouterr().out.startswith(SAVE_REMINDER)
    assert repr(result).startswith("SubmitResult(ok=True")


def test_from_notebook_a_notebook_without_outputs_is_unsaved(work: Path, monkeypatch, capsys):
    (work / "assignment.toml").write_text(TOML)
    (work / NB).write_text(json.dumps(notebook(outputs=False)))
    monkeypatch.chdir(work)
    result = submit_from_notebook("A3", student_id="s1")
    assert (
        not result.ok and "has no outputs" in result.problems[0] and "Ctrl+S" in result.problems[0]
    )
    assert "Submission NOT created" in capsys.readouterr().out
    assert not (work / "A3_s1.zip").exists()


def test_from_notebook_a_notebook_older_than_its_models_is_unsaved(work: Path):
    (work / "assignment.toml").write_text(TOML)
    old = time.time() - 600
    os.utime(work / NB, (old, old))
    result = submit_from_notebook("A3", student_id="s1", directory=work)
    assert not result.ok
    assert "older than svm_best_model.npz, softmax_best_model.npz" in result.problems[0]


def test_from_notebook_never_raises(work: Path, monkeypatch, capsys):
    monkeypatch.setattr(submission, "unsaved_problems", lambda *a: 1 / 0)
    (work / "assignment.toml").write_text(TOML)
    result = submit_from_notebook("A3", student_id="s1", directory=work)
    assert not result.ok and "ZeroDivisionError" in result.problems[0]


# ------------------------------------------------------------------------------ with the real checker


def solved_release(source: dict, release: dict) -> dict:
    """The A3 release with every TODO block filled from the solution and every cell "run"."""
    from assignment_support import solution_blocks

    from autograder.authoring.release import END_MARKER, START_MARKER

    def grade_id(cell: dict) -> str | None:
        return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")

    def text(cell: dict) -> str:
        return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]

    solutions = {grade_id(c): c for c in source["cells"]}
    for count, cell in enumerate(
        (c for c in release["cells"] if c["cell_type"] == "code"), start=1
    ):
        if START_MARKER in text(cell):
            blocks, lines, inside = (
                iter(solution_blocks(text(solutions[grade_id(cell)]))),
                [],
                False,
            )
            for line in text(cell).split("\n"):
                if line.strip() == START_MARKER:
                    lines += [line, *next(blocks)]
                    inside = True
                    continue
                inside = inside and line.strip() != END_MARKER
                if not inside:
                    lines.append(line)
            cell["source"] = "\n".join(lines)
        cell["execution_count"] = count
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ok\n"}]
    return release


def test_solution_grafted_notebook_round_trips_clean_through_submit_and_check(
    tmp_path: Path, monkeypatch, capsys
):
    """Submit, then `check` of the produced zip, is clean for the solution."""
    monkeypatch.delitem(sys.modules, "autograder.student.check")
    import autograder.student.check as check
    source, release = REPO_ROOT / "solutions" / "A3" / NB, REPO_ROOT / "assignments" / "A3" / NB
    if not (source.is_file() and release.is_file()):
        pytest.fail("solutions/A3 or its release is not in the tree")
    work = tmp_path / "work"
    work.mkdir()
    solved = solved_release(json.loads(source.read_text()), json.loads(release.read_text()))
    (work / NB).write_text(json.dumps(solved))
    np.savez(work / "svm_best_model.npz", W=np.zeros((65, 10)))
    np.savez(work / "softmax_best_model.npz", W=np.zeros((65, 10)))
    result = submit("A3", "2022123456", work)
    assert result.ok and result.violations == []
    assert "Self-check of linear_classifier.ipynb: no problems found." in capsys.readouterr().out
    checked = check.check_notebook(result.zip_path, assignment="A3")
    assert [v.to_dict() for v in checked.violations] == []
    intake = extract_submission(result.zip_path, tmp_path / "x", submission.find_config("A3"))
    assert intake.ok and intake.violations == []


def test_a_notebook_the_grader_cannot_use_is_refused_not_zipped(work: Path, course: Path, monkeypatch):
    fake_checker(monkeypatch, [{"rule": "notebook-invalid", "severity": "error", "cell": None,
                                "line": None, "message": "this is a notebook of assignment A4, not A3."}])
    result = submit("A3", "s1", work, course=course)
    assert not result.ok and result.exit_code == 1 and result.zip_path is None
    assert not list(work.glob("*.zip"))
    assert any("assignment A4, not A3" in p for p in result.problems)
