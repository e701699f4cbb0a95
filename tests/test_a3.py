"""A3 (linear classifiers): the source notebook, its release, the hidden tests and the rubric.

Specification of issue 3:
* the solution notebook runs start to end on digits and saves models over the full-credit bars;
* the release leaks no solution line, keeps the TODO markers, locks every non-solution cell, and
  carries the points of assignment.toml;
* every hidden test takes points from at least one realistic wrong implementation, while the
  reference gets full marks.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.config import load_config
from autograder.hidden import InProcessCaller, collect_tests, load_tests_module, run_hidden_tests
from autograder.module import load_trusted_module, module_source

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO / "solutions" / "A3"
SOURCE_NB = SOURCE_DIR / "linear_classifier.ipynb"
RELEASE_NB = REPO / "assignments" / "A3" / "linear_classifier.ipynb"
START = "# ========== START OF YOUR CODE (do not edit or delete this line) =========="
END = "# =========== END OF YOUR CODE (do not edit or delete this line) ==========="

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants_a3 import MUTANTS  # noqa: E402


def _load_builder():
    spec = importlib.util.spec_from_file_location("a3_build_notebook", SOURCE_DIR / "build_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cfg():
    return load_config(SOURCE_DIR / "assignment.toml")


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(SOURCE_NB, as_version=4)


@pytest.fixture(scope="module")
def release_nb():
    if not RELEASE_NB.is_file():
        pytest.fail(f"{RELEASE_NB} is missing: run `autograder release A3`")
    return nbformat.read(RELEASE_NB, as_version=4)


@pytest.fixture(scope="module")
def reference_source(source_nb):
    return module_source(source_nb.cells)


@pytest.fixture(scope="module")
def reference(reference_source):
    return load_trusted_module(reference_source, "a3_reference")


@pytest.fixture(scope="module")
def tests_module():
    return load_tests_module(SOURCE_DIR / "hidden_tests.py")


def _nbgrader(cell) -> dict:
    return dict(cell.metadata.get("nbgrader", {}))


def _solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.split("\n"):
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _score(tests_module, module, reference, cfg) -> dict[str, tuple[float, float, str]]:
    """test name -> (score, max_score, message), the student being `module`."""
    results = run_hidden_tests(tests_module, InProcessCaller(module, timeout=30), reference,
                               cfg.tests, int(cfg.private["seed"]))
    return {r.name: (r.score, r.max_score, r.message) for r in results}


# --------------------------------------------------------------------------- the source notebook


def test_generator_rebuilds_the_committed_notebook_byte_for_byte(tmp_path):
    out = tmp_path / "nb.ipynb"
    subprocess.run([sys.executable, str(SOURCE_DIR / "build_notebook.py"), "-o", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == SOURCE_NB.read_bytes(), "run solutions/A3/build_notebook.py"


def test_sanity_values_in_the_notebook_come_from_the_reference():
    builder = _load_builder()
    measured = builder.measure()
    for key, value in measured.items():
        assert builder.SANITY[key] == pytest.approx(value, rel=1e-12), key


def test_every_cell_has_a_stable_id_and_a_grade_id(source_nb):
    ids = [cell.id for cell in source_nb.cells]
    assert len(set(ids)) == len(ids)
    assert all(cell.id.startswith("a3-") for cell in source_nb.cells)
    assert all(_nbgrader(cell).get("grade_id") for cell in source_nb.cells)


def test_reference_signatures_follow_design_section_5(reference):
    import inspect

    expected = {
        "svm_loss_naive": "(W, X, y, reg)",
        "svm_loss_vectorized": "(W, X, y, reg)",
        "softmax_loss_naive": "(W, X, y, reg)",
        "softmax_loss_vectorized": "(W, X, y, reg)",
        "sample_batch": "(X, y, num_train, batch_size)",
        "train_linear_classifier": "(loss_func, W, X, y, learning_rate=0.001, reg=1e-05, "
                                   "num_iters=100, batch_size=200, verbose=False)",
        "predict_linear_classifier": "(W, X)",
        "svm_get_search_params": "()",
        "softmax_get_search_params": "()",
    }
    for name, signature in expected.items():
        assert str(inspect.signature(getattr(reference, name))) == signature, name


def test_every_student_function_docstring_states_shapes(reference):
    for name in ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive",
                 "softmax_loss_vectorized", "sample_batch", "train_linear_classifier",
                 "predict_linear_classifier"):
        doc = getattr(reference, name).__doc__
        assert "(N," in doc or "(batch_size," in doc, name
        assert "(D, C)" in doc or name == "sample_batch", name


@pytest.fixture(scope="module")
def executed(tmp_path_factory, source_nb):
    """The source notebook (release cells + solutions) run start to end on digits."""
    from nbclient import NotebookClient

    workdir = tmp_path_factory.mktemp("a3-run")
    nb = nbformat.from_dict(json.loads(json.dumps(source_nb)))
    start = time.perf_counter()
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb, workdir, time.perf_counter() - start


def test_solution_notebook_runs_start_to_end_in_under_60_s(executed):
    nb, _workdir, seconds = executed
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert seconds < 60, f"the notebook took {seconds:.1f} s"
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for passed in ("All svm_loss_naive sanity checks passed.", "svm_loss_vectorized agrees",
                   "All softmax_loss_naive sanity checks passed.", "softmax_loss_vectorized agrees",
                   "sample_batch sanity checks passed.", "train_linear_classifier sanity checks passed.",
                   "predict_linear_classifier sanity checks passed.", "speedup:"):
        assert passed in text


@pytest.mark.parametrize("model", ["svm_best_model", "softmax_best_model"])
def test_saved_models_are_over_the_full_credit_bar(executed, cfg, reference, model):
    from autograder.datasets import load_dataset

    _nb, workdir, _seconds = executed
    spec = cfg.models[model]
    with np.load(workdir / spec.file, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W"]
        W = npz["W"]
    data = load_dataset("digits")
    assert W.shape == (data["X_test"].shape[1], len(data["class_names"])) and W.dtype == np.float64
    accuracy = np.mean(getattr(reference, spec.predict)(W, data["X_test"]) == data["y_test"])
    assert accuracy >= spec.bands["digits"][1], f"{model}: test accuracy {accuracy:.3f}"


def test_notebook_states_the_model_bars_of_assignment_toml(source_nb, cfg):
    text = "\n".join(c.source for c in source_nb.cells if c.cell_type == "markdown")
    for spec in cfg.models.values():
        (d_floor, d_full), (c_floor, c_full) = spec.bands["digits"], spec.bands["cifar10"]
        assert f"**{d_full:.2f} on digits**" in text and f"**{c_full:.2f} on CIFAR-10**" in text
        assert f"{d_floor:.2f} (digits)" in text and f"{c_floor:.2f}\n(CIFAR-10)" in text


def test_last_cell_builds_the_submission(source_nb):
    last = source_nb.cells[-1]
    assert last.cell_type == "code"
    assert "from autograder.submission import submit_from_notebook" in last.source
    assert 'submit_from_notebook("A3", student_id=STUDENT_ID)' in last.source
    assert "except ImportError" in last.source


def test_dataset_and_student_id_live_in_a_free_cell(source_nb):
    free = [c for c in source_nb.cells
            if _nbgrader(c).get("solution") and c.metadata.get("autograder", {}).get("module") is False]
    assert len(free) == 1
    assert 'DATASET = "digits"' in free[0].source and "STUDENT_ID = " in free[0].source
    assert "BEGIN SOLUTION" not in free[0].source


# --------------------------------------------------------------------------- the release


def test_release_is_in_sync_with_the_source():
    done = subprocess.run([sys.executable, "-m", "autograder", "release", "A3", "--check"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_release_holds_no_solution_line(source_nb, release_nb):
    released = "\n".join(cell.source for cell in release_nb.cells)
    released_lines = {line.strip() for line in released.split("\n")}
    solution_lines = [line for cell in source_nb.cells for line in _solution_lines(cell.source)]
    assert len(solution_lines) > 80  # the check below is not vacuous
    leaked = [line for line in solution_lines if line in released_lines]
    assert not leaked
    assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released


def test_release_has_one_todo_block_per_solution_block(source_nb, release_nb):
    for src, rel in zip(source_nb.cells, release_nb.cells, strict=True):
        blocks = src.source.count("### BEGIN SOLUTION")
        if src.cell_type == "code":
            assert rel.source.count(START) == blocks == rel.source.count(END), src.id
            if blocks:
                lines = [line.strip() for line in rel.source.split("\n")]
                i = lines.index(START)
                assert lines[i + 1 : i + 3] == ["raise NotImplementedError", END]
        elif blocks:
            assert "YOUR ANSWER HERE" in rel.source


def test_release_locks_every_cell_but_the_solution_cells(source_nb, release_nb):
    assert [c.id for c in release_nb.cells] == [c.id for c in source_nb.cells]
    for cell in release_nb.cells:
        meta = _nbgrader(cell)
        assert meta.get("locked") is (not meta.get("solution")), cell.id


def test_grade_cell_points_equal_assignment_toml(release_nb, cfg):
    code = {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in release_nb.cells
            if _nbgrader(c).get("grade") and c.cell_type == "code"}
    manual = {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in release_nb.cells
              if _nbgrader(c).get("grade") and c.cell_type == "markdown"}
    assert code == cfg.tests and manual == cfg.manual
    assert sum(code.values()) + sum(manual.values()) == cfg.max_score == 100


def test_release_keeps_the_free_cell_and_has_no_outputs(release_nb):
    assert any('DATASET = "digits"' in c.source for c in release_nb.cells)
    assert all(not c.get("outputs") for c in release_nb.cells if c.cell_type == "code")


# --------------------------------------------------------------------------- hidden tests


def test_every_graded_function_has_hidden_tests(tests_module, cfg):
    groups = {t.grade_id for t in collect_tests(tests_module)}
    models = {m.grade_id for m in cfg.models.values()}
    assert groups == set(cfg.tests) - models


def test_reference_gets_full_marks(tests_module, reference, cfg):
    scores = _score(tests_module, reference, reference, cfg)
    assert {name: s for name, (s, m, _) in scores.items() if s != m} == {}
    assert sum(s for s, _, _ in scores.values()) == sum(cfg.tests.values()) - 20  # models: 20


def test_svm_hidden_inputs_stay_clear_of_the_kinks(tests_module):
    rng = np.random.default_rng(0)
    for N, D, C in ((1, 1, 2), (60, 30, 10), (20, 10, 5)):
        W, X, y = tests_module.svm_problem(rng, N, D, C)
        assert tests_module.min_hinge_gap(W, X, y) > tests_module.KINK_GAP


def _mutated(reference_source: str, grade_id: str, mutant_id: str, mutant_source: str):
    return load_trusted_module(reference_source + "\n" + mutant_source, f"a3_{grade_id}_{mutant_id}")


@pytest.fixture(scope="module")
def mutant_scores(tests_module, reference_source, reference, cfg):
    """(grade_id, mutant id) -> test name -> (score, max_score, message)."""
    import warnings

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow of the no-max-shift mutants
        for grade_id, mutants in MUTANTS.items():
            for mutant_id, source in mutants:
                module = _mutated(reference_source, grade_id, mutant_id, source)
                out[(grade_id, mutant_id)] = _score(tests_module, module, reference, cfg)
    return out


@pytest.mark.parametrize(("grade_id", "mutant_id"),
                         [(g, m) for g, ms in MUTANTS.items() for m, _ in ms])
def test_each_mutant_loses_points_in_its_group(mutant_scores, grade_id, mutant_id):
    scores = mutant_scores[(grade_id, mutant_id)]
    lost = {name: s for name, s in scores.items() if s[0] < s[1]}
    assert lost, f"{grade_id}/{mutant_id} gets full marks"
    assert {name for name in lost if not name.startswith("train_lowers")} <= {
        t for t in scores if _group_of(t) == grade_id
    }, f"{grade_id}/{mutant_id} costs points outside its group: {sorted(lost)}"


def _group_of(test_name: str) -> str:
    prefixes = {
        "svm_naive_": "svm_loss_naive", "svm_vectorized_": "svm_loss_vectorized",
        "softmax_naive_": "softmax_loss_naive", "softmax_vectorized_": "softmax_loss_vectorized",
        "sample_batch_": "sample_batch", "train_": "train_linear_classifier",
        "predict_": "predict_linear_classifier", "svm_search_": "svm_get_search_params",
        "softmax_search_": "softmax_get_search_params",
    }
    return next(g for p, g in prefixes.items() if test_name.startswith(p))


def test_every_hidden_test_is_failed_by_some_mutant(tests_module, mutant_scores):
    for test in collect_tests(tests_module):
        assert _group_of(test.name) == test.grade_id
        caught_by = [m for (g, m), scores in mutant_scores.items()
                     if g == test.grade_id and scores[test.name][0] < scores[test.name][1]]
        assert caught_by, f"no mutant makes {test.name} lose points"
