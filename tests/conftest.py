"""Shared pytest fixtures. Module-specific fixtures live in the test modules themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Plots in tests and in executed notebooks must never need a display.
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
