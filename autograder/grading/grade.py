"""`autograder grade`: a class of zips in, scores, feedback and the gradebook out (docs/grading.md).

The pipeline per student, in a pool worker (`grade_one`, which never raises):
intake (safe unzip, structure, manifest) → check (integrity + rules) → graft → hidden tests in
the sandbox (engine). The worker returns a plain dict; the PARENT scores it (TA overrides live
in the course directory), writes the autograded notebook, commits the gradebook (one
transaction per student), writes feedback.html and finally report.json, atomically. report.json
is the checkpoint: a rerun skips a student whose report matches the zip's sha256 and the
grading key (grader version, assignment.toml, hidden tests, release notebooks), so a killed
batch resumes where it stopped and loses nothing already graded.

A crash while grading one student becomes that student's `error` status with the message
(visible in grades.csv, summary.html, formgrader); the batch goes on. Details: docs/grading.md.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import __version__
from autograder.core.config import (
    AssignmentConfig,
    ConfigError,
    course_root,
    find_config,
    release_dir,
    solution_dir,
)
from autograder.core.identity import shown_id, student_path
from autograder.grading.owner_only import secure_outputs, uid_level
from autograder.grading.report import (
    build_report,
    read_report_json,
    write_feedback,
    write_grades_csv,
    write_report_json,
    write_summary,
)
from autograder.core.score import (
    Override,
    atomic_write_text,
    load_overrides,
    log_score_change,
    read_score_log,
)

# Modules of the other pipeline steps: (module, what it provides, what is missing without it).
STEP_MODULES = {
    "intake": ("autograder.grading.intake", "safe unzip and LMS exports"),
    "check": ("autograder.student.check", "integrity and policy rules"),
    "graft": ("autograder.core.graft", "the graft of TODO blocks"),
    "engine": ("autograder.grading.engine", "the sandboxed hidden-test engine"),
    "hidden": ("autograder.grading.hidden", "the hidden-test API"),
}
HIDDEN_TESTS = "hidden_tests.py"


# ---------------------------------------------------------------------------------------------
# What is available


def missing_steps() -> list[str]:
    """Human-readable names of the pipeline steps whose modules are not in this kit yet."""
    missing = []
    for module, what in STEP_MODULES.values():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                missing.append(f"{what} ({module.replace('.', '/')}.py)")
            else:
                raise
    return missing


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
    files += [release_dir(config.name, course) / nb for nb in config.notebooks]
    for f in files:
        if f and Path(f).is_file():
            h.update(Path(f).name.encode() + b"\0" + Path(f).read_bytes())
    return "sha256:" + h.hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# The worker: one student, plain dict in, plain dict out


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """An attribute of a result object or a key of a dict (the step APIs return either)."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _as_dict(v: Any) -> dict[str, Any]:
    if isinstance(v, Mapping):
        return dict(v)
    to_dict = getattr(v, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(vars(v))


_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}


def _trusted_modules(config: AssignmentConfig, course: Path) -> tuple[Any, Any]:
    """(hidden tests module, reference module), loaded once per worker process."""
    key = (config.name, str(course))
    if key not in _CACHE:
        from autograder.grading.hidden import load_tests_module
        from autograder.core.module import load_trusted_module, module_source
        from autograder.core.notebook import read_notebook

        sol = solution_dir(config.name, course)
        tests = load_tests_module(sol / HIDDEN_TESTS)
        cells = [c for nb in config.notebooks for c in read_notebook(sol / nb).cells]
        ref = load_trusted_module(module_source(cells), f"reference_{config.name}")
        _CACHE[key] = (tests, ref)
    return _CACHE[key]


class StepFailed(Exception):
    """The submission cannot go further (status `failed`); the message says why."""


