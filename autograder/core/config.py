"""Paths of the course and the per-assignment `assignment.toml` (docs/assignment-toml.md).

Every key and its default are documented in docs/assignment-toml.md; the file is validated
against the declared schema of `autograder.core.config_schema`, so an unknown key or a wrong
type is a ConfigError naming the file, the key and its likely intended spelling.
Only the `[private]` table is kept out of the student release; everything else is the
student-visible part, copied into `assignments/<A>/assignment.toml` so that the self-check
tells students exactly what is enforced.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.core.config_schema import DEFAULT_SUBMISSION_SECONDS, assignment_schema

# RULE_IDS: every rule id (docs/policy.md) in pipeline order, derived from the rule classes (each
# carries its id, hint and default policy); RulePolicy: how one rule id is scored. Both are read
# from here too.
from autograder.core.rules import RULE_IDS
from autograder.core.rules.policy import RulePolicy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 students
    import tomli as tomllib

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = "solutions"
RELEASE_DIR = "assignments"
CONFIG_NAME = "assignment.toml"
DEFAULT_ALLOWED_IMPORTS = ("numpy", "math", "time")

class ConfigError(ValueError):
    """assignment.toml is missing or wrong; the message names the file and the key."""


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
    # hidden tests (or [tests] groups) of the code that produces the model: its points count once
    # each of them earns points (autograder.core.models.gate_model)
    requires: tuple[str, ...] = ()


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


ASSIGNMENT_SCHEMA = assignment_schema(RULE_IDS)


@functools.cache
def _validator() -> Draft202012Validator:
    """jsonschema's validator of ASSIGNMENT_SCHEMA, made on first use: a module that imports
    this one only for the config's types or paths (the sandbox's limits) does not import
    jsonschema."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(ASSIGNMENT_SCHEMA)


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_TYPE_WORDS = {"array": "a list", "string": "a string", "number": "a number",
               "integer": "a whole number", "object": "a table", "boolean": "true or false"}


