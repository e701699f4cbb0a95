"""Intake: safe extraction, rules zip-structure / zip-manifest, and a class's LMS exports.

Every archive here is built by the test itself (no binary fixtures in the repository).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import struct
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from autograder.core.archive import ExtractLimits, IntakeError, member_parts
from autograder.core.config import parse_config
from autograder.core.submission_zip import canonical_name, extract_submission
from autograder.grading.intake import (
    collect_submissions,
    load_roster,
    parse_gradescope_metadata,
    parse_lms_time,
)

NB = "linear_classifier.ipynb"
SVM = "svm_best_model.npz"
SOFTMAX = "softmax_best_model.npz"
REQUIRED = (NB, SVM, SOFTMAX)
CONTENT = {
    NB: b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}\n',
    SVM: b"svm model bytes",
    SOFTMAX: b"softmax model bytes",
}


def make_config(structure: str = "warning", manifest: str = "error", mismatch: str = "error"):
    return parse_config(
        {
            "assignment": {"name": "A3", "notebooks": [NB], "required_files": list(REQUIRED)},
            "rules": {
                "zip-structure": {"severity": structure, "deduction": 0.0},
                "zip-manifest": {"severity": manifest, "deduction": 2.0},
                "student-id-mismatch": {"severity": mismatch, "deduction": 0.0},
            },
        }
    )


CONFIG = make_config()


def manifest_for(
    files: dict[str, bytes], student_id: str = "2022123456", assignment: str = "A3"
) -> bytes:
    return json.dumps(
        {
            "assignment": assignment,
            "student_id": student_id,
            "kit_version": "0.1.0",
            "numpy_version": "2.0",
            "release_version": "1",
            "created_at": "2024-01-01T00:00:00+00:00",
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        }
    ).encode()


def good_members(student_id: str = "2022123456", prefix: str = "") -> dict[str, bytes]:
    """What `autograder submit` puts in a zip, optionally under a folder prefix."""
    members = {prefix + name: data for name, data in CONTENT.items()}
    members[prefix + "MANIFEST.json"] = manifest_for(CONTENT, student_id)
    return members


def write_zip(
    path: Path,
    members: dict[str, bytes],
    date=(2024, 3, 1, 12, 0, 0),
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def add_member(path: Path, name: str, data: bytes, mode: int | None = None) -> Path:
    """Append one member, with raw unix mode bits when given."""
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
        if mode is not None:
            info.external_attr = mode << 16
            info.create_system = 3
        zf.writestr(info, data)
    return path


def set_flag_bits(path: Path, name: str, bits: int) -> Path:
    """Set general-purpose flag bits of one member in both its headers (zipfile resets them)."""
    data = bytearray(path.read_bytes())
    raw = name.encode()
    for sig, flag_at, name_len_at, name_at in (
        (b"PK\x03\x04", 6, 26, 30),
        (b"PK\x01\x02", 8, 28, 46),
    ):
        at = data.find(sig)
        while at >= 0:
            (length,) = struct.unpack_from("<H", data, at + name_len_at)
            if bytes(data[at + name_at : at + name_at + length]) == raw:
                (flags,) = struct.unpack_from("<H", data, at + flag_at)
                struct.pack_into("<H", data, at + flag_at, flags | bits)
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))
    return path


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def rules_of(intake) -> list[str]:
    return [v["rule"] for v in intake.violations]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A parent folder whose whole tree is checked: only dest/ may change inside it."""
    (tmp_path / "box").mkdir()
    return tmp_path / "box"


# ------------------------------------------------------------------------------ safe extraction