def staged_files(files: Mapping[str, Path], dest: Path) -> Path:
    """The submission's files under their expected names in one folder (a nested folder or a
    renamed file in the zip is a zip-structure warning, never a lost model)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        shutil.copyfile(path, dest / name)
    return dest


def _as_submitted(message: str, private_copy: Path, submitted: str | Path, name: str) -> str:
    """Name the file as the student and the TA know it (`A4_s01.zip/two_layer_net.ipynb`),
    not as the grader's private, already deleted, extracted copy."""
    return message.replace(str(private_copy), f"{Path(submitted).name}/{name}")


def _run_steps(task: Mapping[str, Any], work: Path, out: dict[str, Any]) -> None:
    """intake → check → graft → engine; fills `out` as it goes so a crash keeps what was found."""
    from autograder.core.submission_zip import extract_submission
    from autograder.core.notebook import NotebookError, read_notebook

    course = Path(task["course"])
    config = find_config(task["assignment"], course)
    out["step"] = "intake"
    if task.get("unidentified"):  # nobody's grade: not graded, listed for review
        raise StepFailed(str(task["unidentified"]))
    intake = extract_submission(task["path"], work / "submission", config)
    out["violations"] += [_as_dict(v) for v in intake.violations]
    if not intake.ok:
        raise StepFailed(intake.message)

    from autograder.student.check import check_notebook
    from autograder.core.graft import graded_module, graft

    modules = []
    for name in config.notebooks:
        path = intake.files[name]
        out["step"] = "check"
        out["notebooks"][name] = path.read_text(encoding="utf-8", errors="replace")
        checked = check_notebook(path, assignment=config.name, course=course)
        found = [_as_dict(v) for v in _get(checked, "violations", [])]
        for v in found:
            v.setdefault("file", name)
            v["message"] = _as_submitted(str(v.get("message", "")), path, task["path"], name)
        out["violations"] += found
        out["submission"].setdefault("notes", [])
        out["submission"]["notes"] += [f"{name}: {n}" for n in _get(checked, "notes", []) or []]
        if any(v.get("rule") == "notebook-invalid" for v in found):
            raise StepFailed(next(v["message"] for v in found if v.get("rule") == "notebook-invalid"))
        out["step"] = "graft"
        try:
            student_nb = read_notebook(path)
        except NotebookError as exc:
            raise StepFailed(_as_submitted(str(exc), path, task["path"], name)) from None
        if checked.release is None:  # the self-check found no release to check against
            raise StepFailed("; ".join(checked.notes) or f"{name}: no release to grade against")
        # the release the self-check resolved and checked against: one lookup, one release
        modules.append(graded_module(graft(student_nb, checked.release)))

    out["step"] = "engine"
    from autograder.grading.engine import grade_module
    from autograder.grading.measure import joined_where

    tests_module, ref_module = _trusted_modules(config, course)
    # `where` maps a line of the joined module to the student's cell and line, so what the
    # worker finds while the code runs (a rebound name, a measured loop) names its place
    result = grade_module("\n".join(m.source for m in modules), config, tests_module, ref_module,
                          staged_files(intake.files, work / "files"), sandbox=task.get("sandbox", "auto"),
                          where=joined_where(modules))
    out["tests"] = [_as_dict(t) for t in _get(result, "tests", [])]
    out["violations"] += [_as_dict(v) for v in _get(result, "violations", [])]
    out["sandbox"] = str(_get(result, "sandbox", "") or "")
    out["notes"] = [str(n) for n in _get(result, "notes", []) or []]  # e.g. the time budget, host litter


def _batch_level(task: Mapping[str, Any]) -> str:
    """The sandbox level this batch grades at, for a report whose student code never ran (its
    zip or notebook was unusable): report.json's `grader.sandbox` is always a level."""
    from autograder.grading.sandbox import SandboxError, choose_level

    try:
        return choose_level(task.get("sandbox", "auto"))
    except SandboxError:
        return ""


