"""`autograder release`: the student release in assignments/ generated from solutions/ (docs/release.md).

Per assignment:
  1. lint the source notebooks (markers, grade_ids, points vs assignment.toml, definition cells);
  2. give every cell without a role read-only nbgrader metadata with a grade_id from its cell id;
  3. run nbgrader's GenerateAssignment converter in a throw-away course, without any database;
  4. normalize the result (no outputs, stable ids, sorted JSON) so a rerun is byte-identical,
     fingerprint it, pick the version (an old one with the same fingerprint, else the next);
  5. write assignments/<A>/<nb>.ipynb, keep .releases/<version>/<nb>.ipynb, the public
     assignment.toml (no [private]) and the extra `release_files`.
`--check` does 1-4 and compares with what is committed instead of writing.
"""

from __future__ import annotations

import argparse
import ast
import copy
import fnmatch
import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import tomli_w
from nbformat import NotebookNode

from autograder.authoring.release_names import undefined_names
from autograder.core.config import (
    CONFIG_NAME,
    SOLUTIONS_DIR,
    AssignmentConfig,
    ConfigError,
    course_root,
    load_config,
    public_part,
    release_dir,
    solution_dir,
)
from autograder.core.notebook import NotebookError, notebook_text, parse_notebook, read_notebook

# The marker lines around each TODO block, without indentation.
START_MARKER = "# ========== START OF YOUR CODE (do not edit or delete this line) =========="
END_MARKER = "# =========== END OF YOUR CODE (do not edit or delete this line) ==========="
CODE_STUB = f"{START_MARKER}\nraise NotImplementedError\n{END_MARKER}"
TEXT_STUB = "YOUR ANSWER HERE"
# nbgrader matches its delimiters anywhere in a line; the lint does the same so they agree.
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
HIDDEN_TESTS = "hidden_tests.py"
STUBS = "stubs.py"  # the functions hidden tests pass by name (autograder.grading.hidden.stubs)
# Instructor-only files: never copied into assignments/ (nbgrader's default ignores + ours).
NEVER_RELEASED = (HIDDEN_TESTS, STUBS, CONFIG_NAME)
COURSE_IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", *NEVER_RELEASED]
RELEASES = ".releases"
# Cell metadata that records a run or a UI state, not content: dropped so reruns do not churn.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


class ReleaseError(Exception):
    """The release cannot be made; str() is one line naming the file (and cell)."""


# --------------------------------------------------------------------------------------------
# small notebook helpers
# --------------------------------------------------------------------------------------------


