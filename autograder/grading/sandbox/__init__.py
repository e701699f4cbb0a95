"""Starting the worker at the strongest isolation available, and calling it (docs/sandbox.md).

The modules, by concern:

* `limits`: `Limits` (what a worker may use) and `SandboxError` (the sandbox cannot be set up).
* `runtime`: the interpreter, stdlib and numpy the worker uses, and the staged worker code.
* `levels`: which level (`bwrap`, `uid`, `process`) and the bwrap/setpriv command lines.
* `slots`: the unprivileged uid of each live worker; killing and sweeping what a uid left.
* `worker_process`: one running worker (its pipes and limits) and the spare worker.
* `caller`: `SandboxCaller`, the hidden tests' caller backed by a worker.
* `preflight`: the check a batch makes once, before its first student.
"""

from __future__ import annotations

from autograder.grading.sandbox.caller import MAX_RESTARTS, SandboxCaller, preamble_imports
from autograder.grading.sandbox.levels import (
    LEVELS,
    REQUESTS,
    THREAD_ENV,
    bwrap_args,
    bwrap_works,
    choose_level,
    install_hint,
    worker_env,
)
from autograder.grading.sandbox.limits import Limits, SandboxError
from autograder.grading.sandbox.preflight import PROBE_SOURCE, preflight
from autograder.grading.sandbox.runtime import (
    PYTHON_ENV,
    SANDBOX_ROOT,
    SANDBOX_SITE,
    WORKER_FILES,
    Runtime,
    boot_args,
    runtime,
    runtime_readable_by_others,
)
from autograder.grading.sandbox.slots import (
    MAX_SLOTS,
    SHARED_TMP,
    UID_BASE,
    SlotLease,
    is_root,
    kill_uid,
    setpriv_args,
    sweep_uid_files,
    world_writable_dirs,
)
from autograder.grading.sandbox.worker_process import (
    WorkerProcess,
    discard_spare,
    finish_stopping,
    spare_uid,
)

__all__ = [
    "LEVELS", "MAX_RESTARTS", "MAX_SLOTS", "PROBE_SOURCE", "PYTHON_ENV", "REQUESTS", "SANDBOX_ROOT",
    "SANDBOX_SITE", "SHARED_TMP", "THREAD_ENV", "UID_BASE", "WORKER_FILES", "Limits", "Runtime",
    "SandboxCaller", "SandboxError", "SlotLease", "WorkerProcess", "boot_args", "bwrap_args",
    "bwrap_works", "choose_level", "discard_spare", "finish_stopping", "install_hint", "is_root", "kill_uid",
    "preamble_imports", "preflight", "runtime", "runtime_readable_by_others", "setpriv_args",
    "spare_uid", "sweep_uid_files", "worker_env", "world_writable_dirs",
]
