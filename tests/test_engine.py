"""grade_module: hidden tests through the sandboxed worker, model checks, violations, statuses.

A small synthetic assignment (`add`, a linear loss, a saved linear model) keeps these tests
independent of the A3/A4 notebooks; the last tests grade the real reference solutions.
test_containment.py reuses the synthetic assignment from here.
"""

from __future__ import annotations

import io
import pickle
import shutil
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder.core.config import REPO_ROOT, parse_config
from autograder.core.module import PREAMBLE, load_trusted_module
from autograder.grading.engine import EngineResult, grade_module
from autograder.grading.sandbox import Limits, choose_level, is_root

HONEST = PREAMBLE + '''

def add(a, b):
    """Elementwise a + b."""
    return a + b


def linear_loss(W, X, y, reg):
    """Least squares on one-hot targets: W (D, C), X (N, D), y (N,) -> (loss, dW (D, C))."""
    N, C = X.shape[0], W.shape[1]
    diff = X @ W - np.eye(C)[y]
    loss = 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W)
    dW = X.T @ diff / N + 2 * reg * W
    return loss, dW


def predict(W, X):
    """(N,) int64 class indices."""
    return np.argmax(X @ W, axis=1)
'''

HIDDEN_TESTS = '''
import numpy as np

from autograder.grading.hidden import hidden_test


@hidden_test("add")
def add_matches_reference(ctx):
    a, b = ctx.rng.normal(size=(4, 3)), ctx.rng.normal(size=(4, 3))
    with ctx.case("arrays"):
        ctx.assert_close(ctx.call("add", a, b), ctx.ref.add(a, b), what="a + b")
    with ctx.case("scalars"):
        ctx.assert_close(ctx.call("add", 2.0, 0.5), 2.5, what="2 + 0.5")


@hidden_test("loss")
def loss_matches_reference(ctx):
    W, X = ctx.rng.normal(size=(5, 3)), ctx.rng.normal(size=(8, 5))
    y = ctx.rng.integers(0, 3, size=8)
    loss, dW = ctx.call("linear_loss", W, X, y, 0.1)
    ref_loss, ref_dW = ctx.ref.linear_loss(W, X, y, 0.1)
    ctx.assert_close(loss, ref_loss, what="loss")
    ctx.assert_close(dW, ref_dW, what="dW")


@hidden_test("loss")
def loss_gradient_agrees_with_its_loss(ctx):
    W, X = ctx.rng.normal(size=(4, 3)), ctx.rng.normal(size=(6, 4))
    y = ctx.rng.integers(0, 3, size=6)
    _, dW = ctx.call("linear_loss", W, X, y, 0.2)
    ctx.check_gradient("linear_loss", (W, X, y, 0.2), 0, dW, num_checks=6)
'''

POINTS = {"add": 2.0, "loss": 4.0, "lin_model": 4.0}
FULL_MARKS = sum(POINTS.values())
FAST = Limits(call_timeout_s=2.0, load_timeout_s=20.0)


def synthetic_config(**private):
    return parse_config({
        "assignment": {"name": "A9", "notebooks": ["a9.ipynb"], "dataset": "digits"},
        "tests": POINTS,
        "models": {"lin_model": {"file": "lin_model.npz", "predict": "predict",
                                 "keys": {"W": ["D", "C"]},
                                 "bands": {"digits": {"floor": 0.5, "full": 0.8}}}},
        "rules": {"model-invalid": {"severity": "error", "deduction": 0.0},
                  "sandbox-violation": {"severity": "error", "deduction": 10.0, "cap": 10.0}},
        "limits": {"call_timeout_s": 2},
        "private": {"seed": 1234, **private},
    })


def synthetic_tests() -> types.ModuleType:
    return load_trusted_module(HIDDEN_TESTS, "a9_hidden_tests")


REF = load_trusted_module(HONEST, "a9_reference")


def good_weights() -> np.ndarray:
    """A least-squares linear model on digits (bias trick): about 0.95 test accuracy."""
    from autograder.core.datasets import load_dataset

    data = load_dataset("digits")
    W, *_ = np.linalg.lstsq(data["X_train"], np.eye(10)[data["y_train"]], rcond=None)
    return W


def save_model(folder: Path, **arrays) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "lin_model.npz", **arrays)
    return folder


def grade(source: str, submission_dir: Path | None = None, **kw) -> EngineResult:
    """Grade a module of the synthetic assignment (guard off unless asked: containment)."""
    kw.setdefault("guard", False)
    kw.setdefault("limits", FAST)
    return grade_module(source, synthetic_config(), synthetic_tests(), REF, submission_dir, **kw)


