"""The file names of an LMS export: Canvas, Moodle and plain `A3_<id>.zip` folders.

Each export names a student's files its own way (`LMS_PATTERNS`); `export_format` picks the one
format the whole export is in, `plain_units` turns its files into `Unit`s (a found submission:
its path, LMS id, name, time, late flag), gathering the files a student uploaded one by one into
one folder. Who each unit belongs to is settled afterwards (`autograder.grading.intake.roster`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from autograder.core.archive import IntakeError, is_litter, walk_files

# Regexes on the path relative to the export root. Named groups: lms_id (required), name, late,
# attempt (a number that grows with each upload, a tie-breaker between equal times), file.
LMS_PATTERNS: dict[str, str] = {
    # Canvas "Download submissions": <sortablename>[_LATE]_<user id>_<attachment id>_<file name>
    "canvas": r"(?:^|/)(?P<name>[^/_]+)_(?P<late>LATE_)?(?P<lms_id>\d+)_(?P<attempt>\d+)_(?P<file>[^/]+)$",
    # Moodle "Download all submissions": <Full Name>_<participant id>_assignsubmission_file_[/]<file>
    # (names hold no "_" in either LMS's export, which keeps the two patterns disjoint: a file a
    # student named like the other LMS's pattern cannot match at the start of a path component)
    "moodle": r"(?:^|/)(?P<name>[^/_]+)_(?P<lms_id>\d+)_assignsubmission_file_/?(?P<file>.+)$",
    # `autograder submit` names: <A>_<student id>.zip, browsers may add " (1)"
    "plain": r"(?:^|/)(?P<assignment>[A-Za-z]+\d+)_(?P<lms_id>[A-Za-z0-9_-][A-Za-z0-9._-]*?)(?: \((?P<attempt>\d+)\))?\.zip$",
}
AUTO_ORDER = ("moodle", "canvas", "plain")
MOODLE_OTHER = re.compile(r"_\d+_assignsubmission_(?!file_)[a-z]+_(?:/|$)")
LMS_CHOICES = ("auto", "canvas", "moodle", "gradescope", "plain")
# Gradescope's export: its metadata file beside one folder per upload. Named here, with the
# other exports' names, so that telling an export's kind imports neither YAML nor dateutil
# (autograder.grading.intake.gradescope reads it).
GRADESCOPE_METADATA = "submission_metadata.yml"
GRADESCOPE_FOLDER = re.compile(r"submission_\d+")

@dataclass
class Unit:
    """A submission found in the export, before identity and attempts are settled."""

    path: Path
    lms: str
    lms_id: str | None
    name: str | None = None
    late: bool | None = None
    attempt: int = 0
    submitted_at: datetime | None = None
    time_source: str = "none"
    notes: list[str] = field(default_factory=list)
    rel: str = ""  # where the export holds it: what an unidentified submission is named after



class WorkDir:
    """The folder for an extracted export and gathered loose files, created on first use."""

    def __init__(self, path: str | Path | None) -> None:
        self._path = Path(path) if path is not None else None

    @property
    def path(self) -> Path:
        """The folder (mode 0700), made now if it does not exist yet."""
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="autograder-intake-"))
        self._path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._path


def lms_patterns(lms: str, pattern: str | None) -> list[tuple[str, re.Pattern[str]]]:
    """(lms name, regex) candidates for the export's format (`export_format` picks one)."""
    if pattern:
        try:
            custom = re.compile(pattern)
        except re.error as exc:
            raise IntakeError(
                "not-found", f"--pattern {pattern!r} is not a valid regex: {exc}"
            ) from None
        if "lms_id" not in custom.groupindex:
            raise IntakeError(
                "not-found", f"--pattern {pattern!r} needs a named group (?P<lms_id>...)"
            )
        # the instructor's pattern is the export's format: nothing else is tried
        return [(lms if lms in ("canvas", "moodle") else "custom", custom)]
    names = AUTO_ORDER if lms in ("auto", "gradescope") else (lms,)
    return [(name, re.compile(LMS_PATTERNS[name])) for name in names]


def export_format(
    files: list[tuple[str, Path]], assignment: str, regexes: list[tuple[str, re.Pattern[str]]]
) -> list[tuple[str, re.Pattern[str]]]:
    """The one format this export is in, decided from all its files at once.

    Each candidate scores the number of files it names, then how near the top of the export its
    matches start (an LMS names the top-level entries; a student names only what is inside).
    A file a student called `h_111_assignsubmission_file_A3.zip` in a Canvas export is then still
    read the Canvas way, so it can never be taken for LMS user 111's submission.
    """
    if len(regexes) <= 1:
        return regexes
    best: tuple[tuple[int, int, int], int] | None = None
    for order, candidate in enumerate(regexes):
        count = depth = 0
        for rel, _ in files:
            hit = first_match(rel, assignment, [candidate])
            if hit is not None:
                count += 1
                depth += rel[: hit[1].start()].count("/") + (hit[1].group(0).startswith("/"))
        score = (count, -depth, -order)
        if best is None or score > best[0]:
            best = (score, order)
    assert best is not None
    return [regexes[best[1]]]


def file_time(path: Path, from_archive: bool) -> tuple[datetime | None, str]:
    """The time an LMS export gives a file: the export's member date (kept as mtime) or mtime."""
    try:
        if path.is_dir():
            stamps = [p.stat().st_mtime for _, p in walk_files(path)] or [path.stat().st_mtime]
            ts = max(stamps)
        else:
            ts = path.stat().st_mtime
        return datetime.fromtimestamp(ts, tz=timezone.utc), (
            "export-member-date" if from_archive else "file-mtime"
        )
    except (OSError, OverflowError, ValueError):
        return None, "none"


