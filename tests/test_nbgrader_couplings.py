"""Every place the kit relies on nbgrader beyond its documented commands, pinned.

Checked for nbgrader >= 0.9.0, < 0.10 (last on 0.9.6). Each test names the behaviour relied on
and the module that relies on it, and fails when the installed nbgrader behaves differently, so
an nbgrader upgrade is a list of red tests to look at, never a silent change in grades:

* autograder.grading.gradebook creates a new gradebook's tables and alembic stamp itself (no
  `alembic` command), relying on `Gradebook()` skipping its stamp when tables exist;
* the deductions cell: a negative `auto_score` on a 0-point grade cell lowers every total
  nbgrader shows (`Grade.score`, the submission's score, `nbgrader export`), max unchanged;
* `Notebook._base_cells` (private) lists a notebook's grade and solution cells;
* autograder.authoring.versions recomputes a free cell's checksum with
  `nbgrader.utils.compute_checksum`, which must be the function nbgrader writes checksums with;
* every setting of autograder.authoring.generate is a configurable trait of the nbgrader class
  it names (traitlets ignores an unknown one with a mere warning);
* autograder.grading.nbgrader_guard replaces `exporter_class`, and nbgrader creates the
  exporter (so the refusal happens) before it deletes or writes anything (tests/test_release.py
  runs that for real).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest

nbgrader = pytest.importorskip("nbgrader", reason="the couplings are the instructor extra's")

from packaging.specifiers import SpecifierSet  # noqa: E402
from packaging.version import Version  # noqa: E402

CHECKED_FOR = SpecifierSet(">=0.9.0,<0.10")
REPO = Path(__file__).resolve().parent.parent


def test_installed_nbgrader_is_a_version_these_couplings_were_checked_for() -> None:
    installed = Version(nbgrader.__version__)
    assert installed in CHECKED_FOR, (
        f"nbgrader {installed} is outside {CHECKED_FOR}, the range the couplings listed in "
        f"{Path(__file__).name} were checked for: check each one, then widen CHECKED_FOR and "
        "the range in pyproject.toml")


# --- the gradebook's creation ---------------------------------------------------------------


def test_gradebook_skips_its_alembic_command_for_a_database_that_has_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbgrader.api

    from autograder.grading.gradebook import _create_database

    def refuse() -> str:
        raise AssertionError("nbgrader ran its `alembic heads` command on an existing database")

    monkeypatch.setattr(nbgrader.api, "get_alembic_version", refuse)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _create_database(url)
    with nbgrader.api.Gradebook(url) as gb:
        assert gb.students == []


def test_a_new_gradebook_has_nbgraders_tables_stamped_with_its_alembic_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import nbgrader.api

    from autograder.grading.gradebook import _create_database

    _create_database(f"sqlite:///{tmp_path / 'ours.db'}")
    with sqlite3.connect(tmp_path / "ours.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        (stamp,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert tables == set(nbgrader.api.Base.metadata.tables) | {"alembic_version"}
    # nbgrader's own answer, from its `alembic heads` command (found next to this interpreter)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    assert stamp == nbgrader.api.get_alembic_version()


# --- the deductions cell ----------------------------------------------------------------------


# nbgrader's own add_submission warns about its session; not ours to fix
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_a_negative_auto_score_on_a_zero_point_cell_lowers_every_nbgrader_total(
    tmp_path: Path,
) -> None:
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    from autograder.grading.gradebook import _create_database

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _create_database(url)
    with Gradebook(url) as gb:
        gb.add_assignment("A1")
        gb.add_notebook("nb", "A1")
        gb.add_grade_cell("work", "nb", "A1", max_score=4, cell_type="code")
        gb.add_grade_cell("deductions", "nb", "A1", max_score=0, cell_type="code")
        gb.add_student("s1")
        gb.add_submission("A1", "s1")
        for name, points in (("work", 4.0), ("deductions", -1.5)):
            grade = gb.find_grade(name, "nb", "A1", "s1")
            grade.auto_score = points
        gb.db.commit()
        assert gb.find_grade("deductions", "nb", "A1", "s1").score == -1.5
        submission = gb.find_submission("A1", "s1")
        assert (submission.score, submission.max_score) == (2.5, 4.0)
        assert submission.code_score == 2.5
        CsvExportPlugin(to=str(tmp_path / "grades.csv"), assignment=["A1"]).export(gb)
    with (tmp_path / "grades.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert (float(row["score"]), float(row["max_score"])) == (2.5, 4.0)


def test_notebook_base_cells_are_its_grade_and_solution_cells(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook, GradeCell, SolutionCell

    from autograder.grading.gradebook import _create_database

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _create_database(url)
    with Gradebook(url) as gb:
        gb.add_assignment("A1")
        notebook = gb.add_notebook("nb", "A1")
        gb.add_grade_cell("g", "nb", "A1", max_score=1, cell_type="code")
        gb.add_solution_cell("s", "nb", "A1")
        gb.db.commit()
        kinds = {(type(c), c.name) for c in notebook._base_cells}
    assert (GradeCell, "g") in kinds and (SolutionCell, "s") in kinds


# --- the release ------------------------------------------------------------------------------


def test_compute_checksum_is_the_checksum_nbgrader_wrote_into_the_release() -> None:
    from nbgrader.utils import compute_checksum

    from autograder.core.notebook import read_notebook

    checked = 0
    for path in sorted(REPO.glob("assignments/*/*.ipynb")):
        for cell in read_notebook(path).cells:
            meta = cell.metadata.get("nbgrader", {})
            if "checksum" in meta:
                assert compute_checksum(cell) == meta["checksum"], (path.name, meta["grade_id"])
                checked += 1
    assert checked > 0


def _nbgrader_class(section: str) -> type:
    from nbgrader import converters, coursedir, preprocessors

    for module in (converters, coursedir, preprocessors):
        if hasattr(module, section):
            return getattr(module, section)
    raise AssertionError(f"nbgrader has no configurable class {section!r}")


def test_every_setting_the_kit_gives_nbgrader_is_one_of_its_traits(tmp_path: Path) -> None:
    from autograder.authoring.generate import _throwaway_config, course_config

    settings = {(section, key) for config in (course_config(tmp_path), _throwaway_config(tmp_path))
                for section, values in config.items() for key in values}
    assert len(settings) >= 12
    for section, key in sorted(settings):
        traits = _nbgrader_class(section).class_trait_names(config=True)
        assert key in traits, f"nbgrader's {section} has no setting {key!r} any more"


def test_the_guards_replace_a_configurable_exporter_and_raise_nbgraders_exception() -> None:
    from nbgrader.converters import Autograde, GenerateAssignment
    from nbgrader.converters.base import NbGraderException

    from autograder.grading.nbgrader_guard import GenerateRefused

    for converter in (GenerateAssignment, Autograde):
        assert "exporter_class" in converter.class_trait_names(config=True)
    with pytest.raises(NbGraderException, match="autograder release"):
        GenerateRefused()
