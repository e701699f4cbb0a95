"""Every policy rule, a clean input and >= 2 violating inputs built from a release.

The violating notebooks come from tests/fixtures/make_violations.py: on the synthetic T1 release
always, and on the real A3/A4 releases (with the instructor's solution grafted in) when they are
in the repository.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.core.config import RULE_IDS, find_config, release_dir, solution_dir
from autograder.core.rules import (
    CATALOG,
    DEFAULT_POLICIES,
    INTEGRITY_RULES,
    RULE_HINTS,
    RULES,
    CheckContext,
    RulePolicy,
    policy_of,
)
from autograder.core.rules import RULE_IDS as DERIVED_RULE_IDS
from autograder.student.check import check_notebook

SYNTHETIC_POLICY = {"loop_free": ("loss_vectorized",), "forbidden": "np.vectorize"}
CASES = [(rule, label, maker) for rule, makers in mv.MAKERS.items() for label, maker in makers]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mv.make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def solved() -> nbformat.NotebookNode:
    return mv.solved_synthetic()


def rules_of(nb: nbformat.NotebookNode, course: Path | None = None) -> list[str]:
    result = check_notebook(dict(copy.deepcopy(nb)), course=course)
    assert not [n for n in result.notes if "could not be checked" in n], result.notes
    return [v.rule for v in result.violations]


def check(nb: nbformat.NotebookNode, course: Path | None = None):  # noqa: ANN201
    return check_notebook(dict(copy.deepcopy(nb)), course=course)


# --------------------------------------------------------------------------------------------
# the registered list
# --------------------------------------------------------------------------------------------


def test_registered_rules_are_the_notebook_rule_ids_in_pipeline_order() -> None:
    ids = [rule.rule_id for rule in RULES]
    assert len(ids) == len(set(ids)) == 15
    assert ids == [r for r in RULE_IDS if r in ids]
    assert set(RULE_IDS) - set(ids) == {
        "zip-structure", "zip-manifest", "student-id-mismatch", "model-invalid", "sandbox-violation",
    }


def test_the_rule_ids_are_derived_from_the_rule_classes_in_pipeline_order() -> None:
    assert RULE_IDS is DERIVED_RULE_IDS
    assert RULE_IDS == tuple(cls.rule_id for cls in CATALOG)
    assert len(set(RULE_IDS)) == len(CATALOG)


def test_every_rule_class_carries_a_one_line_hint_the_feedback_shows() -> None:
    for cls in CATALOG:
        assert cls.hint and "\n" not in cls.hint and cls.hint.endswith((".", ")")), cls.rule_id
    assert list(RULE_HINTS) == list(RULE_IDS)


def test_the_feedback_hints_are_the_rule_classes_hints() -> None:
    from autograder.grading.report import RULE_HINTS as REPORT_HINTS

    assert REPORT_HINTS == RULE_HINTS


def test_the_integrity_rules_are_the_classes_that_compare_with_the_release() -> None:
    assert INTEGRITY_RULES == tuple(c.rule_id for c in CATALOG if c.integrity)
    assert INTEGRITY_RULES == (
        "cell-added", "cell-deleted", "cell-reordered", "cell-duplicated", "cell-type-changed",
        "locked-cell-modified", "outside-todo-modified", "todo-marker-damaged",
    )


def test_a_rule_the_toml_does_not_list_gets_its_class_default_policy(course: Path) -> None:
    config = find_config(mv.ASSIGNMENT, course)
    silent = dataclasses.replace(config, rules={})
    ctx = CheckContext(mv.make_release(), mv.make_release(), silent)
    assert policy_of(ctx, "notebook-invalid") == RulePolicy(severity="error")
    assert policy_of(ctx, "cell-added") == RulePolicy(severity="warning", deduction=0.0)
    assert {r: policy_of(ctx, r) for r in RULE_IDS} == DEFAULT_POLICIES


def test_the_policy_doc_has_one_row_per_notebook_rule_in_the_registered_order() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "policy.md").read_text(encoding="utf-8")
    rows = [line.split("`")[1] for line in text.split("## The rules", 1)[1].splitlines()
            if line.startswith("| `")]
    assert rows == [rule.rule_id for rule in RULES]


def test_every_rule_has_at_least_two_violating_fixtures() -> None:
    for rule in RULE_IDS:
        if rule in [r.rule_id for r in RULES] and rule != "notebook-invalid":
            assert len(mv.MAKERS[rule]) >= 2, rule


# --------------------------------------------------------------------------------------------
# synthetic release
# --------------------------------------------------------------------------------------------


def test_release_with_the_solution_grafted_in_has_zero_violations(course: Path, solved) -> None:
    assert rules_of(solved, course) == []


@pytest.mark.parametrize(("rule", "label", "maker"), CASES, ids=[f"{r}:{lbl}" for r, lbl, _ in CASES])
def test_violating_fixture_is_reported_under_its_rule(course: Path, solved, rule, label, maker) -> None:
    found = rules_of(maker(solved, SYNTHETIC_POLICY), course)
    assert rule in found
    assert set(found) <= {rule} | mv.ALSO.get(maker.__name__, set())


def test_one_inserted_cell_is_exactly_one_violation_even_without_cell_ids(course: Path, solved) -> None:
    assert rules_of(mv.added_cell_without_ids(solved, SYNTHETIC_POLICY), course) == ["cell-added"]


def test_whitespace_quotes_and_line_endings_are_not_violations(course: Path, solved) -> None:
    nb = copy.deepcopy(solved)
    for cell in nb.cells:
        if cell.cell_type == "code":
            src = cell.source.replace("'", '"').replace("    ", "  ").replace("(W, X)", "( W,X )")
            cell.source = src.replace("\n", "\r\n\n")
    assert rules_of(nb, course) == []


def test_edited_comment_is_a_warning_worth_nothing(course: Path, solved) -> None:
    i = mv.find(solved, "locked", "code", nth=-1)
    nb = mv.edit_source(solved, i, lambda s: s.replace("run this cell last", "run it at the end"))
    (v,) = check(nb, course).violations
    assert (v.rule, v.severity, v.deduction) == ("locked-cell-modified", "warning", 0.0)


def test_edited_docstring_outside_the_todo_block_is_a_warning(course: Path, solved) -> None:
    i = mv.find(solved, "todo")
    nb = mv.edit_source(solved, i, lambda s: s.replace("with loops", "with two loops"))
    (v,) = check(nb, course).violations
    assert (v.rule, v.severity, v.line) == ("outside-todo-modified", "warning", 2)


def test_outside_change_names_the_first_differing_line_with_a_diff(course: Path, solved) -> None:
    (v,) = check(mv.outside_return_changed(solved, SYNTHETIC_POLICY), course).violations
    assert v.cell == 3 and v.line == 9
    assert "unused = 0" in v.message and "rescue" in v.message
    assert "+unused = 0" in v.detail and "--- release" in v.detail


def test_empty_added_cell_is_ignored(course: Path, solved) -> None:
    nb = mv.insert(solved, 3, nbformat.v4.new_code_cell(""))
    assert rules_of(nb, course) == []


def test_free_cell_and_answer_are_never_compared(course: Path, solved) -> None:
    nb = mv.edit_source(solved, mv.find(solved, "free"), lambda s: "learning_rate = 0.5\nreg = 2")
    nb = mv.edit_source(nb, mv.find(nb, "answer"), lambda s: "A completely different answer.")
    assert rules_of(nb, course) == []


def test_forbidden_import_in_a_free_cell_is_still_caught(course: Path, solved) -> None:
    nb = mv.edit_source(solved, mv.find(solved, "free"), lambda s: "import scipy\n" + s)
    (v,) = check(nb, course).violations
    assert (v.rule, v.cell, v.line) == ("forbidden-import", 7, 1)


@pytest.mark.parametrize("line", [
    "m = sys.modules", "b = __builtins__", "g = globals()['np']", "f = open('x')",
    "import importlib", "c = ().__class__.__bases__[0].__subclasses__()", "setattr(math, 'pi', 3)",
    "exec('import os')", "v = compile('1', 'f', 'eval')", "x = !ls",
])
def test_ways_around_the_import_rule_are_caught(course: Path, solved, line: str) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), line)
    assert "forbidden-import" in rules_of(nb, course)


def test_allowed_imports_are_not_reported(course: Path, solved) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), "import numpy.linalg as la\nfrom math import sqrt")
    assert rules_of(nb, course) == []


def test_vars_of_an_object_is_not_an_import_trick(course: Path, solved) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), "d = vars(W)")
    assert rules_of(nb, course) == []


def test_forbidden_call_through_a_plain_rebinding(course: Path, solved) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), "vec = np.vectorize\nf = vec(abs)")
    found = check(nb, course).violations
    assert [v.rule for v in found] == ["forbidden-call", "forbidden-call"]


def test_forbidden_prefix_forbids_what_is_below_it(course: Path, solved) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), "r = np.linalg.lstsq(W, W)")
    assert rules_of(nb, course) == ["forbidden-call"]


def test_loops_in_non_loop_free_functions_are_fine(course: Path, solved) -> None:
    assert "for i in range" in mv.body_of(solved, mv.find(solved, "todo"))
    assert rules_of(solved, course) == []


def test_loop_reached_through_two_calls_is_reported_at_the_first_call(course: Path, solved) -> None:
    nb = mv.put_body(solved, 4, 0, "if False:\n    loss_naive(x, x)\nreturn x * x")  # square -> naive
    (v,) = check(nb, course).violations
    assert v.rule == "loop-in-vectorized" and "calls `loss_naive`" in v.message
    assert (v.cell, v.line) == (5, 13)  # loss_vectorized's call to square


def test_undefined_name_points_at_the_students_cell_and_line(course: Path, solved) -> None:
    (v,) = check(mv.undefined_global(solved, SYNTHETIC_POLICY), course).violations
    assert (v.cell, v.line) == (3, 5)
    assert "some_global_from_a_driver_cell" in v.message


def test_global_set_in_a_free_cell_is_undefined_in_the_graded_module(course: Path, solved) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), "step = learning_rate")
    (v,) = check(nb, course).violations
    assert v.rule == "undefined-name" and "learning_rate" in v.message


def test_todo_body_that_does_not_parse_is_one_clear_violation(course: Path, solved) -> None:
    (v,) = check(mv.syntax_error_in_body(solved, SYNTHETIC_POLICY), course).violations
    assert v.rule == "undefined-name" and "SyntaxError" in v.message and (v.cell, v.line) == (3, 5)


def test_todo_not_done_is_named_in_the_execution_message(course: Path, solved) -> None:
    (v,) = check(mv.stopped_by_todo(solved, SYNTHETIC_POLICY), course).violations
    assert "NotImplementedError (a TODO is not done yet)" in v.message


def test_execution_problems_are_reported_once_per_notebook(course: Path) -> None:
    nb = mv.make_release()  # nothing ran at all
    nb.cells[-1]["execution_count"] = None
    found = [v for v in check(nb, course).violations if v.rule == "not-executed"]
    assert len(found) == 1 and "no code cell has run" in found[0].message and found[0].cell == 2


def test_cells_that_never_ran_are_listed_in_one_violation(course: Path, solved) -> None:
    nb = copy.deepcopy(solved)
    for i in (1, 2, 3, 5):
        nb.cells[i]["execution_count"], nb.cells[i]["outputs"] = None, []
    (v,) = check(nb, course).violations
    assert v.rule == "not-executed" and "cell(s) 2-4, 6 never ran" in v.message


def test_the_last_cell_that_builds_the_zip_is_exempt(course: Path, solved) -> None:
    nb = copy.deepcopy(solved)
    nb.cells[-1]["execution_count"] = None
    nb.cells[-1]["outputs"] = []
    assert rules_of(nb, course) == []


def test_out_of_order_execution_is_a_warning(course: Path, solved) -> None:
    nb = copy.deepcopy(solved)
    nb.cells[3]["execution_count"] = 50
    (v,) = check(nb, course).violations
    assert (v.rule, v.severity, v.deduction) == ("not-executed", "warning", 0.0)


def test_a_cell_that_shows_nothing_may_have_no_outputs(course: Path, solved) -> None:
    nb = copy.deepcopy(solved)
    assert nb.cells[1]["execution_count"] and not nb.cells[1]["outputs"]  # `import numpy as np`
    assert rules_of(nb, course) == []


def test_severity_and_deduction_come_from_assignment_toml(tmp_path: Path, solved) -> None:
    lenient = mv.make_course(tmp_path, strict=False)  # no [rules]: warnings worth nothing
    result = check(mv.added_code_cell(solved, SYNTHETIC_POLICY), lenient)
    assert [(v.severity, v.deduction) for v in result.violations] == [("warning", 0.0)]
    assert result.errors == 0


# --------------------------------------------------------------------------------------------
# the real releases
# --------------------------------------------------------------------------------------------


_REAL: dict[str, tuple[nbformat.NotebookNode, dict]] = {}


def real_solved(assignment: str):  # noqa: ANN201
    """The real release with its solution grafted in (cached: building it reads two notebooks)."""
    if assignment not in _REAL:
        _REAL[assignment] = _build_real(assignment)
    return _REAL[assignment]


def _build_real(assignment: str):  # noqa: ANN202
    try:
        cfg = find_config(assignment)
    except Exception:
        pytest.fail(f"{assignment} has no assignment.toml")
    name = cfg.notebooks[0]
    if not (release_dir(assignment) / name).is_file() or not (solution_dir(assignment) / name).is_file():
        pytest.fail(f"{assignment} release not generated: run `autograder release {assignment}`")
    policy = mv.policy_for(assignment, cfg.loop_free, cfg.forbidden_calls)
    return mv.solved_real(release_dir(assignment) / name, assignment, name), policy


@pytest.mark.parametrize("assignment", ["A3", "A4"])
def test_real_release_with_the_solution_grafted_in_has_zero_violations(assignment: str) -> None:
    solved_nb, _ = real_solved(assignment)
    assert rules_of(solved_nb) == []


@pytest.mark.parametrize("assignment", ["A3", "A4"])
@pytest.mark.parametrize(("rule", "label", "maker"), CASES, ids=[f"{r}:{lbl}" for r, lbl, _ in CASES])
def test_real_release_violation_is_reported(assignment: str, rule, label, maker) -> None:
    solved_nb, policy = real_solved(assignment)
    assert policy["loop_free"], f"{assignment} names no loop-free functions"
    found = rules_of(maker(solved_nb, policy))
    assert rule in found
    assert set(found) <= {rule} | mv.ALSO.get(maker.__name__, set())


def test_a_loop_reached_from_two_loop_free_functions_is_one_violation_where_it_is() -> None:
    # A4: nn_forward_backward calls nn_forward_pass; both must be loop-free. One loop, one cost.
    solved_nb, _ = real_solved("A4")
    index, block = mv.find_function(solved_nb, "nn_forward_pass")
    nb = mv.add_to_body(solved_nb, index, "for _ in range(1):\n    pass", block)
    found = [v for v in check(nb).violations if v.rule == "loop-in-vectorized"]
    assert len(found) == 1
    assert "`nn_forward_pass` must be loop-free but has a `for` loop" in found[0].message


# --------------------------------------------------------------------------------------------
# evasions of the loop, call and import rules (each was missed before)
# --------------------------------------------------------------------------------------------

VEC_CELL, VEC_BLOCK = 4, 1  # loss_vectorized's TODO block in the synthetic release


def vectorized(solved, body: str) -> nbformat.NotebookNode:
    return mv.put_body(solved, VEC_CELL, VEC_BLOCK, body)


LOOPS_IN_DISGUISE = {
    "an alias of map": "mp = map\nreturn float(sum(mp(lambda r: float(r @ W) ** 2, X)))",
    "an alias of filter": "keep = filter\nreturn float(np.sum(np.array(list(keep(None, X @ W))) ** 2))",
    "map kept in a list": "fs = [map]\nreturn float(sum(fs[0](lambda r: float(r @ W) ** 2, X)))",
    "an alias of numpy": "xp = np\nf = xp.vectorize(lambda s: s * s)\nreturn float(np.sum(f(X @ W)))",
    "np.vectorize through getattr": "f = getattr(np, 'vectorize')(lambda s: s * s)\nreturn float(np.sum(f(X @ W)))",
    "a chain of aliases": "a = np\nb = a\nf = b.frompyfunc(lambda s: s * s, 1, 1)\nreturn float(np.sum(f(X @ W)))",
    "recursion through a nested function": (
        "def rec(i):\n    return 0.0 if i == X.shape[0] else float(X[i] @ W) ** 2 + rec(i + 1)\n"
        "return rec(0)"),
    "recursion through a nested lambda": (
        "rec = lambda i: 0.0 if i == X.shape[0] else float(X[i] @ W) ** 2 + rec(i + 1)\n"
        "return rec(0)"),
    "mutual recursion of nested functions": (
        "def even(i):\n    return 0.0 if i >= X.shape[0] else float(X[i] @ W) ** 2 + odd(i + 1)\n"
        "def odd(i):\n    return 0.0 if i >= X.shape[0] else float(X[i] @ W) ** 2 + even(i + 1)\n"
        "return even(0)"),
    "a function applied to itself": (
        "r = lambda f, i: 0.0 if i == X.shape[0] else float(X[i] @ W) ** 2 + f(f, i + 1)\n"
        "return r(r, 0)"),
}


@pytest.mark.parametrize("label", list(LOOPS_IN_DISGUISE))
def test_loop_in_disguise_is_a_loop_in_vectorized(course: Path, solved, label: str) -> None:
    assert "loop-in-vectorized" in rules_of(vectorized(solved, LOOPS_IN_DISGUISE[label]), course)


def test_comprehension_over_a_constant_tuple_is_not_a_loop(course: Path, solved) -> None:
    body = "s = X @ W\nparts = [np.sum(a * a) for a in (s, s)]\nreturn float(parts[0])"
    assert rules_of(vectorized(solved, body), course) == []


def test_local_variable_named_like_a_builtin_loop_is_not_a_loop(course: Path, solved) -> None:
    body = "filter = X @ W\nreturn float(np.sum(filter * filter))"
    assert rules_of(vectorized(solved, body), course) == []


INTROSPECTION = {
    "a traceback's frame globals": (
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n"
        "    g = e.__traceback__.tb_frame.f_globals\nreturn float(np.sum(square(X @ W)))"),
    "a caller's frame": (
        "g = (i for i in ())\nf = g.gi_frame.f_back\nreturn float(np.sum(square(X @ W)))"),
    "numpy's module dict": (
        "imp = np.__dict__['__builtins__']['__import__']\nreturn float(np.sum(square(X @ W)))"),
    "a closure": "c = square.__closure__\nreturn float(np.sum(square(X @ W)))",
    "a bound method's object": "o = W.sum.__self__\nreturn float(np.sum(square(X @ W)))",
    "getattr with a computed name": "f = getattr(W, 'su' + 'm')\nreturn float(f())",
    "getattr by another name": "ga = getattr\nf = ga(W, 'sum')\nreturn float(np.sum(square(X @ W)))",
    "a computed getattr on numpy through an alias": (
        "xp = np\nf = getattr(xp, 'vector' + 'ize')(lambda s: s * s)\nreturn float(np.sum(f(X @ W)))"),
    "getattr of an introspection name": (
        "f = getattr(square, '__globals__')\nreturn float(np.sum(square(X @ W)))"),
    "__getattribute__": "f = W.__getattribute__('sum')\nreturn float(f())",
}


@pytest.mark.parametrize("label", list(INTROSPECTION))
def test_introspection_and_computed_getattr_are_forbidden_calls(course: Path, solved, label: str) -> None:
    found = rules_of(vectorized(solved, INTROSPECTION[label]), course)
    assert "forbidden-call" in found


def test_computed_getattr_on_numpy_is_charged_once(course: Path, solved) -> None:
    body = "xp = np\ng = getattr(xp, 'su' + 'm')\nreturn float(g(X @ W))"
    assert rules_of(vectorized(solved, body), course) == ["forbidden-call"]


def test_getattr_with_a_plain_constant_name_is_allowed(course: Path, solved) -> None:
    body = "shape = getattr(X, 'shape')\nreturn float(np.sum(square(X @ W))) + 0 * shape[0]"
    assert rules_of(vectorized(solved, body), course) == []


@pytest.mark.parametrize("line", [
    "f = np.ma.core.inspect.currentframe()",
    "m = np.ma.core.builtins.map",
    "s = np.testing.extbuild.sys",
    "o = np.ma.core.operator.attrgetter('sum')",
])
def test_a_python_module_reached_through_numpy_is_a_forbidden_import(course: Path, solved, line: str) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), line)
    assert "forbidden-import" in rules_of(nb, course)


def test_numpy_functions_named_like_python_modules_stay_allowed(course: Path, solved) -> None:
    nb = mv.add_to_body(solved, mv.find(solved, "todo"), "c = np.copy(W)\nr = np.random.rand(2)")
    assert rules_of(nb, course) == []