def grade_one(task: Mapping[str, Any]) -> dict[str, Any]:
    """Grade one submission in this process; never raises (pool worker entry point).

    `task`: student_id, path, sha256, assignment, course, key, submission (LMS facts), and
    optionally `steps`, a module name whose `run_steps(task, work, out)` replaces the real
    steps (tests use it to stand in for parts of the pipeline).
    """
    start = time.perf_counter()
    out: dict[str, Any] = {
        "student_id": task["student_id"], "status": "graded", "message": "", "tests": [],
        "violations": list(task.get("violations", [])), "sandbox": "", "notebooks": {},
        "submission": dict(task.get("submission", {})), "key": task.get("key", ""),
        "step": "start",
    }
    work = Path(tempfile.mkdtemp(prefix=f"autograder-{task['assignment']}-"))
    try:
        run = _run_steps
        if task.get("steps"):
            run = importlib.import_module(task["steps"]).run_steps
        run(task, work, out)
    except StepFailed as exc:
        out["status"], out["message"] = "failed", str(exc)
        out["sandbox"] = out["sandbox"] or _batch_level(task)
    except BaseException as exc:  # a grader bug costs this student an error status, not the batch
        if isinstance(exc, KeyboardInterrupt):
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        out["status"] = "error"
        out["message"] = f"grader error in step {out['step']}: {type(exc).__name__}: {exc}{at}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["seconds"] = time.perf_counter() - start
    out["rss_kib"] = _peak_rss_kib()
    return out


