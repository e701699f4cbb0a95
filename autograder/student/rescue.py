"""`autograder rescue NB [--assignment A] -o OUT`: move a student's work into a fresh release copy.

The student's TODO-block bodies, markdown answers and free cells are grafted (autograder.core.graft)
into a fresh copy of the release version the notebook declares (the current release when that
version is not in the kit, or when the notebook lost its metadata). Nothing is lost: what cannot
be placed automatically (a cell whose markers were deleted, code changed outside a TODO block,
an added or duplicated cell, a cell whose type changed) goes, clearly marked as a comment block,
into the TODO block of the matching cell (or of the nearest TODO cell before it), and the
command lists each one. The rescued notebook passes the integrity rules; it has no outputs, so
the student runs it again (Restart & Run All) before submitting.
"""

from __future__ import annotations

import argparse
import copy
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.core.config import ConfigError
from autograder.core.integrity import cell_role, code_difference
from autograder.core.markers import MARKER_WORDS, scan_blocks, source_of
from autograder.core.matching import Matching
from autograder.core.notebook import NotebookError, read_notebook
from autograder.core.prepared import CheckedNotebook, prepare_notebook
from autograder.core.releases import Unusable, declared


class RescueError(Exception):
    """Nothing could be rescued; str() is one line saying why and what to do."""


@dataclass
class Unplaced:
    """Student work that went into a comment block: its cell, why, and the rescued cell it is in."""

    cell: int  # 1-based, in the student's notebook
    reason: str
    into: int | None  # 1-based, in the rescued notebook (None: nowhere to put it)


@dataclass
class RescueResult:
    out_path: Path
    version: str
    blocks: int = 0  # TODO cells whose bodies were grafted
    answers: int = 0  # markdown answers and free cells taken over
    unplaced: list[Unplaced] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def rescue(
    nb_path: str | Path, assignment: str | None, out_path: str | Path,
    course: str | Path | None = None,
) -> RescueResult:
    """Graft the student's work into a fresh release notebook written to `out_path`.

    `assignment`: None reads it from the notebook's release metadata."""
    nb_path, out_path = Path(nb_path), Path(out_path)
    if out_path.is_dir():  # `-o rescued/`: the rescued copy goes inside, under a clear name
        out_path = out_path / f"{nb_path.stem}_rescued.ipynb"
    if out_path.resolve() == nb_path.resolve():
        raise RescueError(f"{out_path}: choose another output file; rescue never overwrites your notebook.")
    checked = _load(nb_path, assignment, course)
    student, release, matching, grafted = checked.student, checked.release, checked.matching, checked.graft
    result = RescueResult(out_path, checked.version, notes=list(checked.notes))
    cells = copy.deepcopy(grafted.cells)  # the comment blocks go into copies: the graft stays as it is
    for filled in grafted.info:
        if filled.placed:
            result.blocks += filled.role == "todo"
            result.answers += filled.role in ("free", "answer")
    for s, reason in _leftovers(student, release, matching, grafted.info):
        target = _target(cells, matching, s)
        if target is not None:
            _comment_into(cells[target], s + 1, reason, source_of(student.cells[s]))
        result.unplaced.append(Unplaced(s + 1, reason, None if target is None else target + 1))
    rescued = copy.deepcopy(release)
    rescued.cells = cells
    out_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(rescued, str(out_path))
    return result


def _load(nb_path: Path, assignment: str | None, course: str | Path | None) -> CheckedNotebook:
    """The student's notebook prepared against its release (any number of cells: rescue repairs
    even a flood of them); a notebook without release metadata needs --assignment."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            student = read_notebook(nb_path, max_cells=None)
            meta = declared(student)
            assignment = assignment or _declared_assignment(nb_path, meta)
            checked = prepare_notebook(student, assignment, course, label=nb_path.name,
                                       path=str(nb_path), metadata_required=False)
    except (NotebookError, ConfigError, Unusable) as exc:
        raise RescueError(str(exc)) from None
    if meta.get("assignment") and str(meta["assignment"]) != assignment:
        raise RescueError(f"{nb_path}: this is a notebook of assignment {meta['assignment']}, "
                          f"not {assignment} — check the --assignment option.")
    return checked


def _declared_assignment(nb_path: Path, meta: dict) -> str:
    """The assignment the notebook's release metadata names (a plain name, e.g. A3)."""
    said = str(meta.get("assignment") or "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", said):
        raise RescueError(f"{nb_path}: this notebook does not say which assignment it belongs to "
                          "(its release metadata is missing): name it with --assignment, "
                          "e.g. --assignment A3.")
    return said


