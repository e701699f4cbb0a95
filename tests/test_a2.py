"""A2 (backprop basics): the source notebook, its release, the hidden tests and the rubric.

* the grafted solution runs start to end, and prints the lecture's numbers it checks;
* the release shows no solution line;
* the reference gets full marks, every hidden test takes points from at least one realistic
  mutant, and an answer that does no work scores 0 in its group.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from assignment_support import (
    Assignment,
    error_outputs,
    group_score,
    hidden_scores,
    output_text,
    score_mutants,
    solution_blocks,
)
from mutants_a2 import MUTANTS, NO_WORK

from autograder.grading.hidden import collect_tests

pytest_plugins = ["assignment_support"]
A2 = Assignment("A2", "backprop_basics", solution_lines=60, todo_blocks=21)


@pytest.fixture(scope="module")
def assignment():
    return A2


def test_the_lectures_numbers_are_in_the_notebook_and_checked(source_nb):
    text = "\n".join(c.source for c in source_nb.cells)
    for needle in ("simple_graph(-2.0, 5.0, -4.0)", "[-12.0, -4.0, -4.0, 3.0]",
                   "np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0])",
                   "[[0, 16, -9], [-24, 9, -30]]", "[[2.0, 3, -3, 9], [-8, 1, 4, 6]]", "256 GB"):
        assert needle in text, needle


def test_the_release_shows_no_solution_line(source_nb, release_nb):
    release_text = "\n".join(c.source for c in release_nb.cells)
    hidden = [line.strip() for c in source_nb.cells for block in solution_blocks(c.source)
              for line in block if len(line.strip()) > 12 and not line.strip().startswith("#")]
    assert len(hidden) > A2.solution_lines
    assert [line for line in hidden if line in release_text] == []
    code = "\n".join(c.source for c in release_nb.cells if c.cell_type == "code")
    assert code.count("START OF YOUR CODE") == A2.todo_blocks


@pytest.fixture(scope="module")
def executed(tmp_path_factory, source_nb):
    from nbclient import NotebookClient

    nb = nbformat.from_dict(json.loads(json.dumps(source_nb)))
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path_factory.mktemp("a2-run"))}}).execute()
    return nb


def test_the_solution_runs_start_to_end_and_passes_every_check(executed):
    assert not error_outputs(executed)
    text = output_text(executed)
    for passed in ("simple_graph: OK", "sigmoid_neuron: OK", "gradient patterns: OK",
                   "modular API: OK", "matmul_backward: OK", "jvp_matmul: OK"):
        assert passed in text


def test_reference_gets_full_marks(tests_module, reference, cfg):
    scores = hidden_scores(tests_module, reference, reference, cfg)
    assert {name: s for name, (s, m, _) in scores.items() if abs(s - m) > 1e-5} == {}
    assert sum(s for s, _, _ in scores.values()) == pytest.approx(sum(cfg.tests.values()))


@pytest.fixture(scope="module")
def group_of(tests_module):
    return {t.name: t.grade_id for t in collect_tests(tests_module)}


@pytest.fixture(scope="module")
def mutant_scores(tests_module, reference_source, reference, cfg):
    mutants = [(g, m, s) for table in (MUTANTS, NO_WORK) for g, ms in table.items() for m, s in ms]
    return score_mutants(A2, mutants, tests_module, reference_source, reference, cfg)


@pytest.mark.parametrize(("grade_id", "mutant_id"), [(g, m) for g, ms in MUTANTS.items() for m, _ in ms])
def test_each_mutant_loses_points_in_its_group_only(mutant_scores, group_of, grade_id, mutant_id):
    scores = mutant_scores[(grade_id, mutant_id)]
    lost = {name for name, (s, m, _) in scores.items() if s < m - 1e-5}
    assert lost, f"{grade_id}/{mutant_id} gets full marks"
    assert {group_of[name] for name in lost} == {grade_id}


def test_every_hidden_test_fails_on_at_least_one_mutant(mutant_scores, tests_module):
    failed = {name for scores in mutant_scores.values() for name, (s, m, _) in scores.items()
              if s < m - 1e-5}
    assert {t.name for t in collect_tests(tests_module)} - failed == set()


@pytest.mark.parametrize(("grade_id", "mutant_id"), [(g, m) for g, ms in NO_WORK.items() for m, _ in ms])
def test_no_work_scores_zero_in_its_group(mutant_scores, group_of, grade_id, mutant_id):
    score, _max = group_score(mutant_scores[(grade_id, mutant_id)], group_of, grade_id)
    assert score == 0, f"{grade_id}/{mutant_id}: {score}"


def test_the_grafted_solution_submitted_and_graded_gets_full_automatic_marks(tmp_path, source_nb,
                                                                            release_nb, cfg):
    import os
    import shutil

    from fixtures import make_violations as mv

    from autograder.authoring.solved import solved_release
    from autograder.grading.grade import grade_class
    from autograder.student.submission import submit

    course = tmp_path / "course"
    for part in ("solutions", "assignments"):
        shutil.copytree(A2.source_dir.parent.parent / part / "A2", course / part / "A2")
    work = tmp_path / "student"
    work.mkdir()
    nbformat.write(mv.mark_run(solved_release(source_nb, release_nb)), work / "backprop_basics.ipynb")
    made = submit("A2", "2022123456", work, out=tmp_path / "subs", course=course, echo=lambda *_: None)
    assert made.ok, made.problems
    run = grade_class("A2", tmp_path / "subs", tmp_path / "out", course=course, jobs=1,
                      stream=open(os.devnull, "w"))
    report = run.reports["2022123456"]
    assert report["status"] == "graded", report["message"]
    assert report["score"] == pytest.approx(sum(cfg.tests.values())), [
        t for t in report["tests"] if t["status"] != "passed"]
