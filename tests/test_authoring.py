"""autograder.authoring.notebook_writer: the cells a source-notebook builder writes (the builders of solutions/
are checked byte for byte in tests/test_releases.py)."""

from __future__ import annotations

import nbformat

from autograder.authoring.notebook_writer import (
    SourceNotebook,
    rubric_points,
    solution_namespace,
    write_notebook,
)
from autograder.authoring.release import lint_cell


def _roles(nb: SourceNotebook) -> dict[str, tuple[str, dict]]:
    return {c.id: (c.cell_type, dict(c.metadata)) for c in nb.cells}


def test_each_method_adds_one_cell_of_its_role_in_order():
    nb = SourceNotebook()
    nb.md("t", "# Title")
    nb.code("c", "x = 1")
    nb.solution("s", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    nb.free("f", 'DATASET = "digits"')
    nb.grade("g", "f_group", 5, "assert f() == 1")
    nb.answer("a", "inline_q", 2.5, "### BEGIN SOLUTION\nyes\n### END SOLUTION")
    roles = {i: (t, m["nbgrader"]) for i, (t, m) in _roles(nb).items()}
    assert list(roles) == ["t", "c", "s", "f", "g", "a"]
    common = {"schema_version": 3}
    assert roles["t"] == ("markdown", {**common, "grade_id": "t", "solution": False, "grade": False, "locked": True})
    assert roles["c"] == ("code", {**common, "grade_id": "c", "solution": False, "grade": False, "locked": True})
    assert roles["s"] == ("code", {**common, "grade_id": "s", "solution": True, "grade": False, "locked": False})
    assert roles["f"] == ("code", {**common, "grade_id": "f", "solution": True, "grade": False, "locked": False})
    assert roles["g"] == ("code", {**common, "grade_id": "f_group", "solution": False, "grade": True,
                                   "locked": True, "points": 5})
    assert roles["a"] == ("markdown", {**common, "grade_id": "inline_q", "solution": True, "grade": True,
                                       "locked": False, "points": 2.5})


def test_only_the_free_cell_opts_out_of_the_module():
    nb = SourceNotebook()
    nb.solution("s", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    nb.free("f", 'DATASET = "digits"')
    assert [c.metadata.get("autograder") for c in nb.cells] == [None, {"module": False}]


def test_cell_text_loses_its_surrounding_newlines_only():
    nb = SourceNotebook()
    nb.code("c", "\n\n  x = 1\n\n")
    assert nb.cells[0].source == "  x = 1"


def test_built_cells_pass_the_release_lint():
    nb = SourceNotebook()
    nb.solution("s", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    nb.answer("a", "inline_q", 2, "### BEGIN SOLUTION\nyes\n### END SOLUTION")
    assert [lint_cell(c) for c in nb.cells] == [[], []]


def test_written_notebook_is_valid_ends_with_a_newline_and_rebuilds_identically(tmp_path):
    def build() -> nbformat.NotebookNode:
        nb = SourceNotebook()
        nb.md("t", "# Title")
        return nb.notebook()

    write_notebook(build(), tmp_path / "a.ipynb")
    write_notebook(build(), tmp_path / "b.ipynb")
    text = (tmp_path / "a.ipynb").read_bytes()
    assert text == (tmp_path / "b.ipynb").read_bytes() and text.endswith(b"}\n")
    nb = nbformat.read(tmp_path / "a.ipynb", as_version=4)
    assert nb.metadata.kernelspec.name == "python3" and [c.id for c in nb.cells] == ["t"]


def test_two_notebooks_do_not_share_their_metadata():
    first, second = SourceNotebook().notebook(), SourceNotebook().notebook()
    first.metadata.kernelspec["name"] = "other"
    assert second.metadata.kernelspec["name"] == "python3"


def test_rubric_points_are_ints_where_whole(tmp_path):
    toml = tmp_path / "assignment.toml"
    toml.write_text('[assignment]\nname = "A9"\nnotebooks = ["nb.ipynb"]\n\n[tests]\nf = 10\ng = 2.5\n\n'
                    '[manual]\nq = 3.0\n', encoding="utf-8")
    points = rubric_points(toml)
    assert points == {"f": 10, "g": 2.5, "q": 3}
    assert [type(v) for v in points.values()] == [int, float, int]


def test_solution_namespace_runs_the_sources_in_order_with_numpy():
    ns = solution_namespace(["def f(x):\n    return np.sum(x)\n", "y = f([1, 2]) + math.pi"], "<test>")
    assert ns["y"] == 3 + 3.141592653589793
