"""Red team: a tiny best-model file must not make the trusted grader allocate gigabytes.

The .npz limit is 128 MiB *unpacked*, but the grader converts every array to float64 and runs the
reference forward pass on the whole test split in its own (unlimited) process. A float16 model of
zeros with ~880 000 hidden units (128 KiB compressed, inside the limit) makes one `X_test @ W1` of
300 x 880 000 float64s: about 4.5 GB of RSS and ~30 s of CPU per student in the grader itself,
enough to get a grading container OOM-killed (all of the class's grading with it).

Here `check_model` runs in a child whose address space is limited to 1.5 GiB: far more than a
real two-layer model needs; the secure behaviour is a bounded evaluation (or refusing the model
as too large), never a MemoryError in the trusted process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from autograder.core.config import REPO_ROOT

CHILD = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
    from autograder.core.config import REPO_ROOT, load_config
    from autograder.grading.pipeline import trusted_modules
    from autograder.core.models import check_model
    config = load_config(REPO_ROOT / "solutions" / "A4" / "assignment.toml")
    _tests, ref = trusted_modules(config, REPO_ROOT)
    spec = next(iter(config.models.values()))
    try:
        entry, violations = check_model(spec, config, Path(sys.argv[1]), ref)
    except MemoryError:
        print("MEMORY-ERROR"); sys.exit(3)
    print("OK", entry["status"], [v["rule"] for v in violations])
""")


def test_small_float16_model_with_huge_hidden_layer_stays_bounded(tmp_path: Path) -> None:
    H = 880_000
    np.savez_compressed(tmp_path / "nn_best_model.npz", W1=np.zeros((64, H), np.float16),
                        b1=np.zeros(H, np.float16), W2=np.zeros((H, 10), np.float16),
                        b2=np.zeros(10, np.float16))
    assert (tmp_path / "nn_best_model.npz").stat().st_size < 1 << 20
    run = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, cwd=REPO_ROOT)
    assert run.returncode == 0 and run.stdout.startswith("OK"), (run.stdout, run.stderr[-2000:])
