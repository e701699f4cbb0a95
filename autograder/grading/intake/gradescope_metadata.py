"""Reading Gradescope's `submission_metadata.yml`: who made each upload, and when.

The file is YAML written by Gradescope (Ruby): for each `submission_<id>` its `:created_at:`
time and its `:submitters:` (`:sid:`, `:name:`, `:email:`), then results the intake never reads.
PyYAML (libyaml when present) parses it; the intake reads its event stream and builds only those
three levels, skipping everything else as it streams past:

* ids and times keep the exact text Gradescope wrote: YAML 1.1's implicit types would turn an
  unquoted `:sid: 0123` into the number 83 and a time into a datetime of its own making;
* nothing is ever constructed from a tag (`!ruby/...`, `!!python/object`, ...): a tagged value
  counts as absent;
* the results, however large, odd or aliased, cost their parse and nothing more: no node tree
  is built for them, which also makes a large file read many times faster than
  `yaml.safe_load` would.

What stops the export, each with one clear message and never a traceback: a file over
`MAX_METADATA_BYTES`, text that is not YAML, more than one document, nesting deeper than
`MAX_DEPTH`, a top level that is not a table of submissions, a key written twice at a level the
intake reads, and aliases that make the submitters read add up to more than
`MAX_SUBMITTERS_READ` (a "billion laughs" aimed at the intake).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from autograder.core.archive import IntakeError, MiB
from autograder.grading.intake.exports import GRADESCOPE_METADATA

# Gradescope's file holds every upload of the assignment with its results, a few KiB each, so a
# class of thousands stays well under this. Read no further (a hostile file may be any size).
MAX_METADATA_BYTES = 64 * MiB
# Submitters read over all submissions, counting each time an alias repeats a list: a real
# export has one to a few per upload; aliases multiplying them would reach millions.
MAX_SUBMITTERS_READ = 200_000
# Nesting of the skipped parts (libyaml stops at 1000 itself; the pure-Python parser does not).
MAX_DEPTH = 1000
SUBMITTER_KEYS = ("sid", "name", "email")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TEXT_TAGS = frozenset({None, "!", "tag:yaml.org,2002:str"})  # untagged, or tagged as text
_STARTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_ENDS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def read_metadata(path: Path) -> str:
    """The metadata file's text, read no further than MAX_METADATA_BYTES (IntakeError beyond).

    Bytes that are not UTF-8 become U+FFFD: a stray byte in a name must not stop the export.
    """
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
    try:
        return _Reader(text).metadata()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it is not valid YAML"
        raise _damaged(f"{problem}{where}") from None


def _damaged(why: str) -> IntakeError:
    return IntakeError(
        "corrupt",
        f"{GRADESCOPE_METADATA} cannot be read: {why}. Download the export from Gradescope again "
        "(or grade the submission folders with --lms plain).",
    )


class _Reader:
    """One pass over the YAML events, building only the levels the intake reads.

    Every reading method receives the first event of a node and consumes the whole node, so the
    stream always stands at the next sibling.
    """

    def __init__(self, text: str) -> None:
        # bytes: libyaml decodes them itself, faster than from str
        self._events: Iterator[yaml.Event] = yaml.parse(text.encode("utf-8"), Loader=_LOADER)
        # anchor -> (what the node was read as, its value): an alias is used only as the same
        # kind of thing (a submitter's table aliased where a submission goes counts as absent)
        self._anchors: dict[str, tuple[str, Any]] = {}
        self._left = MAX_SUBMITTERS_READ

    def metadata(self) -> dict[str, dict[str, Any]]:
        """The whole stream: one document whose top level is a table of submissions."""
        self._next()  # StreamStartEvent
        event = self._next()
        if isinstance(event, yaml.StreamEndEvent):
            return {}  # an empty file names no submission
        root = self._next()
        if isinstance(root, yaml.MappingStartEvent):
            out = self._submissions()
        elif isinstance(root, yaml.ScalarEvent) and self._null(root):
            out = {}  # "---" alone, or "~"
        else:
            raise _damaged("its top level is not a table of submissions")
        self._next()  # DocumentEndEvent
        if not isinstance(self._next(), yaml.StreamEndEvent):
            raise _damaged("it holds more than one YAML document")
        return out

    def _next(self) -> yaml.Event:
        try:
            return next(self._events)
        except StopIteration:  # the parser ends every node it starts; never let this leak
            raise _damaged("it ends in the middle of a value") from None

    # --- the three levels read

    def _submissions(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, value in self._pairs("submission"):
            out[key] = self._submission(value)
        return out

    def _submission(self, event: yaml.Event) -> dict[str, Any]:
        entry: dict[str, Any] = {"created_at": None, "submitters": []}
        if isinstance(event, yaml.AliasEvent):
            shared = self._alias(event, "submission")
            if shared is not None:
                entry = {"created_at": shared["created_at"],
                         "submitters": [dict(p) for p in shared["submitters"]]}
                self._spend(len(entry["submitters"]))
            return entry
        if not isinstance(event, yaml.MappingStartEvent):
            self._skip(event)
            return entry
        for key, value in self._pairs("a submission's field"):
            if key == "created_at":
                entry["created_at"] = self._text(value)
            elif key == "submitters":
                entry["submitters"] = self._submitters(value)
            else:
                self._skip(value)  # :score:, :status:, :results: ...
        self._anchor(event, "submission", entry)
        return entry

    def _submitters(self, event: yaml.Event) -> list[dict[str, str]]:
        if isinstance(event, yaml.AliasEvent):
            shared = self._alias(event, "submitters")
            people = [dict(p) for p in shared] if shared is not None else []
            self._spend(len(people))  # each alias counts: it becomes that many entries
            return people
        if not isinstance(event, yaml.SequenceStartEvent):
            self._skip(event)
            return []
        people = []
        while not isinstance(item := self._next(), yaml.SequenceEndEvent):
            people.append(self._submitter(item))
        self._spend(len(people))
        self._anchor(event, "submitters", people)
        return people

    def _submitter(self, event: yaml.Event) -> dict[str, str]:
        if isinstance(event, yaml.AliasEvent):
            shared = self._alias(event, "submitter")
            return dict(shared) if shared is not None else {}
        if not isinstance(event, yaml.MappingStartEvent):
            self._skip(event)
            return {}
        person: dict[str, str] = {}
        for key, value in self._pairs("a submitter's field"):
            if key not in SUBMITTER_KEYS:
                self._skip(value)
            elif text := self._text(value):
                person[key] = text
        self._anchor(event, "submitter", person)
        return person

    # --- mappings, scalars, anchors

    def _pairs(self, what: str) -> Iterator[tuple[str, yaml.Event]]:
        """(key without Ruby's leading colon, first event of its value) of the mapping being
        read; the caller consumes each value before asking for the next pair. Keys that are not
        text are skipped with their value. A key written twice would leave whose submission a
        folder is to the parser's whim: refused."""
        seen: dict[str, int] = {}
        while not isinstance(event := self._next(), yaml.MappingEndEvent):
            line = event.start_mark.line + 1 if event.start_mark else 0
            key = self._text(event)
            value = self._next()
            if key is None:
                self._skip(value)
                continue
            key = key[1:] if key.startswith(":") else key
            if key in seen:
                raise _damaged(f"{what} {key!r} is written twice (lines {seen[key]} and {line})")
            seen[key] = line
            yield key, value

    def _text(self, event: yaml.Event) -> str | None:
        """A scalar's text as written; None (the node consumed) for a null, a tagged value, a
        list or a table."""
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, "text")
        if not isinstance(event, yaml.ScalarEvent):
            self._skip(event)
            return None
        text = None if self._null(event) or event.tag not in _TEXT_TAGS else event.value
        self._anchor(event, "text", text)
        return text

    @staticmethod
    def _null(event: yaml.ScalarEvent) -> bool:
        # only plain and untagged: '~' in quotes is text
        return bool(event.implicit[0]) and event.tag is None and event.value in _NULLS

    def _skip(self, event: yaml.Event) -> None:
        """Consume a node the intake does not read, noting its anchors (an alias to one of them
        reads as absent) and checking its aliases name an anchor, as YAML requires."""
        depth = 0
        while True:
            if isinstance(event, yaml.AliasEvent):
                self._alias(event, "skipped")
            else:
                self._anchor(event, "skipped", None)
            if isinstance(event, _STARTS):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _damaged(f"it nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, _ENDS):
                depth -= 1
            if depth == 0:
                return
            event = self._next()

    def _anchor(self, event: yaml.Event, kind: str, value: Any) -> None:
        if getattr(event, "anchor", None):
            self._anchors[event.anchor] = (kind, value)

    def _alias(self, event: yaml.AliasEvent, kind: str) -> Any:
        """The value anchored under the alias's name when it was read as `kind`, else None."""
        if event.anchor not in self._anchors:
            raise _damaged(f"the alias *{event.anchor} names no anchor")
        anchored_kind, value = self._anchors[event.anchor]
        return value if anchored_kind == kind else None

    def _spend(self, count: int) -> None:
        self._left -= count
        if self._left < 0:
            raise _damaged(
                f"its submitters add up to more than {MAX_SUBMITTERS_READ} (YAML aliases?)"
            )
