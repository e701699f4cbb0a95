"""Keeps nbgrader's own `generate_assignment` (and formgrader's Generate button) away from the
student release of this course: `autograder release` makes it.

nbgrader's generate_assignment would delete `assignments/<A>/` before writing it again (with the
kept versions in `.releases/` and the public `assignment.toml`), copy instructor files such as
`build_notebook.py` into the release, and leave `autograder release --check` stale. The course's
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


class GenerateRefused(Exporter):
    """An exporter that refuses to be created: nbgrader's generate_assignment stops with one
    error line pointing to `autograder release` before it deletes or writes anything."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from nbgrader.converters.base import NbGraderException

        parent = kwargs.get("parent")
        assignment = getattr(getattr(parent, "coursedir", None), "assignment_id", "") or "<A>"
        message = REFUSAL.format(a=assignment)
        log = getattr(parent, "log", None)
        if log is not None:  # nbgrader's app exits 1 on this exception without printing it
            log.error(message)
        raise NbGraderException(message)
