"""What a grade run does before its first submission reaches a worker (docs/benchmarks.md,
start-up): the gradebook is opened only when a result is about to be saved, and the pool's
fork server can be started ahead of the pool."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.core.config import find_config
from autograder.grading.batch import Parent, _release_notebooks, start_fork_server

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "course"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from autograder.authoring.release import release

    root = tmp_path_factory.mktemp("startup") / "course"
    shutil.copytree(FIXTURE, root)
    assert release(["F1"], course=root) == 0
    return root


def _parent(course: Path, db: str) -> Parent:
    config = find_config("F1", course)
    return Parent(config, course, course / "out", db, _release_notebooks(config, course))


def test_the_parent_does_not_open_the_gradebook_before_a_result_is_saved(course: Path, tmp_path: Path) -> None:
    db = tmp_path / "gradebook.db"
    parent = _parent(course, f"sqlite:///{db}")
    try:
        assert not db.exists()
        parent.open_gradebook()
        assert db.exists()
    finally:
        parent.close()


def test_opening_the_gradebook_syncs_the_assignment_once(course: Path, tmp_path: Path) -> None:
    parent = _parent(course, f"sqlite:///{tmp_path / 'gradebook.db'}")
    try:
        first = parent.open_gradebook()
        assert parent.open_gradebook() is first
        assert first.gb.find_assignment("F1").name == "F1"
    finally:
        parent.close()


def test_a_gradebook_that_cannot_be_opened_raises_from_open_gradebook(course: Path) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    parent = _parent(course, "notaurl")
    try:
        with pytest.raises(SQLAlchemyError):
            parent.open_gradebook()
    finally:
        parent.close()


def test_start_fork_server_leaves_the_pool_s_fork_server_running() -> None:
    from multiprocessing import forkserver

    start_fork_server()
    assert forkserver._forkserver._forkserver_pid is not None
