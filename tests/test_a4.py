"""A4 (two-layer net, flat backprop): the source notebook, its release, the hidden tests, the rubric.

Specification of A4 (what every assignment must satisfy, the release's checks among
them, is in tests/test_releases.py):
* the solution notebook runs start to end on digits in under 60 s and saves a model over the
  full-credit bar;
* every hidden test takes points from at least one realistic wrong implementation (wrong ReLU
  mask, regularized biases, missing /N, dW1 from the wrong input, no decay, decay every
  iteration, ...), while the reference gets full marks;
* an answer that does no work (zeros or a constant, whatever the inputs) scores 0 in its group.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import json
import os
import re
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
from assignment_support import (
    A4,
    REPO,
    error_outputs,
    group_score,
    hidden_scores,
    mutated,
    nbgrader,
    output_text,
    scaled_reference,
    score_mutants,
    score_table,
    solution_blocks,
)
from mutants_a4 import ANY, MUTANTS, NO_WORK, fb_source, train_source

from autograder.authoring.release import END_MARKER, START_MARKER
from autograder.core.module import load_trusted_module, module_source
from autograder.grading.hidden import InProcessCaller, collect_tests, run_hidden_tests, stubs_beside

pytest_plugins = ["assignment_support"]

SINGLE_THREAD = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


@pytest.fixture(scope="module")
def assignment():
    return A4


def _lost(score: tuple) -> bool:
    """A test lost points (scores are rounded to 6 decimals by the runner)."""
    return score[0] < score[1] - 1e-6


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------- the source notebook


def _cell(source_nb, cell_id: str):
    return next(c for c in source_nb.cells if c.id == cell_id)


def _stated(source: str, name: str):
    """The literal a check cell assigns to `name` (`name = <literal>` or `np.array(<literal>)`)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            value = node.value.args[0] if isinstance(node.value, ast.Call) else node.value
            return ast.literal_eval(value)
    raise AssertionError(f"no `{name} = ...` in the cell")


@pytest.fixture(scope="module")
def toy(source_nb, reference) -> dict:
    """The reference's namespace after the notebook's toy cell (init_toy_model, X_toy, ...)."""
    ns = dict(vars(reference))
    with contextlib.redirect_stdout(io.StringIO()):  # the cell prints the shapes
        exec(compile(_cell(source_nb, "a4-toy").source, "<a4-toy>", "exec"), ns)  # noqa: S102
    return ns


def test_toy_values_stated_in_the_grade_cells_are_the_references(source_nb, toy):
    """Read from the cells themselves (`autograder measure A4` shows the reference's values)."""
    scores, _ = toy["nn_forward_pass"](toy["init_toy_model"](), toy["X_toy"])
    assert np.array_equal(np.array(_stated(_cell(source_nb, "a4-forward-check").source, "correct_scores")), scores)
    loss, _ = toy["nn_forward_backward"](toy["init_toy_model"](), toy["X_toy"], toy["y_toy"], reg=0.05)
    assert _stated(_cell(source_nb, "a4-loss-check").source, "correct_loss") == pytest.approx(loss, rel=1e-12)


def test_toy_training_of_the_reference_passes_its_check_and_reaches_the_stated_loss(source_nb, toy):
    source = _cell(source_nb, "a4-train-check").source
    part = source[source.index("# 2. Training on the toy problem"):]
    ns = dict(toy)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(part, "<a4-train-check, part 2>", "exec"), ns)  # noqa: S102 - asserts the bar
    assert re.search(r"the reference reaches ([0-9.]+)\)", part).group(1) == f"{ns['final_loss']:.4f}"


def test_toy_problem_has_the_issue_shapes_and_no_pre_activation_near_the_kink(toy):
    params, (X, _y) = toy["init_toy_model"](), toy["init_toy_data"]()
    assert X.shape == (5, 4) and params["W1"].shape == (4, 10) and params["W2"].shape == (10, 3)
    assert np.all(params["b1"] != 0) and np.all(params["b2"] != 0)  # a forgotten bias shows
    pre = X @ params["W1"] + params["b1"]
    # the numeric check perturbs W1 by h = 1e-5, moving pre by at most h * max|X|
    assert np.min(np.abs(pre)) > 10 * 1e-5 * np.abs(X).max()



