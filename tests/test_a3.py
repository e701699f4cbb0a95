"""A3 (linear classifiers): the source notebook, its release, the hidden tests and the rubric.

Specification of A3 (what every assignment must satisfy, the release's checks among
them, is in tests/test_releases.py):
* the solution notebook runs start to end on digits and saves models over the full-credit bars;
* every hidden test takes points from at least one realistic wrong implementation, while the
  reference gets full marks;
* an answer that does no work (zeros or a constant, whatever the inputs) scores 0 in its group
  (self-consistency tests count only after a reference match).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from assignment_support import (
    A3,
    error_outputs,
    group_score,
    hidden_scores,
    nbgrader,
    output_text,
    scaled_reference,
    score_mutants,
    score_table,
)
from mutants_a3 import MUTANTS, NO_WORK

from autograder.grading.hidden import InProcessCaller, collect_tests, run_hidden_tests, stubs_beside

pytest_plugins = ["assignment_support"]


@pytest.fixture(scope="module")
def assignment():
    return A3


# --------------------------------------------------------------------------- the source notebook


def _grade_cell(source_nb, grade_id: str):
    return next(c for c in source_nb.cells if nbgrader(c).get("grade_id") == grade_id)


@pytest.mark.parametrize("grade_id", ["svm_loss_naive", "softmax_loss_naive"])
def test_toy_loss_stated_in_the_grade_cell_is_the_references(source_nb, reference, grade_id):
    """The toy problem's lines and the loss the check expects, read from the cell itself
    (`autograder measure A3` shows the reference's value after a change)."""
    source = _grade_cell(source_nb, grade_id).source
    toy = "\n".join(line for line in source.split("\n") if re.match(r"(rng|[WXy]_toy) = ", line))
    ns = {"np": np}
    exec(compile(toy, "<toy>", "exec"), ns)  # noqa: S102 - the notebook's own lines
    loss = getattr(reference, grade_id)(ns["W_toy"], ns["X_toy"], ns["y_toy"], 0.1)[0]
    asserted = float(re.search(r"assert abs\(loss - ([-+0-9.e]+)\) < 1e-6", source).group(1))
    printed = re.search(r"expected: ([-+0-9.]+)\"\)", source).group(1)
    assert asserted == pytest.approx(loss, rel=1e-12)
    assert printed == f"{loss:.10f}"



@pytest.mark.parametrize("grade_id", ["svm_loss_naive", "softmax_loss_naive"])
def test_gradient_check_passes_the_reference_on_every_entry_it_can_pick(source_nb, reference, grade_id):
    """The visible gradient check picks 10 random entries of the checked rows of W; every one of
    those entries, at both regs, must be within the check's 1e-5 of the reference's gradient
    (so no choice of entries can fail correct code through rounding). The point, the rows and
    the threshold are read from the cell itself."""
    from autograder.datasets import load_dataset
    from autograder.toolkit import eval_numerical_gradient, rel_error

    source = _grade_cell(source_nb, grade_id).source
    data = load_dataset("digits")
    ns = {"np": np, "X_dev": data["X_dev"], "num_classes": len(data["class_names"])}
    setup = [line for line in source.split("\n") if re.match(r"(W = 0\.01 |checked = )", line)]
    assert len(setup) == 2, setup
    exec(compile("\n".join(setup), "<check>", "exec"), ns)  # noqa: S102 - the notebook's own lines
    assert "assert max(errors) < 1e-5" in source
    W, checked, loss = ns["W"], ns["checked"], getattr(reference, grade_id)
    X_dev, y_dev = data["X_dev"], data["y_dev"]
    for reg in (0.0, 10.0):
        _, dW = loss(W, X_dev, y_dev, reg)

        def of_rows(W_rows, reg=reg):
            W_full = W.copy()
            W_full[checked] = W_rows
            return loss(W_full, X_dev, y_dev, reg)[0]

        numeric = eval_numerical_gradient(of_rows, W[checked].copy(), h=1e-5)
        assert rel_error(numeric, dW[checked]) < 1e-5, reg


def test_kink_cell_shows_a_numeric_gradient_of_055_against_1(source_nb):
    """The read-only kink demonstration before the first gradient check: max(0, x) at x = 1e-6
    with h = 1e-5 (the step crosses the kink) gives 0.55, not the analytic 1."""
    import contextlib
    import io

    from autograder.toolkit import rel_error

    cell = next(c for c in source_nb.cells if c.get("id") == "a3-kink-demo")
    assert not nbgrader(cell).get("grade") and nbgrader(cell).get("locked")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(cell.source, "<a3-kink-demo>", "exec"), {"rel_error": rel_error})  # noqa: S102
    assert "numeric gradient: 0.5500   analytic gradient: 1.0000" in printed.getvalue()