def _leftovers(
    student: NotebookNode, release: NotebookNode, matching: Matching, info: list
) -> list[tuple[int, str]]:
    """(student index, reason) of the work the graft could not place, in notebook order."""
    out: list[tuple[int, str]] = []
    for filled in info:
        s = filled.student
        if s is None:
            continue
        if filled.problem == "markers":
            out.append((s, "its TODO marker lines were damaged"))
        elif filled.problem == "type" and source_of(student.cells[s]).strip():
            out.append((s, "its cell type was changed"))
        elif filled.role == "todo" and filled.placed and _outside_changed(release, filled.release, student, s):
            out.append((s, "code outside its TODO block was changed"))
    for s in matching.added:
        out.append((s, "it is an added cell"))
    for s, original, _ in matching.duplicated:
        if source_of(student.cells[s]).strip() != source_of(student.cells[original]).strip():
            out.append((s, f"it is a copy of cell {original + 1}"))
    return sorted(out)


def _outside_changed(release: NotebookNode, r: int, student: NotebookNode, s: int) -> bool:
    r_src, s_src = source_of(release.cells[r]), source_of(student.cells[s])
    diff = code_difference(r_src, s_src, scan_blocks(r_src).blocks, scan_blocks(s_src).blocks)
    return diff is not None and not diff.comment_only


def _target(cells: list[NotebookNode], matching: Matching, s: int) -> int | None:
    """The rescued cell to hold a leftover: its own cell if it has TODO blocks, else the nearest
    TODO cell before it (or after it, if there is none before)."""
    r = matching.to_release.get(s)
    if r is not None and cell_role(cells[r]) == "todo":
        return r
    before = [matching.to_release[k] for k in sorted(matching.to_release) if k < s]
    anchor = max(before) if before else -1
    todo = [i for i, c in enumerate(cells) if cell_role(c) == "todo"]
    earlier = [i for i in todo if i <= anchor]
    return earlier[-1] if earlier else (todo[0] if todo else None)


def _comment_into(cell: NotebookNode, number: int, reason: str, text: str) -> None:
    """Put the text as a marked comment block at the top of the cell's first TODO body."""
    source = source_of(cell)
    block = scan_blocks(source).blocks[0]
    indent = block.indent
    lines = source.split("\n")
    banner = [
        f"{indent}# ---- RESCUED: your cell {number} could not be placed automatically ({reason}).",
        f"{indent}# ---- Move what you need into this TODO block, then delete this comment. ----",
        *[f"{indent}# {_defused(line)}".rstrip() for line in text.split("\n")],
        f"{indent}# ---- end of rescued cell {number} ----",
    ]
    lines[block.start + 1: block.start + 1] = banner
    cell["source"] = "\n".join(lines)


def _defused(line: str) -> str:
    """A copied marker line no longer reads as a marker (it would count as a damaged one)."""
    return MARKER_WORDS.sub(lambda m: f"{m.group(1).upper()} marker", line)


def format_rescue(result: RescueResult) -> str:
    """What the command prints: what was moved, what went into comment blocks, what to do next."""
    lines = [
        f"Rescued into {result.out_path} (release version {result.version}): "
        f"{result.blocks} TODO cell(s) and {result.answers} answer/free cell(s) taken over."
    ]
    for item in result.unplaced:
        where = f"a comment block in cell {item.into}" if item.into else "nowhere (no TODO cell)"
        lines.append(f"  your cell {item.cell}: {item.reason} — it is now {where}; move what you need.")
    lines.extend(f"  note: {note}" for note in result.notes)
    lines.append(f"Next: open {result.out_path.name}, Kernel → Restart & Run All, save, and run "
                 "`autograder check` on it.")
    return "\n".join(lines)


def cli_rescue(args: argparse.Namespace) -> int:
    """`autograder rescue NB [--assignment A] -o OUT`: 0 when the rescued notebook is written."""
    try:
        result = rescue(args.notebook, args.assignment, args.output, getattr(args, "course", None))
    except RescueError as exc:
        print(f"autograder rescue: {exc}")
        return 1
    except OSError as exc:  # e.g. -o in a folder that cannot be written
        print(f"autograder rescue: cannot write {args.output} ({exc.strerror or exc}); "
              "choose another output path with -o.")
        return 1
    print(format_rescue(result))
    return 0