def _peak_rss_kib() -> int:
    """Peak resident memory of this worker and of the sandboxes it waited for (KiB on Linux;
    pool workers are children of the fork server, so the parent cannot see them itself)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def error_result(task: Mapping[str, Any], message: str) -> dict[str, Any]:
    """The result of a student whose worker process itself died."""
    return {"student_id": task["student_id"], "status": "error", "message": message, "tests": [],
            "violations": list(task.get("violations", [])), "sandbox": "", "notebooks": {},
            "submission": dict(task.get("submission", {})), "key": task.get("key", ""),
            "seconds": 0.0}


# ---------------------------------------------------------------------------------------------
# The parent


@dataclass
class ClassRun:
    """What a `grade` run did, for the final table and the tests."""

    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    graded: list[str] = field(default_factory=list)  # graded (again) in this run
    skipped: list[str] = field(default_factory=list)  # unchanged, report reused
    counts: Counter[str] = field(default_factory=Counter)
    out: Path = Path(".")
    seconds: float = 0.0
    peak_worker_kib: int = 0  # the largest peak RSS a worker reported (benchmarks)


def _identified(report: Mapping[str, Any]) -> bool:
    """False for a submission whose owner is unknown (graded as failed under a safe name)."""
    return report.get("submission", {}).get("id_source") != "unidentified"


class Parent:
    """Everything the parent process writes: autograded notebooks, gradebook, reports, log."""

    def __init__(self, config: AssignmentConfig, course: Path, out: Path, db_url: str | None,
                 release_nbs: dict[str, Any]):
        from autograder.grading.gradebook import GradebookWriter, default_db_url

        self.config, self.course, self.out = config, course, out
        self.release_nbs = release_nbs
        self.overrides = load_overrides(course, config.name)
        self.last_logged: dict[str, float | None] = {}
        for entry in read_score_log(course, config.name):
            self.last_logged[entry["student_id"]] = entry.get("new")
        self.peak_worker_kib = 0
        self.db_url = db_url or default_db_url(course)
        self.gradebook = GradebookWriter(self.db_url, config, release_nbs)
        self.gradebook.sync_assignment()

    def close(self) -> None:
        self.gradebook.close()

    def overrides_for(self, student_id: str) -> list[Override]:
        """The TA's overrides (JSON store) then the manual scores entered in formgrader."""
        from autograder.grading.gradebook import DEDUCTIONS_CELL

        out = list(self.overrides.get(student_id, []))
        for gid, value in sorted(self.gradebook.manual_scores(student_id).items()):
            if gid == DEDUCTIONS_CELL:
                continue
            out.append(Override(student_id, "group", gid, value, "graded in formgrader"))
        return out

    def finish(self, result: dict[str, Any], cause: str) -> dict[str, Any]:
        """Score one result and write everything, report.json last (it marks the student done)."""
        notebooks = result.pop("notebooks", {}) or {}
        result.pop("step", None)
        self.peak_worker_kib = max(self.peak_worker_kib, int(result.pop("rss_kib", 0) or 0))
        sid = str(result["student_id"])
        report = build_report(result, self.config, self.overrides_for(sid))
        if _identified(report):  # an unknown owner gets no gradebook row and no formgrader copy
            self._write_autograded(report, notebooks)
            self.gradebook.record(report, report["submission"].get("submitted_at"))
        write_feedback(self.out, report, self.config)
        self._log(report, cause)
        write_report_json(self.out, report)
        return report

    def finish_safely(self, result: dict[str, Any], cause: str) -> dict[str, Any]:
        """finish(), but a failure while saving one student is that student's error status."""
        try:
            return self.finish(dict(result), cause)
        except Exception as exc:  # e.g. a notebook nbformat cannot write, a refused db row
            failed = error_result(result, f"grader error while saving the results: "
                                          f"{type(exc).__name__}: {exc}")
            report = build_report(failed, self.config)
            try:
                if _identified(report):
                    self.gradebook.record(report)
            except Exception:  # the gradebook itself is the problem: report.json still says so
                pass
            write_feedback(self.out, report, self.config)
            write_report_json(self.out, report)
            return report

    def rescore(self, report: dict[str, Any]) -> dict[str, Any]:
        """A skipped student's report with today's overrides; rewritten only if the score moved."""
        result = {**report, "sandbox": report["grader"]["sandbox"],
                  "seconds": report["grader"]["seconds"], "key": report["grader"]["key"]}
        new = build_report(result, self.config, self.overrides_for(str(report["student_id"])))
        if new["score"] == report["score"] and new["overrides"] == report["overrides"]:
            return report
        if _identified(new):
            self.gradebook.record(new, new["submission"].get("submitted_at"))
        write_feedback(self.out, new, self.config)
        self._log(new, "override: " + ("; ".join(new["overrides"]) or "removed"))
        write_report_json(self.out, new)
        return new

    def _log(self, report: Mapping[str, Any], cause: str) -> None:
        sid = str(report["student_id"])
        new = None if report["status"] == "error" else report["score"]
        if report["status"] == "error":
            cause = f"{cause}; grader error: {report['message'][:200]}"
        old = self.last_logged.get(sid)
        if sid in self.last_logged and old == new:
            return
        log_score_change(self.course, self.config.name, sid, old, new, cause)
        self.last_logged[sid] = new

    def _write_autograded(self, report: Mapping[str, Any], notebooks: Mapping[str, str]) -> None:
        """nbgrader's autograded/<student>/<A>/<nb>.ipynb, so formgrader lists the submission.

        The student's notebook as submitted (the release copy when it could not be read), with
        the kit's extra grade cells appended to the first notebook (see gradebook.py). Plain
        JSON in and out: the notebook was checked already, and nbformat's validation of a
        notebook full of plots is the slowest thing the parent would do per student.
        """
        from autograder.grading.gradebook import autograded_cells_markdown
        from autograder.core.notebook import notebook_text
        from autograder.grading.sanitize import safe_notebook

        folder = student_path(self.course / "autograded", str(report["student_id"]), self.config.name)
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
                              f"({report.get('message', '')}); this is the blank release."})
            if i == 0:
                extra = autograded_cells_markdown(report, self.config, self.release_nbs)
                if nb.get("nbformat_minor", 5) < 5:  # cell ids came with nbformat 4.5
                    extra = [{k: v for k, v in c.items() if k != "id"} for c in extra]
                nb["cells"].extend(extra)
            # formgrader renders this on the TA's Jupyter origin: only inert parts go in
            nb, dropped = safe_notebook(nb, self.release_nbs[name].metadata)
            if dropped:
                report.setdefault("autograded_dropped", {})[name] = dict(dropped)
            text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            # a lone surrogate (valid JSON, not Unicode) is written as "?", never a crash
            atomic_write_text(folder / name, text.encode("utf-8", "replace").decode("utf-8"))
        # formgrader's Manage Assignments counts submissions by their folders in submitted/:
        # one per student, holding only the LMS submission time, never the student's files
        # (nbgrader's own autograde would run them outside the sandbox).
        submitted = self.course / "submitted" / folder.relative_to(self.course / "autograded")
        submitted.mkdir(parents=True, exist_ok=True)
        when = report.get("submission", {}).get("submitted_at")
        if when:
            atomic_write_text(submitted / "timestamp.txt", f"{when}\n")


