"""Registering hidden tests (`@hidden_test`), collecting them, and loading a hidden_tests.py."""

from __future__ import annotations

import hashlib
import importlib.util
import types
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotation only: the context imports this module
    from autograder.grading.hidden.context import Context

REGISTRY_ATTR = "__hidden_tests__"


@dataclass(frozen=True)
class HiddenTest:
    """One registered hidden test: `func(ctx)` earns `weight` shares of group `grade_id`.

    `requires`: names of earlier tests that must each pass at least one unit before this one
    counts (see `hidden_test`).
    """

    name: str
    grade_id: str
    weight: float
    func: Callable[[Context], Any]
    requires: tuple[str, ...] = ()


def hidden_test(
    grade_id: str, weight: float = 1.0, requires: str | Sequence[str] = ()
) -> Callable[[Callable], Callable]:
    """Register a test function of the group `grade_id` in the module that defines it.

    requires: the name(s) of earlier tests of the same module that compare the same function
    with the reference. A self-consistency test (a gradient against the function's own loss,
    the same loss with shifted scores) passes for a function that does no work at all, e.g. one
    returning `(0.0, zeros)`; with `requires` it counts only once every named test has passed
    at least one unit (the function matches the reference on a case). Until then it is not run
    and scores 0, and its message says which test to pass first.
    """
    if not isinstance(grade_id, str) or not grade_id:
        raise TypeError("hidden_test needs a grade_id string, e.g. @hidden_test('svm_loss_naive')")
    if not weight > 0:
        raise ValueError(f"hidden_test weight must be > 0, got {weight!r}")
    needed = (requires,) if isinstance(requires, str) else tuple(requires)
    if not all(isinstance(r, str) and r for r in needed):
        raise TypeError(f"hidden_test requires names of tests, got {requires!r}")

    def register(func: Callable) -> Callable:
        spec = HiddenTest(func.__name__, grade_id, float(weight), func, needed)
        func.__hidden_test__ = spec  # type: ignore[attr-defined]
        func.__globals__.setdefault(REGISTRY_ATTR, []).append(spec)
        return func

    return register


def collect_tests(module: types.ModuleType) -> list[HiddenTest]:
    """The hidden tests a module defines, in definition order; names must be unique."""
    specs = list(getattr(module, REGISTRY_ATTR, []))
    if not specs:  # a module whose functions were decorated elsewhere: scan its attributes
        specs = [v.__hidden_test__ for v in vars(module).values() if hasattr(v, "__hidden_test__")]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(f"two hidden tests are named {spec.name!r}")
        # The runner decides from results it already has: a prerequisite must come first.
        for name in spec.requires:
            if name not in seen:
                raise ValueError(f"hidden test {spec.name!r} requires {name!r}, which is not a "
                                 "test defined before it")
        seen.add(spec.name)
    return specs


def load_tests_module(path: str | Path) -> types.ModuleType:
    """Import a hidden_tests.py from its path under a unique module name (trusted code)."""
    path = Path(path)
    name = f"_hidden_tests_{path.parent.name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load hidden tests from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stable_seed(*parts: Any) -> int:
    """A 32-bit seed from parts, stable across runs and machines (unlike Python's hash)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
