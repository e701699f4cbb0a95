"""The markers of the kit, and the one parser of each: solution blocks, TODO blocks, nbgrader metadata.

Two kinds of block exist:

* a **solution block** in an instructor's source notebook, between nbgrader's delimiters
  (`### BEGIN SOLUTION` … `### END SOLUTION`, matched anywhere in a line, as nbgrader does);
* a **TODO block** in a release notebook, between the marker lines that nbgrader's stub
  (`CODE_STUB`) leaves in place of each solution block (`START OF YOUR CODE` … `END OF YOUR
  CODE`), compared with whitespace normalised, so a re-indented cell still has its blocks.

Everything in the package that reads either kind, or a cell's nbgrader metadata (`grade_id`,
`solution`, `grade`, `locked`), does it through this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The marker lines around each TODO block, without indentation.
START_MARKER = "# ========== START OF YOUR CODE (do not edit or delete this line) =========="
END_MARKER = "# =========== END OF YOUR CODE (do not edit or delete this line) ==========="
# What nbgrader's ClearSolutions puts in place of each solution block (indented like the block).
CODE_STUB = f"{START_MARKER}\nraise NotImplementedError\n{END_MARKER}"
TEXT_STUB = "YOUR ANSWER HERE"
# nbgrader matches its delimiters anywhere in a line; the kit does the same so they agree.
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"
# A line that mentions the markers' words without being one of them: a damaged marker.
MARKER_WORDS = re.compile(r"(START|END)\s+OF\s+YOUR\s+CODE", re.IGNORECASE)


def _norm(line: str) -> str:
    """A line with every run of whitespace made one space, and no leading or trailing space."""
    return " ".join(line.split())


_START = _norm(START_MARKER)
_END = _norm(END_MARKER)


# --------------------------------------------------------------------------------------------
# cells and their nbgrader metadata
# --------------------------------------------------------------------------------------------


def source_of(cell: Any) -> str:
    """The cell's source as one string with "\\n" line endings ("" when it is not text)."""
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(part for part in src if isinstance(part, str))
    if not isinstance(src, str):  # not text: notebook-invalid says so; nothing may crash on it
        return ""
    return src.replace("\r\n", "\n").replace("\r", "\n")


def nbgrader_meta(cell: Any) -> dict[str, Any]:
    """The cell's nbgrader metadata as a plain dict, {} when it has none (or it is not a table)."""
    metadata = cell.get("metadata", {})
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, Mapping) else {}
    return dict(meta) if isinstance(meta, Mapping) else {}


def grade_id(cell: Any) -> str | None:
    """The cell's nbgrader grade_id, None when it has none."""
    return nbgrader_meta(cell).get("grade_id") or None


def is_solution_cell(cell: Any) -> bool:
    """Whether nbgrader marks the cell as a solution cell (the student writes in it)."""
    return bool(nbgrader_meta(cell).get("solution", False))


def has_role(meta: Mapping[str, Any]) -> bool:
    """Whether nbgrader metadata gives the cell a role (grade, solution or task)."""
    return bool(meta.get("grade") or meta.get("solution") or meta.get("task"))


def is_locked(meta: Mapping[str, Any]) -> bool:
    """nbgrader's notion of locked: solution cells never, grade cells always."""
    if meta.get("solution"):
        return False
    return bool(meta.get("grade") or meta.get("locked"))


# --------------------------------------------------------------------------------------------
# solution blocks (source notebooks)
# --------------------------------------------------------------------------------------------


def solution_blocks(source: str) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """(begin, end) line numbers (1-based) of each solution block, and (line, problem) pairs."""
    blocks: list[tuple[int, int]] = []
    problems: list[tuple[int, str]] = []
    begin: int | None = None
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_SOLUTION in line:
            if begin is not None:
                problems.append((begin, "### BEGIN SOLUTION without its ### END SOLUTION"))
            begin = number
        elif END_SOLUTION in line:
            if begin is None:
                problems.append((number, "### END SOLUTION without a ### BEGIN SOLUTION"))
            else:
                blocks.append((begin, number))
                begin = None
    if begin is not None:
        problems.append((begin, "### BEGIN SOLUTION without its ### END SOLUTION"))
    return blocks, problems


def solution_lines(source: str) -> list[list[str]]:
    """The lines strictly inside each complete solution block of a cell, in order."""
    lines = source.split("\n")
    return [lines[begin:end - 1] for begin, end in solution_blocks(source)[0]]


def is_solution_marker(line: str) -> bool:
    """Whether a line holds one of nbgrader's solution delimiters."""
    return BEGIN_SOLUTION in line or END_SOLUTION in line


# --------------------------------------------------------------------------------------------
# TODO blocks (release and student notebooks)
# --------------------------------------------------------------------------------------------


def is_start_marker(line: str) -> bool:
    """Whether a line is the START marker of a TODO block (whitespace ignored)."""
    return _norm(line) == _START


def is_end_marker(line: str) -> bool:
    """Whether a line is the END marker of a TODO block (whitespace ignored)."""
    return _norm(line) == _END


def has_markers(source: str) -> bool:
    """Whether a cell holds at least one TODO block START marker."""
    return any(is_start_marker(line) for line in source.split("\n"))


@dataclass(frozen=True)
class Block:
    """One TODO block: the 0-based indices of its START and END marker lines."""

    start: int
    end: int
    indent: str

    @property
    def body(self) -> range:
        """The 0-based indices of the lines between the markers."""
        return range(self.start + 1, self.end)


@dataclass(frozen=True)
class BlockScan:
    """The TODO blocks of a cell, or what is wrong with its markers.

    problem: None, or "edited" (a marker line changed), "no-end" (a START whose END is gone),
    "no-start" (an END whose START is gone), "missing" (fewer blocks than the release),
    "extra" (more blocks). line: the 1-based line of the problem when it has one.
    """

    blocks: list[Block]
    problem: str | None = None
    line: int | None = None


def scan_blocks(source: str, expected: int | None = None) -> BlockScan:
    """Find the TODO blocks of a cell; `expected` is the release's count."""
    blocks: list[Block] = []
    open_at: int | None = None
    lines = source.split("\n")
    for index, line in enumerate(lines):
        norm = _norm(line)
        if norm == _START:
            if open_at is not None:
                return BlockScan(blocks, "no-end", open_at + 1)
            open_at = index
        elif norm == _END:
            if open_at is None:
                return BlockScan(blocks, "no-start", index + 1)
            opener = lines[open_at]
            blocks.append(Block(open_at, index, opener[: len(opener) - len(opener.lstrip())]))
            open_at = None
        elif MARKER_WORDS.search(line):
            return BlockScan(blocks, "edited", index + 1)
    if open_at is not None:
        return BlockScan(blocks, "no-end", open_at + 1)
    if expected is not None and len(blocks) != expected:
        return BlockScan(blocks, "missing" if len(blocks) < expected else "extra")
    return BlockScan(blocks)


def bodies(source: str, scan: BlockScan) -> list[str]:
    """The text between the markers of each block."""
    lines = source.split("\n")
    return ["\n".join(lines[i] for i in block.body) for block in scan.blocks]


_STUB = re.compile(r"^raise\s+NotImplementedError(\s*\(\s*\))?$")


def is_stub_body(lines: list[str]) -> bool:
    """Whether a TODO body is still the release's stub (`raise NotImplementedError`), comments
    and blank lines aside: work not done yet."""
    code = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return not code or (len(code) == 1 and bool(_STUB.match(code[0])))