# Imported once by the fork server, so every worker starts with them loaded (best effort: a
# module that is missing is skipped by multiprocessing).
PRELOAD = ["autograder.grading.grade", "autograder.core.submission_zip", "autograder.student.check", "autograder.core.graft",
           "autograder.grading.engine", "autograder.grading.hidden", "numpy", "nbformat"]


def _pool(jobs: int, steps: str | None = None) -> ProcessPoolExecutor:
    """Workers forked from a clean server (no parent state such as the gradebook connection).

    The fork server is started once per parent process and shared by later pools, which is
    why a rerun inside one process (the tests, the demo) pays the imports only once.
    """
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        ctx.set_forkserver_preload(PRELOAD + ([steps] if steps else []))
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


def run_pool(tasks: Sequence[dict[str, Any]], jobs: int, done: Callable[[dict[str, Any]], None],
             steps: str | None = None) -> None:
    """Grade `tasks` on `jobs` processes, calling `done(result)` in the parent as each finishes.

    A worker process that dies breaks the whole pool; the unfinished tasks are then retried one
    at a time in a fresh pool each, so only the one that kills its worker gets an error.
    """
    suspects: list[dict[str, Any]] = []
    with _pool(jobs, steps) as pool:
        futures: dict[Future, dict[str, Any]] = {pool.submit(grade_one, t): t for t in tasks}
        try:
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
        with _pool(1, steps) as pool:
            try:
                done(pool.submit(grade_one, task).result())
            except BrokenProcessPool:
                done(error_result(task, "the grading process died while grading this submission "
                                        "(killed by the operating system: out of memory?)"))


# ---------------------------------------------------------------------------------------------
# Progress


