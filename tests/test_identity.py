"""Student ids: one pattern, no reserved names, never a path outside its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.core.identity import (
    UnsafeIdError,
    id_problem,
    is_valid_id,
    student_path,
    unidentified_id,
)

HOSTILE = ["../../x", "/etc/passwd", "zz/../v2", "a\x00b", "grades.csv", "GRADES.CSV",
           "summary.html", "<script>alert(1)</script>", "=HYPERLINK(\"x\")", "+1", "-2", "@sum",
           "..", ".hidden", "", "a b", "a" * 65, "con", "NUL.txt", "tab\there", "é"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_ids_are_not_student_ids(bad: str) -> None:
    assert not is_valid_id(bad)
    assert id_problem(bad)


@pytest.mark.parametrize("good", ["2022123456", "s77", "jane.doe", "A_b-c.9", "x" * 64])
def test_ordinary_ids_are_student_ids(good: str) -> None:
    assert is_valid_id(good), id_problem(good)


@pytest.mark.parametrize("bad", HOSTILE)
def test_a_path_is_never_built_from_a_hostile_id(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafeIdError):
        student_path(tmp_path / "out", bad, "report.json")


def test_a_valid_id_gives_its_own_folder(tmp_path: Path) -> None:
    assert student_path(tmp_path, "s77", "report.json") == (tmp_path / "s77" / "report.json").resolve()


def test_unidentified_names_are_safe_paths_stable_and_distinct(tmp_path: Path) -> None:
    a, b = unidentified_id("my homework.zip"), unidentified_id("sub/my homework.zip")
    assert a == unidentified_id("my homework.zip") and a != b
    for name in (a, b, unidentified_id("../../<script>\x00.zip")):
        assert student_path(tmp_path, name).parent == tmp_path.resolve()


def test_the_graders_own_unidentified_names_are_no_ones_id(tmp_path: Path) -> None:
    safe = unidentified_id("odd upload.zip")
    assert not is_valid_id(safe) and not is_valid_id("Unidentified_x_12345678")
    assert student_path(tmp_path, safe, "report.json").parent.name == safe  # the grader's paths
