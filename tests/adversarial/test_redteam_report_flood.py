"""Red team: a small zip that floods the grader's output and CPU (no per-submission bound).

200 000 added raw cells compress to a 2 MB zip (the limits allow a 100 MiB notebook). Graded,
the submission costs ~40 s of the grader's own CPU (outside the sandbox's time budget) and writes
a 72 MB feedback.html, a 54 MB report.json and a 48 MB autograded notebook: one `cell-added` entry
per cell, though only the first four carry points. A class of such uploads fills the grading disk
and stretches the batch by orders of magnitude. Here: 30 000 cells, and the reports must stay
small (one rule's repeated findings collapsed, or the notebook refused above a sane cell count).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from demo import classroom as demo

N_CELLS = 30_000


def test_many_added_cells_do_not_flood_report_and_feedback(tmp_path: Path) -> None:
    course, subs = demo.build_class(tmp_path, (demo.Student("s41", ""),), echo=lambda *_: None)
    zpath = subs / "A4_s41.zip"
    with zipfile.ZipFile(zpath) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    nb = json.loads(members[demo.NOTEBOOK])
    extra = [{"cell_type": "raw", "id": f"x{i}", "metadata": {}, "source": f"x{i}"} for i in range(N_CELLS)]
    nb["cells"] = nb["cells"][:5] + extra + nb["cells"][5:]
    members[demo.NOTEBOOK] = json.dumps(nb).encode()
    manifest = json.loads(members["MANIFEST.json"])
    manifest["files"][demo.NOTEBOOK] = hashlib.sha256(members[demo.NOTEBOOK]).hexdigest()
    members["MANIFEST.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "A4", str(subs), "--out", str(out),
                          "--course", str(course)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    sizes = {p.name: p.stat().st_size for p in (out / "s41").iterdir()}
    assert max(sizes.values()) < 2 << 20, sizes
