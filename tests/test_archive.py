"""Safe extraction (autograder.core.archive): every archive here is built by the test itself."""

from __future__ import annotations

import os
import stat
import time
import zipfile
from pathlib import Path

import pytest
from intake_support import (
    CONFIG,
    CONTENT,
    NB,
    REQUIRED,
    SVM,
    add_member,
    good_members,
    set_flag_bits,
    tree,
    write_zip,
)

from autograder.core.archive import ExtractLimits, member_parts
from autograder.core.submission_zip import extract_submission


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A parent folder whose whole tree is checked: only dest/ may change inside it."""
    (tmp_path / "box").mkdir()
    return tmp_path / "box"


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