def _nbgrader(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def _is_free_or_opted_out(cell: Any) -> bool:
    """Opted out of the graded module and the definition lint (docs/architecture.md)."""
    opt = cell.get("metadata", {}).get("autograder", {}) or {}
    return opt.get("module", True) is False


def _has_role(meta: dict[str, Any]) -> bool:
    return bool(meta.get("grade") or meta.get("solution") or meta.get("task"))


def _is_locked(meta: dict[str, Any]) -> bool:
    """nbgrader's notion of locked: solution cells never, grade cells always."""
    if meta.get("solution"):
        return False
    return bool(meta.get("grade") or meta.get("locked"))


def _where(path: str, cell: int | None = None, line: int | None = None) -> str:
    where = path
    if cell is not None:
        where += f", cell {cell}"
    if line is not None:
        where += f", line {line}"
    return where


# --------------------------------------------------------------------------------------------
# 1. lint
# --------------------------------------------------------------------------------------------


def solution_blocks(source: str) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """(begin, end) line numbers (1-based) of each solution block, and (line, problem) pairs."""
    blocks: list[tuple[int, int]] = []
    problems: list[tuple[int, str]] = []
    begin: int | None = None
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_SOLUTION in line:
            if begin is not None:
                problems.append((begin, "### BEGIN SOLUTION without its ### END SOLUTION"))
            begin = number
        elif END_SOLUTION in line:
            if begin is None:
                problems.append((number, "### END SOLUTION without a ### BEGIN SOLUTION"))
            else:
                blocks.append((begin, number))
                begin = None
    if begin is not None:
        problems.append((begin, "### BEGIN SOLUTION without its ### END SOLUTION"))
    return blocks, problems


_NOT_CONSTANT = (
    ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
)  # fmt: skip


def _is_definition(node: ast.stmt) -> bool:
    """Imports, def, class, a docstring, or NAME = <expression without calls>."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(node, (ast.ClassDef, ast.Pass)):
        return True
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names_only = all(
            isinstance(t, ast.Name)
            or (isinstance(t, ast.Tuple) and all(isinstance(e, ast.Name) for e in t.elts))
            for t in targets
        )
        value = node.value
        return names_only and (
            value is None or not any(isinstance(n, _NOT_CONSTANT) for n in ast.walk(value))
        )
    return False


def _inside_function(tree: ast.Module, begin: int, end: int, indent: int) -> bool:
    """True if the block between lines begin and end lies in the body of some def."""
    functions = [
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and begin < n.lineno < end]
    if not statements:  # a block of comments only: its indent must be a def's body indent
        return any(f.lineno < begin and indent > f.col_offset for f in functions)
    first = min(statements, key=lambda n: n.lineno)
    return any(f.body[0].lineno <= first.lineno <= (f.end_lineno or f.lineno) for f in functions)


def _lint_definition_cell(cell: Any, blocks: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """(line, problem) pairs for a solution code cell that goes into the graded module."""
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        return [(exc.lineno or 1, f"not valid Python ({exc.msg})")]
    problems = []
    for node in tree.body:
        if not _is_definition(node):
            text = cell.source.split("\n")[node.lineno - 1].strip()
            problems.append((
                node.lineno,
                f"`{text[:50]}`: a solution cell may only hold imports, def, class and constant "
                "assignments (move this to a read-only cell, or opt the cell out with "
                "metadata.autograder = {\"module\": false})",
            ))  # fmt: skip
    lines = cell.source.split("\n")
    for begin, end in blocks:
        indent = len(lines[begin - 1]) - len(lines[begin - 1].lstrip())
        if not _inside_function(tree, begin, end, indent):
            problems.append((begin, "the solution block must be inside a function body"))
    return problems


def lint_cell(cell: Any) -> list[tuple[int | None, str]]:
    """Problems of one cell alone, as (line or None, message)."""
    meta = _nbgrader(cell)
    blocks, problems = solution_blocks(cell.get("source", ""))
    found: list[tuple[int | None, str]] = list(problems)
    if not cell.get("id"):
        found.append(
            (None, "the cell has no id: save the notebook with Jupyter >= 3 (nbformat 4.5)")
        )
    if blocks and not meta.get("solution"):
        found.append((blocks[0][0], "solution block in a cell that is not a solution cell"))
    if _has_role(meta) and not meta.get("grade_id"):
        found.append((None, "nbgrader cell without a grade_id"))
    if meta.get("grade") and "points" not in meta:
        found.append((None, f"grade cell {meta.get('grade_id')!r} has no points"))
    if cell.get("cell_type") == "markdown" and meta.get("solution") and not meta.get("grade"):
        found.append((None, "a markdown answer cell must be a grade cell with points ([manual])"))
    if (
        cell.get("cell_type") == "code"
        and meta.get("solution")
        and not _is_free_or_opted_out(cell)
        and not problems
    ):
        found.extend(_lint_definition_cell(cell, blocks))
    return found


def release_grade_id(cell: Any) -> str:
    """The grade_id a cell has in the release: its own, else one derived from its cell id."""
    return str(_nbgrader(cell).get("grade_id") or f"cell-{cell.get('id', '')}")


def _lint_points(
    cfg: AssignmentConfig, graded: dict[str, tuple[str, int, str, float]], label: str
) -> list[str]:
    """Notebook points vs [tests]/[manual]: graded maps grade_id -> (file, cell, table, points)."""
    errors = []
    for grade_id, (path, number, table, points) in graded.items():
        expected = (cfg.tests if table == "tests" else cfg.manual).get(grade_id)
        if expected is None:
            errors.append(
                f"{_where(path, number)}: grade cell {grade_id!r} ({points:g} points) is not in "
                f"[{table}] of {label}"
            )
        elif abs(expected - points) > 1e-9:
            errors.append(
                f"{_where(path, number)}: grade cell {grade_id!r} has {points:g} points, "
                f"[{table}].{grade_id} in {label} says {expected:g}"
            )
    # best models are graded from their .npz file and need no cell
    model_ids = {m.grade_id for m in cfg.models.values()}
    for table, groups in (("tests", cfg.tests), ("manual", cfg.manual)):
        for grade_id in groups:
            if grade_id not in graded and grade_id not in model_ids:
                errors.append(f"{label}: [{table}].{grade_id} has no grade cell in the notebook")
    return errors


def lint_assignment(cfg: AssignmentConfig, notebooks: dict[str, NotebookNode]) -> list[str]:
    """Every problem of the source notebooks, one line each, naming file, cell and line."""
    errors: list[str] = []
    seen: dict[str, str] = {}
    graded: dict[str, tuple[str, int, str, float]] = {}
    folder = Path(SOLUTIONS_DIR) / cfg.name
    for name, nb in notebooks.items():
        path = str(folder / f"{name}.ipynb")
        for number, cell in enumerate(nb.cells, start=1):
            errors += [f"{_where(path, number, line)}: {msg}" for line, msg in lint_cell(cell)]
            meta = _nbgrader(cell)
            grade_id = release_grade_id(cell)
            if grade_id in seen:
                errors.append(
                    f"{_where(path, number)}: duplicate grade_id {grade_id!r} "
                    f"(also {seen[grade_id]})"
                )
            seen.setdefault(grade_id, _where(path, number))
            if meta.get("grade") and "points" in meta:
                table = "tests" if cell.cell_type == "code" else "manual"
                graded.setdefault(grade_id, (path, number, table, float(meta["points"])))
    errors += _lint_points(cfg, graded, str(folder / CONFIG_NAME))
    return errors


# --------------------------------------------------------------------------------------------
# 2-3. prepare and run nbgrader
# --------------------------------------------------------------------------------------------


def prepare_source(nb: NotebookNode) -> NotebookNode:
    """A copy where every cell without a role is read-only and has a stable grade_id."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if not _has_role(meta):
            cell.metadata["nbgrader"] = {
                "grade": False,
                "solution": False,
                "locked": True,
                "grade_id": release_grade_id(cell),
                "schema_version": 3,
            }
    return nb


def nbgrader_config(root: str | Path) -> Any:
    """The nbgrader Config of a throw-away course at `root` (same stubs as nbgrader_config.py)."""
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.CourseDirectory.ignore = list(COURSE_IGNORE)
    # No gradebook at all (SaveCells off, no_database); the URL is a temp file as a safety net.
    c.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'unused-gradebook.db'}"
    c.SaveCells.enabled = False
    c.GenerateAssignment.no_database = True
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.ClearSolutions.enforce_metadata = True
    c.LockCells.lock_solution_cells = True
    c.LockCells.lock_grade_cells = True
    c.LockCells.lock_readonly_cells = True
    return c


