"""The graft: the student's TODO-block bodies put into the pristine release cells.

Whatever the student did outside the TODO blocks (an edited signature, a helper in an added
cell, a global set in a driver cell) is not part of what is graded: the graded module is built
from the release's cells with only the block bodies, free cells and answers taken from the
student. The same graft powers `autograder rescue`.

Every grafted line remembers where it came from (the student's cell and line), so that the rules
that analyse the graded module (loop-free functions, undefined names) speak of the student's cells.
"""

from __future__ import annotations

import ast
import copy
import io
import tokenize
from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode

from autograder.core.integrity import cell_role
from autograder.core.markers import scan_blocks, source_of
from autograder.core.matching import Matching, match_cells
from autograder.core.module import PREAMBLE, in_graded_module, module_source

Where = tuple[int | None, int | None]  # (student cell, student line), both 1-based


@dataclass
class GraftedCell:
    """How one release cell was filled.

    student: 0-based index of the matching student cell (None if there is none);
    placed: the student's code/answer went in; problem: why not ("markers", "missing", "type");
    line_map: for each line of the grafted source, where it is in the student's notebook;
    escapes: the bodies that left their block, each replaced by the release's stub.
    """

    release: int
    student: int | None
    role: str
    placed: bool
    line_map: list[Where] = field(default_factory=list)
    problem: str = ""
    escapes: list[Escape] = field(default_factory=list)  # bodies replaced by the release's stub


@dataclass
class Escape:
    """A TODO body that left its block (graded as the release's stub instead).

    block: 0-based block of the cell; line: line of the grafted cell; why: what it did."""

    block: int
    line: int
    why: str


@dataclass
class Graft:
    """Release cells (deep copies) with the student's work grafted in, and how each was filled."""

    cells: list[NotebookNode]
    info: list[GraftedCell]


@dataclass
class GradedModule:
    """The graded module's source and, per line (index = line - 1), the student's cell and line."""

    source: str
    line_map: list[Where]

    def where(self, line: int) -> Where:
        if 1 <= line <= len(self.line_map):
            return self.line_map[line - 1]
        return (None, None)


def graft(student_nb: Any, release_nb: Any, matching: Matching | None = None) -> Graft:
    """Graft the student's TODO bodies, free cells and answers into copies of the release cells."""
    matching = matching or match_cells(student_nb.cells, release_nb.cells)
    cells: list[NotebookNode] = []
    info: list[GraftedCell] = []
    for r, release_cell in enumerate(release_nb.cells):
        s = matching.to_student.get(r)
        student_cell = student_nb.cells[s] if s is not None else None
        source, filled = graft_cell(release_cell, student_cell, r, s)
        new = copy.deepcopy(release_cell)
        new["source"] = source
        cells.append(new)
        info.append(filled)
    return Graft(cells, info)


def graft_cell(release_cell: Any, student_cell: Any | None, r: int, s: int | None) -> tuple[str, GraftedCell]:
    """The grafted source of one release cell and how it was filled."""
    role = cell_role(release_cell)
    release_src = source_of(release_cell)
    plain = GraftedCell(r, s, role, False, _near(release_src, s))
    if student_cell is None:
        plain.problem = "missing"
        return release_src, plain
    if student_cell.get("cell_type") != release_cell.get("cell_type"):
        plain.problem = "type"
        return release_src, plain
    student_src = source_of(student_cell)
    if role in ("free", "answer"):
        lines = student_src.split("\n")
        return student_src, GraftedCell(r, s, role, True, [(s + 1, i + 1) for i in range(len(lines))])
    if role != "todo":
        return release_src, plain
    return _graft_blocks(release_src, student_src, r, s) or (release_src, _problem(plain, "markers"))


def _problem(filled: GraftedCell, problem: str) -> GraftedCell:
    filled.problem = problem
    return filled


def _near(source: str, s: int | None) -> list[Where]:
    """Line map of a cell kept as released: line i of the release ~ line i of the student's cell."""
    count = source.count("\n") + 1
    return [(None, None)] * count if s is None else [(s + 1, i + 1) for i in range(count)]


