"""Best-model checks: the `.npz` a student saves, validated and scored in the trusted process.

For each `[models.<name>]` of assignment.toml (config.ModelSpec):

1. the file is read with `np.load(..., allow_pickle=False)` after checking it is a zip of plain
   `.npy` members within a size cap: nothing in it is ever unpickled or executed;
2. every key of `spec.keys` must be there, with its shape (dimension names resolved from the
   dataset: D = columns of X, C = number of classes; any other name, like H, is free but must be
   the same wherever it appears), a float dtype and only finite values. Anything else is a
   `model-invalid` violation with a message saying what to fix, and 0 points;
3. the test accuracy is computed with the *reference* predict function, called as
   `predict(*arrays in the order of keys, X_test)`, on the test split of the dataset that
   assignment.toml names; points are linear between `bands[dataset] = (floor, full)`.
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from autograder.core.config import AssignmentConfig, ModelSpec

MAX_MODEL_BYTES = 128 * 2**20  # uncompressed size of all the arrays of one model file
MAX_MEMBERS = 64


class ModelInvalid(ValueError):
    """The model file cannot be graded; the message tells the student what to fix."""


# --------------------------------------------------------------------------- loading


def load_model_file(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz`, without pickle, refusing anything that is not plain arrays."""
    if not path.is_file():
        raise ModelInvalid(f"{path.name} is missing: run the notebook's locked search cell that saves it "
                           "(next to the notebook), then submit again")
    if not zipfile.is_zipfile(path):
        raise ModelInvalid(f"{path.name} is not an .npz file: run the notebook's locked search cell "
                           "that saves it again, then submit again")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelInvalid(f"{path.name} cannot be read ({exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise ModelInvalid(f"{path.name} holds {len(infos)} entries; save only the model's arrays")
    if sum(i.file_size for i in infos) > MAX_MODEL_BYTES:
        raise ModelInvalid(f"{path.name} is larger than {MAX_MODEL_BYTES // 2**20} MiB unpacked")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                value = npz[key]
                if type(value) is not np.ndarray:
                    raise ModelInvalid(f"{path.name}: {key} is not a plain array")
                arrays[key] = value
    except ModelInvalid:
        raise
    except ValueError as exc:  # object arrays: "Object arrays cannot be loaded..."
        raise ModelInvalid(f"{path.name}: an array holds Python objects (only numbers can be "
                           f"graded; save float arrays) [{str(exc)[:80]}]") from None
    except Exception as exc:  # noqa: BLE001 - any corrupt member is the same message
        raise ModelInvalid(f"{path.name} cannot be read ({type(exc).__name__}: "
                           f"{str(exc)[:120]})") from None
    return arrays


# A size the model file chooses itself (A4's hidden size H) is at most this: a best model is
# evaluated in the grader's own process, so a tiny file of zeros with a million hidden units must
# not make it allocate gigabytes. Predictions run in batches of PREDICT_ROWS test rows.
MAX_FREE_DIM = 4096
PREDICT_ROWS = 1024


def validate_model(
    arrays: Mapping[str, np.ndarray], spec: ModelSpec, dims: Mapping[str, int]
) -> list[np.ndarray]:
    """The arrays in the order of spec.keys, or ModelInvalid saying what is wrong.

    dims: fixed dimension sizes by name (D, C); other names are bound on first use.
    """
    bound = dict(dims)
    ordered = []
    for key, shape in spec.keys.items():
        if key not in arrays:
            have = ", ".join(sorted(arrays)) or "nothing"
            raise ModelInvalid(f"{spec.file}: no array named {key!r} (the file has {have})")
        arr = arrays[key]
        if arr.dtype.kind != "f":
            raise ModelInvalid(f"{spec.file}: {key} has dtype {arr.dtype}; save float arrays")
        if arr.ndim != len(shape):
            raise ModelInvalid(f"{spec.file}: {key} has shape {arr.shape}, expected "
                               f"{_shape_text(shape)} ({len(shape)} dimensions)")
        for axis, (want, got) in enumerate(zip(shape, arr.shape, strict=True)):
            if isinstance(want, str) and want not in dims and got > MAX_FREE_DIM:
                raise ModelInvalid(
                    f"{spec.file}: {key} has shape {arr.shape}: {want} = {got} is more than the "
                    f"grader evaluates ({want} at most {MAX_FREE_DIM}); save a smaller model")
            size = want if isinstance(want, int) else bound.setdefault(str(want), got)
            if got != size or got < 1:
                raise ModelInvalid(
                    f"{spec.file}: {key} has shape {arr.shape}, expected {_shape_text(shape)} "
                    f"with {_shape_text(shape)} = {_resolved(shape, bound)} "
                    f"(axis {axis} is {got})")
        if not np.isfinite(arr).all():
            raise ModelInvalid(f"{spec.file}: {key} contains NaN or inf; retrain with a "
                               "smaller learning rate")
        ordered.append(arr.astype(np.float64))
    return ordered


def _shape_text(shape: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _resolved(shape: tuple[Any, ...], bound: Mapping[str, int]) -> str:
    return _shape_text(tuple(s if isinstance(s, int) else bound.get(str(s), s) for s in shape))


# --------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=8)
def test_split(name: str, bias_trick: bool, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(X_test (N, D), y_test (N,), number of classes) of a dataset, cached per process."""
    from autograder.core.datasets import load_dataset

    data = load_dataset(name, bias_trick=bias_trick, data_dir=data_dir)
    X, y = data["X_test"], data["y_test"]
    num_classes = len(data.get("class_names") or []) or int(y.max()) + 1
    X.setflags(write=False)  # shared by every student of the batch
    y.setflags(write=False)
    return X, y, num_classes


def _first_d_axis(spec: ModelSpec, arrays: Mapping[str, np.ndarray]) -> int | None:
    """The size the file gives to dimension D (first key that uses it), if it has one."""
    for key, shape in spec.keys.items():
        arr = arrays.get(key)
        if "D" in shape and arr is not None and arr.ndim == len(shape):
            return int(arr.shape[list(shape).index("D")])
    return None


def choose_split(
    spec: ModelSpec, config: AssignmentConfig, arrays: Mapping[str, np.ndarray],
    data_dir: str | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The test split the model is meant for: with the bias trick (A3: W is (D + 1, C)) or
    without (A4 has its own biases). `[models.<name>] bias_trick = true|false` decides; when
    absent, the variant whose D matches the file's (they differ by one) is used."""
    option = (config.raw.get("models", {}).get(spec.name, {}) or {}).get("bias_trick")
    if option is not None:
        return test_split(config.dataset, bool(option), data_dir)
    with_bias = test_split(config.dataset, True, data_dir)
    d = _first_d_axis(spec, arrays)
    if d is not None and d != with_bias[0].shape[1]:
        without = test_split(config.dataset, False, data_dir)
        if d == without[0].shape[1]:
            return without
    return with_bias


# --------------------------------------------------------------------------- scoring


def band_points(accuracy: float, band: tuple[float, float], points: float) -> float:
    """0 at or below floor, all points at or above full, linear in between."""
    floor, full = band
    if full <= floor:
        return points if accuracy >= full else 0.0
    return float(points * np.clip((accuracy - floor) / (full - floor), 0.0, 1.0))


def validated_model(
    spec: ModelSpec, config: AssignmentConfig, path: Path, data_dir: str | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(the model's arrays in the order of spec.keys, X_test, y_test), or ModelInvalid.

    Shapes are checked against the dataset the course grades on (D features, C classes); used
    by grading and by the self-check of a zip, so both say the same thing about a model file.
    """
    arrays = load_model_file(path)
    X, y, num_classes = choose_split(spec, config, arrays, data_dir)
    return validate_model(arrays, spec, {"D": X.shape[1], "C": num_classes}), X, y


def check_model(
    spec: ModelSpec,
    config: AssignmentConfig,
    submission_dir: Path,
    ref_module: ModuleType,
    data_dir: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report.json test entry, violations) for one best model."""
    points = float(config.tests.get(spec.grade_id, 0.0))
    entry = {"name": spec.name, "grade_id": spec.grade_id, "score": 0.0, "max_score": points,
             "status": "failed", "message": ""}
    band = spec.bands.get(config.dataset)
    if band is None:
        entry.update(status="error", message=f"internal: no accuracy band for dataset "
                     f"{config.dataset!r} in [models.{spec.name}]")
        return entry, []
    path = Path(submission_dir) / spec.file
    try:
        ordered, X, y = validated_model(spec, config, path, data_dir)
    except ModelInvalid as exc:
        entry["message"] = str(exc)
        if not path.is_file():  # a missing file is the intake's zip-structure business
            return entry, []
        policy = config.rule("model-invalid")
        return entry, [{"rule": "model-invalid", "severity": policy.severity,
                        "message": str(exc), "cell": None, "deduction": policy.deduction,
                        "file": spec.file}]
    predict: Callable[..., Any] = getattr(ref_module, spec.predict)
    with np.errstate(all="ignore"):  # in row batches: the trusted process's memory stays bounded
        y_pred = np.concatenate([np.asarray(predict(*ordered, X[i:i + PREDICT_ROWS])).reshape(-1)
                                 for i in range(0, len(X), PREDICT_ROWS)]) if len(X) else np.zeros(0)
    accuracy = float(np.mean(y_pred.reshape(-1) == y)) if y_pred.shape == y.shape else 0.0
    score = round(band_points(accuracy, band, points), 6)
    floor, full = band
    entry.update(
        score=score,
        status="passed" if accuracy >= full else "failed",
        message=f"test accuracy {accuracy:.3f} on {config.dataset} (full credit at {full:.3f}, "
                f"none at or below {floor:.3f})",
    )
    return entry, []


def gate_model(entry: dict[str, Any], spec: ModelSpec, earned: Mapping[str, float]) -> dict[str, Any]:
    """The model's report entry once the code that produces it is known to work.

    earned: points the hidden tests gave, by test name and by group (grade_id). The model's
    points count only when every name in spec.requires earned some, i.e. the test passed at least
    one case (a model file alone, e.g. someone else's, with no working code behind it earns
    nothing); else the entry gets score 0 and a message naming what to make pass first. A name
    that is neither a hidden test nor a group is the instructor's error, shown as such.
    """
    unknown = [name for name in spec.requires if name not in earned]
    if unknown:
        return {**entry, "score": 0.0, "status": "error",
                "message": f"internal: [models.{spec.name}] requires {unknown}, which are neither "
                           "hidden tests nor groups of this assignment"}
    missing = [name for name in spec.requires if not earned[name] > 0]
    if not missing or not entry.get("score"):
        return entry
    return {**entry, "score": 0.0, "status": "failed",
            "message": f"Your model's points count once your code passes "
                       f"{_listed(spec.requires)} (the model must come from your own code); "
                       f"{_listed(missing)} passed no case yet. The model file itself: "
                       f"{entry.get('message', '')}"}


def _listed(names: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