class _Capture(logging.Handler):
    """Keeps nbgrader's error log so a failure becomes one line instead of a traceback dump."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reason(self) -> str:
        # the last "SomeError: message" line of a logged traceback says what went wrong
        for message in reversed(self.messages):
            for line in reversed(message.strip().splitlines()):
                if re.match(r"^[\w.]+(Error|Exception): ", line):
                    return line
        return self.messages[-1].strip().splitlines()[0] if self.messages else "unknown error"


def run_nbgrader(assignment: str, notebooks: dict[str, NotebookNode]) -> dict[str, NotebookNode]:
    """nbgrader generate_assignment on these notebooks, in a temp course; the release notebooks."""
    try:
        from nbgrader.converters import GenerateAssignment
        from nbgrader.coursedir import CourseDirectory
    except ImportError:
        raise ReleaseError(
            "nbgrader is not installed: run `make setup` (the [instructor] extra, Python >= 3.11)"
        ) from None

    capture = _Capture()
    nblog = logging.getLogger("autograder.authoring.release.nbgrader")
    nblog.propagate = False  # nbgrader's info chatter is not for the instructor's terminal
    nblog.handlers = [capture]
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        source = Path(tmp, "source", assignment)
        source.mkdir(parents=True)
        for name, nb in notebooks.items():
            (source / f"{name}.ipynb").write_text(notebook_text(nb), encoding="utf-8")
        config = nbgrader_config(tmp)
        coursedir = CourseDirectory(config=config, log=nblog)
        coursedir.assignment_id = assignment
        converter = GenerateAssignment(coursedir=coursedir, config=config, log=nblog)
        try:
            converter.start()
        except Exception as exc:
            raise ReleaseError(
                f"{SOLUTIONS_DIR}/{assignment}: nbgrader generate_assignment failed: "
                f"{capture.reason() if capture.messages else exc}"
            ) from None
        out = Path(tmp, "release", assignment)
        return {name: read_notebook(out / f"{name}.ipynb") for name in notebooks}


# --------------------------------------------------------------------------------------------
# 4. normalize, fingerprint, version
# --------------------------------------------------------------------------------------------


def normalize(nb: NotebookNode, source: NotebookNode) -> NotebookNode:
    """Deterministic release notebook: source cell ids, no outputs, no run/UI state."""
    from nbgrader.utils import compute_checksum

    nb.nbformat, nb.nbformat_minor = 4, 5
    for cell, src in zip(nb.cells, source.cells, strict=True):
        cell.id = src.id  # the source's ids: stable across reruns and editors
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if _nbgrader(src).get("solution") and _is_free_or_opted_out(src):
                if not solution_blocks(src.source)[0]:
                    # a free cell: students start from the instructor's text, not from a stub
                    cell.source = src.source
                    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    language = nb.metadata.get("language_info")
    if language:
        language.pop("version", None)  # the Python version of the last run: pure churn
    return nb


def fingerprint(nb: Any) -> str:
    """sha256 over what integrity compares: each cell's type, source, grade_id and lock."""
    rows = [
        [cell.cell_type, cell.source, _nbgrader(cell).get("grade_id"), _is_locked(_nbgrader(cell))]
        for cell in nb.cells
    ]
    blob = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def published_versions(dest: Path) -> dict[str, dict[str, str]]:
    """version -> {notebook name: fingerprint} of every release kept under dest/.releases/."""
    versions: dict[str, dict[str, str]] = {}
    root = dest / RELEASES
    if not root.is_dir():
        return versions
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        versions[folder.name] = {
            path.stem: str(read_notebook(path).metadata.get("autograder", {}).get("fingerprint"))
            for path in sorted(folder.glob("*.ipynb"))
        }
    return versions