def test_test_set_is_evaluated_once_in_its_own_cell_after_the_search(source_nb):
    """The search cell prints no test accuracy (each rerun would peek); the next code cell does,
    after the question that explains the tuning (answered before the test accuracy is seen)."""
    ids = [c.id for c in source_nb.cells]
    uses_test = [c.id for c in source_nb.cells if c.cell_type == "code" and "X_test" in c.source]
    assert uses_test == ["a4-load-data", "a4-test-eval"]
    between = source_nb.cells[ids.index("a4-search-run") + 1: ids.index("a4-test-eval")]
    assert [c.id for c in between] == ["a4-q-tuning", "a4-a-tuning"]
    assert {c.cell_type for c in between} == {"markdown"}

def test_reference_signatures_are_the_students_contract(reference):
    expected = {
        "nn_forward_pass": "(params, X)",
        "nn_forward_backward": "(params, X, y=None, reg=0.0)",
        "nn_train": "(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=0.001, "
                    "learning_rate_decay=0.95, reg=5e-06, num_iters=100, batch_size=200, verbose=False)",
        "nn_predict": "(params, loss_func, X)",
        "nn_get_search_params": "()",
        "find_best_net": "(X_train, y_train, X_val, y_val, search_params, num_iters=1000, "
                         "batch_size=200, seed=0, verbose=False)",
    }
    for name, signature in expected.items():
        assert str(inspect.signature(getattr(reference, name))) == signature, name


def test_every_function_docstring_states_shapes(reference):
    for name in ("nn_init_params", "nn_forward_pass", "nn_forward_backward", "nn_predict", "nn_train",
                 "find_best_net", "nn_predict_saved_model"):
        doc = getattr(reference, name).__doc__
        assert "(D, H)" in doc and "(H, C)" in doc and "(C,)" in doc, name
    for name in ("nn_forward_pass", "nn_forward_backward", "nn_predict", "nn_train", "find_best_net"):
        assert "(N, D)" in getattr(reference, name).__doc__, name


def test_backward_todo_lists_the_forward_lines_and_their_reverses(source_nb):
    source = _cell(source_nb, "a4-forward-backward").source
    head = source[: source.rindex("### BEGIN SOLUTION")]
    for forward in ("pre    = X.dot(W1) + b1", "hidden = np.maximum(0, pre)",
                    "scores = hidden.dot(W2) + b2", "probs  = softmax(scores)"):
        assert forward in head
    for reverse in ("dscores", 'grads["W2"]', 'grads["b2"]', "dhidden", "dpre", "ReLU gate",
                    'grads["W1"]', 'grads["b1"]'):
        assert reverse in head
    assert source.count("### BEGIN SOLUTION") == 2  # Part 2 (loss), Part 3 (backward)


def test_reference_relu_gradient_at_exactly_zero_is_zero(reference):
    params = {"W1": np.array([[2.0, 1.0], [-1.0, 1.0]]), "b1": np.zeros(2),
              "W2": np.array([[1.0, -1.0], [0.5, 2.0]]), "b2": np.zeros(2)}
    _, grads = reference.nn_forward_backward(params, np.array([[1.0, 2.0]]), np.array([0]))
    assert grads["b1"][0] == 0 and np.all(grads["W1"][:, 0] == 0) and grads["b1"][1] != 0


def test_probe_stub_reads_the_learning_rate_off_the_updates(reference):
    from autograder.core.config import REPO_ROOT
    from autograder.grading.hidden import assignment_stubs

    stubs = assignment_stubs(REPO_ROOT / "solutions" / "A4").functions()
    nn_zero_predict = stubs["nn_zero_predict"]
    params = {"W1": np.zeros((2, 3)), "b1": np.zeros(3), "W2": np.zeros((3, 2)), "b2": np.zeros(2)}
    stats = reference.nn_train(params, stubs["nn_probe_loss"], nn_zero_predict, np.ones((4, 2)),
                               np.zeros(4, dtype=np.int64), np.ones((2, 2)), np.zeros(2, dtype=np.int64),
                               learning_rate=0.5, learning_rate_decay=0.1, num_iters=4, batch_size=2)
    # 4 parameters, 2 iterations per epoch: rates 0.5, 0.5, then 0.05
    assert -np.diff(stats["loss_history"]) == pytest.approx([4 * 0.5, 4 * 0.5, 4 * 0.05])


