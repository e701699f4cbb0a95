"""The declared schema of `assignment.toml` (JSON Schema, draft 2020-12; docs/assignment-toml.md).

Every table and key the kit reads is declared here with its type; any other key is an error
(`additionalProperties: false`), so a typo such as `alowed_imports` stops `autograder release`
and `autograder check` instead of silently falling back to a default. The one open table is
`[private]`: instructor data the grader passes to hidden tests, never released.

The schema is Python data rather than a .json file so that it travels with the module wherever
the package is copied (the student bundle copies modules, not data files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# [limits] submission_seconds when the file does not set it: one submission's time budget. Here,
# with the keys, so that the sandbox's Limits reads it without importing the config loader (and
# its jsonschema): `autograder grade` starts its sandbox preflight before that import.
DEFAULT_SUBMISSION_SECONDS = 60.0

# [limits]: the worker's resource limits (autograder.grading.sandbox.Limits, docs/sandbox.md).
# Declared here because the core must not import grading; a test keeps the two lists equal.
LIMIT_KEYS: dict[str, str] = {
    "call_timeout_s": "wall-clock seconds per call of a student function",
    "load_timeout_s": "seconds to start the worker and load the student's code",
    "memory_mb": "address space of the worker, MiB",
    "cpu_s": "CPU seconds over the worker's life",
    "nproc": "processes and threads of the worker's uid",
    "fsize_mb": "largest file the worker may write, MiB",
    "tmpfs_mb": "size of the sandbox's /tmp, MiB",
    "output_kb": "student stdout/stderr kept per call, KiB",
    "submission_seconds": "wall-clock seconds for all of one submission's code",
}

_STRINGS = {"type": "array", "items": {"type": "string"}}
_NAME = {"type": "string", "minLength": 1}
_POINTS = {"type": "number", "minimum": 0}


def _table(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    """A closed TOML table: only these keys, `required` among them."""
    table: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        table["required"] = list(required)
    return table


def _open_table(values: dict[str, Any]) -> dict[str, Any]:
    """A table whose keys are the author's names (grade ids, datasets), each value `values`."""
    return {"type": "object", "additionalProperties": values}


def assignment_schema(rule_ids: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of a decoded assignment.toml; `[rules]` accepts exactly `rule_ids`."""
    rule_policy = _table({
        "severity": {"enum": ["error", "warning"]},
        "deduction": _POINTS,
        "cap": _POINTS,
    })
    band = _table({
        "floor": {"type": "number", "minimum": 0, "maximum": 1},
        "full": {"type": "number", "minimum": 0, "maximum": 1},
    }, required=("floor", "full"))
    model = _table({
        "file": _NAME,
        "grade_id": _NAME,
        "predict": _NAME,
        "keys": _open_table({"type": "array", "items": {"type": ["string", "integer"]}}),
        "bands": _open_table(band),
        "bias_trick": {"type": "boolean"},
        "requires": _STRINGS,
    }, required=("file", "predict", "keys", "bands"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "assignment.toml",
        **_table({
            "assignment": _table({
                "name": _NAME,
                "title": {"type": "string"},
                "notebooks": _STRINGS,
                "required_files": _STRINGS,
                "dataset": _NAME,
                "release_files": _STRINGS,
            }, required=("name", "notebooks")),
            "policy": _table({
                "allowed_imports": _STRINGS,
                "forbidden_calls": _STRINGS,
                "loop_free": _STRINGS,
            }),
            "tests": _open_table(_POINTS),
            "manual": _open_table(_POINTS),
            "models": _open_table(model),
            "rules": _table({rule_id: rule_policy for rule_id in rule_ids}),
            "deductions": _table({"total_cap": _POINTS}),
            "limits": _table({key: {"type": "number", "exclusiveMinimum": 0}
                              for key in LIMIT_KEYS}),
            # Open on purpose: what hidden tests need (seed, answer keys) is the author's choice.
            "private": {"type": "object", "properties": {"seed": {"type": "integer"}}},
        }, required=("assignment",)),
    }
