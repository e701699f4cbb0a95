"""The solved release run start to end, as an honest student's would be, cached by content.

`executed_solution(assignment)` takes the solved release (autograder.authoring.solved: the
release notebook with the source's solution blocks in its TODO blocks), runs it once with
nbclient in a private folder on the course dataset, and returns the run notebook and the files
it saved (the best models). The run is kept in a content-addressed cache (default
build/demo/cache; the test suite points `CACHE` at its session's temporary folder), so a second
demo, bench or test session with the same notebook and data skips it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.core.config import REPO_ROOT, find_config, release_dir, solution_dir

CACHE: Path = REPO_ROOT / "build" / "demo" / "cache"
"""Where runs are cached when the caller names no folder (read at call time)."""
# per cell of the solved notebook; the search cell takes ~30 s on an idle core, minutes on a busy one
CELL_TIMEOUT_S = 1800
# BLAS on one thread, as in the grader's workers: on a busy machine, threads fighting over the
# small matrices of digits make the run many times slower
KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DATA = REPO_ROOT / "data"


@dataclass(frozen=True)
class Solution:
    """A solved release after its run: the notebook (with outputs) and the files it saved."""

    assignment: str
    notebook_name: str  # e.g. "two_layer_net.ipynb"
    notebook: Any  # nbformat.NotebookNode
    files: dict[str, bytes]  # required files other than the notebook: name -> bytes


def _data_digest() -> str:
    """The bundled datasets' content: the run (and the models it saves) depends on it."""
    h = hashlib.sha256()
    for path in sorted(DATA.glob("*.npz")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(notebook_json: str) -> str:
    """16 hex digits naming a run: the solved notebook's JSON and the bundled data."""
    h = hashlib.sha256(notebook_json.encode())
    h.update(_data_digest().encode())
    return h.hexdigest()[:16]


def _run(solved: Any, work: Path) -> None:
    """Run `solved` in place with nbclient, its working folder `work`; one-line RuntimeError."""
    from nbclient import NotebookClient
    from traitlets.config import Config

    # local sockets in the run's private folder: no TCP port, nothing for others to reach
    # (nbclient still owns the kernel manager, so it shuts the kernel down at the end)
    ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(work / "kernel")}})
    client = NotebookClient(solved, config=ipc, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute(env={**os.environ, **KERNEL_ENV})
    except Exception as exc:  # nbclient's CellTimeoutError, DeadKernelError, ...: one line
        first = (str(exc).strip().splitlines() or [""])[0]
        raise RuntimeError(f"the solved notebook did not run: {type(exc).__name__}: {first}") from None
    errors = [o for c in solved.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    if errors:
        raise RuntimeError(f"the solved notebook failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")


def _store(folder: Path, solved: Any, name: str, files: dict[str, bytes]) -> None:
    """Write the run into `folder` all at once: built beside it, then renamed into place, so a
    concurrent reader (another test worker) sees a complete run or none."""
    import nbformat

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        nbformat.write(solved, staging / name)
        for file, data in files.items():
            (staging / file).write_bytes(data)
        try:
            os.rename(staging, folder)
        except OSError:  # another process stored the same run first: theirs is as good
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def executed_solution(assignment: str, course: Path | None = None, cache: Path | None = None,
                      echo: Callable[[str], None] = print) -> Solution:
    """The solved release of `assignment` (from `course`, default the repository) run start to
    end, and the files it saved; from `cache` (default `CACHE`) when this content ran before.

    Raises RuntimeError (one line) when the notebook does not run or saves no required file.
    """
    import nbformat

    from autograder.authoring.solved import solved_release_of
    from autograder.core.notebook import read_notebook

    config = find_config(assignment, course)
    (name,) = config.notebooks
    others = [f for f in config.required_files if f != name]
    solved = solved_release_of(solution_dir(assignment, course) / name,
                               release_dir(assignment, course) / name)
    folder = (cache or CACHE) / assignment / cache_key(nbformat.writes(solved))
    if (folder / name).is_file() and all((folder / f).is_file() for f in others):
        echo(f"Solved {assignment} notebook: reusing the run in {folder}")
        return Solution(assignment, name, read_notebook(folder / name),
                        {f: (folder / f).read_bytes() for f in others})
    echo(f"Solved {assignment} notebook: running it start to end on its data (once; it is cached) ...")
    with tempfile.TemporaryDirectory(prefix="autograder-demo-run-") as tmp:
        work = Path(tmp)
        _run(solved, work)
        missing = [f for f in others if not (work / f).is_file()]
        if missing:
            raise RuntimeError(f"the solved {assignment} notebook saved no {', '.join(missing)}")
        files = {f: (work / f).read_bytes() for f in others}
    _store(folder, solved, name, files)
    return Solution(assignment, name, solved, files)