def pick_version(versions: dict[str, dict[str, str]], fingerprints: dict[str, str]) -> str:
    """The published version with exactly these fingerprints, else the next integer."""
    for version in sorted(versions, key=int):
        if versions[version] == fingerprints:
            return version
    return str(max((int(v) for v in versions), default=0) + 1)


# --------------------------------------------------------------------------------------------
# public assignment.toml
# --------------------------------------------------------------------------------------------

def public_toml(cfg: AssignmentConfig) -> str:
    """The student-visible assignment.toml: every table but [private], behind a header.

    Written from the parsed data, not copied, so the source file's comments never leak."""
    header = (
        f"# Generated by `autograder release` from {SOLUTIONS_DIR}/{cfg.name}/{CONFIG_NAME}: "
        "do not edit.\n# The rules and points the grader applies to this assignment.\n\n"
    )
    return header + tomli_w.dumps(public_part(cfg.raw))


# --------------------------------------------------------------------------------------------
# building a release in memory, writing it, comparing it
# --------------------------------------------------------------------------------------------


@dataclass
class Release:
    """One assignment's generated release: files relative to assignments/<A>/."""

    assignment: str
    version: str
    files: dict[str, bytes] = field(default_factory=dict)
    notebooks: dict[str, NotebookNode] = field(default_factory=dict)


def _notebook_names(cfg: AssignmentConfig, label: str) -> list[str]:
    names = [PurePosixPath(n).name.removesuffix(".ipynb") for n in cfg.notebooks]
    if not names:
        raise ReleaseError(f"{label}: [assignment].notebooks is empty")
    return names