class Progress:
    """A rich progress bar with ETA and live counts on a terminal; plain lines otherwise."""

    def __init__(self, total: int, label: str, stream: Any = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stdout, highlight=False)
        self.total, self.done = total, 0
        self.counts: Counter[str] = Counter()
        self._bar = None
        if self.console.is_terminal and total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console,
            )
            self._task = self._bar.add_task(label, total=total, counts=self._counts())
            self._bar.start()

    def _counts(self) -> str:
        c = self.counts
        return f"graded {c['graded']} · failed {c['failed']} · errored {c['error']}"

    def advance(self, report: Mapping[str, Any]) -> None:
        self.done += 1
        self.counts[str(report["status"])] += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, counts=self._counts())
            return
        score = "" if report["status"] == "error" else f" {round(report['score'], 2):g}/{report['max_score']:g}"
        msg = f" — {shown_id(report['message'], 300)}" if report["status"] != "graded" and report.get("message") else ""
        self.console.print(f"[{self.done}/{self.total}] {shown_id(report['student_id'])}: {report['status']}"
                           f"{score} ({report['grader']['seconds']:.1f} s){msg}", markup=False, soft_wrap=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_table(run: ClassRun, config: AssignmentConfig, stream: Any = None) -> None:
    """The final table: one row per student, then where the reports are."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=stream or sys.stdout, highlight=False)
    table = Table(title=f"{config.name}: {len(run.reports)} submissions")
    for col, justify in (("student", "left"), ("status", "left"), ("score", "right"),
                         ("violations", "left"), ("note", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for sid in sorted(run.reports):
        r = run.reports[sid]
        score = "—" if r["status"] == "error" else f"{round(r['score'], 2):g}/{r['max_score']:g}"
        rules = Counter(v["rule"] for v in r["violations"])
        viol = ", ".join(f"{k}×{n}" if n > 1 else k for k, n in rules.items())
        note = r["message"][:80] if r["status"] != "graded" else ("reused" if sid in run.skipped else "")
        # Text, not markup; control characters shown escaped: a file name a student chose (in
        # an intake message) must not style or move the operator's terminal
        table.add_row(*(Text(shown_id(cell, 200)) for cell in (sid, r["status"], score, viol, note)))
    console.print(table)
    c = Counter(r["status"] for r in run.reports.values())
    console.print(f"graded {c['graded']} · failed {c['failed']} · errored {c['error']} · "
                  f"reused {len(run.skipped)} · {run.seconds:.1f} s", markup=False)
    console.print(f"Reports: {run.out / 'grades.csv'}, {run.out / 'summary.html'}, "
                  f"{run.out}/<student>/feedback.html", markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------
# The class


def _entry_task(entry: Any, config: AssignmentConfig, course: Path, key: str) -> dict[str, Any]:
    submitted = entry.submitted_at.isoformat() if getattr(entry, "submitted_at", None) else None
    sha = sha256_path(entry.path)
    return {
        "student_id": str(entry.student_id),
        "path": str(entry.path),
        "sha256": sha,
        "assignment": config.name,
        "course": str(course),
        "key": key,
        "violations": [_as_dict(v) for v in getattr(entry, "violations", [])],
        "unidentified": str(getattr(entry, "unidentified", "") or ""),
        "submission": {
            "file": Path(entry.path).name,
            "sha256": sha,
            "submitted_at": submitted,
            "late": getattr(entry, "late", None),
            "lms": getattr(entry, "lms", ""),
            "notes": list(getattr(entry, "notes", [])),
            "id_source": getattr(entry, "id_source", ""),
            "manifest_student_id": getattr(entry, "manifest_student_id", None),
            "other_attempts": [Path(p).name for p in getattr(entry, "other_attempts", [])],
        },
    }


def _release_notebooks(config: AssignmentConfig, course: Path) -> dict[str, Any]:
    from autograder.core.notebook import read_notebook

    folder = release_dir(config.name, course)
    missing = [nb for nb in config.notebooks if not (folder / nb).is_file()]
    if missing:
        raise ConfigError(f"{folder}: {', '.join(missing)} not released yet: run `autograder release {config.name}`")
    return {nb: read_notebook(folder / nb) for nb in config.notebooks}


def plan(tasks: Iterable[dict[str, Any]], out: Path, force: bool, only: Iterable[str] | None,
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """(to grade, to reuse as report.json dicts, cause per student to grade)."""
    only_set = set(only or [])
    grade, reuse, cause = [], [], {}
    for t in tasks:
        sid = t["student_id"]
        prev = read_report_json(out, sid)
        wanted = not only_set or sid in only_set
        same = (prev is not None and prev.get("submission", {}).get("sha256") == t["sha256"]
                and prev.get("grader", {}).get("key") == t["key"])
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
                          if prev.get("submission", {}).get("sha256") != t["sha256"]
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
    steps: str | None = None,
    stream: Any = None,
    lms: str = "auto",
    roster: str | Path | None = None,
    pattern: str | None = None,
) -> ClassRun:
    """Grade a folder of zips (or one LMS export zip) into OUT, the gradebook and autograded/.

    `lms`, `roster`, `pattern`: how student ids are read off the export (autograder.grading.intake).
    `steps` (tests only) names a module whose `run_steps` replaces the real pipeline steps.
    """
    from autograder.grading.intake import collect_submissions

    start = time.perf_counter()
    course_dir = course_root(course)
    out_dir = Path(out).resolve()
    # Owner-only before anything is written: at the uid sandbox level student code runs as
    # another uid on this host (autograder.grading.owner_only).
    secure_outputs(course_dir, out_dir, db)
    config = find_config(assignment, course_dir)
    release_nbs = _release_notebooks(config, course_dir)
    key = grading_key(config, course_dir)
    run = ClassRun(out=out_dir)
    with tempfile.TemporaryDirectory(prefix="autograder-export-") as export_dir:
        entries = collect_submissions(submissions, assignment, config, lms=lms, roster=roster,
                                      pattern=pattern, work_dir=export_dir)
        tasks = []
        for entry in entries:
            task = _entry_task(entry, config, course_dir, key)
            if steps:
                task["steps"] = steps
            tasks.append(task)
        to_grade, reuse, cause = plan(tasks, out_dir, force, only)
        parent = Parent(config, course_dir, out_dir, db, release_nbs)
        progress = None
        try:
            by_id = {t["student_id"]: t for t in tasks}
            for prev in reuse:
                sid = str(prev.get("student_id"))
                try:
                    report = parent.rescore(prev)
                except (KeyError, TypeError, ValueError):  # a report from an older kit: regrade
                    if sid in by_id:
                        to_grade.append(by_id[sid])
                        cause[sid] = "regraded (unreadable report.json)"
                    continue
                run.reports[sid] = report
                run.skipped.append(sid)
            progress = Progress(len(to_grade), f"Grading {assignment}", stream)

            def done(result: dict[str, Any]) -> None:
                report = parent.finish_safely(result, cause.get(str(result["student_id"]), "graded"))
                run.reports[str(report["student_id"])] = report
                run.graded.append(str(report["student_id"]))
                progress.advance(report)

            if to_grade:
                workers = max(1, jobs or os.cpu_count() or 1)
                if workers > 1 and uid_level():
                    # Without namespaces, two live workers share the host's world-writable
                    # folders (and its network): one submission at a time, swept after each.
                    workers = 1
                    progress.console.print("sandbox level 'uid': grading one submission at a "
                                           "time (docs/sandbox.md)", markup=False)
                run_pool(to_grade, workers, done, steps)
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


def cli_grade(args: argparse.Namespace) -> int:
    """`autograder grade A SUBMISSIONS --out OUT ...`: exit 0 when the class is done, even if
    students failed; 1 only when the class cannot be graded at all (clear message, no traceback)."""
    missing = missing_steps()
    if missing:
        print("autograder grade: not available yet in this kit: " + "; ".join(missing))
        return 1
    from sqlalchemy.exc import SQLAlchemyError

    from autograder.core.archive import IntakeError
    from autograder.grading.sandbox import SandboxError, preflight

    try:  # once, before any student: a machine that cannot sandbox stops here with one line
        level = preflight()
    except SandboxError as exc:
        print(f"autograder grade: {exc}. Nothing was graded.", file=sys.stderr)
        return 1
    if level == "process":  # allowed for a non-root user, but say what it means
        print("autograder grade: warning: no sandbox here (level 'process'): student code runs "
              "as you, with resource limits only; install bubblewrap for level 'bwrap'.",
              file=sys.stderr)
    try:
        run = grade_class(args.assignment, args.submissions, args.out, jobs=args.jobs,
                          force=args.force, only=args.only, db=args.db, course=args.course,
                          lms=getattr(args, "lms", "auto"), roster=getattr(args, "roster", None),
                          pattern=getattr(args, "pattern", None))
    except (ConfigError, IntakeError, ValueError) as exc:
        print(f"autograder grade: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # a wrong --db: say which option, not a driver traceback
        print(f"autograder grade: the gradebook at {args.db or 'the default'} cannot be used "
              f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check --db "
              "(e.g. sqlite:////path/to/gradebook.db).", file=sys.stderr)
        return 1
    config = find_config(args.assignment, course_root(args.course))
    print_table(run, config)
    errors = sorted(sid for sid, r in run.reports.items() if r.get("status") == "error")
    if errors:  # a grader error is ours, not the student's: the run is not done
        print(f"autograder grade: {len(errors)} student(s) could not be graded because of a grader "
              f"error ({', '.join(errors[:5])}{', ...' if len(errors) > 5 else ''}); see "
              "summary.html. Rerunning grades them again.", file=sys.stderr)
        return 1
    return 0