def test_zip_made_like_submit_extracts_with_no_violations(box: Path):
    intake = extract_submission(write_zip(box / "s.zip", good_members()), box / "dest", CONFIG)
    assert intake.ok, intake.message
    assert intake.violations == []
    assert set(intake.files) == set(REQUIRED)
    assert intake.files[NB].read_bytes() == CONTENT[NB]
    assert intake.manifest_student_id == "2022123456"


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "a/../../evil.txt",
        "..\\evil.txt",
        "/tmp/evil.txt",
        "C:/evil.txt",
        "C:\\evil.txt",
    ],
)
def test_member_escaping_the_folder_is_unsafe_path_and_nothing_is_written(box: Path, name: str):
    src = write_zip(box / "s.zip", good_members())
    add_member(src, name, b"pwned")
    before = tree(box)
    intake = extract_submission(src, box / "dest", CONFIG)
    assert intake.status == "unsafe-path"
    assert name[:5] in intake.message or "absolute" in intake.message
    assert tree(box) - before <= {"dest"}  # only the (now empty) private folder
    assert not any((box / "dest").iterdir())


def test_symlink_member_is_refused_with_symlink_status(box: Path):
    src = add_member(
        write_zip(box / "s.zip", good_members()), "link", b"/etc/passwd", mode=stat.S_IFLNK | 0o777
    )
    intake = extract_submission(src, box / "dest", CONFIG)
    assert intake.status == "symlink"
    assert "symbolic link" in intake.message
    assert not os.path.lexists(box / "dest" / "link")


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK])
def test_device_pipe_or_socket_member_is_special_file(box: Path, kind: int):
    src = add_member(write_zip(box / "s.zip", good_members()), "dev", b"", mode=kind | 0o600)
    assert extract_submission(src, box / "dest", CONFIG).status == "special-file"


def test_encrypted_member_is_encrypted_status(box: Path):
    src = add_member(
        write_zip(box / "s.zip", good_members(), compression=zipfile.ZIP_STORED), "secret.txt", b"x"
    )
    set_flag_bits(src, "secret.txt", 0x1)
    assert zipfile.ZipFile(src).getinfo("secret.txt").flag_bits & 0x1  # the fixture is right
    intake = extract_submission(src, box / "dest", CONFIG)
    assert intake.status == "encrypted"
    assert "password" in intake.message


def test_truncated_archive_is_truncated_status(box: Path):
    data = write_zip(box / "full.zip", good_members()).read_bytes()
    (box / "s.zip").write_bytes(data[: len(data) // 2])
    intake = extract_submission(box / "s.zip", box / "dest", CONFIG)
    assert intake.status == "truncated"
    assert "upload it again" in intake.message


def test_corrupt_crc_is_corrupt_status_and_leaves_nothing_half_written(box: Path):
    src = write_zip(box / "s.zip", good_members(), compression=zipfile.ZIP_STORED)
    data = bytearray(src.read_bytes())
    at = bytes(data).index(CONTENT[SVM])
    data[at] ^= 0xFF  # same length, wrong content: only the CRC can tell
    src.write_bytes(bytes(data))
    intake = extract_submission(src, box / "dest", CONFIG)
    assert intake.status == "corrupt"
    assert "CRC" in intake.message or "checksum" in intake.message
    assert not any((box / "dest").iterdir())


@pytest.mark.parametrize(
    "data, what",
    [
        (b"", "empty"),
        (b"Rar!\x1a\x07\x00", "RAR"),
        (b'{"cells": []}', "notebook"),
        (b"hello world", "not a zip"),
    ],
)
def test_file_that_is_not_a_zip_says_what_it_is(box: Path, data: bytes, what: str):
    (box / "s.zip").write_bytes(data)
    intake = extract_submission(box / "s.zip", box / "dest", CONFIG)
    assert intake.status == "not-a-zip"
    assert what in intake.message


def test_zip_bomb_member_is_refused_before_writing(box: Path):
    members = good_members()
    members["bomb.bin"] = bytes(20 * 1024 * 1024)  # 20 MiB of zeros deflate ~1000x
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.status == "zip-bomb"
    assert "bomb.bin" in intake.message
    assert tree(box / "dest") == set()


def test_small_file_that_compresses_well_is_not_a_bomb(box: Path):
    members = good_members()
    members["zeros.npz"] = bytes(2 * 1024 * 1024)  # an all-zero model: ~1000x, but small
    assert extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG).ok


def test_too_many_members_is_refused(box: Path):
    members = good_members() | {f"junk/{i}.txt": b"x" for i in range(200)}
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG)
    assert intake.status == "too-many-files"