def _release_files(cfg: AssignmentConfig, src: Path, label: str) -> dict[str, bytes]:
    """The extra files listed in [assignment].release_files, checked to be safe to publish."""
    listed = cfg.raw.get("assignment", {}).get("release_files", [])
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise ReleaseError(f"{label}: [assignment].release_files must be a list of file names")
    files = {}
    for name in listed:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or name.endswith(".ipynb"):
            raise ReleaseError(
                f"{label}: release_files entry {name!r} must be a relative file path"
            )
        if any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in COURSE_IGNORE):
            raise ReleaseError(f"{label}: {name!r} is instructor-only and is never released")
        path = src / rel
        if not path.is_file():
            raise ReleaseError(f"{label}: release_files entry {name!r} is not a file in {src}")
        files[str(rel)] = path.read_bytes()
    return files


def build_release(assignment: str, course: Path) -> Release:
    """Lint, run nbgrader and normalize one assignment; nothing is written in the course."""
    src = solution_dir(assignment, course)
    label = f"{SOLUTIONS_DIR}/{assignment}/{CONFIG_NAME}"
    try:
        cfg = load_config(src / CONFIG_NAME, label)
    except ConfigError as exc:
        raise ReleaseError(str(exc)) from None
    if cfg.name != assignment:
        raise ReleaseError(
            f"{label}: [assignment].name is {cfg.name!r} but the folder is {assignment}"
        )
    names = _notebook_names(cfg, label)
    sources = {name: read_notebook(src / f"{name}.ipynb") for name in names}
    errors = lint_assignment(cfg, sources)
    if errors:
        raise ReleaseError("\n".join(errors))
    released = run_nbgrader(assignment, {n: prepare_source(nb) for n, nb in sources.items()})
    notebooks = {n: normalize(released[n], sources[n]) for n in names}
    undefined = undefined_names(notebooks, f"{SOLUTIONS_DIR}/{assignment}")
    if undefined:
        raise ReleaseError("\n".join(undefined))
    fingerprints = {n: fingerprint(nb) for n, nb in notebooks.items()}
    version = pick_version(published_versions(release_dir(assignment, course)), fingerprints)
    result = Release(assignment, version, notebooks=notebooks)
    for name, nb in notebooks.items():
        nb.metadata["autograder"] = {
            "assignment": assignment,
            "version": version,
            "fingerprint": fingerprints[name],
        }
        text = notebook_text(nb).encode("utf-8")
        result.files[f"{name}.ipynb"] = text
        result.files[f"{RELEASES}/{version}/{name}.ipynb"] = text
    result.files[CONFIG_NAME] = public_toml(cfg).encode("utf-8")
    result.files.update(_release_files(cfg, src, label))
    return result


def write_release(rel: Release, dest: Path) -> list[str]:
    """Write the files that changed (never deleting anything); the relative paths written."""
    written = []
    for name, data in sorted(rel.files.items()):
        path = dest / name
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(name)
    return written


def _stray_files(rel: Release, dest: Path) -> list[str]:
    """Files in assignments/<A>/ the release does not produce (old versions are expected)."""
    if not dest.is_dir():
        return []
    stray = []
    for path in sorted(dest.rglob("*")):
        name = path.relative_to(dest).as_posix()
        if path.is_file() and not name.startswith(RELEASES + "/") and name not in rel.files:
            if not any(
                fnmatch.fnmatch(part, p) for part in Path(name).parts for p in COURSE_IGNORE[:3]
            ):
                stray.append(name)
    return stray


def _cell_label(number: int, cell: Any) -> str:
    grade_id = _nbgrader(cell).get("grade_id") if cell is not None else None
    return f"cell {number} ({grade_id})" if grade_id else f"cell {number}"


def diff_notebook(expected: NotebookNode, actual_text: bytes, name: str) -> str:
    """What differs between the generated notebook and the committed one, in one phrase."""
    try:
        actual = parse_notebook(actual_text.decode("utf-8"), name)
    except (NotebookError, UnicodeDecodeError):
        return "is not a valid notebook"
    cells = []
    for index in range(max(len(expected.cells), len(actual.cells))):
        want = expected.cells[index] if index < len(expected.cells) else None
        have = actual.cells[index] if index < len(actual.cells) else None
        if want is None or have is None or want != have:
            cells.append(_cell_label(index + 1, want if want is not None else have))
    if not cells:
        old = actual.metadata.get("autograder", {}).get("version")
        new = expected.metadata.get("autograder", {}).get("version")
        return f"differs in its notebook metadata (release version {old} -> {new})"
    shown = ", ".join(cells[:6]) + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
    count = f" ({len(actual.cells)} cells, expected {len(expected.cells)})"
    return f"differs in {shown}" + (count if len(actual.cells) != len(expected.cells) else "")


