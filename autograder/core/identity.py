"""Who a submission belongs to, and the only way a student id becomes a path.

A student id is data from an LMS export, a roster or a file name. It becomes a file name in OUT
(`OUT/<id>/report.json`), in the course (`autograded/<id>/<A>/`) and a key in nbgrader's gradebook,
so it is checked here once, against one documented pattern, before anything uses it:

* `STUDENT_ID_PATTERN`: a letter or digit, then up to 63 letters, digits, `.`, `_` or `-`. No
  slash, no `..` at the start, no space, no NUL, no markup, no formula sign (`=`, `+`, `-`, `@`
  cannot start it).
* not a name the grader writes itself (`grades.csv`, `summary.html`, ...) nor a name Windows
  reserves (`CON`, `NUL`, ...), compared without case, since course folders are copied to
  case-insensitive file systems.

A submission whose id fails the check is still graded, as `failed`, under `unidentified_id()`: a
safe name derived from its file, listed for review. It is never dropped and never stops the batch.

Whose submission it is comes from the LMS (through the roster), else from the plain file-name
pattern (`A3_<id>.zip`); a manifest's id is only ever compared with that (student-id-mismatch).
That order lives in `autograder.grading.intake.roster.identify`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

STUDENT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STUDENT_ID_RULE = ("a letter or digit, then up to 63 letters, digits, '.', '_' or '-' "
                   "(no spaces, slashes or other characters)")

# Names the grader writes into OUT or the course folder itself, and the folders it keeps there:
# an id equal to one of them would turn a report folder into a clash with the grader's own file.
RESERVED_NAMES = frozenset({
    "grades.csv", "summary.html", "report.json", "feedback.html", "grader.log", "gradebook.db",
    "autograded", "submitted", "feedback", "release", "source", "solutions", "assignments",
    "overrides.json", "score-log.jsonl", "nbgrader_config.py", "build",
})
# Device names Windows refuses as file names, with or without an extension.
_WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)}
                             | {f"lpt{i}" for i in range(1, 10)})

UNIDENTIFIED_PREFIX = "unidentified"


def id_problem(student_id: object, unidentified_ok: bool = False) -> str:
    """Why `student_id` cannot be used as a student id, or "" when it can.

    A name of the grader's own `unidentified_…` form is no one's id (`unidentified_ok` only
    for the grader's paths, where those names are the safe names it gave)."""
    if not isinstance(student_id, str) or not student_id:
        return "it is empty"
    if not STUDENT_ID_PATTERN.fullmatch(student_id):
        return f"it must be {STUDENT_ID_RULE}"
    folded = student_id.casefold()
    if folded in RESERVED_NAMES:
        return "it is the name of a file the grader writes itself"
    if folded.startswith(UNIDENTIFIED_PREFIX + "_") and not unidentified_ok:
        return "it is how the grader names a submission whose owner is unknown"
    if folded.split(".", 1)[0] in _WINDOWS_DEVICES:
        return "it is a device name that Windows refuses as a file name"
    return ""


def is_valid_id(student_id: object) -> bool:
    """True when `student_id` can name a report folder and a gradebook student."""
    return not id_problem(student_id)


def unidentified_id(file_name: str) -> str:
    """A safe, stable id for a submission whose owner is unknown, derived from its file name.

    `unidentified_<readable part>_<8 hex of the full name>`: two different files never share
    one, the same file always gets the same (so a rerun reuses its report), and it cannot
    collide with a real id that a student chose, since the hash is of the whole name.
    """
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file_name).stem).strip("._-")[:32] or "file"
    digest = hashlib.sha256(file_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{UNIDENTIFIED_PREFIX}_{readable}_{digest}"


def printable(text: object, keep: str = "") -> str:
    """text with every character that is not printable (C0/C1 controls such as ESC, BEL and
    CSI, DEL, bidi overrides and isolates, line separators...) written as a visible `\\xNN`
    escape, except those in keep (e.g. "\\n\\t" for a multi-line log): safe to show on a
    terminal or in a file someone will `cat`."""
    return "".join(ch if ch.isprintable() or ch in keep else f"\\x{ord(ch):02x}" for ch in str(text))


def shown_id(text: object, limit: int = 80) -> str:
    """A hostile id as one printable line, for messages (never for paths)."""
    s = printable(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


class UnsafeIdError(ValueError):
    """An id that is not a valid student id reached code that builds a path from it."""


def student_path(root: str | Path, student_id: str, *parts: str) -> Path:
    """`root/<student_id>/<parts…>`, only for a valid id and only inside `root`.

    Every path the grader builds from a student id goes through here: a bug that lets an
    unchecked id through stops with UnsafeIdError instead of writing outside `root`.
    """
    problem = id_problem(student_id, unidentified_ok=True)
    if problem:
        raise UnsafeIdError(f"student id {shown_id(student_id)!r} cannot name a folder: {problem}")
    base = Path(root).resolve()
    target = base.joinpath(student_id, *parts).resolve()
    if target != base and base not in target.parents:
        raise UnsafeIdError(f"{shown_id(student_id)!r} leads outside {base.name}/")
    return target