def test_member_over_the_size_limit_is_too_large(box: Path):
    members = good_members() | {"big.bin": os.urandom(5000)}
    limits = ExtractLimits(max_member_bytes=4000)
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG, limits)
    assert intake.status == "too-large"
    assert "big.bin" in intake.message


def test_total_size_over_the_limit_is_too_large(box: Path):
    members = good_members() | {f"part{i}.bin": os.urandom(3000) for i in range(4)}
    limits = ExtractLimits(max_member_bytes=4000, max_total_bytes=10_000)
    intake = extract_submission(write_zip(box / "s.zip", members), box / "dest", CONFIG, limits)
    assert intake.status == "too-large"


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_two_members_with_the_same_name_are_corrupt(box: Path):
    src = add_member(write_zip(box / "s.zip", good_members()), NB, b"second copy")
    intake = extract_submission(src, box / "dest", CONFIG)
    assert intake.status == "corrupt"
    assert "two members" in intake.message


def test_archive_is_never_modified(box: Path):
    src = write_zip(box / "s.zip", good_members())
    os.chmod(src, 0o444)  # read-only: any attempt to open it for writing would fail
    before = (src.read_bytes(), src.stat().st_mtime_ns)
    assert extract_submission(src, box / "dest", CONFIG).ok
    assert (src.read_bytes(), src.stat().st_mtime_ns) == before


def test_missing_archive_is_not_found(box: Path):
    assert extract_submission(box / "nope.zip", box / "dest", CONFIG).status == "not-found"


def test_extraction_needs_an_empty_folder(box: Path):
    (box / "dest").mkdir()
    (box / "dest" / "old.txt").write_text("x")
    intake = extract_submission(write_zip(box / "s.zip", good_members()), box / "dest", CONFIG)
    assert intake.status == "io-error"
    assert (box / "dest" / "old.txt").read_text() == "x"


def test_member_dates_become_file_times(box: Path):
    src = write_zip(box / "s.zip", good_members(), date=(2023, 5, 6, 7, 8, 10))
    intake = extract_submission(src, box / "dest", CONFIG)
    assert time.localtime(intake.files[NB].stat().st_mtime)[:6] == (2023, 5, 6, 7, 8, 10)


@pytest.mark.parametrize(
    "name, parts", [("a/./b", ("a", "b")), ("a\\b", ("a", "b")), ("./x", ("x",)), ("d/", ("d",))]
)
def test_member_names_are_split_on_both_separators(name: str, parts: tuple[str, ...]):
    assert member_parts(name) == parts


# ------------------------------------------------------------------------------ zip-structure


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


# ------------------------------------------------------------------------------ zip-manifest


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


# ------------------------------------------------------------------------------ class intake


