"""Red team: at the `uid` level, two submissions graded at the same time (`--jobs 2`) share the
host's world-writable folders while both workers live: the sweep runs only after each one. A
colluding classmate's worker writes answers into /tmp (or /dev/shm) and keeps its file there a
few seconds; the other worker, polling, reads them. (The hidden inputs are the same for everyone,
so recorded answers are answers.) Here: a marker, read back into the reader's own test message.

Secure behaviour: a worker sees nothing another submission's worker wrote (a private /tmp per
worker, e.g. a mount namespace, or a per-slot folder others cannot read, and no shared writable
folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.test_uid_level import grade, graded_texts, uid_python
from autograder.grading.sandbox import is_root
from demo import classroom as demo

pytestmark = pytest.mark.skipif(not is_root(), reason="the uid level needs root")

WRITE = """
import time as _t
_f = open("/tmp/ag-redteam-concurrent", "w")
_f.write("STO" + "LEN answers-from-a-classmate")
_f.close()
import os as _os
_os.chmod("/tmp/ag-redteam-concurrent", 0o644)
_t.sleep(6)
"""
READ = """
import time as _t
_end = _t.time() + 8
_got = ""
while not _got and _t.time() < _end:
    try:
        _got = open("/tmp/ag-redteam-concurrent").read()
    except OSError:
        _t.sleep(0.1)
raise RuntimeError("read: " + _got)
"""


def test_concurrent_uid_workers_cannot_pass_data(tmp_path: Path) -> None:
    import adversarial.cases as cases

    python = uid_python()
    assert python is not None, "no interpreter readable by a slot uid for the uid level"
    course, subs = demo.build_class(tmp_path, (
        demo.Student("s64", "", (cases.body("nn_get_search_params", WRITE),)),
        demo.Student("s65", "", (cases.body("nn_get_search_params", READ),)),
    ), echo=lambda *_: None)
    out = tmp_path / "out"
    try:
        grade(course, subs, out, python, "--jobs", "2", timeout=300)
        report = graded_texts(out, "s65")
        assert "read:" in report  # the reader ran
        assert "STOLEN" not in report
    finally:
        Path("/tmp/ag-redteam-concurrent").unlink(missing_ok=True)
