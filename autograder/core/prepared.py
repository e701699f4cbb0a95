"""One preparation of a student notebook, shared by the self-check, rescue and the grade worker.

`prepare_notebook` reads what the notebook declares (assignment, release version), loads the
assignment's config, resolves the release it is checked against (`autograder.core.releases`) and
returns a `CheckedNotebook`. Its cell matching, graft and graded module are computed once, on
first use, and kept on the object: the policy rules analyse `checked.graded` and the grader runs
`checked.graded.source`, the very same object, so what was checked and what runs cannot drift
apart. `run_checks` runs every policy rule on it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbformat import NotebookNode

from autograder.core.config import AssignmentConfig, ConfigError, find_config
from autograder.core.notebook import MAX_CELLS, NotebookError, parse_notebook, read_notebook
from autograder.core.releases import Unusable, declared, find_release, pick_notebook

if TYPE_CHECKING:
    from autograder.core.graft import GradedModule, Graft
    from autograder.core.matching import Matching
    from autograder.core.rules.base import Violation


@dataclass(frozen=True)
class CheckedNotebook:
    """A student notebook with everything checking and grading it needs, computed once.

    student: the parsed student notebook; release: the release notebook it is checked and
    grafted against (shared, never modified); config: the assignment's config; label: the file
    name shown in messages; path: where it came from, as shown in results; notebook: which of
    `config.notebooks` it is; version: the release version used; notes: remarks on how the
    release was chosen (a fallback to the current release), for the student and the reviewer.
    `matching`, `graft` and `graded` are computed on first use and then always the same object.
    """

    student: NotebookNode
    release: NotebookNode
    config: AssignmentConfig
    label: str
    path: str
    notebook: str
    version: str
    notes: tuple[str, ...] = ()

    @property
    def assignment(self) -> str:
        """The assignment's name (A3)."""
        return self.config.name

    @cached_property
    def matching(self) -> Matching:
        """Student cells matched to release cells."""
        from autograder.core.matching import match_cells

        return match_cells(self.student.cells, self.release.cells)

    @cached_property
    def graft(self) -> Graft:
        """The student's TODO bodies, free cells and answers grafted into copies of the release."""
        from autograder.core.graft import graft

        return graft(self.student, self.release, self.matching)

    @cached_property
    def graded(self) -> GradedModule:
        """The graded module (source and line map): what the rules analyse and the grader runs."""
        from autograder.core.graft import graded_module

        return graded_module(self.graft)


def load_notebook(
    source: str | Path | dict[str, Any], max_cells: int | None = MAX_CELLS
) -> tuple[NotebookNode, str, str]:
    """(notebook, file name for messages, path shown in results) of an .ipynb path or a notebook
    given in memory (checked like one read from a file); raises Unusable with a clear message."""
    if isinstance(source, dict):
        try:
            nb = parse_notebook(json.dumps(source), "notebook", max_cells)
        except (NotebookError, TypeError, ValueError) as exc:
            raise Unusable(str(exc)) from None
        return nb, "notebook.ipynb", "<notebook>"
    path = Path(source)
    if not path.exists():
        raise Unusable(f"{path}: not found — check the path.")
    if path.is_dir():
        raise Unusable(f"{path}: is a folder — give the .ipynb (or the submission .zip) itself.")
    try:
        with warnings.catch_warnings():  # nbformat's schema warnings: the rules say it better
            warnings.simplefilter("ignore")
            return read_notebook(path, max_cells), path.name, str(path)
    except NotebookError as exc:
        raise Unusable(str(exc)) from None


def declared_assignment(nb: NotebookNode, label: str, assignment: str | None) -> tuple[str, str]:
    """(assignment, declared version) from the notebook's release metadata and --assignment;
    raises Unusable when the notebook has no release metadata or is of another assignment."""
    meta = declared(nb)
    said = meta.get("assignment")
    if not said:
        who = f" for {assignment}" if assignment else ""
        raise Unusable(
            f"{label}: this notebook has no release metadata (metadata.autograder): it was not "
            f"made from the release, or a front end dropped it — start from the released notebook"
            f"{who}, or move your work into it with `autograder rescue`."
        )
    if assignment and str(said) != assignment:
        raise Unusable(
            f"{label}: this is a notebook of assignment {said}, not {assignment} — check the file "
            f"or the --assignment option."
        )
    return str(said), str(meta.get("version", ""))


def config_or_unusable(assignment: str, course: str | Path | None) -> AssignmentConfig:
    """The assignment's config; a missing or broken one raises Unusable with its message."""
    try:
        return find_config(assignment, course)
    except ConfigError as exc:
        raise Unusable(str(exc)) from None


def prepare_notebook(
    student: NotebookNode | str | Path | dict[str, Any],
    assignment: str | None = None,
    course: str | Path | None = None,
    *,
    label: str | None = None,
    path: str | None = None,
    metadata_required: bool = True,
) -> CheckedNotebook:
    """Prepare one student notebook for checking, rescue or grading; raises Unusable.

    student: a parsed notebook (NotebookNode: used as it is, `label`/`path` name it), or an
    .ipynb path or notebook dict (read with `load_notebook`). assignment: the expected assignment
    (None: the one the notebook declares). metadata_required=False (rescue): a notebook whose
    release metadata was lost is prepared against the current release of `assignment`.
    """
    if isinstance(student, NotebookNode):
        nb, shown_label, shown_path = student, label or "notebook.ipynb", path or "<notebook>"
    else:
        nb, shown_label, shown_path = load_notebook(student)
        shown_label, shown_path = label or shown_label, path or shown_path
    if metadata_required or not assignment:
        name, version = declared_assignment(nb, shown_label, assignment)
    else:
        name, version = assignment, str(declared(nb).get("version", ""))
    config = config_or_unusable(name, course)
    notebook = pick_notebook(config, shown_label, nb, course)
    release, used, notes = find_release(name, notebook, version, course)
    return CheckedNotebook(nb, release, config, shown_label, shown_path, notebook, used, tuple(notes))


@dataclass(frozen=True)
class RuleRun:
    """What the policy rules found on a prepared notebook.

    violations: each priced as the grader charges it (before the caps); notes: how the release
    was chosen, then each rule that could not check; crashes: one traceback text per rule that
    raised (prefixed with its rule id): a grader must not score such a notebook as sound.
    """

    violations: list[Violation]
    notes: list[str]
    crashes: list[str]


def run_checks(checked: CheckedNotebook) -> RuleRun:
    """Every policy rule on a prepared notebook. The rules read `checked.graded`, the very
    module object the grader runs (`checked.graded.source`)."""
    from autograder.core.rules import CheckContext, run_rules
    from autograder.core.score import charged_findings

    ctx = CheckContext.of(checked)
    violations = run_rules(ctx)
    # What each finding costs, as the grader will charge it (before the caps): one mistake once.
    charges = charged_findings([v.to_dict() for v in violations], checked.config)
    for violation, charge in zip(violations, charges, strict=True):
        violation.severity, violation.deduction = charge.severity, charge.points
    return RuleRun(violations, [*checked.notes, *ctx.notes], list(ctx.crashes))
