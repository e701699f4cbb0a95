"""nbgrader's gradebook, written by the grading parent process only.

What goes in (docs/grading.md explains the decision):

* the assignment, its notebooks, and one nbgrader grade cell per grade cell of the *release*
  notebooks (grade_id, points, code/markdown), plus solution cells so formgrader can comment;
* a test group of `[tests]` that has no grade cell in the notebook (a best-model group, say)
  gets a grade cell of its own, named by its grade_id, in the first notebook;
* one extra grade cell `autograder_deductions` with `max_score = 0`, whose
  `auto_score` is the (negative) adjustment that makes the notebook's sum equal the kit's
  score: − the capped deductions, or less when the score is floored at 0 or a TA set the total.
  nbgrader's `Grade.score` is a plain sum and does not validate signs, so `nbgrader export`,
  the formgrader totals and `average_*_score` all include it; `max_score` stays the rubric's.

Both kinds of extra cell are *code* grade cells in the gradebook (they hold automatic points),
so formgrader counts them in the code score: its written score is the inline questions alone and
never shows a deduction as a negative written score. In the autograded notebook they are markdown
cells, for their text.

Per student, `record()` writes one transaction: the student, the submission (LMS time as
timestamp), and for every grade cell its `auto_score`. `manual_score`s entered in formgrader are
never touched, so regrading keeps the TAs' work, and `manual_scores()` reads them back so the
kit's own report agrees with formgrader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autograder.core.config import AssignmentConfig
from autograder.core.contracts import Report, Violation
from autograder.core.identity import UnsafeIdError, is_valid_id, shown_id
from autograder.core.module import nbgrader_meta

DEDUCTIONS_CELL = "autograder_deductions"


def default_db_url(course: str | Path) -> str:
    """`sqlite:///<course>/gradebook.db`, nbgrader's default place in the course directory."""
    return f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"