def student_zip(path: Path, student_id: str, date=(2024, 3, 1, 12, 0, 0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_zip(path, good_members(student_id), date=date)


def zip_of_files(
    path: Path, files: dict[str, bytes | Path], dates: dict[str, tuple] | None = None
) -> Path:
    """An LMS export: members are bytes or the bytes of a file built by the test."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(dates or {}).get(name, (2024, 3, 1, 12, 0, 0)))
            zf.writestr(info, data.read_bytes() if isinstance(data, Path) else data)
    return path


def by_id(entries) -> dict:
    return {e.student_id: e for e in entries}


def test_canvas_folder_gives_lms_ids_names_and_late_flags(tmp_path: Path):
    student_zip(tmp_path / "export" / "doejane_12345_67890_A3_2022123456.zip", "2022123456")
    student_zip(tmp_path / "export" / "roesmith_LATE_23456_67891_A3_2022000002.zip", "2022000002")
    entries = by_id(collect_submissions(tmp_path / "export", "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"12345", "23456"}  # no roster: Canvas user ids
    assert (entries["12345"].lms, entries["12345"].name, entries["12345"].late) == (
        "canvas",
        "doejane",
        False,
    )
    assert entries["23456"].late is True
    assert entries["12345"].violations == []  # a Canvas id is not a course id: nothing to compare


def test_canvas_roster_maps_to_course_ids_and_flags_a_copied_zip(tmp_path: Path):
    student_zip(tmp_path / "export" / "doejane_12345_67890_A3_2022123456.zip", "2022123456")
    student_zip(
        tmp_path / "export" / "roesmith_23456_67891_A3_2022123456.zip", "2022123456"
    )  # a copy
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,Section\n    Points Possible,,,\n"
        "Doe Jane,12345,2022123456,A\nRoe Smith,23456,2022000002,A\n"
    )
    entries = by_id(
        collect_submissions(
            tmp_path / "export", "A3", CONFIG, roster=roster, work_dir=tmp_path / "w"
        )
    )
    assert set(entries) == {"2022123456", "2022000002"}
    assert entries["2022123456"].violations == []
    copied = entries["2022000002"]
    assert copied.id_source == "roster" and copied.manifest_student_id == "2022123456"
    [v] = copied.violations
    assert v["rule"] == "student-id-mismatch" and v["severity"] == "error"
    assert "2022123456" in v["message"] and "2022000002" in v["message"]


def test_canvas_export_archive_keeps_the_latest_attempt_by_export_time(tmp_path: Path):
    early = student_zip(tmp_path / "src" / "early.zip", "2022123456")
    late = student_zip(tmp_path / "src" / "late.zip", "2022123456")
    export = zip_of_files(
        tmp_path / "submissions.zip",
        {
            "doejane_12345_99999_A3_2022123456.zip": early,  # larger attachment id, but older
            "doejane_12345_11111_A3_2022123456-1.zip": late,
        },
        dates={
            "doejane_12345_99999_A3_2022123456.zip": (2024, 3, 1, 9, 0, 0),
            "doejane_12345_11111_A3_2022123456-1.zip": (2024, 3, 2, 9, 0, 0),
        },
    )
    [entry] = collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.path.name == "doejane_12345_11111_A3_2022123456-1.zip"
    assert entry.time_source == "export-member-date"
    assert [p.name for p in entry.other_attempts] == ["doejane_12345_99999_A3_2022123456.zip"]
    assert any("2 attempts" in n for n in entry.notes)
    assert entry.path.is_relative_to(tmp_path / "w")


def test_canvas_loose_uploads_are_gathered_under_their_original_names(tmp_path: Path):
    export = tmp_path / "export"
    export.mkdir()
    for attachment, (name, data) in enumerate(CONTENT.items(), start=100):
        (export / f"doejane_LATE_12345_{attachment}_{name}").write_bytes(data)
    (export / "grades.csv").write_text("not a submission")
    [entry] = collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w")
    assert (entry.student_id, entry.late) == ("12345", True)
    assert sorted(p.name for p in entry.path.iterdir()) == sorted(REQUIRED)
    assert any("loose files" in n for n in entry.notes)


def test_equal_times_fall_back_to_the_canvas_upload_counter(tmp_path: Path):
    export = tmp_path / "export"
    for attachment in ("500", "70"):
        student_zip(export / f"doejane_12345_{attachment}_A3_2022123456.zip", "2022123456")
        os.utime(
            export / f"doejane_12345_{attachment}_A3_2022123456.zip", (1_700_000_000, 1_700_000_000)
        )
    [entry] = collect_submissions(export, "A3", CONFIG, lms="canvas", work_dir=tmp_path / "w")
    assert entry.path.name.startswith("doejane_12345_500_")


def test_moodle_export_with_participant_folders(tmp_path: Path):
    one = student_zip(tmp_path / "src" / "a.zip", "2022123456")
    two = student_zip(tmp_path / "src" / "b.zip", "2022000002")
    export = zip_of_files(
        tmp_path / "moodle.zip",
        {
            "Jane Doe_12345_assignsubmission_file_/A3_2022123456.zip": one,
            "José Núñez_23456_assignsubmission_file_/A3_2022000002.zip": two,
            "José Núñez_23456_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
        },
    )
    entries = by_id(
        collect_submissions(
            export,
            "A3",
            CONFIG,
            roster={"12345": "2022123456", "23456": "2022000002"},
            work_dir=tmp_path / "w",
        )
    )
    assert set(entries) == {"2022123456", "2022000002"}
    assert entries["2022000002"].lms == "moodle" and entries["2022000002"].name == "José Núñez"
    assert all(e.violations == [] for e in entries.values())


def test_moodle_loose_files_are_gathered_into_one_submission(tmp_path: Path):
    folder = tmp_path / "export" / "Jane Doe_12345_assignsubmission_file_"
    folder.mkdir(parents=True)
    for name, data in CONTENT.items():
        (folder / name).write_bytes(data)
    [entry] = collect_submissions(tmp_path / "export", "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.student_id == "12345" and entry.path.is_dir()
    assert sorted(p.name for p in entry.path.iterdir()) == sorted(REQUIRED)
    intake = extract_submission(entry.path, tmp_path / "dest", CONFIG)
    assert intake.ok and rules_of(intake) == ["zip-manifest"]  # loose files: no manifest


GRADESCOPE_YML = """\
submission_101:
  :submitters:
  - :name: Jane Doe
    :sid: '2022123456'
    :email: jane@example.edu
  :created_at: 2024-03-01 10:00:00.123456789 -0800
  :score: 0.0
  :status: processed
  :results:
    :tests:
    - :name: t
      :created_at: 2030-01-01 00:00:00 +0000
submission_102:
  :submitters:
  - :name: Roe Smith
    :sid: "2022000002"
    :email: roe@example.edu
  :created_at: 2024-03-01 11:00:00.000000000 -0800
submission_103:
  :submitters:
  - :name: Jane Doe
    :sid: '2022123456'
    :email: jane@example.edu
  :created_at: 2024-03-02 09:00:00.000000000 -0800
"""


def test_gradescope_export_uses_metadata_ids_and_times(tmp_path: Path):
    root = tmp_path / "assignment_42_export"
    (root / "submission_101").mkdir(parents=True)
    for name, data in good_members("2022123456").items():
        (root / "submission_101" / name).write_bytes(data)
    student_zip(root / "submission_102" / "A3_2022000002.zip", "2022123456")  # someone else's zip
    student_zip(root / "submission_103" / "A3_2022123456.zip", "2022123456")
    (root / "submission_metadata.yml").write_text(GRADESCOPE_YML)
    export = zip_of_files(
        tmp_path / "export.zip",
        {p.relative_to(tmp_path).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()},
    )
    entries = by_id(collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"2022123456", "2022000002"}
    jane = entries["2022123456"]
    assert jane.lms == "gradescope" and jane.time_source == "lms-metadata"
    assert jane.submitted_at == datetime(2024, 3, 2, 17, 0, tzinfo=timezone.utc)
    assert jane.path.name == "A3_2022123456.zip" and jane.path.parent.name == "submission_103"
    assert [p.name for p in jane.other_attempts] == ["submission_101"]
    [v] = entries["2022000002"].violations
    assert v["rule"] == "student-id-mismatch"


def test_gradescope_metadata_parser_reads_only_the_submission_level():
    meta = parse_gradescope_metadata(GRADESCOPE_YML)
    assert meta["submission_101"]["created_at"] == "2024-03-01 10:00:00.123456789 -0800"
    assert meta["submission_101"]["submitters"] == [
        {"name": "Jane Doe", "sid": "2022123456", "email": "jane@example.edu"}
    ]
    assert meta["submission_102"]["submitters"][0]["sid"] == "2022000002"


def test_gradescope_group_submission_gives_one_entry_per_submitter(tmp_path: Path):
    root = tmp_path / "export"
    student_zip(root / "submission_7" / "A3_2022123456.zip", "2022123456")
    (root / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - :name: A\n    :sid: '1'\n  - :name: B\n    :sid: '2'\n"
        "  :created_at: 2024-03-01 10:00:00 +0000\n"
    )
    entries = collect_submissions(root, "A3", CONFIG, work_dir=tmp_path / "w")
    assert sorted(e.student_id for e in entries) == ["1", "2"]


def test_gradescope_ids_and_times_keep_the_text_written():
    """YAML 1.1 would read an unquoted 0123 as the number 83 and a time as its own datetime."""
    meta = parse_gradescope_metadata(
        "submission_1:\n  :submitters:\n  - :sid: 0123\n  - :sid: 2022123456\n"
        "  :created_at: 2030-01-01 00:00:00.000000000 +00:00\n"
    )
    assert meta["submission_1"]["submitters"] == [{"sid": "0123"}, {"sid": "2022123456"}]
    assert meta["submission_1"]["created_at"] == "2030-01-01 00:00:00.000000000 +00:00"


def test_gradescope_ruby_tags_in_the_results_are_data_not_a_refusal():
    meta = parse_gradescope_metadata(
        "submission_1:\n  :submitters:\n  - :sid: s01\n"
        "  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "    score: !ruby/object:BigDecimal 18:0.1e2\n"
    )
    assert meta["submission_1"]["submitters"] == [{"sid": "s01"}]


def test_gradescope_aliased_submitters_are_read_as_yaml_means_them():
    meta = parse_gradescope_metadata(
        "submission_1:\n  :submitters: &group\n  - :sid: s01\n  - :sid: s02\n"
        "submission_2:\n  :submitters: *group\n"
    )
    assert meta["submission_2"]["submitters"] == [{"sid": "s01"}, {"sid": "s02"}]


def test_gradescope_sid_tagged_as_text_is_text():
    meta = parse_gradescope_metadata("submission_1:\n  :submitters:\n  - :sid: !!str 0123\n")
    assert meta["submission_1"]["submitters"] == [{"sid": "0123"}]


@pytest.mark.parametrize("value", ["", " ~", " null"])
def test_gradescope_null_created_at_is_no_time(value: str):
    meta = parse_gradescope_metadata(f"submission_1:\n  :created_at:{value}\n")
    assert meta["submission_1"]["created_at"] is None


def test_gradescope_quoted_tilde_is_text_not_null():
    meta = parse_gradescope_metadata("submission_1:\n  :submitters:\n  - :name: '~'\n")
    assert meta["submission_1"]["submitters"] == [{"name": "~"}]


def test_gradescope_metadata_with_a_byte_order_mark_and_crlf_is_read():
    meta = parse_gradescope_metadata("\ufeffsubmission_1:\r\n  :submitters:\r\n  - :sid: s01\r\n")
    assert meta["submission_1"]["submitters"] == [{"sid": "s01"}]


def test_gradescope_submitter_without_sid_is_identified_by_email_through_the_roster(tmp_path: Path):
    root = tmp_path / "export"
    student_zip(root / "submission_7" / "A3_x.zip", "2022123456")
    (root / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - :name: A\n    :email: a@example.edu\n"
    )
    [entry] = collect_submissions(root, "A3", CONFIG, roster={"a@example.edu": "2022123456"},
                                  work_dir=tmp_path / "w")
    assert entry.lms_id == "a@example.edu" and entry.student_id == "2022123456"
    assert "no student id (sid)" in " ".join(entry.notes)


def test_plain_folder_grades_under_the_file_name_and_flags_a_renamed_copy(tmp_path: Path):
    student_zip(tmp_path / "in" / "A3_2022123456.zip", "2022123456")
    student_zip(tmp_path / "in" / "A3_2022000002.zip", "2022123456")  # a friend's zip, renamed
    student_zip(tmp_path / "in" / "A4_2022000003.zip", "2022000003")  # another assignment
    entries = by_id(collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w"))
    assert entries["2022123456"].violations == []
    assert [v["rule"] for v in entries["2022000002"].violations] == ["student-id-mismatch"]
    # no pattern matched: the manifest never names the owner; a safe name, listed for review
    assert "2022000003" not in entries
    [odd] = [e for sid, e in entries.items() if sid.startswith("unidentified_")]
    assert odd.lms == "unknown" and odd.id_source == "unidentified"
    assert "matches no file-name pattern" in odd.unidentified
    assert "'2022000003'" in odd.unidentified  # what the manifest claims, for the TA to check


def test_custom_pattern_finds_the_lms_id(tmp_path: Path):
    student_zip(tmp_path / "in" / "hw3-s0042-final.zip", "2022123456")
    [entry] = collect_submissions(
        tmp_path / "in", "A3", CONFIG, pattern=r"hw3-(?P<lms_id>s\d+)-", work_dir=tmp_path / "w"
    )
    assert entry.student_id == "s0042" and entry.lms == "custom"


def test_pattern_without_lms_id_group_is_refused(tmp_path: Path):
    with pytest.raises(IntakeError, match="lms_id"):
        collect_submissions(tmp_path, "A3", CONFIG, pattern=r"(\d+)")


def test_one_student_zip_given_as_the_export_is_one_submission(tmp_path: Path):
    src = student_zip(tmp_path / "A3_2022123456.zip", "2022123456")
    [entry] = collect_submissions(src, "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.student_id == "2022123456" and entry.path == src


def test_unsafe_export_archive_is_refused_without_writing_outside(tmp_path: Path):
    export = zip_of_files(tmp_path / "export.zip", {"../../evil.zip": b"x"})
    before = tree(tmp_path)
    with pytest.raises(IntakeError) as info:
        collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w")
    assert info.value.status == "unsafe-path"
    assert tree(tmp_path) - before <= {"w", "w/export"}


def test_roster_without_the_needed_columns_names_them(tmp_path: Path):
    (tmp_path / "r.csv").write_text("name,email\nJane,j@x\n")
    with pytest.raises(IntakeError, match="lms_id"):
        load_roster(tmp_path / "r.csv")


def test_lms_times_parse_with_offsets():
    assert parse_lms_time("2024-03-01 10:00:00.5 -0800") == datetime(
        2024, 3, 1, 18, 0, 0, 500000, tzinfo=timezone.utc
    )
    assert parse_lms_time("2024-03-01T10:00:00Z") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    assert parse_lms_time("yesterday") is None


def test_lms_time_with_a_colon_in_the_offset_and_nanoseconds():
    assert parse_lms_time("2019-01-28 11:22:01.491343000 -08:00") == datetime(
        2019, 1, 28, 19, 22, 1, 491343, tzinfo=timezone.utc
    )


def test_lms_time_without_a_zone_is_utc():
    assert parse_lms_time("2024-03-01 10:00:00") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2024-03-01", "10:00:00", "2024", "March 3", "2024-03-01 10:00"])
def test_lms_time_missing_a_part_is_none_not_filled_from_today(text: str):
    assert parse_lms_time(text) is None


@pytest.mark.parametrize("text", ["2024-03-01 10:00:00 PST", "2024-13-01 10:00:00 +0000",
                                  "2024-03-01 10:00:00 +9999", "9" * 50])
def test_lms_time_that_cannot_be_one_instant_is_none(text: str):
    assert parse_lms_time(text) is None


def test_entries_serialize_to_json(tmp_path: Path):
    student_zip(tmp_path / "in" / "A3_2022123456.zip", "2022123456")
    [entry] = collect_submissions(tmp_path / "in", "A3", CONFIG)
    data = json.loads(json.dumps(entry.to_dict()))
    assert data["student_id"] == "2022123456" and data["time_source"] == "file-mtime"


def test_bytes_helpers_are_consistent():  # the manifest helper hashes what the zip holds
    members = good_members()
    manifest = json.loads(members["MANIFEST.json"])
    assert manifest["files"][NB] == hashlib.sha256(io.BytesIO(CONTENT[NB]).read()).hexdigest()


# --- who decides (the manifest never does) ------------------------------------------------


def test_a_zip_named_by_no_pattern_cannot_take_a_classmates_identity(tmp_path: Path):
    student_zip(tmp_path / "in" / "A3_s77.zip", "s77", date=(2024, 3, 1, 12, 0, 0))
    student_zip(tmp_path / "in" / "my homework.zip", "s77", date=(2024, 3, 2, 12, 0, 0))  # newer
    entries = by_id(collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w"))
    own = entries["s77"]
    assert own.path.name == "A3_s77.zip" and own.other_attempts == []
    [odd] = [e for sid, e in entries.items() if sid != "s77"]
    assert odd.id_source == "unidentified" and odd.path.name == "my homework.zip"
    assert "'s77'" in odd.unidentified  # the claim is shown for a human, never acted on


@pytest.mark.parametrize("claim", ["../../x", "/tmp/abs", "zz/../v2", "a\x00b", "grades.csv",
                                   "<img src=x onerror=alert(1)>", "=HYPERLINK(\"x\")"])
def test_a_hostile_manifest_id_never_becomes_the_student_id(tmp_path: Path, claim: str):
    student_zip(tmp_path / "in" / "upload.zip", claim)
    [entry] = collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.student_id.startswith("unidentified_") and entry.id_source == "unidentified"
    assert "\x00" not in entry.unidentified


@pytest.mark.parametrize("name", ["A3_grades.csv.zip", "A3_-cmd.zip", "A3_con.zip"])
def test_a_file_name_id_that_is_not_a_valid_id_is_unidentified(tmp_path: Path, name: str):
    student_zip(tmp_path / "in" / name, "s1")
    [entry] = collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.id_source == "unidentified" and "cannot be used" in entry.unidentified


def test_a_roster_id_that_is_not_a_valid_id_is_unidentified(tmp_path: Path):
    student_zip(tmp_path / "export" / "doejane_12345_67890_A3.zip", "s1")
    [entry] = collect_submissions(tmp_path / "export", "A3", CONFIG, roster={"12345": "../x"},
                                  work_dir=tmp_path / "w")
    assert entry.id_source == "unidentified"


def test_a_moodle_looking_file_in_a_canvas_export_is_read_the_canvas_way(tmp_path: Path):
    export = tmp_path / "export"
    student_zip(export / "victimvic_111_70001_A3.zip", "s111")
    student_zip(export / "doejane_LATE_222_70002_A3.zip", "s222")
    # the attacker (Canvas user 333, late) uploads a file named like Moodle's pattern for user 111
    student_zip(export / "attackeran_LATE_333_70003_h_111_assignsubmission_file_A3.zip", "s111")
    entries = by_id(collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"111", "222", "333"}
    assert entries["111"].path.name == "victimvic_111_70001_A3.zip"
    assert entries["111"].other_attempts == []
    assert entries["333"].lms == "canvas" and entries["333"].late is True
    assert entries["222"].late is True


def test_a_canvas_looking_file_in_a_moodle_export_is_read_the_moodle_way(tmp_path: Path):
    export = tmp_path / "export"
    student_zip(export / "Vic Tim_111_assignsubmission_file_" / "A3.zip", "s111")
    student_zip(export / "At Tacker_333_assignsubmission_file_" / "x_111_9_A3.zip", "s111")
    entries = by_id(collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"111", "333"}
    assert entries["111"].path.name == "A3.zip" and entries["111"].other_attempts == []
