"""`autograder new A [--title T]`: a new assignment's `solutions/A/`, ready to release and grade.

The scaffold is the smallest complete assignment, to be edited in JupyterLab from there on:

* `<a>.ipynb`, the source notebook: a title, a setup cell, a settings cell (the student id),
  one function (`relu_backward`) whose body is a solution block, its sanity-check grade cell,
  one inline question with its answer cell, and the submit cell;
* `hidden_tests.py`: one hidden test of that function against the reference;
* `assignment.toml`: the notebook, the policy, the points (the grade cell's and the question's
  points are the `[tests]` and `[manual]` entries) and the default rule costs.

`autograder release A` works on it at once, and its own solution, grafted, submitted and graded,
gets full automatic marks (tests/test_scaffold.py). docs/authoring.md walks through it.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.core.config import CONFIG_NAME, course_root, solution_dir

NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,15}")

KERNEL_METADATA: dict[str, Any] = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
"""The notebook-level metadata of a source notebook: a plain Python 3 kernel."""


def nbgrader_metadata(
    grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None
) -> dict[str, Any]:
    """A cell's metadata as nbgrader's Create Assignment toolbar writes it: `{"nbgrader": {...}}`,
    schema_version 3, `points` only if given."""
    nb: dict[str, Any] = {
        "grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
    }  # fmt: skip
    if points is not None:
        nb["points"] = points
    return {"nbgrader": nb}


class SourceNotebook:
    """The scaffold's cells, added in order, one method per cell role of the notebook conventions
    (docs/architecture.md); `notebook()` assembles them. Cell text loses its surrounding newlines,
    so it can be written as a triple-quoted string on lines of its own."""

    def __init__(self) -> None:
        self.cells: list[NotebookNode] = []

    def _add(self, make: Any, cell_id: str, text: str, metadata: dict[str, Any]) -> None:
        self.cells.append(make(text.strip("\n"), id=cell_id, metadata=metadata))

    def md(self, cell_id: str, text: str) -> None:
        """A read-only markdown cell."""
        self._add(new_markdown_cell, cell_id, text,
                  nbgrader_metadata(cell_id, solution=False, grade=False, locked=True))

    def code(self, cell_id: str, text: str) -> None:
        """A read-only code cell (setup, drivers, the submit cell)."""
        self._add(new_code_cell, cell_id, text, nbgrader_metadata(cell_id, solution=False, grade=False, locked=True))

    def solution(self, cell_id: str, text: str) -> None:
        """A solution cell: function definitions with BEGIN/END SOLUTION blocks inside the bodies."""
        self._add(new_code_cell, cell_id, text, nbgrader_metadata(cell_id, solution=True, grade=False, locked=False))

    def free(self, cell_id: str, text: str) -> None:
        """A free cell: the student may edit all of it; it is not in the graded module."""
        metadata = nbgrader_metadata(cell_id, solution=True, grade=False, locked=False)
        metadata["autograder"] = {"module": False}
        self._add(new_code_cell, cell_id, text, metadata)

    def grade(self, cell_id: str, grade_id: str, points: float, text: str) -> None:
        """A locked grade cell: the visible checks of one hidden-test group (`grade_id`, whose
        points are `[tests].<grade_id>` of assignment.toml)."""
        self._add(new_code_cell, cell_id, text,
                  nbgrader_metadata(grade_id, solution=False, grade=True, locked=True, points=points))

    def answer(self, cell_id: str, grade_id: str, points: float, text: str) -> None:
        """A manual answer cell (markdown, graded by hand, `[manual].<grade_id>` points); the
        answer goes between BEGIN/END SOLUTION, and the release shows YOUR ANSWER HERE."""
        self._add(new_markdown_cell, cell_id, text,
                  nbgrader_metadata(grade_id, solution=True, grade=True, locked=False, points=points))

    def notebook(self) -> NotebookNode:
        """An nbformat 4 notebook of the cells so far, with KERNEL_METADATA."""
        nb = new_notebook(cells=list(self.cells))
        nb.metadata = copy.deepcopy(KERNEL_METADATA)
        return nb


def write_notebook(nb: NotebookNode, path: str | Path) -> None:
    """Validate `nb` and write it as Jupyter saves it (indent 1, a final newline)."""
    nbformat.validate(nb)
    Path(path).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")

FUNCTION = r'''
def relu_backward(dout, x):
    """Backward pass of a ReLU, y = max(0, x), elementwise.

    Inputs:
    - dout: upstream gradient dL/dy, any shape, float64.
    - x: the ReLU's input, same shape as dout.

    Returns dx = dL/dx, same shape as x: the upstream gradient times the local gradient,
    which is 1 where x > 0 and 0 elsewhere (0 at x == 0 exactly). No Python loops.
    """
    ### BEGIN SOLUTION
    dx = dout * (x > 0)
    return dx
    ### END SOLUTION
'''

CHECK = r'''
# Sanity check for relu_backward. Run this cell; do not edit it.
x = np.array([[-2.0, 0.0, 3.0], [1.5, -0.5, 4.0]])
dout = np.arange(6.0).reshape(2, 3) + 1
dx = relu_backward(dout, x)
print("dx =\n", dx)
assert np.shape(dx) == x.shape, f"dx has shape {np.shape(dx)}; it must be x's shape {x.shape}."
assert np.allclose(dx, [[0.0, 0.0, 3.0], [4.0, 0.0, 6.0]]), (
    "dx differs: it is dout where x > 0 and 0 elsewhere (0 at x == 0 too)."
)
print("relu_backward: OK")
'''

HIDDEN_TESTS = '''"""Hidden tests of {name}. Instructor only: never released.

