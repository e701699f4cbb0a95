"""Keeps nbgrader's own `generate_assignment` (and formgrader's Generate button) away from the
student release of this course: `autograder release` makes it. Likewise `nbgrader autograde`
(formgrader's Autograde button): `autograder grade` grades, with student code in the sandbox.

nbgrader's generate_assignment would delete `assignments/<A>/` before writing it again (with the
kept versions in `.releases/` and the public `assignment.toml`), copy instructor files beside
the source notebook into the release, and leave `autograder release --check` stale. The course's
nbgrader_config.py sets `c.GenerateAssignment.exporter_class` to `GenerateRefused`: nbgrader
creates its exporter before it touches any folder, so the refusal comes first and nothing is
changed. `autograder release` runs nbgrader in a throw-away course with its own configuration,
so it is not affected.
"""

from __future__ import annotations

from typing import Any

from nbconvert.exporters import Exporter

REFUSAL = (
    "This course's student release is made by `autograder release {a}` (or `make release`), "
    "not by nbgrader generate_assignment or formgrader's Generate button: it keeps every "
    "published version in assignments/<A>/.releases/ and never copies instructor files. "
    "Nothing was changed."
)
AUTOGRADE_REFUSAL = (
    "This course grades with `autograder grade {a} SUBMISSIONS --out OUT` (sandboxed), not with "
    "nbgrader autograde or formgrader's Autograde button, which would run the students' code "
    "outside the sandbox. Nothing was changed."
)


class _Refused(Exporter):
    """An exporter that refuses to be created: the nbgrader converter that would use it stops
    with one error line before it deletes or writes anything (MESSAGE says what to use)."""

    MESSAGE = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from nbgrader.converters.base import NbGraderException

        parent = kwargs.get("parent")
        assignment = getattr(getattr(parent, "coursedir", None), "assignment_id", "") or "<A>"
        message = self.MESSAGE.format(a=assignment)
        log = getattr(parent, "log", None)
        if log is not None:  # nbgrader's app exits 1 on this exception without printing it
            log.error(message)
        raise NbGraderException(message)


class GenerateRefused(_Refused):
    """For `c.GenerateAssignment.exporter_class`: points to `autograder release`."""

    MESSAGE = REFUSAL


class AutogradeRefused(_Refused):
    """For `c.Autograde.exporter_class`: points to `autograder grade` (student code would run
    unsandboxed in nbgrader's kernel)."""

    MESSAGE = AUTOGRADE_REFUSAL
