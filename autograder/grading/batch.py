"""A class of submissions: the plan (what to grade, what to reuse), the pool, and the parent's writes.

Workers grade one student each (`autograder.grading.pipeline.grade_one`) and return a
`GradeResult`; the PARENT scores it (TA overrides live in the course directory), writes the
autograded notebook, commits the gradebook (one transaction per student), writes feedback.html,
grader.log when grading went wrong, and finally report.json, atomically. report.json is the
checkpoint: a rerun skips a student whose report matches the zip's sha256 and the grading key
(grader version, assignment.toml, hidden tests, release notebooks), so a killed batch resumes
where it stopped and loses nothing already graded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder import __version__
from autograder.core.config import (
    AssignmentConfig,
    ConfigError,
    course_root,
    find_config,
    release_dir,
    solution_dir,
)
from autograder.core.contracts import (
    Diagnostics,
    GradeResult,
    GradeTask,
    Report,
    Submission,
    Violation,
)
from autograder.core.identity import student_path
from autograder.core.score import Override
from autograder.grading import pipeline as steps
from autograder.grading.forkserver import PRELOAD as PRELOAD  # re-exported: the pool's preloads
from autograder.grading.forkserver import pool_context
from autograder.grading.forkserver import start_fork_server as start_fork_server  # re-exported
from autograder.grading.hidden.stubs import STUBS_FILE
from autograder.grading.overrides import (
    atomic_write_text,
    load_overrides,
    log_score_change,
    read_score_log,
)
from autograder.grading.owner_only import secure_outputs, uid_level
from autograder.grading.pipeline import HIDDEN_TESTS, Pipeline, error_result, grade_one
from autograder.grading.progress import Progress
from autograder.grading.report import (
    build_report,
    read_report_json,
    write_feedback,
    write_grader_log,
    write_grades_csv,
    write_report_json,
    write_summary,
)

if TYPE_CHECKING:
    from autograder.grading.gradebook import GradebookWriter

# ---------------------------------------------------------------------------------------------
# The grading key and submission hashes


def sha256_path(path: str | Path) -> str:
    """sha256 of a zip (its bytes) or of a folder of loose files (names and bytes, sorted)."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            h.update(f.read_bytes())
    else:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def grading_key(config: AssignmentConfig, course: Path) -> str:
    """Everything but the zip that decides a score: when it changes, every student is regraded."""
    h = hashlib.sha256(f"autograder {__version__}\n".encode())
    files = [config.path] if config.path else []
    files.append(solution_dir(config.name, course) / HIDDEN_TESTS)
    files.append(solution_dir(config.name, course) / STUBS_FILE)  # what ctx.stub passes
    files += [release_dir(config.name, course) / nb for nb in config.notebooks]
    for f in files:
        if f and Path(f).is_file():
            h.update(Path(f).name.encode() + b"\0" + Path(f).read_bytes())
    return "sha256:" + h.hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# The parent


@dataclass
class ClassRun:
    """What a `grade` run did, for the final table and the tests (reports in report.json form)."""

    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    graded: list[str] = field(default_factory=list)  # graded (again) in this run
    skipped: list[str] = field(default_factory=list)  # unchanged, report reused
    counts: Counter[str] = field(default_factory=Counter)
    out: Path = Path(".")
    seconds: float = 0.0
    peak_worker_kib: int = 0  # the largest peak RSS a worker reported (benchmarks)


def _identified(report: Report) -> bool:
    """False for a submission whose owner is unknown (graded as failed under a safe name)."""
    return report.submission.id_source != "unidentified"


