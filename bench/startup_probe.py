"""Run `autograder ...` (argv) and record when the first submission reaches a pool worker.

Used by bench/bench_startup.py, never on its own. The environment gives STARTUP_T0 (the
launcher's time.time() just before it started this process) and STARTUP_OUT (a file that gets
one JSON line per event). Events: `submit` (the parent hands the first submission to the pool:
seconds since STARTUP_T0 and the parent's CPU seconds so far) and `worker` (a pool worker
starts grading it: seconds since STARTUP_T0, the fork server's CPU seconds for its imports,
the worker's CPU seconds before the call, and the top-level packages the first call imported
that the fork server had not preloaded).

With `-X importtime`, the profile is this process's only: the option is not passed on to the
fork server and the sandboxes (profiled separately by bench_startup.py).
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import sys
import time
from pathlib import Path

sys._xoptions.pop("importtime", None)  # children: multiprocessing copies -X options from here
# The fork server does not get this sys.path (Python 3.11 ignores the sys_path it is sent): it
# finds startup_hook through PYTHONPATH, which the sandboxes never see (--clearenv, python -I).
BENCH = str(Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [BENCH, os.environ.get("PYTHONPATH")]))

T0 = float(os.environ["STARTUP_T0"])
MARK = "startup_probe: first submission dispatched"
OUT = os.environ["STARTUP_OUT"]


def record(event: dict) -> None:
    """Append one event to STARTUP_OUT (O_APPEND: the parent and a worker may both write)."""
    with open(OUT, "a") as f:
        f.write(json.dumps(event) + "\n")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    import concurrent.futures.process as cfp
    import multiprocessing.forkserver as fs

    submit = cfp.ProcessPoolExecutor.submit
    first = []

    def timed_submit(self, *args, **kwargs):  # the parent: first submission dispatched
        if not first:
            first.append(True)
            record({"event": "submit", "seconds": time.time() - T0, "cpu": _cpu()})
            # where an -X importtime profile of the start-up ends (bench_startup.top_imports)
            print(MARK, file=sys.stderr, flush=True)
        return submit(self, *args, **kwargs)

    cfp.ProcessPoolExecutor.submit = timed_submit
    preload = fs.set_forkserver_preload  # what the context's set_forkserver_preload calls
    # the fork server imports startup_hook last, after the kit's own preloads
    fs.set_forkserver_preload = lambda names: preload([*names, "startup_hook"])
    sys.argv = ["autograder", *sys.argv[1:]]
    runpy.run_module("autograder", run_name="__main__")


if __name__ == "__main__":
    main()