Each test belongs to the group named in `@hidden_test(...)`: a grade cell's grade_id, whose
points are `[tests]` of assignment.toml. `ctx.call` runs the student's function (in the sandbox
when grading), `ctx.ref` is the reference (the solution notebook's code), `ctx.rng` a seeded
generator, `ctx.case` one partially credited case. See docs/authoring.md.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hidden import hidden_test


def _away_from_zero(rng, shape):
    """ReLU inputs at least 0.1 from the kink (the gradient at exactly 0 is its own case)."""
    x = rng.uniform(0.1, 2.0, size=shape)
    return x * rng.choice([-1.0, 1.0], size=shape)


@hidden_test("relu_backward")
def relu_backward_matches_reference(ctx):
    for label, shape in (("a vector", (7,)), ("a matrix", (4, 5)), ("a 3-d array", (2, 3, 4))):
        x, dout = _away_from_zero(ctx.rng, shape), ctx.rng.normal(size=shape)
        with ctx.case(label):
            ctx.assert_close(ctx.call("relu_backward", dout, x), ctx.ref.relu_backward(dout, x),
                             what="dx")
    with ctx.case("x exactly 0"):
        x, dout = np.zeros(3), np.ones(3)
        ctx.assert_close(ctx.call("relu_backward", dout, x), np.zeros(3), what="dx at x == 0")
'''

CONFIG = '''# The rubric and the rules of {name}. Everything but [private] is copied into the release,
# so students see exactly what is enforced (docs/assignment-toml.md).

[assignment]
name = "{name}"
title = "{title}"
notebooks = ["{notebook}"]
required_files = ["{notebook}"]
dataset = "digits"

[policy]
allowed_imports = ["numpy", "math", "time"]
forbidden_calls = ["np.vectorize", "np.frompyfunc", "eval", "exec", "compile", "__import__", "open"]
loop_free = ["relu_backward"]

[tests]
relu_backward = 10

[manual]
inline_relu = 5

[rules.cell-deleted]
severity = "error"
deduction = 1.0
cap = 3.0

[rules.locked-cell-modified]
severity = "error"
deduction = 2.0
cap = 6.0

[rules.forbidden-import]
severity = "error"
deduction = 5.0
cap = 10.0

[rules.forbidden-call]
severity = "error"
deduction = 5.0
cap = 10.0

[rules.loop-in-vectorized]
severity = "error"
deduction = 5.0
cap = 10.0

[deductions]
total_cap = 10.0

[private]
seed = {seed}
'''


class ScaffoldError(Exception):
    """The assignment cannot be scaffolded; the message says why (nothing was written)."""


def source_notebook(name: str, title: str) -> NotebookNode:
    """The scaffold's source notebook: every role of docs/architecture.md, once."""
    slug = name.lower()
    nb = SourceNotebook()
    nb.md(f"{slug}-title", f"# {name}: {title}\n\nWrite your code only between the START and END "
          "lines of each TODO block, run every cell from top to bottom, and save.")
    nb.code(f"{slug}-setup", "import numpy as np")
    nb.free(f"{slug}-settings", 'STUDENT_ID = "your-student-id"')
    nb.md(f"{slug}-relu-md", "## ReLU backward\n\nFor $y = \\max(0, x)$ the local gradient is "
          "$\\partial y / \\partial x = 1$ where $x > 0$ and $0$ elsewhere, so "
          "$dx = dout \\cdot [x > 0]$ (upstream times local).")
    nb.solution(f"{slug}-relu", FUNCTION)
    nb.grade(f"{slug}-relu-check", "relu_backward", 10, CHECK)
    nb.md(f"{slug}-inline-md", "**Inline question.** What is the gradient of a ReLU at exactly "
          "$x = 0$ in this code, and why is any value in $[0, 1]$ defensible?")
    nb.answer(f"{slug}-inline", "inline_relu", 5, "### BEGIN SOLUTION\nIt is 0 here: `x > 0` is "
              "False at 0. The ReLU has a kink there; any value in [0, 1] is a subgradient.\n"
              "### END SOLUTION")
    nb.code(f"{slug}-submit", "# Build the submission zip (run this cell last)\n"
            "from autograder.student.submission import submit_from_notebook\n\n"
            f'submit_from_notebook("{name}", student_id=STUDENT_ID)')
    return nb.notebook()


def scaffold(name: str, title: str | None = None, course: str | Path | None = None) -> Path:
    """Write `solutions/<name>/` (notebook, hidden_tests.py, assignment.toml); its folder."""
    if not NAME.fullmatch(name):
        raise ScaffoldError(f"{name!r} is not an assignment name: use a capital letter then "
                            "letters or digits, e.g. A5 or Z9")
    folder = solution_dir(name, course_root(course))
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already: choose another name (nothing was written)")
    title = title or "ReLU backward (a starter assignment: replace it with yours)"
    notebook = f"{name.lower()}.ipynb"
    folder.mkdir(parents=True)
    write_notebook(source_notebook(name, title), folder / notebook)
    (folder / "hidden_tests.py").write_text(HIDDEN_TESTS.format(name=name), encoding="utf-8")
    seed = sum(map(ord, name)) * 7919
    (folder / CONFIG_NAME).write_text(
        CONFIG.format(name=name, title=title.replace('"', "'"), notebook=notebook, seed=seed),
        encoding="utf-8")
    return folder


def cli_new(args: argparse.Namespace) -> int:
    """`autograder new A [--title T]`: exit 0 when written, 1 when refused."""
    try:
        folder = scaffold(args.assignment, args.title, getattr(args, "course", None))
    except ScaffoldError as exc:
        print(f"autograder new: {exc}", file=sys.stderr)
        return 1
    print(f"Created {folder}: edit {args.assignment.lower()}.ipynb in JupyterLab, hidden_tests.py and "
          f"assignment.toml, then run `autograder release {args.assignment}` (docs/authoring.md).")
    return 0
