"""The graded module: a fixed preamble plus a notebook's definition cells.

The grader imports what the notebook *defines*; it never runs what the notebook *does*.
Definition cells are the nbgrader solution code cells, in notebook order, except those that opt
out with `metadata.autograder.module = false` (e.g. a cell of top-level hyperparameters).
"""

from __future__ import annotations

import types
from typing import Any

from autograder.core.markers import is_solution_cell, nbgrader_meta

__all__ = ["PREAMBLE", "in_graded_module", "is_solution_cell", "load_trusted_module", "module_source",
           "nbgrader_meta"]

PREAMBLE = "import math\nimport time\n\nimport numpy as np\n"


def in_graded_module(cell: Any) -> bool:
    """Solution code cells, unless they opt out with metadata.autograder.module = false."""
    opt = cell.get("metadata", {}).get("autograder", {}) or {}
    return cell.get("cell_type") == "code" and is_solution_cell(cell) and opt.get("module", True)


def module_source(cells: list[Any]) -> str:
    """Preamble + the sources of the definition cells, each headed by its grade_id."""
    parts = [PREAMBLE]
    for cell in cells:
        if in_graded_module(cell):
            grade_id = nbgrader_meta(cell).get("grade_id", "?")
            parts.append(f"\n# --- cell {grade_id} ---\n{cell['source']}\n")
    return "".join(parts)


def load_trusted_module(source: str, name: str) -> types.ModuleType:
    """Exec *trusted* source (the reference solution) into a fresh module. Never student code."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - trusted source only
    return module