def _grafted(source_nb, release_nb):
    """The release notebook with the source's solutions in its TODO blocks and answer cells:
    what a perfect student hands in (release cells, release metadata, solution code)."""
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    for src, cell in zip(source_nb.cells, nb.cells, strict=True):
        blocks = solution_blocks(src.source)
        if not blocks:
            continue
        if cell.cell_type == "markdown":
            cell.source = "\n".join(blocks[0])
            continue
        out, lines = [], iter(cell.source.split("\n"))
        for line in lines:
            out.append(line)
            if line.strip() == START_MARKER:
                assert next(lines).strip() == "raise NotImplementedError"
                out += blocks.pop(0)
        assert not blocks, cell.id
        cell.source = "\n".join(out)
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory, source_nb, release_nb):
    """The grafted solution notebook (release + solutions) run start to end on digits.

    BLAS is single-threaded, as in the grader's sandbox: on a busy machine, threads fighting over
    the tiny matrices of digits make a run many times slower.
    """
    from nbclient import NotebookClient

    workdir = tmp_path_factory.mktemp("a4-run")
    nb = _grafted(source_nb, release_nb)
    start = time.perf_counter()
    # the inline backend, as in Jupyter (the suite's MPLBACKEND=Agg would drop every figure)
    with _environ({**SINGLE_THREAD, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}):
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, workdir / "two_layer_net.ipynb")
    return nb, workdir, seconds


def test_grafted_solution_has_the_source_code_in_every_todo_block(source_nb, release_nb, reference_source):
    grafted = _grafted(source_nb, release_nb)
    assert module_source(grafted.cells).replace(START_MARKER, "").replace(END_MARKER, "").split() == \
        "".join(line for line in reference_source.splitlines(keepends=True)
                if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line).split()


