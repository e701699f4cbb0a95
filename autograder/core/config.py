"""Paths of the course and the per-assignment `assignment.toml` (docs/assignment-toml.md).

The schema, with every key and its default, is documented in docs/assignment-toml.md.
Only the `[private]` table is kept out of the student release; everything else is the
student-visible part, copied into `assignments/<A>/assignment.toml` so that the self-check
tells students exactly what is enforced.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 students
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = "solutions"
RELEASE_DIR = "assignments"
CONFIG_NAME = "assignment.toml"
DEFAULT_ALLOWED_IMPORTS = ("numpy", "math", "time")
DEFAULT_SUBMISSION_SECONDS = 60.0  # [limits] submission_seconds: one submission's time budget

# Every rule id (docs/policy.md), in pipeline order. Reports, assignment.toml and tests use these.
RULE_IDS = (
    "zip-structure",
    "zip-manifest",
    "student-id-mismatch",
    "notebook-invalid",
    "cell-added",
    "cell-deleted",
    "cell-reordered",
    "cell-duplicated",
    "cell-type-changed",
    "locked-cell-modified",
    "outside-todo-modified",
    "todo-marker-damaged",
    "forbidden-import",
    "forbidden-call",
    "loop-in-vectorized",
    "undefined-name",
    "not-executed",
    "outputs-cleared",
    "model-invalid",
    "sandbox-violation",
)


class ConfigError(ValueError):
    """assignment.toml is missing or wrong; the message names the file and the key."""


@dataclass(frozen=True)
class RulePolicy:
    """How one rule id is scored: severity and deduction in points, capped per rule."""

    severity: str = "error"  # "error" | "warning"
    deduction: float = 0.0  # points taken per violation
    cap: float | None = None  # at most this many points for this rule in total


@dataclass(frozen=True)
class ModelSpec:
    """A best model the student saves (`<file>` as .npz) and the accuracy scale it earns on.

    keys: array name -> shape as a tuple of dimension names or ints ("D", "C", 10).
    bands: dataset name -> (floor, full): 0 points at or below floor, all at or above full,
    linear in between.
    """

    name: str
    file: str
    grade_id: str
    predict: str  # reference function used to predict: predict(model_arrays..., X)
    keys: dict[str, tuple[Any, ...]]
    bands: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class AssignmentConfig:
    """The parsed assignment.toml of one assignment."""

    name: str
    title: str
    notebooks: tuple[str, ...]
    required_files: tuple[str, ...]
    dataset: str
    allowed_imports: tuple[str, ...]
    forbidden_calls: tuple[str, ...]
    loop_free: tuple[str, ...]
    tests: dict[str, float]  # grade_id -> points, auto-graded (hidden tests + models)
    manual: dict[str, float]  # grade_id -> points, graded by hand (inline questions)
    models: dict[str, ModelSpec]
    rules: dict[str, RulePolicy]
    total_deduction_cap: float | None
    limits: dict[str, float]  # sandbox limits: call_timeout_s, memory_mb, cpu_s, ...
    private: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def submission_seconds(self) -> float:
        """`[limits] submission_seconds`: the wall clock one submission's code may run in total
        (loading it and every call), on top of the per-call limit; 60 s unless set."""
        return float(self.limits.get("submission_seconds", DEFAULT_SUBMISSION_SECONDS))

    @property
    def max_score(self) -> float:
        """Points of the automatic and the manual part together."""
        return float(sum(self.tests.values()) + sum(self.manual.values()))

    def rule(self, rule_id: str) -> RulePolicy:
        """The policy for a rule id (a warning worth nothing when the toml is silent)."""
        if rule_id not in RULE_IDS:
            raise KeyError(f"unknown rule id {rule_id!r}")
        return self.rules.get(rule_id, RulePolicy(severity="warning", deduction=0.0))


def _need(table: dict[str, Any], key: str, where: str, path: Path | None) -> Any:
    if key not in table:
        raise ConfigError(f"{path or CONFIG_NAME}: [{where}] needs the key {key!r}")
    return table[key]


def parse_config(data: dict[str, Any], path: Path | None = None) -> AssignmentConfig:
    """Build an AssignmentConfig from the decoded TOML tables (see docs/assignment-toml.md)."""
    a = _need(data, "assignment", "top level", path)
    policy = data.get("policy", {})
    rules: dict[str, RulePolicy] = {}
    for rule_id, spec in data.get("rules", {}).items():
        if rule_id not in RULE_IDS:
            raise ConfigError(f"{path or CONFIG_NAME}: [rules] names an unknown rule id {rule_id!r}")
        if spec.get("severity", "error") not in ("error", "warning"):
            raise ConfigError(f"{path or CONFIG_NAME}: [rules.{rule_id}] severity must be 'error' or 'warning'")
        rules[rule_id] = RulePolicy(
            severity=spec.get("severity", "error"),
            deduction=float(spec.get("deduction", 0.0)),
            cap=None if spec.get("cap") is None else float(spec["cap"]),
        )
    models: dict[str, ModelSpec] = {}
    for name, spec in data.get("models", {}).items():
        where = f"models.{name}"
        bands = {
            ds: (float(band["floor"]), float(band["full"]))
            for ds, band in _need(spec, "bands", where, path).items()
        }
        models[name] = ModelSpec(
            name=name,
            file=_need(spec, "file", where, path),
            grade_id=spec.get("grade_id", name),
            predict=_need(spec, "predict", where, path),
            keys={k: tuple(v) for k, v in _need(spec, "keys", where, path).items()},
            bands=bands,
        )
    return AssignmentConfig(
        name=_need(a, "name", "assignment", path),
        title=a.get("title", a["name"]),
        notebooks=tuple(_need(a, "notebooks", "assignment", path)),
        required_files=tuple(a.get("required_files", a["notebooks"])),
        dataset=a.get("dataset", "digits"),
        allowed_imports=tuple(policy.get("allowed_imports", DEFAULT_ALLOWED_IMPORTS)),
        forbidden_calls=tuple(policy.get("forbidden_calls", ())),
        loop_free=tuple(policy.get("loop_free", ())),
        tests={k: float(v) for k, v in data.get("tests", {}).items()},
        manual={k: float(v) for k, v in data.get("manual", {}).items()},
        models=models,
        rules=rules,
        total_deduction_cap=(
            None if data.get("deductions", {}).get("total_cap") is None
            else float(data["deductions"]["total_cap"])
        ),
        limits={k: float(v) for k, v in data.get("limits", {}).items()},
        private=dict(data.get("private", {})),
        path=path,
        raw=data,
    )


def load_config(path: str | Path) -> AssignmentConfig:
    """Read one assignment.toml; a missing file or bad TOML is a ConfigError naming the file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, path)


