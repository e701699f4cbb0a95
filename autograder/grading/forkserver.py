"""The grading pool's fork server: what it imports once for every worker, and starting it early.

Kept apart from `autograder.grading.batch` and light to import (the standard library only), so
that `autograder grade` starts the server first, before its own imports: the server then loads
its preloads on the other core while the grader process does the rest of its start-up (sandbox
preflight, config, intake), and the pool forks its workers from the server already running
(docs/benchmarks.md, start-up).
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import BaseContext
from typing import Any

# Imported once by the fork server, so every worker starts with them loaded (best effort: a
# module that is missing is skipped by multiprocessing). What a worker imports to grade a
# submission (`autograder.grading.pipeline.grade_one`): the steps, the config with its dataset
# names, the notebook checks, the graft and the scoring of the rules' findings, the engine with
# the sandbox and the hidden-test API, and numpy with what the hidden tests and the reference
# use of it (numpy.random; numpy.ma, which np.unique imports): each would otherwise be imported
# by the first submission of every worker. tests/test_grade_startup.py keeps this complete.
PRELOAD = ["autograder.grading.pipeline", "autograder.core.datasets", "autograder.core.submission_zip",
           "autograder.core.prepared", "autograder.core.graft", "autograder.core.score",
           "autograder.grading.engine", "autograder.grading.hidden", "numpy", "numpy.random",
           "numpy.ma", "nbformat"]


def preloads(pipeline: Any = None) -> list[str]:
    """PRELOAD, and the module that defines an injected pipeline (so that its workers can
    unpickle it)."""
    return PRELOAD + ([type(pipeline).__module__] if pipeline is not None else [])


# The pool runs one job per core: a BLAS library's own threads in each worker would only
# compete with the other jobs (and OpenBLAS's threads spin while they wait). Set for the
# workers' environment unless the instructor set them; the sandbox sets its own (levels.py).
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def pool_context(pipeline: Any = None) -> BaseContext:
    """The context of the grading pool: forkserver where there is one (workers forked from a
    clean server, without the parent's state such as the gradebook connection), else spawn.
    Either starts its processes with single-threaded BLAS (BLAS_THREADS)."""
    for key, value in BLAS_THREADS.items():
        os.environ.setdefault(key, value)
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preloads(pipeline))
    return ctx


def start_fork_server(pipeline: Any = None) -> None:
    """Start the pool's fork server now (where there is one), so that it imports its preloads
    while this process does the rest of its start-up; the pool then forks its workers from the
    server already running. Nothing to do when it runs.

    The server is started once per process and shared by every later pool (a rerun inside one
    process, as in the tests and the demo, pays its imports once)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    pool_context(pipeline)
    forkserver.ensure_running()