def _dotted(path: Sequence[str | int]) -> str:
    """A location in TOML's own notation: `models.svm_best_model.bands`, `policy.loop_free[2]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if _BARE_KEY.match(part) else json.dumps(part)
            text += f".{key}" if text else key
    return text


def _table_name(path: Sequence[str | int]) -> str:
    return f"in [{_dotted(path)}]" if path else "at the top level"


def _shown(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool)) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _problems(error: ValidationError) -> list[str]:
    """One sentence per problem a schema error stands for (a table may have several typos)."""
    path = list(error.absolute_path)
    where = _dotted(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        what = "rule id" if path == ["rules"] else "key"
        found = []
        for key in sorted(set(error.instance) - set(known)):
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else f" (known: {', '.join(known)})"
            found.append(f"unknown {what} {key!r} {_table_name(path)}{hint}")
        return found
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        if not path:
            return [f"needs the table [{k}]" for k in missing]
        return [f"[{where}] needs the key {k!r}" for k in missing]
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [
            error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
        return [f"{where} must be {words}, not {_shown(error.instance)}"]
    if error.validator == "enum":
        allowed = ", ".join(_shown(v) for v in error.validator_value)
        return [f"{where} must be one of {allowed}, not {_shown(error.instance)}"]
    bounds = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
              "minLength": "at least this many characters:"}
    if error.validator in bounds:
        return [f"{where} must be {bounds[error.validator]} {error.validator_value}, "
                f"not {_shown(error.instance)}"]
    return [f"{where or 'the file'}: {error.message}"]


def _dataset_problems(data: dict[str, Any]) -> list[str]:
    """Dataset names ([assignment].dataset, each model's bands) that no loader knows."""
    # imported here: autograder.core.datasets imports this module (for REPO_ROOT)
    from autograder.core.datasets import DATASETS

    named: list[tuple[str, str]] = []
    assignment = data.get("assignment")
    if isinstance(assignment, dict) and isinstance(assignment.get("dataset"), str):
        named.append(("assignment.dataset", assignment["dataset"]))
    models = data.get("models")
    for model, spec in (models.items() if isinstance(models, dict) else ()):
        bands = spec.get("bands") if isinstance(spec, dict) else None
        named += [(_dotted(["models", model, "bands"]), name)
                  for name in (bands if isinstance(bands, dict) else ())]
    problems = []
    for where, name in named:
        if name not in DATASETS:
            guess = difflib.get_close_matches(name, DATASETS, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"known: {', '.join(DATASETS)}"
            problems.append(f"unknown dataset {name!r} in {where} ({hint})")
    return problems


def _requires_problems(data: dict[str, Any]) -> list[str]:
    """`requires` of a model naming a model (hidden tests' names are checked when grading: the
    hidden tests are not part of this file)."""
    models = data.get("models") if isinstance(data.get("models"), dict) else {}
    model_ids = {spec.get("grade_id", name) for name, spec in models.items() if isinstance(spec, dict)}
    problems = []
    for model, spec in models.items():
        needed = spec.get("requires") if isinstance(spec, dict) else None
        for i, name in enumerate(needed if isinstance(needed, list) else ()):
            if isinstance(name, str) and name in model_ids:
                problems.append(f"{_dotted(['models', model, 'requires'])}[{i}] = {name!r} is a "
                                "model; name hidden tests or [tests] groups graded by them")
    return problems


def validate_config(data: dict[str, Any], label: str = CONFIG_NAME) -> None:
    """Check decoded TOML against ASSIGNMENT_SCHEMA and the known datasets; a ConfigError lists
    every problem, one line each, naming `label` (the file), the key, and for a typo its likely
    intended spelling."""
    problems = [p for error in sorted(_validator().iter_errors(data),
                                      key=lambda e: [str(x) for x in e.absolute_path])
                for p in _problems(error)]
    problems += _dataset_problems(data)
    problems += _requires_problems(data)
    if problems:
        raise ConfigError("\n".join(f"{label}: {p}" for p in problems))


def parse_config(
    data: dict[str, Any], path: Path | None = None, label: str | None = None
) -> AssignmentConfig:
    """Validate the decoded TOML tables, then build an AssignmentConfig (docs/assignment-toml.md).

    `label` names the file in error messages (default: `path`)."""
    validate_config(data, label or str(path or CONFIG_NAME))
    return _build_config(data, path)


def _build_config(data: dict[str, Any], path: Path | None) -> AssignmentConfig:
    """The AssignmentConfig of tables that passed `validate_config`."""
    a = data["assignment"]
    policy = data.get("policy", {})
    rules = {
        rule_id: RulePolicy(
            severity=spec.get("severity", "error"),
            deduction=float(spec.get("deduction", 0.0)),
            cap=None if spec.get("cap") is None else float(spec["cap"]),
        )
        for rule_id, spec in data.get("rules", {}).items()
    }
    models = {
        name: ModelSpec(
            name=name,
            file=spec["file"],
            grade_id=spec.get("grade_id", name),
            predict=spec["predict"],
            keys={k: tuple(v) for k, v in spec["keys"].items()},
            bands={ds: (float(b["floor"]), float(b["full"])) for ds, b in spec["bands"].items()},
            requires=tuple(spec.get("requires", ())),
        )
        for name, spec in data.get("models", {}).items()
    }
    return AssignmentConfig(
        name=a["name"],
        title=a.get("title", a["name"]),
        notebooks=tuple(a["notebooks"]),
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


def load_config(path: str | Path, label: str | None = None) -> AssignmentConfig:
    """Read and validate one assignment.toml; a missing file, bad TOML or a key the schema does
    not declare is a ConfigError naming the file (`label`, default the path) and the key."""
    path = Path(path)
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{label}: not found") from None
    if text in _VALIDATED:  # the same file again (a grading worker, every submission)
        return _build_config(copy.deepcopy(_VALIDATED[text]), path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML ({exc})") from None
    config = parse_config(data, path, label)
    if len(_VALIDATED) >= 64:
        _VALIDATED.clear()
    _VALIDATED[text] = copy.deepcopy(data)
    return config


# assignment.toml texts that passed validation, with their decoded tables: a grading worker looks
# up its assignment's config twice per submission (the steps, the notebook's preparation), and
# validating it again would cost more than grafting a notebook. Keyed by the text itself, so an
# edited file is read and validated afresh; each caller gets its own copy of the tables.
_VALIDATED: dict[str, dict[str, Any]] = {}


def public_part(data: dict[str, Any]) -> dict[str, Any]:
    """The student-visible tables: everything but [private], and without a model's `requires`
    (it names hidden tests; the notebook states in words what a model's points depend on)."""
    public = {k: v for k, v in data.items() if k != "private"}
    models = public.get("models")
    if isinstance(models, dict):
        public["models"] = {name: {k: v for k, v in spec.items() if k != "requires"}
                            if isinstance(spec, dict) else spec for name, spec in models.items()}
    return public


def course_root(course: str | Path | None = None) -> Path:
    """The course directory (holds solutions/, assignments/); the repo root by default."""
    return Path(course).resolve() if course else REPO_ROOT


def solution_dir(assignment: str, course: str | Path | None = None) -> Path:
    """`<course>/solutions/<assignment>`: the instructor's sources (never released)."""
    return course_root(course) / SOLUTIONS_DIR / assignment


def release_dir(assignment: str, course: str | Path | None = None) -> Path:
    """`<course>/assignments/<assignment>`: the student release and its kept versions."""
    return course_root(course) / RELEASE_DIR / assignment


def find_config(assignment: str, course: str | Path | None = None) -> AssignmentConfig:
    """The instructor's config when solutions/ is there, else the released public one."""
    for top, folder in ((SOLUTIONS_DIR, solution_dir(assignment, course)),
                        (RELEASE_DIR, release_dir(assignment, course))):
        if (folder / CONFIG_NAME).is_file():
            # named relative to the course: a student's message never shows a host path
            return load_config(folder / CONFIG_NAME, f"{top}/{assignment}/{CONFIG_NAME}")
    raise ConfigError(
        f"No {CONFIG_NAME} for assignment {assignment!r} under {course_root(course)}: "
        f"check the assignment name (e.g. A3, A4)."
    )


def ensure_tools_on_path() -> None:
    """Put the running interpreter's bin folder first on PATH.

    Plain nbgrader commands and formgrader (which load nbgrader_config.py, the caller) run the
    `alembic` executable when they create a gradebook; in a venv that nobody activated
    (`.venv/bin/nbgrader ...`), it is only found this way. `autograder grade` does not need it:
    it creates its gradebook in-process.
    """
    import os

    bin_dir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])
