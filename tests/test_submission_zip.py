"""One submission zip (autograder.core.submission_zip): rules zip-structure and zip-manifest,
and loose folders checked like a zip."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from intake_support import (
    CONFIG,
    CONTENT,
    NB,
    REQUIRED,
    SVM,
    good_members,
    make_config,
    manifest_for,
    rules_of,
    write_zip,
)

from autograder.core.submission_zip import canonical_name, extract_submission


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A parent folder whose whole tree is checked: only dest/ may change inside it."""
    (tmp_path / "box").mkdir()
    return tmp_path / "box"


def test_files_nested_in_one_folder_are_graded_with_a_violation(box: Path):
    src = write_zip(box / "s.zip", good_members(prefix="A3_2022123456/"))
    intake = extract_submission(src, box / "dest", CONFIG)
    assert intake.ok
    assert set(intake.files) == set(REQUIRED)
    assert intake.files[NB] == box / "dest" / "A3_2022123456" / NB
    assert rules_of(intake) == ["zip-structure"]
    assert "A3_2022123456/" in intake.violations[0]["message"]


def test_windows_backslash_folder_is_found_as_nested(box: Path):
    members = {k.replace("sub/", "sub\\"): v for k, v in good_members(prefix="sub/").items()}
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.ok and rules_of(intake) == ["zip-structure"]


@pytest.mark.parametrize(
    "renamed",
    [
        "Copy of linear_classifier.ipynb",
        "linear_classifier (1).ipynb",
        "linear_classifier-Copy1.ipynb",
        "linear_classifier - Copy.ipynb",
        "linear_classifier copy 2.ipynb",
        "Linear_Classifier.ipynb",
    ],
)
def test_renamed_notebook_is_matched_and_flagged(box: Path, renamed: str):
    members = good_members()
    members[renamed] = members.pop(NB)
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.ok
    assert intake.files[NB].name == renamed
    assert rules_of(intake) == ["zip-structure"]
    assert renamed in intake.violations[0]["message"]


def test_exact_name_wins_over_a_renamed_copy_which_is_extra(box: Path):
    members = good_members() | {"linear_classifier (1).ipynb": b"old"}
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.files[NB].name == NB
    assert intake.extra == ["linear_classifier (1).ipynb"]


def test_root_file_wins_over_a_copy_in_a_subfolder(box: Path):
    members = good_members() | {"backup/" + NB: b"old"}
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.files[NB] == box / "dest" / NB
    assert intake.extra == ["backup/" + NB]


def test_extra_files_are_ignored_with_a_warning(box: Path):
    members = good_members() | {"notes.txt": b"hi", "scratch.py": b"print(1)"}
    intake = extract_submission(
        write_zip(box / "s.zip", members), box / "dest", make_config(structure="error")
    )
    assert intake.ok
    assert intake.extra == ["notes.txt", "scratch.py"]
    [v] = intake.violations
    assert v["rule"] == "zip-structure" and v["severity"] == "warning"
    assert "notes.txt" in v["message"] and "scratch.py" in v["message"]


def test_os_litter_is_ignored_silently(box: Path):
    members = good_members() | {
        "__MACOSX/._linear_classifier.ipynb": b"x",
        ".DS_Store": b"x",
        ".ipynb_checkpoints/linear_classifier-checkpoint.ipynb": b"x",
        "._svm_best_model.npz": b"x",
    }
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.ok and intake.violations == []
    assert len(intake.ignored) == 4


def test_missing_model_is_a_violation_and_still_graded(box: Path):
    members = good_members()
    del members[SVM]
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.ok
    assert SVM not in intake.files
    assert any(SVM in v["message"] and "missing" in v["message"] for v in intake.violations)


def test_missing_notebook_is_an_error_status(box: Path):
    members = good_members()
    del members[NB]
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.status == "missing-notebook"
    assert NB in intake.message


def test_structure_severity_comes_from_the_config(box: Path):
    src = write_zip(box / "s.zip", good_members(prefix="x/"))
    intake = extract_submission(src, box / "dest", make_config(structure="error"))
    assert intake.violations[0]["severity"] == "error"
    assert set(intake.violations[0]) == {"rule", "severity", "message", "cell", "deduction"}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Copy of x (1).ipynb", "x.ipynb"),
        ("x-Copy12.ipynb", "x.ipynb"),
        ("x - Copy (2).npz", "x.npz"),
        ("X.ipynb", "x.ipynb"),
        ("linear_classifier.ipynb", "linear_classifier.ipynb"),
    ],
)
def test_canonical_name_undoes_copy_renames(name: str, expected: str):
    assert canonical_name(name) == expected



def test_missing_manifest_is_flagged_as_self_zipped(box: Path):
    members = good_members()
    del members["MANIFEST.json"]
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.ok
    [v] = intake.violations
    assert v["rule"] == "zip-manifest" and v["severity"] == "error"
    assert "autograder submit" in v["message"]


def test_file_edited_after_zipping_is_a_hash_mismatch(box: Path):
    members = good_members()
    members[SVM] = b"edited after submit"
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    [v] = intake.violations
    assert v["rule"] == "zip-manifest"
    assert SVM in v["message"] and "changed after" in v["message"]


def test_damaged_manifest_is_flagged(box: Path):
    members = good_members() | {"MANIFEST.json": b"{not json"}
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert rules_of(intake) == ["zip-manifest"]
    assert "damaged" in intake.violations[0]["message"]


def test_manifest_of_another_assignment_is_flagged(box: Path):
    members = good_members() | {"MANIFEST.json": manifest_for(CONTENT, assignment="A4")}
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert rules_of(intake) == ["zip-manifest"]
    assert "A4" in intake.violations[0]["message"]


def test_nested_manifest_still_verifies(box: Path):
    intake = extract_submission(
        write_zip(box / "s.zip", good_members(prefix="f/")), box / "dest", CONFIG
    )
    assert "zip-manifest" not in rules_of(intake)


def test_loose_folder_is_copied_and_checked_like_a_zip(box: Path):
    folder = box / "loose"
    folder.mkdir()
    for name, data in good_members().items():
        (folder / name).write_bytes(data)
    intake = extract_submission(folder, box / "dest", CONFIG)
    assert intake.ok and intake.violations == []
    assert intake.files[NB].parent == box / "dest"


def test_loose_folder_with_a_symlink_is_refused(box: Path):
    folder = box / "loose"
    folder.mkdir()
    (folder / NB).symlink_to("/etc/passwd")
    assert extract_submission(folder, box / "dest", CONFIG).status == "symlink"



def test_bytes_helpers_are_consistent():  # the manifest helper hashes what the zip holds
    members = good_members()
    manifest = json.loads(members["MANIFEST.json"])
    assert manifest["files"][NB] == hashlib.sha256(io.BytesIO(CONTENT[NB]).read()).hexdigest()
