"""Integrity: a student notebook against the release version it declares (docs/release.md).

The machinery the integrity rules (`autograder/core/rules/cells.py`, `autograder/core/rules/code.py`) and the
graft share, besides the cell matching (`autograder.core.matching`) and the TODO-block markers
(`autograder.core.markers`):

* `cell_role`: what a release cell is for, and so what the student may change in it;
* `code_difference`: code compared as tokens (whitespace, blank lines, line endings, indentation
  width and quote style never count; a comment or docstring edit is reported as such);
* `student_code`: the code the student could have written, per cell, for the AST rules.

Roles of release cells (docs/architecture.md): `todo` (solution code cell with TODO blocks),
`free` (a solution code cell without markers: the student may edit all of it), `answer`
(markdown answer, free text), `locked` (everything else, compared in full).
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autograder.core.markers import (
    END_MARKER,
    MARKER_WORDS,
    START_MARKER,
    Block,
    BlockScan,
    bodies,
    grade_id,
    has_markers,
    is_stub_body,
    nbgrader_meta,
    scan_blocks,
    source_of,
)
from autograder.core.matching import Matching, match_cells, normalized, similarity

# Names that moved to `markers` and `matching` and are still read from here.
__all__ = [
    "END_MARKER", "MARKER_WORDS", "START_MARKER", "Block", "BlockScan", "Matching", "bodies",
    "grade_id", "has_markers", "match_cells", "normalized", "scan_blocks", "similarity", "source_of",
]

PLACEHOLDER = "__YOUR_TODO_CODE__"  # stands for a TODO body when code outside it is compared
# A line that may be IPython syntax: `!cmd`, `%magic`, `%%cell`, or `x = !cmd` / `x = %magic`.
# Only a candidate: it is a magic line only where a logical line starts (see `split_magics`).
_MAGIC = re.compile(r"^\s*(?:!|%%?[A-Za-z_]|[\w.,\s\[\]]+=\s*(?:!|%[A-Za-z_]))")


# --------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------


def cell_role(cell: Any) -> str:
    """The role of a *release* cell: "todo", "free", "answer" or "locked"."""
    meta = nbgrader_meta(cell)
    if not meta.get("solution", False):
        return "locked"
    if cell.get("cell_type") == "markdown":
        return "answer"
    if cell.get("cell_type") == "code":
        return "todo" if has_markers(source_of(cell)) else "free"
    return "locked"


def _norm(line: str) -> str:
    return " ".join(line.split())


# --------------------------------------------------------------------------------------------
# TODO blocks
# --------------------------------------------------------------------------------------------


def masked(lines: Sequence[str], blocks: Sequence[Block]) -> tuple[list[str], list[int]]:
    """The lines with each TODO body replaced by one placeholder line, and for each kept line
    its 1-based line number in the original."""
    out: list[str] = []
    where: list[int] = []
    skip: set[int] = set()
    starts = {block.start: block for block in blocks}
    for block in blocks:
        skip.update(block.body)
    for index, line in enumerate(lines):
        if index in skip:
            continue
        out.append(line)
        where.append(index + 1)
        if index in starts:
            out.append(starts[index].indent + PLACEHOLDER)
            where.append(index + 2)
    return out, where


# --------------------------------------------------------------------------------------------
# code as tokens
# --------------------------------------------------------------------------------------------


class CodeTokenError(ValueError):
    """The code cannot be tokenized (an unclosed bracket or string, a bad dedent)."""


@dataclass(frozen=True)
class Tok:
    text: str
    line: int  # 1-based, in the tokenized text


_LAYOUT = {tokenize.NEWLINE: "<NEWLINE>", tokenize.INDENT: "<INDENT>", tokenize.DEDENT: "<DEDENT>"}
_SKIP = {tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_STATEMENT_START = {None, "<NEWLINE>", "<INDENT>", "<DEDENT>"}


def tokens(text: str) -> tuple[list[Tok], list[Tok]]:
    """(code tokens, comment tokens) of Python source.

    Layout tokens are abstract (an indent is "<INDENT>" whatever its width), strings are compared
    by value (quote style does not count), and a string that is a statement of its own (a
    docstring) counts as a comment.
    """
    code: list[Tok] = []
    comments: list[Tok] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _SKIP:
                continue
            line = tok.start[0]
            if tok.type == tokenize.COMMENT:
                comments.append(Tok(_norm(tok.string), line))
            elif tok.type in _LAYOUT:
                code.append(Tok(_LAYOUT[tok.type], line))
            elif tok.type == tokenize.STRING:
                code.append(Tok(_string_value(tok.string), line))
            else:
                code.append(Tok(tok.string, line))
    except (tokenize.TokenError, SyntaxError) as exc:  # IndentationError is a SyntaxError
        raise CodeTokenError(str(exc)) from None
    return _docstrings_to_comments(code, comments)


def _string_value(literal: str) -> str:
    try:
        return "<STR>" + repr(ast.literal_eval(literal))
    except (ValueError, SyntaxError):
        return literal


def _docstrings_to_comments(code: list[Tok], comments: list[Tok]) -> tuple[list[Tok], list[Tok]]:
    kept: list[Tok] = []
    for index, tok in enumerate(code):
        prev = kept[-1].text if kept else None
        after = code[index + 1].text if index + 1 < len(code) else "<NEWLINE>"
        if tok.text.startswith("<STR>") and prev in _STATEMENT_START and after == "<NEWLINE>":
            comments.append(Tok(tok.text, tok.line))
            continue
        kept.append(tok)
    comments.sort(key=lambda t: t.line)
    return kept, comments


@dataclass(frozen=True)
class Difference:
    """The first place where the student's code differs from the release's.

    line: 1-based line in the student's cell; comment_only: only comments/docstrings differ.
    """

    line: int
    release_line: int
    comment_only: bool
    release_text: str
    student_text: str
    diff: str


def code_difference(
    release_src: str,
    student_src: str,
    release_blocks: Sequence[Block] = (),
    student_blocks: Sequence[Block] = (),
) -> Difference | None:
    """Compare two code cells as tokens, TODO bodies masked out; None when they are the same."""
    r_lines, r_where = masked(release_src.split("\n"), release_blocks)
    s_lines, s_where = masked(student_src.split("\n"), student_blocks)
    if r_lines == s_lines:  # the usual case, and no need to tokenize
        return None
    try:
        found = _token_mismatch("\n".join(r_lines), "\n".join(s_lines))
    except CodeTokenError:
        found = _line_mismatch(r_lines, s_lines)
    if found is None:
        return None
    r_at, s_at, comment_only = found
    r_at = min(max(r_at, 1), max(len(r_lines), 1))
    s_at = min(max(s_at, 1), max(len(s_lines), 1))
    return Difference(
        line=s_where[s_at - 1] if s_where else 1,
        release_line=r_where[r_at - 1] if r_where else 1,
        comment_only=comment_only,
        release_text=_shown(r_lines[r_at - 1]) if r_lines else "",
        student_text=_shown(s_lines[s_at - 1]) if s_lines else "",
        diff=short_diff(r_lines, s_lines),
    )


def _token_mismatch(release: str, student: str) -> tuple[int, int, bool] | None:
    r_code, r_comments = tokens(release)
    s_code, s_comments = tokens(student)
    at = _first_mismatch([t.text for t in r_code], [t.text for t in s_code])
    if at is not None:
        return _line_at(r_code, at), _line_at(s_code, at), False
    at = _first_mismatch([t.text for t in r_comments], [t.text for t in s_comments])
    if at is not None:
        return _line_at(r_comments, at), _line_at(s_comments, at), True
    return None


def _line_mismatch(r_lines: list[str], s_lines: list[str]) -> tuple[int, int, bool] | None:
    """Fallback when a side does not tokenize: whitespace-insensitive, line by line."""
    def keep(lines: list[str]) -> list[tuple[int, str]]:
        return [(i + 1, _norm(line)) for i, line in enumerate(lines) if _norm(line)]

    r_keep, s_keep = keep(r_lines), keep(s_lines)
    at = _first_mismatch([t for _, t in r_keep], [t for _, t in s_keep])
    if at is None:
        return None
    r_line = r_keep[min(at, len(r_keep) - 1)][0] if r_keep else 1
    s_line = s_keep[min(at, len(s_keep) - 1)][0] if s_keep else 1
    code = [
        t for t in difflib.ndiff([t for _, t in r_keep], [t for _, t in s_keep])
        if t[:1] in "+-" and not t[2:].startswith("#")
    ]
    return r_line, s_line, not code


def _first_mismatch(a: Sequence[str], b: Sequence[str]) -> int | None:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return None if len(a) == len(b) else min(len(a), len(b))


def _line_at(toks: Sequence[Tok], index: int) -> int:
    if not toks:
        return 1
    return toks[min(index, len(toks) - 1)].line


def _shown(line: str) -> str:
    text = line.strip().replace(PLACEHOLDER, "... your TODO code ...")
    return text if len(text) <= 70 else text[:67] + "..."


def short_diff(r_lines: Sequence[str], s_lines: Sequence[str], limit: int = 8) -> str:
    """The first hunk of a unified diff (release -> student), at most `limit` changed lines."""
    show = [line.replace(PLACEHOLDER, "... your TODO code ...") for line in r_lines]
    mine = [line.replace(PLACEHOLDER, "... your TODO code ...") for line in s_lines]
    out: list[str] = []
    for line in difflib.unified_diff(show, mine, "release", "your notebook", n=1, lineterm=""):
        if line.startswith("@@") and any(o.startswith("@@") for o in out):
            break
        out.append(line)
        if len(out) >= limit + 3:
            out.append("...")
            break
    return "\n".join(out)


def text_difference(release_src: str, student_src: str) -> int | None:
    """First differing line (1-based, student side) of two text cells; whitespace ignored."""
    r = [_norm(line) for line in release_src.split("\n")]
    s = [(i + 1, _norm(line)) for i, line in enumerate(student_src.split("\n"))]
    r = [t for t in r if t]
    s = [(i, t) for i, t in s if t]
    at = _first_mismatch(r, [t for _, t in s])
    if at is None:
        return None
    return s[min(at, len(s) - 1)][0] if s else 1


# --------------------------------------------------------------------------------------------
# the code the student wrote
# --------------------------------------------------------------------------------------------


@dataclass
class StudentCode:
    """One student code cell, as the AST rules see it.

    cell: 1-based cell number; source: the cell with `!`/`%` lines replaced by `pass`;
    authored: 1-based lines the student wrote or changed (None: all of them); magics: the shell
    and magic lines (line, text); tree: the AST, or None with syntax_error = (line, message).
    """

    cell: int
    source: str
    authored: frozenset[int] | None
    magics: list[tuple[int, str]]
    tree: ast.Module | None
    syntax_error: tuple[int, str] | None = None

    def wrote(self, line: int) -> bool:
        return self.authored is None or line in self.authored


def split_magics(source: str) -> tuple[str, list[tuple[int, str]]]:
    """Replace IPython shell (`!cmd`, `x = !cmd`) and magic (`%x`, `%%x`) lines by `pass`.

    IPython reads these escapes only where a logical line starts, so a candidate line counts only
    when the code before it ends outside any bracket, string or backslash continuation: the
    `% (i, lr)` that continues a `%`-formatting over several lines, or `width=%d` inside a
    triple-quoted string, is ordinary Python and stays as it is.
    """
    lines = source.split("\n")
    magics: list[tuple[int, str]] = []
    if lines and lines[0].lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
        return "\n".join("pass" for _ in lines), [(1, lines[0].strip())]
    for index, line in enumerate(lines):
        if _MAGIC.match(line) and _starts_logical_line(lines[:index]):
            magics.append((index + 1, line.strip()))
            lines[index] = line[: len(line) - len(line.lstrip())] + "pass"
    return "\n".join(lines), magics


def _starts_logical_line(before: list[str]) -> bool:
    """Whether the code `before` a line ends where a new logical line may start: not inside an
    open bracket or string, and not after a backslash continuation (read as tokens)."""
    text = "\n".join(before)
    if not text.strip():
        return True
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text + "\n").readline):
            pass
    except tokenize.TokenError as exc:
        # "EOF in multi-line statement/string" (3.10, 3.11), "unexpected EOF ..." and
        # "unterminated triple-quoted string literal" (3.12+): the line continues something.
        message = str(exc.args[0] if exc.args else exc)
        return "EOF" not in message and "triple-quoted" not in message
    except (SyntaxError, ValueError):  # code that tokenize cannot read: assume a fresh line
        return True
    return True


def unfinished_blocks(student: Any) -> list[tuple[int, int]]:
    """(1-based cell, 1-based line) of each TODO block whose body is still the release's stub
    (`raise NotImplementedError`, comments and blank lines aside): the work not done yet."""
    out = []
    for index, cell in enumerate(student.cells):
        if cell.get("cell_type") != "code":
            continue
        source = source_of(cell)
        lines = source.split("\n")
        for block in scan_blocks(source).blocks:
            if is_stub_body([lines[i] for i in block.body]):
                out.append((index + 1, block.start + 1))
    return out


def changed_lines(release_src: str, student_src: str) -> set[int]:
    """1-based student lines that are not in the release cell (whitespace ignored)."""
    r = [_norm(line) for line in release_src.split("\n")]
    s = [_norm(line) for line in student_src.split("\n")]
    out: set[int] = set()
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(None, r, s, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            out.update(j + 1 for j in range(j1, j2) if s[j])
    return out


def _authored(release_cell: Any | None, source: str) -> frozenset[int] | None:
    if release_cell is None:
        return None
    release_src = source_of(release_cell)
    lines = changed_lines(release_src, source)
    if cell_role(release_cell) == "todo":
        scan = scan_blocks(source)
        for block in scan.blocks:
            lines.update(i + 1 for i in block.body)
    return frozenset(lines)


def parse_code(cell: int, source: str, authored: frozenset[int] | None) -> StudentCode:
    """Parse one cell for the AST rules; a syntax error is recorded, never raised."""
    clean, magics = split_magics(source)
    try:
        tree: ast.Module | None = ast.parse(clean)
        error = None
    except SyntaxError as exc:
        tree, error = None, (exc.lineno or 1, exc.msg)
    except (ValueError, RecursionError) as exc:  # null bytes, absurd nesting
        tree, error = None, (1, str(exc))
    return StudentCode(cell, clean, authored, magics, tree, error)


def student_code(student: Any, release: Any, matching: Matching) -> list[StudentCode]:
    """Every student code cell that holds code the student wrote, with the lines they wrote."""
    originals = {copy: matching.to_release.get(orig) for copy, orig, _ in matching.duplicated}
    out: list[StudentCode] = []
    for s, cell in enumerate(student.cells):
        if cell.get("cell_type") != "code":
            continue
        source = source_of(cell)
        r = matching.to_release.get(s, originals.get(s))
        release_cell = release.cells[r] if r is not None else None
        authored = _authored(release_cell, source)
        if authored is not None and not authored:
            continue
        out.append(parse_code(s + 1, source, authored))
    return out
