"""Shared pytest fixtures. Module-specific fixtures live in the test modules themselves."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# MPLBACKEND is deliberately not set here: notebook kernels started by the tests inherit the
# environment, and with Agg forced they would show no figures (and trip `outputs-cleared`).
# Without a display matplotlib falls back to Agg on its own; test_toolkit.py also selects it.

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def solved_runs_in_session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The runs of the solved notebooks (demo.solution) are cached in this session's temporary
    folder, not in the checkout: each runs once per session, whoever asks first (the demo, the
    honest class, the adversarial corpus). Under pytest-xdist the workers of one run share the
    folder (the base temp's parent); demo.solution stores a run atomically, so they never
    read a half-written one."""
    from demo import solution

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    cache = base / "solved-runs"
    patch = pytest.MonkeyPatch()
    patch.setattr(solution, "CACHE", cache)
    yield cache
    patch.undo()


@pytest.fixture(scope="session", autouse=True)
def strict_grading() -> Iterator[None]:
    """Grading is strict in the suite: a rule or step that raises while grading fails the test
    instead of becoming that student's `error` status (autograder.grading.pipeline.STRICT). A
    test about what a crash becomes passes `strict=False` to grade_class or grade_one."""
    from autograder.grading import pipeline

    patch = pytest.MonkeyPatch()
    patch.setattr(pipeline, "STRICT", True)
    yield
    patch.undo()


def _hypothesis_storage_in_tmp() -> Path:
    """Hypothesis keeps its example database and its caches (the constants it reads off the
    modules, from collection on) in `.hypothesis/` of the working directory, the checkout,
    unless told otherwise. Tests write only to temporary folders: this process gets its own
    (each pytest-xdist worker too), set before any test module is collected and removed at the
    end (pytest_unconfigure)."""
    from hypothesis.configuration import set_hypothesis_home_dir

    home = Path(tempfile.mkdtemp(prefix="autograder-tests-hypothesis-"))
    set_hypothesis_home_dir(home)
    return home


HYPOTHESIS_HOME = _hypothesis_storage_in_tmp()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(HYPOTHESIS_HOME, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI no test may be skipped: CI installs everything (bwrap included) that tests need.

    A skip there means a test silently stopped testing; fail the run and name the skipped tests.
    """
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        names = ", ".join(report.nodeid for report in skipped[:10])
        reporter.write_sep("=", f"CI: {len(skipped)} test(s) skipped, which CI does not allow: {names}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
