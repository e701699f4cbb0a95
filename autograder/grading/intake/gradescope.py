"""Gradescope's export: `submission_metadata.yml` beside one `submission_<id>/` folder per upload.

`gradescope_units` makes one unit per submitter of each folder, from the metadata
(`autograder.grading.intake.gradescope_metadata`: who and when); its `:created_at:` times are
read with dateutil (`parse_lms_time`). A folder the metadata does not name is kept, unidentified.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

from dateutil import parser as date_parser

from autograder.core.archive import is_litter
from autograder.grading.intake.exports import Unit, folder_submission, unknown_unit
from autograder.grading.intake.gradescope_metadata import (
    GRADESCOPE_METADATA,
    parse_gradescope_metadata,
    read_metadata,
)


def parse_lms_time(text: str | None) -> datetime | None:
    """An LMS time -> aware datetime, or None when the text is not one complete instant.

    Gradescope writes '2022-10-01 12:00:00.123456789 -0700' (fractions past microseconds are
    dropped); ISO 8601 works too. Parsed by dateutil; a date or time part left out (which
    dateutil would fill in from today), a zone name it does not know (PST) or an offset of a day
    or more gives None rather than a guess; no zone means UTC.
    """
    if not text or not isinstance(text, str):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", date_parser.UnknownTimezoneWarning)
            # Parsed against two defaults: a part the text leaves out differs between them.
            first = date_parser.parse(text, default=datetime(2000, 1, 1, 0, 0, 0))
            second = date_parser.parse(text, default=datetime(2001, 2, 2, 1, 1, 1))
    except (ValueError, OverflowError, date_parser.UnknownTimezoneWarning):
        return None  # dateutil's ParserError is a ValueError
    if first != second:
        return None
    if first.tzinfo is None:
        return first.replace(tzinfo=timezone.utc)
    try:  # dateutil keeps "+9999" as 99h99m; datetime refuses any offset of a day or more
        first.utcoffset()
    except ValueError:
        return None
    return first


def gradescope_units(meta_path: Path, from_archive: bool) -> list[Unit]:
    """One unit per submitter of each `submission_<id>/` folder next to the metadata file.

    A folder the metadata does not name is an unknown unit (graded as unidentified, listed for
    review); IntakeError when the metadata file cannot be read or is not Gradescope's.
    """
    meta = parse_gradescope_metadata(read_metadata(meta_path))
    base = meta_path.parent
    units: list[Unit] = []
    for folder in sorted(
        p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and not is_litter(p.name)
    ):
        info = meta.get(folder.name)
        path = folder_submission(folder)
        attempt = (
            int(folder.name.rsplit("_", 1)[-1]) if folder.name.rsplit("_", 1)[-1].isdigit() else 0
        )
        if info is None:
            unit = unknown_unit(folder.name, path, from_archive)
            unit.notes[0] = f"'{folder.name}' is not in {GRADESCOPE_METADATA}"
            units.append(unit)
            continue
        when = parse_lms_time(info.get("created_at"))
        submitters = info["submitters"] or [{}]
        for person in submitters:
            lms_id = person.get("sid") or person.get("email")
            unit = Unit(
                path=path,
                lms="gradescope",
                lms_id=lms_id,
                name=person.get("name"),
                attempt=attempt,
                submitted_at=when,
                time_source="lms-metadata" if when else "none",
                rel=folder.name,
            )
            if not person.get("sid"):
                unit.notes.append(
                    "Gradescope has no student id (sid) for this submitter"
                    + (f"; using the email {lms_id}" if lms_id else "")
                )
            units.append(unit)
    return units

