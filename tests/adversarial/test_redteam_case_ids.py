"""Red team: two ids that differ only in case share a report folder on a case-insensitive disk.

In plain mode `A4_Bob.zip` and `A4_bob.zip` name two valid ids; on macOS or Windows (or a
course folder copied there) OUT/Bob/ and OUT/bob/ are one folder, so one report silently
overwrites the other. Secure behaviour: intake treats the second id as a collision: that
submission is listed for review as unidentified, with a message naming both files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from autograder.core.config import REPO_ROOT, load_config
from autograder.grading.intake import collect_submissions

CONFIG = load_config(REPO_ROOT / "solutions" / "A4" / "assignment.toml")


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("two_layer_net.ipynb", "{}")


def _entries(tmp_path: Path, *names: str):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in names:
        _zip(subs / name)
    return collect_submissions(subs, "A4", CONFIG, lms="plain", work_dir=tmp_path / "work")


def test_ids_equal_but_for_case_get_distinct_folders_regardless_of_case(tmp_path: Path) -> None:
    entries = _entries(tmp_path, "A4_Bob.zip", "A4_bob.zip")
    assert len(entries) == 2
    assert len({e.student_id.casefold() for e in entries}) == 2


def test_the_first_of_two_case_twins_keeps_its_id_and_the_other_is_for_review(tmp_path: Path) -> None:
    entries = {e.path.name: e for e in _entries(tmp_path, "A4_Bob.zip", "A4_bob.zip")}
    assert (entries["A4_Bob.zip"].student_id, entries["A4_Bob.zip"].unidentified) == ("Bob", "")
    twin = entries["A4_bob.zip"]
    assert twin.id_source == "unidentified" and twin.student_id.startswith("unidentified_")
    assert "A4_Bob.zip" in twin.unidentified and "A4_bob.zip" in twin.unidentified


def test_ids_that_differ_in_more_than_case_are_both_kept(tmp_path: Path) -> None:
    entries = _entries(tmp_path, "A4_Bob.zip", "A4_Bobby.zip")
    assert sorted(e.student_id for e in entries) == ["Bob", "Bobby"]
    assert all(not e.unidentified for e in entries)