def _graft_blocks(release_src: str, student_src: str, r: int, s: int) -> tuple[str, GraftedCell] | None:
    r_scan = scan_blocks(release_src)
    s_scan = scan_blocks(student_src, expected=len(r_scan.blocks))
    if s_scan.problem:
        return None
    r_lines, s_lines = release_src.split("\n"), student_src.split("\n")
    source, line_map, spans = _assemble(r_lines, s_lines, r_scan.blocks, s_scan.blocks, s, set())
    escapes: dict[int, tuple[int, str]] = {}
    while found := {k: v for k, v in body_escapes(source, spans).items() if k not in escapes}:
        escapes.update(found)  # those bodies are not graded: the release's stub stands in
        source, line_map, spans = _assemble(r_lines, s_lines, r_scan.blocks, s_scan.blocks, s,
                                            set(escapes))
    filled = GraftedCell(r, s, "todo", True, line_map)
    filled.escapes = [Escape(k, *escapes[k]) for k in sorted(escapes)]
    return source, filled


def _assemble(
    r_lines: list[str], s_lines: list[str], r_blocks: list[Any], s_blocks: list[Any], s: int,
    stubbed: set[int],
) -> tuple[str, list[Where], list[tuple[int, int, int]]]:
    """The grafted cell: release lines outside the blocks, the student's bodies inside them (the
    release's body for the blocks in `stubbed`); with its line map and, per block, the span
    (first, last line, 1-based) and the indentation width its body must keep."""
    out: list[str] = []
    line_map: list[Where] = []
    spans: list[tuple[int, int, int]] = []
    r_from, s_from = 0, 0
    for k, (r_block, s_block) in enumerate(zip(r_blocks, s_blocks, strict=True)):
        _outside(r_lines, r_from, r_block.start + 1, s_from, s_block.start + 1, s, out, line_map)
        first = len(out) + 1
        if k in stubbed:
            for i in r_block.body:
                out.append(r_lines[i])
                line_map.append((s + 1, s_block.start + 1))
        else:
            for i in s_block.body:
                out.append(_reindent(s_lines[i], s_block.indent, r_block.indent))
                line_map.append((s + 1, i + 1))
        spans.append((first, len(out), len(r_block.indent)))
        r_from, s_from = r_block.end, s_block.end
    _outside(r_lines, r_from, len(r_lines), s_from, len(s_lines), s, out, line_map)
    return "\n".join(out), line_map, spans


def _parses_alone(body: list[str], indent: int) -> bool:
    """Whether a TODO body is complete Python on its own, inside a function and a loop (so
    `return`, `break` and `continue` are fine): what it opens, it closes inside its block."""
    inner = [line[indent:] if line[:indent].strip() == "" else line for line in body]
    wrapped = "def _body():\n    while True:\n" + "\n".join("        " + line for line in inner)
    try:
        ast.parse(wrapped + "\n        pass\n")
    except (SyntaxError, ValueError):
        return False
    return True


_NOT_CODE = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                       tokenize.NEWLINE, tokenize.ENCODING, tokenize.ENDMARKER})