def by_name(result: EngineResult) -> dict[str, dict]:
    return {t["name"]: t for t in result.tests}


def score(result: EngineResult) -> float:
    return sum(t["score"] for t in result.tests)


def assert_full_marks(result: EngineResult, with_model: bool = True) -> None:
    total = FULL_MARKS if with_model else FULL_MARKS - POINTS["lin_model"]
    bad = [t for t in result.tests if t["status"] != "passed"]
    assert not bad and score(result) == pytest.approx(total), bad


def expected_level() -> str:
    return choose_level("auto")


# --------------------------------------------------------------------------- tests


def test_honest_solution_gets_full_marks_at_the_strongest_level(tmp_path):
    result = grade(HONEST, save_model(tmp_path, W=good_weights()))
    assert_full_marks(result)
    assert result.sandbox == expected_level()
    if is_root() and shutil.which("bwrap"):
        assert result.sandbox == "bwrap"
    assert result.violations == [] and result.seconds > 0
    assert set(result.functions) >= {"add", "linear_loss", "predict"}
    entry = by_name(result)["lin_model"]
    assert entry["message"].startswith("test accuracy 0.9")
    assert set(result.tests[0]) == {"name", "grade_id", "score", "max_score", "status", "message"}


def test_a_wrong_function_fails_its_test_with_what_differed_and_the_rest_still_pass():
    result = grade(HONEST.replace("return a + b", "return a - b"))
    tests = by_name(result)
    assert tests["add_matches_reference"]["status"] == "failed"
    assert tests["add_matches_reference"]["score"] == 0.0
    assert "differ from the expected values" in tests["add_matches_reference"]["message"]
    assert "off by" in tests["add_matches_reference"]["message"]
    assert tests["loss_matches_reference"]["status"] == "passed"


def test_a_wrong_gradient_loses_only_the_gradient_checks():
    result = grade(HONEST.replace("+ 2 * reg * W", "+ reg * W"))
    tests = by_name(result)
    assert tests["loss_matches_reference"]["score"] == pytest.approx(1.0)  # loss ok, dW not
    assert tests["loss_gradient_agrees_with_its_loss"]["status"] == "failed"
    assert "numeric gradient" in tests["loss_gradient_agrees_with_its_loss"]["message"]


def test_a_student_exception_is_an_error_with_type_and_message_only():
    result = grade(HONEST.replace("return a + b", "raise ValueError('shapes do not match')"))
    entry = by_name(result)["add_matches_reference"]
    assert entry["status"] == "error"
    assert "ValueError raised in add" in entry["message"]
    assert "shapes do not match" not in entry["message"]  # a message can echo hidden inputs
    assert "ValueError: shapes do not match" in "\n".join(result.log)  # for the staff
    for leak in ("Traceback", "autograder", "hidden", "worker.py", ".py"):
        assert leak not in entry["message"]


def test_code_that_cannot_load_fails_every_test_with_the_reason():
    result = grade(HONEST + "\ndef broken(:\n    pass\n")
    assert {t["status"] for t in result.tests} == {"error"}
    assert all("your code could not be loaded" in t["message"] for t in result.tests)


def test_the_guard_reports_a_sandbox_violation_and_the_rest_is_graded():
    source = HONEST.replace('    """Elementwise a + b."""',
                            '    """Elementwise a + b."""\n    np.save("/tmp/x.npy", a)')
    result = grade(source, guard=True)
    entry = by_name(result)["add_matches_reference"]
    assert entry["status"] == "error" and "opening files" in entry["message"]
    assert by_name(result)["loss_matches_reference"]["status"] == "passed"
    (v,) = result.violations
    assert v["rule"] == "sandbox-violation" and v["severity"] == "error"
    assert v["deduction"] == 10.0 and "opening files" in v["message"]


def test_a_refused_import_fails_the_test_but_is_left_to_the_static_import_rule():
    source = HONEST.replace('    """Elementwise a + b."""',
                            '    """Elementwise a + b."""\n    import os')
    result = grade(source, guard=True)
    entry = by_name(result)["add_matches_reference"]
    assert entry["status"] == "error"
    assert "import os (allowed imports: math, numpy, time) is not allowed" in entry["message"]
    assert result.violations == []


