"""Gradescope's export: `submission_metadata.yml` beside one `submission_<id>/` folder per upload.

The metadata is YAML written by Gradescope (Ruby): for each `submission_<id>` its `:created_at:`
time and its `:submitters:` (`:sid:`, `:name:`, `:email:`), then results the intake never reads.
It is parsed by PyYAML (libyaml when present) into nodes, and only those three levels are read:

* ids and times keep the exact text Gradescope wrote: YAML 1.1's implicit types would turn an
  unquoted `:sid: 0123` into the number 83 and a time into a datetime of its own making;
* nothing is ever constructed from a tag (`!ruby/...`, `!!python/object`, ...): a tag is data;
* the results section, however large, odd or aliased, costs its parse and nothing more.

What can stop the export, each with one clear message and never a traceback: a file over
`MAX_METADATA_BYTES`, text that is not YAML (or nests deeper than the parser allows), a top level
that is not a table of submissions, a key written twice where it decides whose submission a
folder is, and anchors/aliases that expand the submitters read past `MAX_SUBMITTERS_READ`.
Times are read with dateutil (`parse_lms_time`).
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from dateutil import parser as date_parser

from autograder.core.archive import IntakeError, MiB, is_litter
from autograder.grading.intake.exports import Unit, folder_submission, unknown_unit

GRADESCOPE_METADATA = "submission_metadata.yml"
GRADESCOPE_FOLDER = re.compile(r"submission_\d+")
# Gradescope's file holds every upload of the assignment with its results: a few KiB each, so a
# class of thousands stays well under this. Read no further than the limit (a hostile file may
# be any size); libyaml parses tens of MiB per second.
MAX_METADATA_BYTES = 64 * MiB
# Submitters read over all submissions, counting each time an alias repeats a list: a real
# export has one to a few per upload; a billion-laughs file would reach millions.
MAX_SUBMITTERS_READ = 200_000
SUBMITTER_KEYS = ("sid", "name", "email")
# libyaml refuses nesting deeper than 1000 levels; the pure-Python parser (when libyaml is not
# installed) raises RecursionError instead, which is caught the same way.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def read_metadata(path: Path) -> str:
    """The metadata file's text, read no further than MAX_METADATA_BYTES (IntakeError beyond)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise IntakeError("not-found", f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_METADATA_BYTES:
        raise IntakeError(
            "too-large",
            f"{GRADESCOPE_METADATA} is larger than {MAX_METADATA_BYTES // MiB} MiB: this is not "
            "the metadata of a Gradescope export; download the export from Gradescope again",
        )
    return data.decode("utf-8", errors="replace")


def parse_gradescope_metadata(text: str) -> dict[str, dict[str, Any]]:
    """The parts of Gradescope's submission_metadata.yml the intake needs.

    Returns {folder: {"created_at": str | None, "submitters": [{"sid", "name", "email"}]}}, every
    value the text as written (a submitter holds only the keys it has). Keys may carry Ruby's
    leading colon (`:sid:`) or not. A submission or submitter that is not a table, or a value
    that is not text, counts as absent. Raises IntakeError("corrupt") for what cannot be read as
    Gradescope's metadata (see the module docstring).
    """
    root = _compose(text)
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise _damaged("its top level is not a table of submissions")
    left = MAX_SUBMITTERS_READ
    read: dict[int, list[dict[str, str]]] = {}  # a list aliased again is read once
    out: dict[str, dict[str, Any]] = {}
    for key, value in _pairs(root, "submission"):
        entry: dict[str, Any] = {"created_at": None, "submitters": []}
        out[key] = entry
        if not isinstance(value, yaml.MappingNode):
            continue
        for field_name, node in _pairs(value, f"{key}'s field"):
            if field_name == "created_at":
                entry["created_at"] = _text(node) or None
            elif field_name == "submitters" and isinstance(node, yaml.SequenceNode):
                left -= len(node.value)  # each alias counts: it becomes that many entries
                if left < 0:
                    raise _damaged(
                        f"its submitters add up to more than {MAX_SUBMITTERS_READ} (YAML aliases?)"
                    )
                if id(node) not in read:
                    read[id(node)] = [_submitter(p, key) for p in node.value]
                entry["submitters"] = [dict(p) for p in read[id(node)]]
    return out


def _compose(text: str) -> yaml.Node | None:
    """The YAML node graph of one document (aliases share nodes: nothing is expanded)."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it is not valid YAML"
        raise _damaged(f"{problem}{where}") from None
    except RecursionError:
        raise _damaged("it nests deeper than any metadata does") from None


def _damaged(why: str) -> IntakeError:
    return IntakeError(
        "corrupt",
        f"{GRADESCOPE_METADATA} cannot be read: {why}. Download the export from Gradescope again "
        "(or grade the submission folders with --lms plain).",
    )


def _pairs(node: yaml.MappingNode, what: str) -> list[tuple[str, yaml.Node]]:
    """(key without Ruby's leading colon, value node) of a mapping whose keys are text.

    A key written twice would leave whose submission a folder is to the parser's whim: refused.
    """
    seen: dict[str, int] = {}
    pairs: list[tuple[str, yaml.Node]] = []
    for key_node, value in node.value:
        key = _text(key_node)
        if key is None:
            continue
        key = key[1:] if key.startswith(":") else key
        line = key_node.start_mark.line + 1
        if key in seen:
            raise _damaged(f"{what} {key!r} is written twice (lines {seen[key]} and {line})")
        seen[key] = line
        pairs.append((key, value))
    return pairs


def _submitter(node: yaml.Node, submission: str) -> dict[str, str]:
    """One submitter's sid, name and email (only those that are text)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    person: dict[str, str] = {}
    for key, value in _pairs(node, f"a submitter of {submission} has the field"):
        text = _text(value)
        if key in SUBMITTER_KEYS and text:
            person[key] = text
    return person


def _text(node: yaml.Node) -> str | None:
    """A scalar's text as written (None for a null, a list or a table)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    # only unquoted ('~' in quotes is text); libyaml marks plain style "", PyYAML None
    if not node.style and node.value in _NULLS:
        return None
    return node.value


def parse_lms_time(text: str | None) -> datetime | None:
    """An LMS time -> aware datetime, or None when it is not one complete, unambiguous time.

    Gradescope writes '2022-10-01 12:00:00.123456789 -0700'; ISO 8601 works too. Parsed by
    dateutil; a date or time part left out (which dateutil would fill from today) or a zone
    name it does not know (PST) gives None rather than a guess; no zone means UTC.
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

