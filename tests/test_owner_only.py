"""What the grader writes is owner-only (0700 folders, 0600 files), whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from autograder.grading.overrides import atomic_write_text
from autograder.grading.owner_only import private_dir, readable_by_others, secure_outputs


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask an operator could have."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_a_report_is_written_0600_in_new_0700_folders(tmp_path, open_umask):
    path = tmp_path / "out" / "s01" / "report.json"
    atomic_write_text(path, "{}\n")
    assert mode(path) == 0o600
    assert mode(tmp_path / "out" / "s01") == 0o700 and mode(tmp_path / "out") == 0o700


def test_an_existing_report_folder_is_narrowed_to_0700(tmp_path, open_umask):
    folder = tmp_path / "s01"
    folder.mkdir(mode=0o755)
    atomic_write_text(folder / "feedback.html", "<p>hi</p>")
    assert mode(folder) == 0o700 and mode(folder / "feedback.html") == 0o600


def test_existing_parents_are_left_alone(tmp_path, open_umask):
    tmp_path.chmod(0o755)
    private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == 0o700


def test_a_shared_folder_is_never_narrowed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    private_dir(shared)
    assert mode(shared) == 0o1777


def test_secure_outputs_makes_out_the_course_folders_and_the_gradebook_owner_only(tmp_path, open_umask):
    course, out = tmp_path / "course", tmp_path / "out"
    course.mkdir(mode=0o755)
    out.mkdir(mode=0o755)
    (out / "s01").mkdir(mode=0o755)
    secure_outputs(course, out)
    assert mode(out) == 0o700
    for name in ("autograded", "submitted", "feedback", "grading"):
        assert mode(course / name) == 0o700
    assert mode(course / "gradebook.db") == 0o600
    assert mode(course) == 0o755  # the course root holds the public release: left alone


def test_an_existing_gradebook_file_becomes_0600(tmp_path, open_umask):
    course = tmp_path / "course"
    course.mkdir()
    db = tmp_path / "elsewhere.db"
    db.write_text("")
    db.chmod(0o644)
    secure_outputs(course, tmp_path / "out", f"sqlite:///{db}")
    assert mode(db) == 0o600


def test_readable_by_others_follows_every_folder_on_the_way():
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(dir="/tmp"))  # not under pytest's 0700 tmp_path
    try:
        root.chmod(0o755)
        (root / "open").mkdir()
        (root / "open").chmod(0o755)
        (root / "open" / "f").write_text("x")
        (root / "open" / "f").chmod(0o644)
        assert readable_by_others(root / "open" / "f")
        (root / "open").chmod(0o700)
        assert not readable_by_others(root / "open" / "f")
    finally:
        shutil.rmtree(root)
