"""Running a student's notebook the way Jupyter would, in-process and fast, to audit the visible
checks (tests/test_visible_checks.py) and the honest styles (tests/test_honest_styles.py).

A student notebook here is the release notebook with TODO bodies filled in (`with_bodies`); its
code cells run in order in one fresh namespace, like Restart & Run All, except the cells that
only plot or train on the whole dataset (`SLOW`: the checks do not depend on them). Each cell's
outcome is recorded: a failing visible check is an AssertionError at a line of its grade cell.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from autograder.core.integrity import scan_blocks, source_of

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"A3": "linear_classifier.ipynb", "A4": "two_layer_net.ipynb"}
RELEASES = {a: REPO / "assignments" / a / name for a, name in NOTEBOOKS.items()}
# Cells that only plot, time, train on the whole dataset or submit: no visible check needs them.
SLOW = {
    "a3-samples", "a3-preprocess", "a3-sgd-run", "a3-svm-search", "a3-softmax-search", "a3-templates",
    "a3-submit", "a3-svm-timing", "a3-softmax-timing", "a3-test-eval", "a3-one-factor",
    "a4-toy-plot", "a4-load-data", "a4-default-train", "a4-debug-plots", "a4-one-factor", "a4-subset",
    "a4-linear", "a4-search-run",
    "a4-best-templates", "a4-submit", "a4-test-eval",
}


@dataclass(frozen=True)
class Outcome:
    """How one code cell ended: ok, or the exception with the cell line it was raised at."""

    ok: bool
    error: str = ""  # exception type name
    message: str = ""
    line: int | None = None  # 1-based line of the cell where it was raised


def release(assignment: str) -> Any:
    return nbformat.read(str(RELEASES[assignment]), as_version=4)


def cell_id(cell: Any) -> str:
    return str(cell.get("id") or cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))


def with_bodies(nb: Any, bodies: dict[str, list[str]]) -> Any:
    """A copy of `nb` with the TODO bodies of the cells `bodies` names (cell id -> one body per
    TODO block, written without indentation; None keeps that block as it is)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        wanted = bodies.get(cell_id(cell))
        if wanted is None:
            continue
        src = source_of(cell)
        lines = src.split("\n")
        blocks = scan_blocks(src).blocks
        assert len(blocks) == len(wanted), f"{cell_id(cell)} has {len(blocks)} TODO block(s)"
        for block, body in reversed(list(zip(blocks, wanted, strict=True))):
            if body is None:
                continue
            text = textwrap.dedent(body).strip("\n")
            lines[block.start + 1: block.end] = [block.indent + ln if ln else ln for ln in text.split("\n")]
        cell.source = "\n".join(lines)
    return nb


def run(nb: Any, until: str | None = None, skip: frozenset[str] = frozenset(SLOW)) -> dict[str, Outcome]:
    """Run the code cells in order (all but `skip`), stopping after the cell `until`."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    outcomes: dict[str, Outcome] = {}
    for cell in nb.cells:
        cid = cell_id(cell)
        if cell.get("cell_type") != "code" or cid in skip:
            continue
        outcomes[cid] = run_cell(source_of(cell), namespace, cid)
        if cid == until:
            break
    return outcomes


def run_cell(source: str, namespace: dict[str, Any], name: str) -> Outcome:
    filename = f"<cell {name}>"
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the test's own notebook
    except Exception as exc:  # a failing check, or a student function that raised
        tb, line = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        return Outcome(False, type(exc).__name__, str(exc), line)
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    return Outcome(True)


def asserts_of(source: str) -> dict[int, str]:
    """The assert statements of a cell: first line -> the message's source text (messages are
    what a student reads when the check fails)."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            out[node.lineno] = ast.get_source_segment(source, node.msg) if node.msg else ""
    return out


def assert_at(source: str, line: int | None) -> int | None:
    """The first line of the assert statement that spans `line` (None when none does)."""
    if line is None:
        return None
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert) and node.lineno <= line <= (node.end_lineno or node.lineno):
            return node.lineno
    return None


def grade_cells(nb: Any) -> dict[str, str]:
    """Cell id -> source of every visible check (grade cell) that holds asserts."""
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("grade") and "assert " in source_of(cell):
            out[cell_id(cell)] = source_of(cell)
    return out
