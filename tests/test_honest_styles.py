"""The honest corpus (tests/honest_styles.py) grades to full automatic marks, with no charged
deduction, and passes every visible check.

Each style is graded as `autograder grade` grades a notebook, minus the sandbox: the policy
check (`check_notebook`), the graft into the pristine release (`graded_module_source`), the
hidden tests (in-process) and the scorer. The best models are graded from the saved `.npz` files,
not from the code, so their groups are counted as earned here: the corpus is about the code.
"""

from __future__ import annotations

import pytest
import visible_support as vs
from assignment_support import REPO, hidden_scores
from fixtures import make_violations as mv
from honest_styles import STYLES, Style
from test_visible_checks import reference_bodies

from autograder.core.config import load_config
from autograder.core.graft import graded_module_source
from autograder.core.module import load_trusted_module, module_source
from autograder.core.score import score_submission
from autograder.grading.hidden import load_tests_module
from autograder.student.check import check_notebook

_TRUSTED: dict[str, tuple] = {}


def trusted(assignment: str):
    """(config, hidden tests module, reference module) of an assignment, loaded once."""
    if assignment not in _TRUSTED:
        import nbformat

        folder = REPO / "solutions" / assignment
        source = nbformat.read(str(folder / vs.NOTEBOOKS[assignment]), as_version=4)
        _TRUSTED[assignment] = (
            load_config(folder / "assignment.toml"),
            load_tests_module(folder / "hidden_tests.py"),
            load_trusted_module(module_source(source.cells), f"{assignment.lower()}_honest_reference"),
        )
    return _TRUSTED[assignment]


def student_notebook(style: Style):
    bodies = {cid: list(b) for cid, b in reference_bodies(style.assignment).items()}
    for cid, wanted in style.bodies.items():
        bodies[cid] = [mine if mine is not None else ref for mine, ref in zip(wanted, bodies[cid], strict=True)]
    nb = mv.mark_run(vs.with_bodies(vs.release(style.assignment), bodies))
    return style.reformat(nb) if style.reformat else nb


def graded(style: Style):
    """(score result, violations, hidden test entries) of one style."""
    cfg, tests_module, reference = trusted(style.assignment)
    nb = student_notebook(style)
    violations = [v.to_dict() for v in check_notebook(nb, assignment=style.assignment).violations]
    module = load_trusted_module(graded_module_source(nb, vs.release(style.assignment)),
                                 f"honest_{style.name.replace('-', '_')}")
    scores = hidden_scores(tests_module, module, reference, cfg)
    groups = {t.name: t.grade_id for t in __import__("autograder.grading.hidden", fromlist=["collect_tests"])
              .collect_tests(tests_module)}
    tests = [{"name": name, "grade_id": groups[name], "score": s, "max_score": m,
              "status": "passed" if s == m else "failed", "message": msg}
             for name, (s, m, msg) in scores.items()]
    tests += [{"name": spec.grade_id, "grade_id": spec.grade_id, "score": cfg.tests[spec.grade_id],
               "max_score": cfg.tests[spec.grade_id], "status": "passed", "message": ""}
              for spec in cfg.models.values()]
    return score_submission(tests, violations, cfg), violations, tests


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_honest_style_gets_full_automatic_marks(style):
    result, _, tests = graded(style)
    lost = {g.grade_id: (g.score, g.max_score) for g in result.groups.values()
            if not g.manual and g.score != g.max_score}
    failing = {t["name"]: t["message"][:300] for t in tests if t["status"] != "passed"}
    assert lost == {}, failing


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_honest_style_is_charged_no_deduction(style):
    result, violations, _ = graded(style)
    charged = [(v["rule"], v["message"]) for v, d in zip(violations, result.violation_deductions, strict=True) if d]
    assert (result.deduction, charged) == (0.0, [])


BODY_SETS = {}
for _style in STYLES:
    BODY_SETS.setdefault((_style.assignment, id(_style.bodies)), _style)


@pytest.mark.parametrize("style", list(BODY_SETS.values()), ids=[s.name for s in BODY_SETS.values()])
def test_honest_style_passes_every_visible_check(style):
    nb = student_notebook(Style(style.name, style.assignment, style.bodies))
    failed = {cid: (o.error, o.message) for cid, o in vs.run(nb).items() if not o.ok}
    assert failed == {}