class Parent:
    """Everything the parent process writes: autograded notebooks, gradebook, reports, log."""

    def __init__(self, config: AssignmentConfig, course: Path, out: Path, db_url: str | None,
                 release_nbs: dict[str, Any], strict: bool = False):
        from autograder.grading.gradebook import default_db_url

        self.config, self.course, self.out = config, course, out
        self.release_nbs = release_nbs
        self.strict = strict
        self.overrides = load_overrides(course, config.name)
        self.last_logged: dict[str, float | None] = {}
        for entry in read_score_log(course, config.name):
            self.last_logged[entry["student_id"]] = entry.get("new")
        self.peak_worker_kib = 0
        self.db_url = db_url or default_db_url(course)
        self._gradebook: GradebookWriter | None = None
        self._warm: threading.Thread | None = None

    def warm_up(self) -> None:
        """Import the gradebook on a thread, once. Importing it (nbgrader.api: nbgrader's server
        extensions, SQLAlchemy, alembic) takes seconds: grade_class calls this once the
        submissions are with the pool, so the import runs while the workers grade and not before
        the first dispatch (it would hold this process's interpreter lock meanwhile). The
        gradebook itself is opened on this thread (nbgrader's sessions are per thread) by
        `open_gradebook`, before any result is saved. matplotlib (summary.html, at the end) is
        imported on the same thread after it."""
        if self._warm is None:
            self._warm = threading.Thread(target=_import_gradebook, name="import-gradebook",
                                          daemon=True)
            self._warm.start()

    @property
    def gradebook(self) -> GradebookWriter:
        """The assignment's gradebook, opened and synced on first use (`open_gradebook`)."""
        return self.open_gradebook()

    def open_gradebook(self) -> GradebookWriter:
        """Open the gradebook and sync the assignment's cells, once; raises what opening the
        database raises (a wrong --db: SQLAlchemyError), so call it outside `finish_safely`."""
        if self._gradebook is None:
            from autograder.grading.gradebook import GradebookWriter

            gradebook = GradebookWriter(self.db_url, self.config, self.release_nbs)
            gradebook.sync_assignment()
            self._gradebook = gradebook
        return self._gradebook

    def close(self) -> None:
        if self._warm is not None:
            self._warm.join()  # never leave an import running on a thread at interpreter exit
        if self._gradebook is not None:
            self._gradebook.close()

    def overrides_for(self, student_id: str) -> list[Override]:
        """The TA's overrides (JSON store) then the manual scores entered in formgrader."""
        from autograder.grading.gradebook import DEDUCTIONS_CELL

        out = list(self.overrides.get(student_id, []))
        for gid, value in sorted(self.gradebook.manual_scores(student_id).items()):
            if gid == DEDUCTIONS_CELL:
                continue
            out.append(Override(student_id, "group", gid, value, "graded in formgrader"))
        return out

    def finish(self, result: GradeResult, cause: str) -> Report:
        """Score one result and write everything, report.json last (it marks the student done)."""
        self.peak_worker_kib = max(self.peak_worker_kib, result.rss_kib)
        report = build_report(result, self.config, self.overrides_for(result.student_id))
        if _identified(report):  # an unknown owner gets no gradebook row and no formgrader copy
            dropped = self._write_autograded(report, result.notebooks)
            report = replace(report, autograded_dropped=dropped)
            self.gradebook.record(report, report.submission.submitted_at)
        write_feedback(self.out, report, self.config)
        self._log(report, cause)
        write_grader_log(self.out, result)
        write_report_json(self.out, report, validate=self.strict)
        return report

    def finish_safely(self, result: GradeResult, cause: str) -> Report:
        """finish(), but a failure while saving one student is that student's error status
        (re-raised in strict mode)."""
        try:
            return self.finish(result, cause)
        except Exception as exc:  # e.g. a notebook nbformat cannot write, a refused db row
            if self.strict:
                raise
            failed = GradeResult(
                student_id=result.student_id, status="error",
                message=f"grader error while saving the results: {type(exc).__name__}: {exc}",
                violations=result.violations, key=result.key, submission=result.submission,
                diagnostics=Diagnostics(log="grader error while saving the results:\n"
                                            + traceback.format_exc()))
            report = build_report(failed, self.config)
            try:
                if _identified(report):
                    self.gradebook.record(report)
            except Exception:  # the gradebook itself is the problem: report.json still says so
                pass
            write_feedback(self.out, report, self.config)
            write_grader_log(self.out, failed)
            write_report_json(self.out, report, validate=self.strict)
            return report

    def rescore(self, data: dict[str, Any]) -> Report:
        """A skipped student's report with today's overrides; rewritten only if the score moved.

        KeyError, TypeError or ValueError when `data` is not a report this kit can read.
        """
        old = Report.from_json(data)
        result = GradeResult(student_id=old.student_id, status=old.status, message=old.message,
                             tests=old.tests, violations=old.violations, sandbox=old.grader.sandbox,
                             seconds=old.grader.seconds, key=old.grader.key, submission=old.submission,
                             notes=old.notes)
        new = build_report(result, self.config, self.overrides_for(old.student_id))
        # what the earlier grading left beside the report stays named in it
        new = replace(new, grader=replace(new.grader, log=old.grader.log),
                      autograded_dropped=old.autograded_dropped)
        if new.score == old.score and new.overrides == old.overrides:
            return old
        if _identified(new):
            self.gradebook.record(new, new.submission.submitted_at)
        write_feedback(self.out, new, self.config)
        self._log(new, "override: " + ("; ".join(new.overrides) or "removed"))
        write_report_json(self.out, new, validate=self.strict)
        return new

    def _log(self, report: Report, cause: str) -> None:
        sid = report.student_id
        new = None if report.status == "error" else report.score
        if report.status == "error":
            cause = f"{cause}; grader error: {report.message[:200]}"
        old = self.last_logged.get(sid)
        if sid in self.last_logged and old == new:
            return
        log_score_change(self.course, self.config.name, sid, old, new, cause)
        self.last_logged[sid] = new

    def _write_autograded(self, report: Report, notebooks: dict[str, str] | Any) -> dict[str, dict[str, int]]:
        """nbgrader's autograded/<student>/<A>/<nb>.ipynb, so formgrader lists the submission;
        returns what the sanitizer dropped per notebook (report.json's `autograded_dropped`).

        The student's notebook as submitted (the release copy when it could not be read), with
        the kit's extra grade cells appended to the first notebook (see gradebook.py). Plain
        JSON in and out: the notebook was checked already, and nbformat's validation of a
        notebook full of plots is the slowest thing the parent would do per student.
        """
        from autograder.core.notebook import notebook_text
        from autograder.grading.gradebook import autograded_cells_markdown
        from autograder.grading.sanitize import safe_notebook

        folder = student_path(self.course / "autograded", report.student_id, self.config.name)
        dropped_by_nb: dict[str, dict[str, int]] = {}
        for i, name in enumerate(self.config.notebooks):
            try:
                nb = json.loads(notebooks[name])
                if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
                    raise ValueError("not a notebook")
            except (KeyError, ValueError, RecursionError):  # RecursionError: JSON nested too deep
                nb = json.loads(notebook_text(self.release_nbs[name]))
                nb["cells"].insert(0, {
                    "cell_type": "markdown", "metadata": {},
                    "source": f"**Autograder:** the submitted notebook could not be used "
                              f"({report.message}); this is the blank release."})
            if i == 0:
                extra = autograded_cells_markdown(report, self.config, self.release_nbs)
                if nb.get("nbformat_minor", 5) < 5:  # cell ids came with nbformat 4.5
                    extra = [{k: v for k, v in c.items() if k != "id"} for c in extra]
                nb["cells"].extend(extra)
            # formgrader renders this on the TA's Jupyter origin: only inert parts go in
            nb, dropped = safe_notebook(nb, self.release_nbs[name].metadata)
            if dropped:
                dropped_by_nb[name] = dict(dropped)
            # no indent: json's C encoder (with an indent, json.dumps runs in Python, ~20x slower
            # on a notebook full of plots); formgrader reads any valid JSON
            text = json.dumps(nb, sort_keys=True, ensure_ascii=False) + "\n"
            # a lone surrogate (valid JSON, not Unicode) is written as "?", never a crash
            atomic_write_text(folder / name, text.encode("utf-8", "replace").decode("utf-8"))
        # formgrader's Manage Assignments counts submissions by their folders in submitted/:
        # one per student, holding only the LMS submission time, never the student's files
        # (nbgrader's own autograde would run them outside the sandbox).
        submitted = self.course / "submitted" / folder.relative_to(self.course / "autograded")
        submitted.mkdir(parents=True, exist_ok=True)
        if report.submission.submitted_at:
            atomic_write_text(submitted / "timestamp.txt", f"{report.submission.submitted_at}\n")
        return dropped_by_nb