def test_test_set_is_evaluated_once_after_both_searches(source_nb):
    """No search prints a test accuracy (reruns would peek at the test set); one cell after the
    softmax search reads both saved models back and measures them on the test set."""
    ids = [c.get("id") for c in source_nb.cells]
    uses_test = [c.get("id") for c in source_nb.cells if c.cell_type == "code" and "X_test" in c.source]
    assert uses_test == ["a3-load-data", "a3-test-eval"]
    assert ids.index("a3-test-eval") > ids.index("a3-softmax-search")

def test_released_notebook_leaves_the_softmax_gradient_to_the_student(release_nb):
    """dL_i/ds_ij = p_ij - 1[j = y_i] is derived by the student, not printed: no cell of the release
    states it, and the softmax text says that the numeric gradient check is what checks it."""
    given = re.compile(r"p_\{?i?j\}?\s*-\s*(\\mathbb\{1\}|1\b)|\bp\s*-\s*1\b")
    assert [c.get("id") for c in release_nb.cells if given.search(c.source)] == []
    text = next(c.source for c in release_nb.cells if c.get("id") == "a3-softmax-md")
    assert "yours to derive" in text and "numeric gradient of your own loss" in text


@pytest.mark.parametrize(("grade_id", "after", "before"), [
    ("inline_svm_vs_softmax", "a3-softmax-vec-check", "a3-sgd-md"),
    ("inline_tuning", "a3-softmax-search", "a3-test-eval"),
])
def test_inline_question_is_a_manual_answer_cell_in_its_place(source_nb, cfg, grade_id, after, before):
    """The SVM-vs-softmax question closes the softmax section; "explain your tuning" comes after
    both searches and before the test set is touched. Both are graded by hand."""
    ids = [c.get("id") for c in source_nb.cells]
    answer = next(c for c in source_nb.cells if nbgrader(c).get("grade_id") == grade_id)
    assert answer.cell_type == "markdown" and nbgrader(answer)["grade"] and nbgrader(answer)["solution"]
    assert ids.index(after) < ids.index(answer.get("id")) < ids.index(before)
    assert cfg.manual[grade_id] == nbgrader(answer)["points"]