def release_grade_cells(notebooks: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per notebook name (without .ipynb): its grade and solution cells as plain dicts.

    Each dict: name (grade_id), kind ("grade" | "solution"), cell_type, max_score.
    A cell that is both (a manual answer) is listed as both, like nbgrader does.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for nb_name, nb in notebooks.items():
        cells = []
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            gid = meta.get("grade_id")
            if not gid:
                continue
            if meta.get("grade"):
                cells.append({"name": gid, "kind": "grade", "cell_type": cell.cell_type,
                              "max_score": float(meta.get("points", 0.0) or 0.0)})
            if meta.get("solution"):
                cells.append({"name": gid, "kind": "solution", "cell_type": cell.cell_type})
        out[_stem(nb_name)] = cells
    return out


def _stem(name: str) -> str:
    return name[:-6] if name.endswith(".ipynb") else name


def extra_cells(config: AssignmentConfig, notebooks: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grade cells the kit adds: groups without a notebook cell, then the deductions cell."""
    present = {c["name"] for cells in release_grade_cells(notebooks).values() for c in cells
               if c["kind"] == "grade"}
    # "code": formgrader adds them to the code score, not to the written (inline question) one
    extra = [{"name": gid, "kind": "grade", "cell_type": "code", "max_score": pts}
             for gid, pts in config.tests.items() if gid not in present]
    extra.append({"name": DEDUCTIONS_CELL, "kind": "grade", "cell_type": "code", "max_score": 0.0})
    return extra


def autograded_cells_markdown(report: Report, config: AssignmentConfig,
                              notebooks: Mapping[str, Any]) -> list[Any]:
    """Markdown grade cells appended to the autograded notebook, so formgrader shows the kit's
    extra grade cells (groups without a cell of their own, and the deductions) with their text."""
    from nbformat.v4 import new_markdown_cell

    groups = {g.grade_id: g for g in report.groups}
    cells = []
    for extra in extra_cells(config, notebooks):
        name = extra["name"]
        if name == DEDUCTIONS_CELL:
            lines = [deduction_line(v) for v in report.violations]
            text = "### Autograder: policy deductions\n\n" + ("\n".join(lines) or "None.")
            if report.overrides:
                text += "\n\nTA overrides: " + "; ".join(report.overrides)
        else:
            g = groups.get(name)
            score, max_score = (g.score, g.max_score) if g is not None else (0, 0)
            text = f"### Autograder: {name}\n\n{score} / {max_score} points"
        meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": name,
                             "points": extra["max_score"], "schema_version": 3}}
        cells.append(new_markdown_cell(text, metadata=meta))
    return cells


def deduction_line(violation: Violation) -> str:
    """One violation as the deductions cell lists it: rule, cell when known, message, cost."""
    where = f" (cell {violation.cell})" if violation.cell else ""
    cost = float(violation.deduction)
    price = "no points" if cost == 0 else f"−{cost:g} point{'' if cost == 1 else 's'}"
    return f"- `{violation.rule}`{where}: {violation.message} ({price})"


class GradebookWriter:
    """The gradebook of one assignment. Use as a context manager; parent process only."""

    def __init__(self, db_url: str, config: AssignmentConfig, notebooks: Mapping[str, Any],
                 course_id: str = "default_course"):
        from nbgrader.api import Gradebook

        _create_database(db_url)
        self.config = config
        self.notebooks = dict(notebooks)
        self.gb = Gradebook(db_url, course_id=course_id)
        self._cells = release_grade_cells(self.notebooks)
        self._layout_cache: tuple[str, list[tuple[str, list[tuple[str, bool]]]]] | None = None
        self._cell_names: dict[str, str] = {}  # cell id -> grade_id (see _layout)
        first = next(iter(self._cells), None)
        if first is not None:
            self._cells[first] = self._cells[first] + extra_cells(config, self.notebooks)

    def __enter__(self) -> GradebookWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.gb.close()

    def sync_assignment(self, duedate: datetime | None = None) -> None:
        """Create or update the assignment, its notebooks and their grade/solution cells.

        Cells are never removed (that would delete grades); a changed rubric updates max_score.
        """
        gb, name = self.gb, self.config.name
        self._layout_cache = None  # cells may be added: read them again
        kwargs = {"duedate": duedate} if duedate else {}
        gb.update_or_create_assignment(name, **kwargs)
        for nb_name, cells in self._cells.items():
            nb = self.notebooks.get(nb_name + ".ipynb") or self.notebooks.get(nb_name)
            kernelspec = json.dumps(nb.metadata.get("kernelspec", {})) if nb is not None else None
            gb.update_or_create_notebook(nb_name, name, kernelspec=kernelspec)
            for c in cells:
                if c["kind"] == "grade":
                    gb.update_or_create_grade_cell(c["name"], nb_name, name,
                                                   max_score=c["max_score"], cell_type=c["cell_type"])
                else:
                    gb.update_or_create_solution_cell(c["name"], nb_name, name)

    @contextmanager
    def _transaction(self):
        db = self.gb.db
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def _layout(self, db: Any) -> tuple[str, list[tuple[str, list[tuple[str, bool]]]]]:
        """(the assignment's id, [(notebook id, [(cell id, is a grade cell)])]) and the names of
        its grade cells, read once per writer: sync_assignment has set them, and nothing else
        changes them while a class is graded. Every record() would otherwise load them again
        (a commit expires every object nbgrader's session holds: ~20 queries per student)."""
        from nbgrader.api import Assignment, GradeCell, SolutionCell

        if self._layout_cache is None:
            assignment = db.query(Assignment).filter(Assignment.name == self.config.name).one()
            notebooks = []
            for notebook in assignment.notebooks:
                cells = [(c.id, isinstance(c, GradeCell)) for c in notebook._base_cells
                         if isinstance(c, GradeCell | SolutionCell)]
                self._cell_names.update({c.id: c.name for c in notebook._base_cells})
                notebooks.append((notebook.id, cells))
            self._layout_cache = (assignment.id, notebooks)
        return self._layout_cache

    def _submission(self, db: Any, student_id: str) -> Any:
        """The student's submission with a SubmittedNotebook and Grade/Comment for every cell."""
        from nbgrader.api import (
            Comment,
            Grade,
            Student,
            SubmittedAssignment,
            SubmittedNotebook,
        )

        if not is_valid_id(student_id):  # only validated ids reach nbgrader's gradebook
            raise UnsafeIdError(f"student id {shown_id(student_id)!r} is not a valid student id")
        assignment_id, notebooks = self._layout(db)
        student = db.get(Student, student_id)
        if student is None:
            student = Student(id=student_id)
            db.add(student)
        sub = (db.query(SubmittedAssignment)
               .filter(SubmittedAssignment.assignment_id == assignment_id,
                       SubmittedAssignment.student_id == student_id).one_or_none())
        new = sub is None
        if new:
            sub = SubmittedAssignment(assignment_id=assignment_id, student=student)
            db.add(sub)
        have = {} if new else {snb.notebook_id: snb for snb in sub.notebooks}
        for notebook_id, cells in notebooks:
            snb = have.get(notebook_id)
            if snb is None:
                snb = SubmittedNotebook(notebook_id=notebook_id, assignment=sub)
                db.add(snb)
                graded, commented = set(), set()
            else:
                graded = {g.cell_id for g in snb.grades}
                commented = {c.cell_id for c in snb.comments}
            for cell_id, is_grade in cells:
                if is_grade and cell_id not in graded:
                    db.add(Grade(cell_id=cell_id, notebook=snb))
                elif not is_grade and cell_id not in commented:
                    db.add(Comment(cell_id=cell_id, notebook=snb))
        db.flush()
        return sub

    def record(self, report: Report, timestamp: datetime | str | None = None) -> float:
        """Write one student's report in one transaction; returns the total the gradebook now has.

        Test groups get their score as auto_score; manual questions stay for formgrader
        (needs_manual_grade unless a TA graded them); the deductions cell gets the adjustment.
        An errored submission gets no auto scores and every cell flagged for manual grading, so
        formgrader shows it as work to do instead of a silent zero.
        """
        from nbgrader.api import Grade

        error = report.status == "error"
        groups = {g.grade_id: g for g in report.groups}
        with self._transaction() as db:
            sub = self._submission(db, report.student_id)
            sub.timestamp = _naive_utc(timestamp)
            grades: list[Grade] = [g for snb in sub.notebooks for g in snb.grades]
            written = 0.0
            for g in grades:
                name = self._cell_names[g.cell_id]
                if name == DEDUCTIONS_CELL:
                    continue
                group = groups.get(name)
                if group is None or group.manual or group.score is None:
                    g.auto_score = None
                    g.needs_manual_grade = g.manual_score is None
                elif error:
                    g.auto_score = None
                    g.needs_manual_grade = True
                else:
                    g.auto_score = float(group.score)
                    g.needs_manual_grade = False
                if g.manual_score is not None:
                    written += g.manual_score
                elif g.auto_score is not None:
                    written += g.auto_score
            for g in grades:
                if self._cell_names[g.cell_id] == DEDUCTIONS_CELL:
                    g.auto_score = None if error else round(float(report.score) - written, 6)
                    g.needs_manual_grade = error
            db.flush()
            total = float(sub.score or 0.0)
        return total

    def manual_scores(self, student_id: str) -> dict[str, float]:
        """grade_id -> manual_score entered in formgrader for this student ({} if none)."""
        from nbgrader.api import Grade, SubmittedAssignment, SubmittedNotebook

        db = self.gb.db
        rows = (db.query(Grade)
                .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .filter(SubmittedAssignment.student_id == student_id,
                        Grade.manual_score.isnot(None)).all())
        return {g.cell.name: float(g.manual_score) for g in rows
                if g.assignment.assignment.name == self.config.name}

    def totals(self) -> dict[str, float]:
        """student id -> the submission's total in the gradebook (what `nbgrader export` sums)."""
        return {s.student.id: float(s.score) for s in self.gb.assignment_submissions(self.config.name)}


def _create_database(db_url: str) -> None:
    """Create a new gradebook's tables and alembic stamp in-process, before nbgrader opens it.

    nbgrader's `Gradebook()` creates a missing database itself, but stamps it by running the
    `alembic heads` command: seconds per new gradebook, and a failure when the venv is not
    activated (`.venv/bin/python -m autograder`). It skips that step for a database that
    already has tables, so the kit creates them first, the way nbgrader does (its declared
    tables, stamped with the head of its own migration scripts, read with alembic's API).
    Nothing of nbgrader is patched. tests/test_nbgrader_couplings.py pins what this relies on.
    """
    import nbgrader
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from sqlalchemy import create_engine, inspect

    engine = create_engine(db_url, future=True)
    try:
        if inspect(engine).get_table_names():  # nbgrader's own test for "the database exists"
            return
        script = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic"))
        with engine.begin() as connection:
            Base.metadata.create_all(bind=connection)
            MigrationContext.configure(connection).stamp(script, "head")
    finally:
        engine.dispose()


def _naive_utc(ts: datetime | str | None) -> datetime | None:
    """nbgrader stores naive UTC datetimes."""
    if ts is None or ts == "":
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def export_totals(db_url: str, assignment: str) -> dict[str, float]:
    """What `nbgrader export` writes as `score` per student (its CSV plugin, run on the db)."""
    import csv
    import tempfile

    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "grades.csv"
        _create_database(db_url)
        with Gradebook(db_url) as gb:
            CsvExportPlugin(to=str(dest), assignment=[assignment]).export(gb)
        with dest.open() as fh:
            return {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}

