"""Shared pytest fixtures. Module-specific fixtures live in the test modules themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

# MPLBACKEND is deliberately not set here: notebook kernels started by the tests inherit the
# environment, and with Agg forced they would show no figures (and trip `outputs-cleared`).
# Without a display matplotlib falls back to Agg on its own; test_toolkit.py also selects it.

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
