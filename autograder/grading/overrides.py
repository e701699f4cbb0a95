"""The TA's overrides and the score log, stored in the course directory; atomic writes (docs/grading.md).

The arithmetic that applies an override is the core's (`autograder.core.score`); this module is
grading's persistence around it: `<course>/grading/<A>/overrides.json` (apart from report.json
and the gradebook, so `grade --force` never touches it), `<course>/grading/<A>/score_log.jsonl`
(every change of a score with its cause) and `atomic_write_text`, which every report goes through.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autograder.core.score import DIGITS, OVERRIDE_KINDS, Override

# --- the override store: a small JSON file per assignment in the course directory -------------


def overrides_path(course: str | Path, assignment: str) -> Path:
    """`<course>/grading/<A>/overrides.json`: apart from report.json and the gradebook's
    automatic scores, so `grade --force` never touches it."""
    return Path(course) / "grading" / assignment / "overrides.json"


def load_overrides(course: str | Path, assignment: str) -> dict[str, list[Override]]:
    """All overrides of an assignment by student id; {} when there is no file yet.

    A hand-edited file with a mistake raises ValueError naming the file, so a TA's decision is
    never silently dropped.
    """
    path = overrides_path(course, assignment)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = [Override(**item) for item in data.get("overrides", [])]
    except (json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a valid overrides file ({exc})") from None
    out: dict[str, list[Override]] = {}
    for item in items:
        if item.kind not in OVERRIDE_KINDS:
            raise ValueError(f"{path}: override kind {item.kind!r} is not one of {OVERRIDE_KINDS}")
        out.setdefault(item.student_id, []).append(item)
    return out


def add_override(
    course: str | Path,
    assignment: str,
    student_id: str,
    kind: str,
    target: str = "",
    value: float | None = None,
    reason: str = "",
    by: str = "",
) -> Override:
    """Record a TA override (the next `grade` run applies it and logs the change).

    An override of the same student, kind and target replaces the earlier one.
    """
    if kind not in OVERRIDE_KINDS:
        raise ValueError(f"override kind must be one of {OVERRIDE_KINDS}, not {kind!r}")
    if not reason.strip():
        raise ValueError("an override needs a reason (it is shown in the score log)")
    if kind in ("group", "score") and value is None:
        raise ValueError(f"an override of kind {kind!r} needs a value")
    new = Override(
        student_id=student_id,
        kind=kind,
        target=target,
        value=None if value is None else float(value),
        reason=reason,
        by=by,
        at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    current = load_overrides(course, assignment)
    items = [
        o for lst in current.values() for o in lst
        if (o.student_id, o.kind, o.target) != (student_id, kind, target)
    ]
    items.append(new)
    path = overrides_path(course, assignment)
    atomic_write_text(path, json.dumps({"overrides": [asdict(o) for o in items]}, indent=2) + "\n")
    return new


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so a reader (or a rerun after a kill) sees the old or the new, never half.

    Temp file in the same folder (same filesystem), fsync, then rename over the target. The
    file is owner-only (0600, mkstemp's mode) in an owner-only folder (0700): reports hold
    student data, and at the uid sandbox level student code runs as another uid on this host.
    """
    from autograder.grading.owner_only import private_dir

    path = Path(path)
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- the score log: every change of a student's score, with its cause --------------------------


def score_log_path(course: str | Path, assignment: str) -> Path:
    """`<course>/grading/<A>/score_log.jsonl`: one JSON object per line, appended by the parent."""
    return Path(course) / "grading" / assignment / "score_log.jsonl"


def log_score_change(
    course: str | Path,
    assignment: str,
    student_id: str,
    old: float | None,
    new: float | None,
    cause: str,
) -> dict[str, Any] | None:
    """Append one line when a score changes (first grade included: old is None); else nothing.

    The cause says why: "first grade", "regrade (--force)", "submission changed",
    "override: …", "grader error: …". Returns the entry written, or None when nothing changed.
    """
    if old is not None and new is not None and round(float(old), DIGITS) == round(float(new), DIGITS):
        return None
    if old is None and new is None:
        return None
    entry = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "student_id": student_id,
        "assignment": assignment,
        "old": old,
        "new": new,
        "cause": cause,
    }
    path = score_log_path(course, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:  # one short line per write: append is enough
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def read_score_log(course: str | Path, assignment: str) -> list[dict[str, Any]]:
    """The score log's entries, oldest first ([] when there is none)."""
    path = score_log_path(course, assignment)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: skip it, keep the rest
                continue
    return out
