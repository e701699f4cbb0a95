"""Red team: a notebook of hundreds of thousands of empty cells costs the *trusted* grader
gigabytes and minutes (nothing bounds it but the 100 MiB member limit).

400 000 empty raw cells are a 24 MB notebook (about 1 MB zipped); `check_notebook`, which the
grader runs in its own process before any sandbox, takes ~30 s and ~900 MB RSS on it. The 100 MiB
limit allows ~1.7 million such cells: ~2 minutes and ~4 GB per submission, in the grader's own
process (OOM-kill of the batch on a small grading VM). Here the check runs in a child limited to 768 MiB
of address space and 20 s (the honest notebook: under 1 s, ~200 MB): the secure behaviour is refusing an absurd cell count early
(notebook-invalid) or checking in bounded memory, never a MemoryError (also not one caught and reported as notebook-invalid)
or a timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from autograder.core.config import REPO_ROOT

N_CELLS = 400_000

CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))
    from autograder.student.check import check_notebook
    from autograder.core.config import REPO_ROOT
    try:
        result = check_notebook(sys.argv[1], "A4", REPO_ROOT)
    except MemoryError:
        print("MEMORY-ERROR"); sys.exit(3)
    if any("MemoryError" in v.message for v in result.violations):
        print("MEMORY-ERROR (caught as notebook-invalid)"); sys.exit(3)
    print("OK", len(result.violations))
""")


def test_notebook_with_huge_cell_count_is_checked_in_bounded_memory_and_time(tmp_path: Path) -> None:
    nb = json.loads((REPO_ROOT / "assignments" / "A4" / "two_layer_net.ipynb").read_text())
    extra = [{"cell_type": "raw", "id": f"c{i}", "metadata": {}, "source": ""} for i in range(N_CELLS)]
    nb["cells"] = nb["cells"][:5] + extra + nb["cells"][5:]
    path = tmp_path / "two_layer_net.ipynb"
    path.write_text(json.dumps(nb, separators=(",", ":")))
    assert path.stat().st_size < 100 << 20  # within the intake's member limit
    try:
        run = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                             timeout=20, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        raise AssertionError("checking the notebook took more than 20 s") from None
    assert run.returncode == 0 and run.stdout.startswith("OK"), (run.stdout, run.stderr[-1500:])