def compare_release(rel: Release, dest: Path) -> list[str]:
    """One line per stale file of assignments/<A>/ (empty when in sync)."""
    stale = []
    # the student notebooks first: they are what an instructor looks at
    for name, data in sorted(rel.files.items(), key=lambda item: item[0].startswith(RELEASES)):
        path = dest / name
        shown = f"{dest.parent.name}/{rel.assignment}/{name}"
        if not path.is_file():
            stale.append(f"{shown} is missing")
        elif path.read_bytes() != data:
            stem = PurePosixPath(name).stem
            if name.endswith(".ipynb") and stem in rel.notebooks:
                stale.append(
                    f"{shown} {diff_notebook(rel.notebooks[stem], path.read_bytes(), name)}"
                )
            else:
                stale.append(f"{shown} differs")
    stale += [
        f"{dest.parent.name}/{rel.assignment}/{n} is not produced by the release (delete it)"
        for n in _stray_files(rel, dest)
    ]
    return stale


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------


def all_assignments(course: Path) -> list[str]:
    """Every folder of solutions/ that has an assignment.toml, sorted."""
    root = course / SOLUTIONS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CONFIG_NAME).is_file())


def _release_one(assignment: str, course: Path, check: bool) -> bool:
    """Release or check one assignment, printing what happened; True when all is well."""
    dest = release_dir(assignment, course)
    if not (solution_dir(assignment, course) / CONFIG_NAME).is_file():
        known = ", ".join(all_assignments(course)) or "none"
        print(f"{assignment}: no {SOLUTIONS_DIR}/{assignment}/{CONFIG_NAME} (assignments: {known})")
        return False
    rel = build_release(assignment, course)
    if check:
        stale = compare_release(rel, dest)
        for line in stale:
            print(f"{assignment}: {line}")
        if stale:
            print(
                f"{assignment}: {dest.parent.name}/{assignment} is stale: run `autograder release {assignment}`"
            )
            return False
        print(f"{assignment}: {dest.parent.name}/{assignment} is in sync (version {rel.version})")
        return True
    written = write_release(rel, dest)
    for name in _stray_files(rel, dest):
        print(
            f"{assignment}: warning: {dest.parent.name}/{assignment}/{name} is not part of the release"
        )
    state = f"wrote {len(written)} file(s)" if written else "already up to date"
    print(
        f"{assignment}: release version {rel.version}, {state} in {dest.parent.name}/{assignment}"
    )
    return True


def release(
    assignments: Iterable[str] | None = None, course: str | Path | None = None, check: bool = False
) -> int:
    """Release (or with check=True, verify) the assignments; 0 ok, 1 refused or stale."""
    root = course_root(course)
    names = list(assignments or []) or all_assignments(root)
    if not names:
        print(f"No assignments under {root / SOLUTIONS_DIR}: nothing to release "
              "(is --course the folder that holds solutions/?).")
        return 1
    ok = True
    for name in names:
        try:
            ok = _release_one(name, root, check) and ok
        except (ReleaseError, NotebookError, ConfigError) as exc:
            for line in str(exc).splitlines():
                print(f"{name}: {line}")
            ok = False
        except OSError as exc:
            print(f"{name}: {exc.filename or ''}: {exc.strerror or exc}")
            ok = False
        except Exception as exc:  # a bug or an nbgrader surprise: still one line, no traceback
            print(f"{name}: release failed unexpectedly ({type(exc).__name__}: {exc})")
            ok = False
    return 0 if ok else 1


def cli_release(args: argparse.Namespace) -> int:
    """`autograder release [A ...] [--check] [--course DIR]`."""
    return release(args.assignments, course=args.course, check=args.check)


def iter_solution_lines(source: str) -> Iterator[str]:
    """The lines strictly inside the solution blocks of a cell (for leak checks)."""
    lines = source.split("\n")
    for begin, end in solution_blocks(source)[0]:
        yield from lines[begin : end - 1]
