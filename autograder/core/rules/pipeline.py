"""The rule ids found outside the notebook rules: by the intake (the submission zip), by the model
check, and by the sandboxed worker while the student's code runs (docs/policy.md).

They have no `check` over a notebook: each step that finds one builds its violation itself. They
are declared here so that every rule id, with its hint and its default policy, has one class.
"""

from __future__ import annotations

from typing import ClassVar

from autograder.core.rules.base import RuleInfo


class ZipStructure(RuleInfo):
    """The submission zip's files are not the expected ones at its root (the intake)."""

    rule_id: ClassVar[str] = "zip-structure"
    hint: ClassVar[str] = (
        "Build the zip with `autograder submit` (or `make submission`): files at the zip root, nothing else."
    )


class ZipManifest(RuleInfo):
    """The zip's MANIFEST.json is missing or disagrees with the files (the intake)."""

    rule_id: ClassVar[str] = "zip-manifest"
    hint: ClassVar[str] = "Build the zip with `autograder submit`: it writes MANIFEST.json for you."


class StudentIdMismatch(RuleInfo):
    """The manifest's student id is not the one the LMS export gives (the intake)."""

    rule_id: ClassVar[str] = "student-id-mismatch"
    hint: ClassVar[str] = "Use your own student id with `autograder submit --student-id`."


class ModelInvalid(RuleInfo):
    """A saved best model the grader cannot use (the model check)."""

    rule_id: ClassVar[str] = "model-invalid"
    hint: ClassVar[str] = (
        "Save the best model with the notebook's save cell (an .npz with the expected arrays)."
    )


class SandboxViolation(RuleInfo):
    """The student's code tried what the sandbox forbids (the worker)."""

    rule_id: ClassVar[str] = "sandbox-violation"
    hint: ClassVar[str] = (
        "Your code tried something the grader does not allow (files, network, processes, patching numpy)."
    )