def test_executed_solution_passes_the_self_check(executed):
    _nb, workdir, _seconds = executed
    done = subprocess.run([sys.executable, "-m", "autograder", "check", str(workdir / "two_layer_net.ipynb")],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and "no policy problems" in done.stdout, done.stdout + done.stderr


def test_solution_notebook_runs_start_to_end(executed):
    """(How long it takes is a figure of `make bench`, never an assertion: the machine's load
    decides too much.)"""
    nb, _workdir, _seconds = executed
    assert not error_outputs(nb)
    text = output_text(nb)
    for passed in ("nn_forward_pass sanity checks passed.", "nn_forward_backward loss sanity checks passed.",
                   "nn_forward_backward backward-pass sanity checks passed.",
                   "nn_predict sanity checks passed.", "nn_train sanity checks passed.",
                   "nn_get_search_params and find_best_net sanity checks passed.",
                   "saved nn_best_model.npz; test accuracy:"):
        assert passed in text


def test_every_plot_cell_shows_its_figures(executed):
    nb = executed[0]
    images = {c.id: sum("image/png" in o.get("data", {}) for o in c.outputs)
              for c in nb.cells if c.cell_type == "code"}
    assert images["a4-toy-plot"] == 1 and images["a4-debug-plots"] == 2
    assert images["a4-one-factor"] == 4 and images["a4-subset"] == 1  # one figure per factor
    assert images["a4-search-run"] == 3 and images["a4-best-templates"] == 1
    assert images["a4-load-data"] == 1


def test_first_net_is_visibly_undertrained(executed):
    """The debugging section needs something to debug: the untuned net stays far from the bar."""
    text = output_text(executed[0])
    first = text[text.index("validation accuracy:"):].split()[2]
    assert float(first) < 0.6


def test_saved_model_is_over_the_full_credit_bar(executed, cfg, reference):
    from autograder.core.datasets import load_dataset

    _nb, workdir, _seconds = executed
    spec = cfg.models["nn_best_model"]
    with np.load(workdir / spec.file, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(spec.keys)
        arrays = [npz[k] for k in spec.keys]
    data = load_dataset("digits", bias_trick=False)
    D, C = data["X_test"].shape[1], len(data["class_names"])
    H = arrays[0].shape[1]
    dims = {"D": D, "H": H, "C": C}
    for name, array in zip(spec.keys, arrays, strict=True):
        assert array.shape == tuple(dims[d] for d in spec.keys[name]) and array.dtype == np.float64
    predicted = getattr(reference, spec.predict)(*arrays, data["X_test"])
    assert predicted.shape == data["y_test"].shape and predicted.dtype.kind in "iu"
    accuracy = np.mean(predicted == data["y_test"])
    assert accuracy >= spec.bands["digits"][1], f"test accuracy {accuracy:.3f}"


def test_grader_gives_the_saved_model_full_marks(executed, cfg, reference):
    from autograder.core.models import check_model

    _nb, workdir, _seconds = executed
    entry, violations = check_model(cfg.models["nn_best_model"], cfg, workdir, reference)
    assert violations == [] and entry["status"] == "passed", entry["message"]
    assert entry["score"] == entry["max_score"] == cfg.tests["nn_best_model"]


def test_dataset_and_student_id_live_in_a_free_cell_near_the_top(source_nb):
    free = [i for i, c in enumerate(source_nb.cells)
            if nbgrader(c).get("solution") and c.metadata.get("autograder", {}).get("module") is False]
    assert len(free) == 1 and free[0] < 5
    cell = source_nb.cells[free[0]]
    assert 'DATASET = "digits"' in cell.source and "STUDENT_ID = " in cell.source
    assert "BEGIN SOLUTION" not in cell.source


# --------------------------------------------------------------------------- the release


def test_released_loss_check_reads_the_loss_before_part_3_is_written(source_nb, release_nb, reference_source):
    """A student who wrote Part 2 only gets the loss check, not a NotImplementedError."""
    part2_only = _cell(source_nb, "a4-forward-backward").source
    begin = part2_only.rindex("    ### BEGIN SOLUTION")
    end = part2_only.rindex("### END SOLUTION") + len("### END SOLUTION")
    part2_only = part2_only[:begin] + "    raise NotImplementedError" + part2_only[end:]
    ns = vars(load_trusted_module(reference_source + "\n" + part2_only, "a4_part2_only"))
    with contextlib.redirect_stdout(io.StringIO()):  # the toy cell prints the shapes
        exec(compile(_cell(source_nb, "a4-toy").source, "<a4-toy>", "exec"), ns)  # noqa: S102
    check = next(c for c in release_nb.cells if nbgrader(c).get("grade_id") == "nn_loss")
    exec(compile(check.source, "<nn_loss check>", "exec"), ns)  # noqa: S102 - asserts inside


# --------------------------------------------------------------------------- hidden tests


def test_reference_gets_full_marks(tests_module, reference, cfg):
    scores = hidden_scores(tests_module, reference, reference, cfg)
    assert {name: s for name, s in scores.items() if _lost(s)} == {}
    assert sum(s for s, _, _ in scores.values()) == pytest.approx(sum(cfg.tests.values()) - 20)  # model: 20


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_reference_gets_full_marks_whatever_the_seed(tests_module, reference, cfg, seed):
    results = run_hidden_tests(tests_module, InProcessCaller(reference, stubs=stubs_beside(tests_module)), reference, cfg.tests,
                               seed)
    assert [r.name for r in results if _lost((r.score, r.max_score))] == []


def test_hidden_inputs_keep_pre_activations_clear_of_the_kink(tests_module):
    rng = np.random.default_rng(0)
    for _label, N, D, H, C, _reg, _num_checks in tests_module.GRADCHECK_CASES:
        params, X, _y = tests_module.net_problem(rng, N, D, H, C, gap=tests_module.KINK_GAP)
        assert np.min(np.abs(X @ params["W1"] + params["b1"])) > tests_module.KINK_GAP
    params, X, _y = tests_module.net_problem(rng, 6, 4, 5, 3, dead=True)
    assert np.max(X @ params["W1"] + params["b1"]) < -tests_module.KINK_GAP


def test_exact_zero_inputs_have_exact_zero_pre_activations(tests_module):
    rng = np.random.default_rng(0)
    params, X, _y = tests_module.exact_zero_problem(rng)
    pre = X @ params["W1"] + params["b1"]
    assert np.all(np.any(pre == 0.0, axis=0))  # every hidden unit has an exact 0


# ----- mutants: realistic wrong implementations, grafted over the reference (tests/mutants_a4.py)


def _group_of(tests_module) -> dict[str, str]:
    return {t.name: t.grade_id for t in collect_tests(tests_module)}


@pytest.fixture(scope="module")
def mutant_scores(tests_module, reference_source, reference, cfg):
    """(grade_id, mutant id) -> test name -> (score, max_score, message)."""
    mutants = [(g, m, source) for g, ms in MUTANTS.items() for m, source, _also in ms]
    return score_mutants(A4, mutants, tests_module, reference_source, reference, cfg)


def test_mutant_templates_with_no_change_are_the_reference(tests_module, reference_source, reference, cfg):
    for name, source in (("fb", fb_source()), ("train", train_source())):
        module = mutated(A4, reference_source, "none", name, source)
        scores = hidden_scores(tests_module, module, reference, cfg)
        assert {t: s for t, s in scores.items() if _lost(s)} == {}, name


@pytest.mark.parametrize(("grade_id", "mutant_id"),
                         [(g, m) for g, ms in MUTANTS.items() for m, _s, _a in ms])
def test_each_mutant_loses_points_in_its_group(mutant_scores, tests_module, grade_id, mutant_id):
    scores = mutant_scores[(grade_id, mutant_id)]
    group = _group_of(tests_module)
    lost_groups = {group[name] for name, s in scores.items() if _lost(s)}
    assert grade_id in lost_groups, f"{grade_id}/{mutant_id} gets full marks in its group"
    also = next(a for m, _s, a in MUTANTS[grade_id] if m == mutant_id)
    if also != ANY:
        assert lost_groups <= {grade_id, *also}, (
            f"{grade_id}/{mutant_id} costs points outside its group: {sorted(lost_groups)}")


def test_every_hidden_test_is_failed_by_some_mutant(tests_module, mutant_scores):
    for test in collect_tests(tests_module):
        caught_by = [m for (g, m), scores in mutant_scores.items()
                     if g == test.grade_id and _lost(scores[test.name])]
        assert caught_by, f"no mutant of {test.grade_id} makes {test.name} lose points"


# ----- no work, no points: answers that ignore their inputs (zeros or a constant)

@pytest.fixture(scope="module")
def no_work_scores(tests_module, reference_source, reference, cfg):
    """(grade_id, mutant id) -> test name -> (score, max_score, message); prints the table
    (`pytest -s tests/test_a4.py -k no_work`)."""
    mutants = [(g, m, source) for g, m, source, _tests in NO_WORK]
    scores = score_mutants(A4, mutants, tests_module, reference_source, reference, cfg)
    group = _group_of(tests_module)
    print("\nA4 answers that do no work:\n" + score_table(
        (f"{g}/{m}", g if tests is None else f"{g} ({', '.join(tests)})",
         *group_score(scores[(g, m)], group, g, tests)) for g, m, _s, tests in NO_WORK))
    return scores


@pytest.mark.parametrize(("grade_id", "mutant_id"), [(g, m) for g, m, _s, _t in NO_WORK])
def test_an_answer_that_does_no_work_scores_0_in_its_group(no_work_scores, tests_module, grade_id,
                                                           mutant_id):
    tests = next(t for g, m, _s, t in NO_WORK if (g, m) == (grade_id, mutant_id))
    group = _group_of(tests_module)
    earned = {name: s for name, s in no_work_scores[(grade_id, mutant_id)].items()
              if group[name] == grade_id and (tests is None or name in tests) and s[0] > 0}
    assert earned == {}, f"{grade_id}/{mutant_id} earns points for no work"


def test_feedback_on_a_zero_answer_does_not_depend_on_the_hidden_values(tests_module, reference_source,
                                                                         reference, cfg):
    """Every zero answer's messages are the same against the reference and against 1.5 times
    the reference: nothing in them can tell the student what the expected values are.

    Left out: training_lowers_the_loss, which first checks that the student's (here: honest)
    loss matches the reference, so it says "not checked" against the scaled one.
    """
    mutants = [(g, m, source) for g, m, source, _tests in NO_WORK if "zeros" in m or "empty" in m]
    group = _group_of(tests_module)
    real = score_mutants(A4, mutants, tests_module, reference_source, reference, cfg)
    other = score_mutants(A4, mutants, tests_module, reference_source,
                          scaled_reference(reference, 1.5), cfg)
    for grade_id, mutant_id, _source in mutants:
        for name, (_score, _top, message) in real[(grade_id, mutant_id)].items():
            if group[name] == grade_id and name != "training_lowers_the_loss":
                assert message == other[(grade_id, mutant_id)][name][2], (grade_id, name)


class _CountingCaller(InProcessCaller):
    """An in-process caller that counts the calls of nn_forward_backward on LARGE_NET's X."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.large = 0

    def call_many(self, name, calls, seed):
        for args, _kwargs in calls:
            if name == "nn_forward_backward" and len(args) > 1 and np.shape(args[1])[0] == 64:
                self.large += 1
        return super().call_many(name, calls, seed)


def test_backprop_is_asked_for_on_the_large_net_once_per_submission(tests_module, reference, cfg):
    caller = _CountingCaller(reference, stubs=stubs_beside(tests_module))
    results = run_hidden_tests(tests_module, caller, reference, cfg.tests, 0)
    assert [r.name for r in results if _lost((r.score, r.max_score))] == []
    # three gradient tests depend on it; it is asked of the code once per submission: the
    # gradients at params, and the loss at params + hV and params - hV (the directional check)
    assert caller.large == 3