def plain_units(
    files: list[tuple[str, Path]],
    assignment: str,
    regexes: list[tuple[str, re.Pattern[str]]],
    from_archive: bool,
    work: WorkDir,
) -> list[Unit]:
    """Canvas, Moodle and plain names: each zip is one attempt; loose files are gathered."""
    units: list[Unit] = []
    loose: dict[tuple[str, str], list[tuple[re.Match[str], str, Path]]] = {}
    # Moodle's online-text and comment plugins are not file submissions
    files = [(rel, path) for rel, path in files if not MOODLE_OTHER.search(rel)]
    regexes = export_format(files, assignment, regexes)
    for rel, path in files:
        hit = first_match(rel, assignment, regexes)
        if hit is None:
            if path.suffix.lower() in (".zip", ".ipynb"):  # could be a student's: never dropped
                units.append(unknown_unit(rel, path, from_archive))
            continue  # anything else (a roster, a README) is not a submission
        lms_name, m = hit
        if path.suffix.lower() == ".zip":
            units.append(unit_from_match(lms_name, m, path, from_archive, rel))
        else:
            loose.setdefault((lms_name, m.group("lms_id")), []).append((m, rel, path))
    zipped = {(u.lms, u.lms_id) for u in units}
    for (lms_name, lms_id), group in sorted(loose.items()):
        if (lms_name, lms_id) in zipped:
            for u in units:  # a zip was uploaded too: it is the submission, the rest is noise
                if (u.lms, u.lms_id) == (lms_name, lms_id):
                    u.notes.append(
                        "also uploaded loose files (ignored): "
                        + ", ".join(r for _, r, _ in group[:5])
                    )
            continue
        units.append(_gather_loose(lms_name, lms_id, group, work.path, from_archive))
    return units


def first_match(
    rel: str, assignment: str, regexes: list[tuple[str, re.Pattern[str]]]
) -> tuple[str, re.Match[str]] | None:
    """(lms name, match) of the first regex naming `rel`, skipping another assignment's zips."""
    for lms_name, regex in regexes:
        m = regex.search(rel)
        if m is None:
            continue
        named = m.groupdict().get("assignment")
        if named is not None and named.casefold() != assignment.casefold():
            continue  # another assignment's zip (A4_x.zip in an A3 batch): not a match
        return lms_name, m
    return None


def _group(m: re.Match[str], name: str) -> str | None:
    return m.groupdict().get(name)


def unit_from_match(
    lms_name: str, m: re.Match[str], path: Path, from_archive: bool, rel: str = ""
) -> Unit:
    """The unit a pattern's match names: LMS id, name, late flag, upload counter, file time."""
    when, source = file_time(path, from_archive)
    attempt = _group(m, "attempt")
    late = bool(_group(m, "late")) if "late" in m.re.groupindex else None  # only Canvas says
    return Unit(
        path=path,
        lms=lms_name,
        lms_id=m.group("lms_id"),
        name=_group(m, "name"),
        late=late,
        attempt=int(attempt) if attempt and attempt.isdigit() else 0,
        submitted_at=when,
        time_source=source,
        rel=rel or path.name,
    )


def unknown_unit(rel: str, path: Path, from_archive: bool) -> Unit:
    """A zip or notebook no pattern names: kept (never dropped), its owner left to settle."""
    when, source = file_time(path, from_archive)
    return Unit(
        path=path,
        lms="unknown",
        lms_id=None,
        submitted_at=when,
        time_source=source,
        rel=rel,
        notes=[f"'{rel}' matches no file-name pattern of this export"],
    )


def _gather_loose(
    lms_name: str,
    lms_id: str,
    group: list[tuple[re.Match[str], str, Path]],
    work: Path,
    from_archive: bool,
) -> Unit:
    """Files a student uploaded one by one (no zip) become one folder named for them."""
    # A custom pattern's lms_id may hold any character: keep the folder name one safe component.
    folder = work / "loose" / re.sub(r"[^A-Za-z0-9._-]", "_", f"{lms_name}_{lms_id}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    latest: dict[str, tuple[int, Path]] = {}
    for m, rel, path in group:
        name = PurePosixPath(_group(m, "file") or rel).name
        if name in ("", ".", ".."):
            continue
        attempt = int(_group(m, "attempt") or 0) if (_group(m, "attempt") or "").isdigit() else 0
        if name not in latest or attempt >= latest[name][0]:
            latest[name] = (attempt, path)
    for name, (_, path) in latest.items():
        shutil.copyfile(path, folder / name, follow_symlinks=False)
        os.utime(folder / name, (path.stat().st_mtime,) * 2)
    first = group[0][0]
    unit = unit_from_match(lms_name, first, folder, from_archive)
    unit.attempt = max((a for a, _ in latest.values()), default=0)
    unit.late = None if unit.late is None else any(bool(_group(m, "late")) for m, _, _ in group)
    unit.notes.append("uploaded loose files instead of the zip: " + ", ".join(sorted(latest)))
    return unit


def folder_submission(folder: Path) -> Path:
    """A Gradescope/Moodle folder holding exactly one zip (and litter) is that zip; else the folder."""
    files = [(rel, p) for rel, p in walk_files(folder) if not is_litter(rel)]
    zips = [p for rel, p in files if rel.lower().endswith(".zip")]
    return zips[0] if len(zips) == 1 and len(files) == 1 else folder