def _import_gradebook() -> None:
    """Import what the parent needs after grading starts: nbgrader's gradebook API, then
    matplotlib's Figure (summary.html's charts, at the end of the run). Run on a thread by
    `Parent`, while the workers grade; a failure is left to the real import, which reports it."""
    for module in ("nbgrader.api", "matplotlib.figure"):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001, S110 - re-raised by the real import
            pass


# ---------------------------------------------------------------------------------------------
# The pool


def _pool(jobs: int, pipeline: Pipeline | None = None) -> ProcessPoolExecutor:
    """Workers forked from the fork server (`autograder.grading.forkserver`): started once per
    parent process and shared by later pools, which is why a rerun inside one process (the
    tests, the demo) pays the imports only once."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=pool_context(pipeline))


def run_pool(tasks: Sequence[GradeTask], jobs: int, done: Callable[[GradeResult], None],
             pipeline: Pipeline | None = None, strict: bool = False,
             dispatched: Callable[[], None] | None = None) -> None:
    """Grade `tasks` on `jobs` processes, calling `done(result)` in the parent as each finishes
    (and `dispatched()` once, when every task is with the pool and before any `done`).

    A worker process that dies breaks the whole pool; the unfinished tasks are then retried one
    at a time in a fresh pool each, so only the one that kills its worker gets an error.
    """
    suspects: list[GradeTask] = []
    with _pool(jobs, pipeline) as pool:
        futures: dict[Future, GradeTask] = {pool.submit(grade_one, t, pipeline, strict): t for t in tasks}
        try:
            if dispatched is not None:
                dispatched()
            for fut in as_completed(futures):
                task = futures.pop(fut)  # drop the result with it: notebooks are large
                try:
                    done(fut.result())
                except BrokenProcessPool:
                    suspects.append(task)
        except BaseException:
            for f in list(futures):
                f.cancel()
            raise
    for task in suspects:
        with _pool(1, pipeline) as pool:
            try:
                done(pool.submit(grade_one, task, pipeline, strict).result())
            except BrokenProcessPool:
                done(error_result(task, "the grading process died while grading this submission "
                                        "(killed by the operating system: out of memory?)"))


# ---------------------------------------------------------------------------------------------
# The class


def entry_task(entry: Any, config: AssignmentConfig, course: Path, key: str,
               sandbox: str = "auto", guard: bool = True) -> GradeTask:
    """The task of one `autograder.grading.intake.SubmissionEntry` (who, which file, when)."""
    sha = sha256_path(entry.path)
    return GradeTask(
        student_id=str(entry.student_id), path=str(entry.path), sha256=sha, assignment=config.name,
        course=str(course), key=key, sandbox=sandbox, guard=guard,
        violations=tuple(Violation.from_json(v) for v in entry.violations),
        unidentified=str(entry.unidentified or ""),
        submission=Submission(
            file=Path(entry.path).name, sha256=sha,
            submitted_at=entry.submitted_at.isoformat() if entry.submitted_at else None,
            late=entry.late, lms=entry.lms, notes=tuple(entry.notes), id_source=entry.id_source,
            manifest_student_id=entry.manifest_student_id,
            other_attempts=tuple(Path(p).name for p in entry.other_attempts)),
    )


class ReleaseNotebooks(Mapping[str, Any]):
    """The assignment's release notebooks (name -> NotebookNode), each read on first use.

    The parent needs them only to save results (the gradebook's cells, the autograded
    notebooks), after the first submission is with the pool: reading them is nbformat's import
    and validation, which would otherwise come before the first dispatch (docs/benchmarks.md,
    start-up). The workers read the releases themselves (autograder.core.releases).
    """

    def __init__(self, folder: Path, names: Sequence[str]) -> None:
        self.folder, self.names = folder, tuple(names)
        self._read: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.names:
            raise KeyError(name)
        if name not in self._read:
            from autograder.core.notebook import read_notebook

            self._read[name] = read_notebook(self.folder / name)
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _release_notebooks(config: AssignmentConfig, course: Path) -> ReleaseNotebooks:
    """The release notebooks of `config`, read when first used; ConfigError now when one of
    them was not released."""
    folder = release_dir(config.name, course)
    missing = [nb for nb in config.notebooks if not (folder / nb).is_file()]
    if missing:
        raise ConfigError(f"{folder}: {', '.join(missing)} not released yet: run `autograder release {config.name}`")
    return ReleaseNotebooks(folder, config.notebooks)


def plan(tasks: Iterable[GradeTask], out: Path, force: bool, only: Iterable[str] | None,
         ) -> tuple[list[GradeTask], list[dict[str, Any]], dict[str, str]]:
    """(to grade, to reuse as report.json dicts, cause per student to grade)."""
    only_set = set(only or [])
    grade, reuse, cause = [], [], {}
    for t in tasks:
        sid = t.student_id
        prev = read_report_json(out, sid)
        wanted = not only_set or sid in only_set
        same = (prev is not None and prev.get("submission", {}).get("sha256") == t.sha256
                and prev.get("grader", {}).get("key") == t.key)
        forced = wanted and (force or bool(only_set))  # --only names students to regrade
        if prev is not None and same and prev.get("status") != "error" and not forced:
            reuse.append(prev)
        elif not wanted:
            if prev is not None:
                reuse.append(prev)
        else:
            grade.append(t)
            cause[sid] = ("graded" if prev is None else "regraded (--force)" if same and force
                          else "regraded (--only)" if same and only_set
                          else "regraded after a grader error" if same
                          else "new submission (sha256 changed)"
                          if prev.get("submission", {}).get("sha256") != t.sha256
                          else "grader or rubric changed")
    return grade, reuse, cause


def grade_class(
    assignment: str,
    submissions: str | Path,
    out: str | Path,
    *,
    jobs: int | None = None,
    force: bool = False,
    only: Sequence[str] | None = None,
    db: str | None = None,
    course: str | Path | None = None,
    pipeline: Pipeline | None = None,
    strict: bool | None = None,
    stream: Any = None,
    lms: str = "auto",
    roster: str | Path | None = None,
    pattern: str | None = None,
    sandbox: str = "auto",
    guard: bool = True,
) -> ClassRun:
    """Grade a folder of zips (or one LMS export zip) into OUT, the gradebook and autograded/.

    `lms`, `roster`, `pattern`: how student ids are read off the export (autograder.grading.intake).
    `sandbox`: "auto" or the level to grade at (the CLI passes the level its preflight chose).
    `guard`: the worker's audit hook (off only to prove containment holds without it).
    `pipeline`: the steps of one student (default: the real ones, `pipeline.STEPS`).
    `strict`: re-raise a grader crash instead of recording it as the student's `error` status
    (default `autograder.grading.pipeline.STRICT`, which the test suite turns on).
    """
    from autograder.grading.intake import collect_submissions

    strict = steps.STRICT if strict is None else strict
    start = time.perf_counter()
    course_dir = course_root(course)
    out_dir = Path(out).resolve()
    # Owner-only before anything is written: at the uid sandbox level student code runs as
    # another uid on this host (autograder.grading.owner_only).
    secure_outputs(course_dir, out_dir, db, sandbox=sandbox)
    config = find_config(assignment, course_dir)
    release_nbs = _release_notebooks(config, course_dir)
    key = grading_key(config, course_dir)
    run = ClassRun(out=out_dir)
    with tempfile.TemporaryDirectory(prefix="autograder-export-") as export_dir:
        entries = collect_submissions(submissions, assignment, config, lms=lms, roster=roster,
                                      pattern=pattern, work_dir=export_dir)
        tasks = [entry_task(entry, config, course_dir, key, sandbox, guard) for entry in entries]
        to_grade, reuse, cause = plan(tasks, out_dir, force, only)
        parent = Parent(config, course_dir, out_dir, db, release_nbs, strict)
        progress: Progress | None = None
        try:
            by_id = {t.student_id: t for t in tasks}
            for prev in reuse:
                sid = str(prev.get("student_id"))
                try:
                    report = parent.rescore(prev)
                except (KeyError, TypeError, ValueError):  # a report from an older kit: regrade
                    if sid in by_id:
                        to_grade.append(by_id[sid])
                        cause[sid] = "regraded (unreadable report.json)"
                    continue
                run.reports[sid] = report.to_json()
                run.skipped.append(sid)
            workers = max(1, jobs or os.cpu_count() or 1)
            # Without namespaces, two live workers share the host's world-writable folders (and
            # its network): one submission at a time, swept after each.
            one_at_a_time = workers > 1 and uid_level(sandbox)
            workers = 1 if one_at_a_time else workers

            def dispatched() -> None:
                # What the parent needs next, made while the workers grade (rich and nbgrader's
                # gradebook are slow imports: not before the first dispatch)
                nonlocal progress
                parent.warm_up()
                progress = Progress(len(to_grade), f"Grading {assignment}", stream)
                if one_at_a_time:
                    progress.console.print("sandbox level 'uid': grading one submission at a "
                                           "time (docs/sandbox.md)", markup=False)

            def done(result: GradeResult) -> None:
                parent.open_gradebook()  # a database that cannot be opened stops the class here
                report = parent.finish_safely(result, cause.get(result.student_id, "graded")).to_json()
                run.reports[result.student_id] = report
                run.graded.append(result.student_id)
                if progress is not None:  # made by dispatched(), before any result
                    progress.advance(report)

            if to_grade:
                run_pool(to_grade, workers, done, pipeline, strict, dispatched)
            parent.open_gradebook()  # the assignment is synced even when nobody was graded
        finally:
            if progress is not None:
                progress.close()
            run.peak_worker_kib = parent.peak_worker_kib
            parent.close()
    reports = list(run.reports.values())
    write_grades_csv(out_dir / "grades.csv", reports, config)
    write_summary(out_dir, reports, config)
    run.counts = Counter(r["status"] for r in reports)
    run.seconds = time.perf_counter() - start
    return run