def test_student_output_is_captured_and_capped():
    source = HONEST.replace('    """Elementwise a + b."""',
                            '    """Elementwise a + b."""\n    print("debug:", a)\n'
                            '    print("x" * 100000)')
    result = grade(source)
    assert by_name(result)["add_matches_reference"]["status"] == "passed"
    assert "--- add_matches_reference ---" in result.output and "debug:" in result.output
    assert len(result.output) < 40_000 and "more characters" in result.output


def test_a_group_without_hidden_tests_is_shown_as_an_error():
    config = synthetic_config()
    config.tests["orphan"] = 3.0
    result = grade_module(HONEST, config, synthetic_tests(), REF, None, guard=False, limits=FAST)
    entry = by_name(result)["orphan"]
    assert entry["status"] == "error" and entry["max_score"] == 3.0


# --------------------------------------------------------------------------- models


def model_entry(folder: Path) -> tuple[dict, list[dict]]:
    from autograder.core.models import check_model

    config = synthetic_config()
    return check_model(config.models["lin_model"], config, folder, REF)


def test_a_good_model_earns_full_points_and_a_poor_one_partial(tmp_path):
    entry, violations = model_entry(save_model(tmp_path / "good", W=good_weights()))
    assert (entry["score"], entry["status"], violations) == (4.0, "passed", [])
    W = good_weights()
    rng = np.random.default_rng(0)
    noisy = W + rng.normal(scale=np.abs(W).mean() * 3.0, size=W.shape)
    entry, _ = model_entry(save_model(tmp_path / "noisy", W=noisy))
    assert 0.0 <= entry["score"] < 4.0 and entry["status"] == "failed"
    assert "full credit at 0.800" in entry["message"]


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"W": np.zeros((65, 9))}, "W has shape (65, 9), expected (D, C)"),
        ({"W": np.zeros((65, 10), dtype=np.int64)}, "dtype int64; save float arrays"),
        ({"W": np.full((65, 10), np.nan)}, "NaN or inf"),
        ({"weights": np.zeros((65, 10))}, "no array named 'W' (the file has weights)"),
        ({"W": np.zeros(65)}, "(2 dimensions)"),
    ],
)
def test_an_invalid_model_is_a_model_invalid_violation(tmp_path, arrays, words):
    entry, violations = model_entry(save_model(tmp_path, **arrays))
    assert entry["score"] == 0.0 and words in entry["message"]
    (v,) = violations
    assert v["rule"] == "model-invalid" and words in v["message"] and v["file"] == "lin_model.npz"


def test_a_model_that_is_not_an_npz_is_invalid(tmp_path):
    (tmp_path / "lin_model.npz").write_bytes(pickle.dumps({"W": np.zeros((65, 10))}))
    entry, (v,) = model_entry(tmp_path)
    assert "not an .npz file" in entry["message"] and v["rule"] == "model-invalid"


def test_a_missing_model_scores_zero_without_a_violation(tmp_path):
    entry, violations = model_entry(tmp_path)
    assert entry["score"] == 0.0 and "missing" in entry["message"] and violations == []


def test_a_model_zip_bomb_is_refused_before_loading(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f8", "fortran_order": False, "shape": (65, 10)})
        zf.writestr("W.npy", header.getvalue() + b"\0" * (200 * 2**20))
    (tmp_path / "lin_model.npz").write_bytes(buf.getvalue())
    entry, (v,) = model_entry(tmp_path)
    assert "larger than" in entry["message"]


# --------------------------------------------------------------------------- the real assignments


def _reference_of(assignment: str):
    from autograder.core.config import load_config
    from autograder.core.module import module_source
    from autograder.core.notebook import read_notebook
    from autograder.grading.hidden import load_tests_module

    sol = REPO_ROOT / "solutions" / assignment
    if not (sol / "hidden_tests.py").is_file() or not (sol / "assignment.toml").is_file():
        pytest.fail(f"solutions/{assignment} has no hidden_tests.py or assignment.toml")
    config = load_config(sol / "assignment.toml")
    cells = [c for nb in config.notebooks for c in read_notebook(sol / nb).cells]
    source = module_source(cells)
    return config, load_tests_module(sol / "hidden_tests.py"), source


@pytest.mark.parametrize("assignment", ["A3", "A4"])
def test_the_reference_solution_of_a_real_assignment_gets_full_marks(assignment):
    config, tests, source = _reference_of(assignment)
    ref = load_trusted_module(source, f"ref_{assignment}")
    result = grade_module(source, config, tests, ref, None)
    bad = [t for t in result.tests if t["status"] != "passed"]
    assert not bad, bad
    assert result.sandbox == expected_level() and result.violations == []