def test_search_driver_draws_training_beside_validation_on_one_fixed_scale(source_nb):
    """The locked driver's figure: two heatmaps (training, validation), both with colour limits
    0..1 whatever the accuracies, each cell labelled with its accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cell = next(c for c in source_nb.cells if c.get("id") == "a3-search-driver")
    ns = {"np": np, "plt": plt}
    exec(compile(cell.source, "<a3-search-driver>", "exec"), ns)  # noqa: S102 - our notebook
    train = {(0.1, 0.0): 0.99, (0.1, 1e-3): 0.97, (1.0, 0.0): 0.98, (1.0, 1e-3): 0.96}
    val = {pair: acc - 0.01 for pair, acc in train.items()}
    fig = ns["show_search"](train, val, "a search")
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in heatmaps] == ["training accuracy", "validation accuracy"]
    assert all(ax.images[0].get_clim() == (0.0, 1.0) for ax in heatmaps)
    assert sorted(t.get_text() for t in heatmaps[0].texts) == ["0.960", "0.970", "0.980", "0.990"]
    plt.close(fig)


def test_search_prints_training_and_validation_accuracy_of_every_pair(executed, reference):
    nb, _workdir, _seconds = executed
    line = re.compile(r"lr \S+  reg \S+  training accuracy [01]\.\d{3}  validation accuracy [01]\.\d{3}")
    for cell_id, params in (("a3-svm-search", reference.svm_get_search_params),
                            ("a3-softmax-search", reference.softmax_get_search_params)):
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        lrs, regs = params()
        assert len(line.findall(printed)) == len(lrs) * len(regs), cell_id


def test_one_factor_experiment_shows_overfitting_on_100_images_and_not_on_all(executed):
    """What the notes under the regularization experiment say: on 100 images, without
    regularization, training accuracy is 1.00 and validation far below it (more than 0.1); on the
    whole training set the two are within 0.03. Read from what the solved notebook printed."""
    nb, _workdir, _seconds = executed
    cell = next(c for c in nb.cells if c.get("id") == "a3-one-factor")
    printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    found = re.findall(r"(\d+) training images, reg (\S+): training accuracy (\S+)  validation accuracy (\S+)",
                       printed)
    at_zero = {int(n): (float(t), float(v)) for n, reg, t, v in found if float(reg) == 0.0}
    assert len(found) == 12 and sorted(at_zero)[0] == 100
    (train_few, val_few), (train_all, val_all) = at_zero[100], at_zero[max(at_zero)]
    assert train_few == 1.0 and train_few - val_few > 0.1
    assert abs(train_all - val_all) < 0.03


def test_reference_signatures_are_the_students_contract(reference):
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
def measured(tmp_path_factory):
    """`autograder measure A3`: the source notebook (release cells + solutions) run start to end
    on digits, the saved models graded against their bands."""
    from autograder.authoring.measure_source import run_source

    return run_source("A3", workdir=tmp_path_factory.mktemp("a3-run"), timeout=120)


@pytest.fixture(scope="module")
def executed(measured):
    """(the executed notebook, the folder it ran in, seconds) of that run."""
    return measured.executed[f"{A3.notebook}.ipynb"], measured.workdir, measured.seconds


def test_measure_finds_every_grade_cell_passing_and_both_models_over_their_bars(measured, cfg):
    graded = {c.grade_id for c in measured.cells if c.grade_id is not None and c.error is None}
    assert graded == set(cfg.tests) and measured.errors == []
    assert [(m["name"], m["status"]) for m in measured.models] == [
        ("svm_best_model", "passed"), ("softmax_best_model", "passed")]
    assert measured.ok


def test_solution_notebook_runs_start_to_end(executed):
    """(How long it takes is a figure of `make bench`, never an assertion: the machine's load
    decides too much.)"""
    nb, _workdir, _seconds = executed
    assert not error_outputs(nb)
    text = output_text(nb)
    for passed in ("All svm_loss_naive sanity checks passed.", "svm_loss_vectorized agrees",
                   "All softmax_loss_naive sanity checks passed.", "softmax_loss_vectorized agrees",
                   "sample_batch sanity checks passed.", "train_linear_classifier sanity checks passed.",
                   "predict_linear_classifier sanity checks passed.", "speedup:"):
        assert passed in text


@pytest.mark.parametrize("model", ["svm_best_model", "softmax_best_model"])
def test_saved_models_are_over_the_full_credit_bar(executed, cfg, reference, model):
    from autograder.core.datasets import load_dataset

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


def test_dataset_and_student_id_live_in_a_free_cell(source_nb):
    free = [c for c in source_nb.cells
            if nbgrader(c).get("solution") and c.metadata.get("autograder", {}).get("module") is False]
    assert len(free) == 1
    assert 'DATASET = "digits"' in free[0].source and "STUDENT_ID = " in free[0].source
    assert "BEGIN SOLUTION" not in free[0].source


# --------------------------------------------------------------------------- hidden tests


def test_reference_gets_full_marks(tests_module, reference, cfg):
    scores = hidden_scores(tests_module, reference, reference, cfg)
    assert {name: s for name, (s, m, _) in scores.items() if s != m} == {}
    assert sum(s for s, _, _ in scores.values()) == sum(cfg.tests.values()) - 20  # models: 20


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reference_gets_full_marks_whatever_the_seed(tests_module, reference, cfg, seed):
    """Inputs are redrawn per seed (two classes per predict case, kinks avoided): the reference
    never loses a point to an unlucky draw."""
    results = run_hidden_tests(tests_module, InProcessCaller(reference, stubs=stubs_beside(tests_module)), reference, cfg.tests,
                               seed)
    assert [r.name for r in results if r.score < r.max_score - 1e-6] == []


def test_svm_hidden_inputs_stay_clear_of_the_kinks(tests_module):
    rng = np.random.default_rng(0)
    for N, D, C in ((1, 1, 2), (60, 30, 10), (20, 10, 5)):
        W, X, y = tests_module.svm_problem(rng, N, D, C)
        assert tests_module.min_hinge_gap(W, X, y) > tests_module.KINK_GAP


@pytest.fixture(scope="module")
def mutant_scores(tests_module, reference_source, reference, cfg):
    """(grade_id, mutant id) -> test name -> (score, max_score, message)."""
    mutants = [(g, m, source) for g, ms in MUTANTS.items() for m, source in ms]
    return score_mutants(A3, mutants, tests_module, reference_source, reference, cfg)


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


# --------------------------------------------------------------------------- no work, no points


NO_WORK_IDS = [(g, m) for g, ms in NO_WORK.items() for m, _ in ms]


@pytest.fixture(scope="module")
def no_work_scores(tests_module, reference_source, reference, cfg):
    """(grade_id, mutant id) -> test name -> (score, max_score, message); prints the table
    (`pytest -s tests/test_a3.py -k no_work`)."""
    mutants = [(g, m, source) for g, ms in NO_WORK.items() for m, source in ms]
    scores = score_mutants(A3, mutants, tests_module, reference_source, reference, cfg)
    group = {t.name: t.grade_id for t in collect_tests(tests_module)}
    print("\nA3 answers that do no work:\n" + score_table(
        (f"{g}/{m}", g, *group_score(scores[(g, m)], group, g)) for g, m in NO_WORK_IDS))
    return scores


@pytest.mark.parametrize(("grade_id", "mutant_id"), NO_WORK_IDS)
def test_an_answer_that_does_no_work_scores_0_in_its_group(no_work_scores, tests_module, grade_id,
                                                           mutant_id):
    group = {t.name: t.grade_id for t in collect_tests(tests_module)}
    scores = no_work_scores[(grade_id, mutant_id)]
    earned = {name: s for name, s in scores.items() if group[name] == grade_id and s[0] > 0}
    assert earned == {}, f"{grade_id}/{mutant_id} earns points for no work"


def test_all_four_losses_returning_zeros_earn_no_loss_points(tests_module, reference_source,
                                                             reference, cfg):
    """Every loss returns (0.0, zeros): consistent with itself, and it earned 12 of 40 once."""
    losses = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
    source = "".join(dict(NO_WORK[name])["zeros"] for name in losses)
    scores = score_mutants(A3, [("losses", "all-zeros", source)], tests_module, reference_source,
                           reference, cfg)[("losses", "all-zeros")]
    group = {t.name: t.grade_id for t in collect_tests(tests_module)}
    assert sum(group_score(scores, group, g)[0] for g in losses) == 0.0


def test_feedback_on_a_zero_answer_does_not_depend_on_the_hidden_values(tests_module, reference_source,
                                                                         reference, cfg):
    """Every zero answer's messages are the same against the reference and against 1.5 times
    the reference: nothing in them can tell the student what the expected values are.

    Left out: train_lowers_the_loss_on_a_separable_problem, which first checks that the student's (here: honest)
    loss matches the reference, so it says "not checked" against the scaled one.
    """
    mutants = [(g, m, source) for g, ms in NO_WORK.items() for m, source in ms if m == "zeros"]
    group = {t.name: t.grade_id for t in collect_tests(tests_module)}
    real = score_mutants(A3, mutants, tests_module, reference_source, reference, cfg)
    other = score_mutants(A3, mutants, tests_module, reference_source,
                          scaled_reference(reference, 1.5), cfg)
    for grade_id, mutant_id, _source in mutants:
        for name, (_score, _top, message) in real[(grade_id, mutant_id)].items():
            if group[name] == grade_id and name != "train_lowers_the_loss_on_a_separable_problem":
                assert message == other[(grade_id, mutant_id)][name][2], (grade_id, name)


def test_each_vectorized_gradient_is_asked_for_at_cifar_size_once_per_submission(tests_module, reference, cfg):
    asked = []

    class Counting(InProcessCaller):
        def call_many(self, name, calls, seed):
            if name in ("svm_loss_vectorized", "softmax_loss_vectorized"):
                asked.extend(name for args, _kw in calls if np.shape(args[0])[0] == tests_module.CIFAR_CASE[1])
            return super().call_many(name, calls, seed)

    results = run_hidden_tests(tests_module, Counting(reference, stubs=stubs_beside(tests_module)), reference,
                               cfg.tests, 0)
    assert [r.name for r in results if r.score < r.max_score - 1e-6] == []
    # once per submission: dW at W, and the loss at W + hV and W - hV (the directional check)
    assert sorted(asked) == ["softmax_loss_vectorized"] * 3 + ["svm_loss_vectorized"] * 3


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_the_vectorized_reference_gives_the_naive_references_values_on_every_hidden_case(tests_module, reference,
                                                                                          loss):
    """The hidden tests compare the naive functions with the vectorized reference (faster)."""
    problem = tests_module.svm_problem if loss == "svm" else tests_module.softmax_problem
    naive, vectorized = getattr(reference, f"{loss}_loss_naive"), getattr(reference, f"{loss}_loss_vectorized")
    rng = np.random.default_rng(0)
    for _label, N, D, C, reg, y_dtype in tests_module.LOSS_CASES:
        W, X, y = problem(rng, N, D, C, y_dtype)
        (a, da), (b, db) = naive(W, X, y, reg), vectorized(W, X, y, reg)
        assert a == pytest.approx(b, rel=1e-12) and np.allclose(da, db, rtol=1e-10, atol=1e-14)