def body_escapes(source: str, spans: list[tuple[int, int, int]]) -> dict[int, tuple[int, str]]:
    """{block index: (line, why)} for the TODO bodies that do not stay inside their own block.

    A body stays inside its block when every statement in it starts at least as deep as the
    block's markers (a statement further left would run at module level, or in another
    function, e.g. to rebind a graded name), and it declares no `global` or `nonlocal` (which
    would reach another function's names from inside). Measured on tokens, so a multi-line
    string or bracket that continues at column 0 is not a statement. A cell that does not parse
    has no escapes here: its module fails to import and earns nothing anyway.
    """
    lines = source.split("\n")
    # Checked before parsing: a vertical tab makes the cell unparsable, a form feed moves the
    # line to column 0; either way the body is not graded, with this message.
    odd = {k: next((i for i in range(a, b + 1) if _odd_indent(lines[i - 1])), None)
           for k, (a, b, _) in enumerate(spans)}
    odd_found = {k: (row, "a form feed or vertical tab in a line's indentation moves it out of "
                          "the block") for k, row in odd.items() if row is not None}
    if odd_found:
        return odd_found  # graded as the stub, then checked again without them
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        tree = ast.parse(source)
    except (SyntaxError, tokenize.TokenError, ValueError):
        return {}

    def block_of(line: int) -> int | None:
        return next((k for k, (a, b, _) in enumerate(spans) if a <= line <= b), None)

    found: dict[int, tuple[int, str]] = {}
    for k, (first, last, indent) in enumerate(spans):
        if not _parses_alone(lines[first - 1:last], indent):
            found[k] = (first, "a string or bracket in it is closed in another block, or not at all")
    starts_statement, opened_in = True, None
    for tok in tokens:
        if tok.type == tokenize.NEWLINE and opened_in is not None:
            k, row = opened_in
            if tok.start[0] > spans[k][1] and k not in found:  # a string or bracket ran past END
                found[k] = (row, "a statement continues past the END marker, outside the block")
            opened_in = None
        if tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            starts_statement = True
            continue
        if tok.type in _NOT_CODE:
            continue
        if starts_statement:
            row, col = tok.start
            k = block_of(row)
            opened_in = None if k is None else (k, row)
            if k is not None and col < spans[k][2] and k not in found:
                found[k] = (row, "a statement starts left of the TODO markers, outside the block")
        starts_statement = tok.type == tokenize.OP and tok.string == ";"
    for k, row in escaped_statements(tree, spans).items():
        found.setdefault(k, (row, "a statement in it runs outside its function"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            k = block_of(node.lineno)
            if k is not None and k not in found:
                word = "global" if isinstance(node, ast.Global) else "nonlocal"
                found[k] = (node.lineno, f"`{word}` reaches names outside the block")
    return found


def _odd_indent(line: str) -> bool:
    """Whether a line's indentation holds a form feed or vertical tab (Python resets the
    indentation column at a form feed, so `    \\x0cx = 1` is a statement at column 0)."""
    indent = line[: len(line) - len(line.lstrip())]
    return "\x0c" in indent or "\x0b" in indent


def escaped_statements(tree: ast.Module, spans: list[tuple[int, int, int]]) -> dict[int, int]:
    """{block index: line} for the indented TODO bodies with a statement that is not nested in
    the block their markers are in, decided on the parsed cell (so no whitespace trick that
    fools a column count matters): the outermost statements starting in the span must all be
    in the body of one and the same compound statement (the function, loop... around the
    markers), which starts before the span. A block at column 0 (a module-level TODO) has
    nothing to stay in.
    """
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def in_span(node: ast.AST | None, first: int, last: int) -> bool:
        line = getattr(node, "lineno", None)
        return isinstance(line, int) and first <= line <= last

    statements = [n for n in parents if isinstance(n, ast.stmt)]  # one walk for every span
    found: dict[int, int] = {}
    for k, (first, last, indent) in enumerate(spans):
        if indent == 0:
            continue
        outermost = sorted((n for n in statements
                            if in_span(n, first, last) and not in_span(parents.get(n), first, last)),
                           key=lambda n: n.lineno)
        home = parents.get(outermost[0]) if outermost else None
        for node in outermost:
            parent = parents.get(node)
            if parent is not home or isinstance(parent, ast.Module) or not hasattr(parent, "lineno"):
                found[k] = node.lineno
                break
    return found


def _reindent(line: str, student_indent: str, release_indent: str) -> str:
    """A body line moved from the student's marker indentation to the release's (a student who
    re-indented the whole cell with 2 spaces still gets a module that parses)."""
    if student_indent == release_indent or not line.startswith(student_indent) or not line.strip():
        return line
    return release_indent + line[len(student_indent):]


def _outside(
    r_lines: list[str], r_from: int, r_to: int, s_from: int, s_to: int, s: int,
    out: list[str], line_map: list[Where],
) -> None:
    """Copy release lines [r_from, r_to); map each to the student's line at the same offset."""
    for k, i in enumerate(range(r_from, r_to)):
        out.append(r_lines[i])
        line_map.append((s + 1, min(s_from + k, max(s_to - 1, s_from)) + 1))


def graded_module(grafted: Graft) -> GradedModule:
    """module_source over the grafted cells, with each line mapped back to the student's cell."""
    source = module_source(grafted.cells)
    line_map: list[Where] = [(None, None)] * PREAMBLE.count("\n")
    parts = [PREAMBLE]
    for cell, filled in zip(grafted.cells, grafted.info, strict=True):
        if not in_graded_module(cell):
            continue
        part = module_source([cell])[len(PREAMBLE):]
        parts.append(part)
        head = part[: part.find(cell["source"])].count("\n") if cell["source"] else 0
        entries = [(None, None)] * head + list(filled.line_map)
        entries += [(None, None)] * max(0, part.count("\n") - len(entries))
        line_map.extend(entries[: part.count("\n")])
    if "".join(parts) != source:  # module_source changed its layout: keep the text, lose places
        line_map = []
    line_map += [(None, None)] * max(0, source.count("\n") + 1 - len(line_map))
    return GradedModule(source, line_map)


def graded_module_source(student_nb: Any, release_nb: Any) -> str:
    """The graded module exactly as the grader builds it: graft, then module_source."""
    return module_source(graft(student_nb, release_nb).cells)
