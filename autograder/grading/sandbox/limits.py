"""What a worker may use (`Limits`) and the error of a sandbox that cannot be set up."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from autograder.core.config_schema import DEFAULT_SUBMISSION_SECONDS


class SandboxError(RuntimeError):
    """The sandbox could not be set up: a grader-side problem, never the student's."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker; `assignment.toml [limits]` overrides any of them."""

    call_timeout_s: float = 10.0  # wall clock per call (a batch: per call in it)
    load_timeout_s: float = 20.0  # worker start + exec of the graded module
    memory_mb: int = 2048  # RLIMIT_AS
    cpu_s: int = 300  # RLIMIT_CPU over the worker's life
    nproc: int = 32  # RLIMIT_NPROC of the slot uid (threads count too)
    fsize_mb: int = 16  # RLIMIT_FSIZE
    tmpfs_mb: int = 64  # size of the sandbox's /tmp (bwrap)
    output_kb: int = 16  # student stdout/stderr kept per call
    # Wall clock spent running the student's code over the whole submission (loading it and
    # every call), on top of the per-call limit: once spent, the remaining calls are timeouts.
    submission_seconds: float = DEFAULT_SUBMISSION_SECONDS

    @classmethod
    def from_config(cls, limits: dict[str, float] | None) -> Limits:
        """Limits with the keys of `[limits]` that this class knows (others are ignored)."""
        known = {f.name: f.type for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in (limits or {}).items():
            if key in known:
                kw[key] = float(value) if known[key] in (float, "float") else int(value)
        return cls(**kw)