def public_part(data: dict[str, Any]) -> dict[str, Any]:
    """The student-visible tables: everything but [private]."""
    return {k: v for k, v in data.items() if k != "private"}


def course_root(course: str | Path | None = None) -> Path:
    """The course directory (holds solutions/, assignments/); the repo root by default."""
    return Path(course).resolve() if course else REPO_ROOT


def solution_dir(assignment: str, course: str | Path | None = None) -> Path:
    return course_root(course) / SOLUTIONS_DIR / assignment


def release_dir(assignment: str, course: str | Path | None = None) -> Path:
    return course_root(course) / RELEASE_DIR / assignment


def find_config(assignment: str, course: str | Path | None = None) -> AssignmentConfig:
    """The instructor's config when solutions/ is there, else the released public one."""
    for folder in (solution_dir(assignment, course), release_dir(assignment, course)):
        if (folder / CONFIG_NAME).is_file():
            return load_config(folder / CONFIG_NAME)
    raise ConfigError(
        f"No {CONFIG_NAME} for assignment {assignment!r} under {course_root(course)}: "
        f"check the assignment name (e.g. A3, A4)."
    )


def ensure_tools_on_path() -> None:
    """Put the running interpreter's bin folder first on PATH.

    nbgrader runs the `alembic` executable when it creates a gradebook; in a venv that nobody
    activated (`.venv/bin/autograder grade ...`), it is only found this way.
    """
    import os

    bin_dir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])
