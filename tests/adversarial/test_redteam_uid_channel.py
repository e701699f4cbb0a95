"""Red team: at the `uid` level two students' workers share a world-writable folder the sweep
does not clean (/run/lock, = /var/lock on Debian), so one submission's code can hand data to a
later one: a colluding classmate's correct functions record (hidden input -> answer) there, and
the next student's empty functions read the answers back (the hidden inputs are the same for
everyone: they come from the course's seed). Here the first student leaves a marker and the
second reads it into its own test message.

Secure behaviour: nothing one submission's worker wrote is readable by a later submission's
worker (sweep every folder the slot uid can write, or give each worker its own view).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adversarial.test_uid_level import grade, graded_texts, uid_python
from autograder.grading.sandbox import is_root
from demo import classroom as demo

pytestmark = pytest.mark.skipif(not is_root(), reason="the uid level needs root")

WRITE = """
_f = open("/run/lock/ag-redteam-channel", "w")
_f.write("STO" + "LEN answers-from-a-classmate")
_f.close()
import os as _os
_os.chmod("/run/lock/ag-redteam-channel", 0o644)
"""
READ = """
raise RuntimeError(open("/run/lock/ag-redteam-channel").read())
"""


def test_uid_level_workers_have_no_shared_channel_between_submissions(tmp_path: Path) -> None:
    import adversarial.cases as cases

    if not os.path.isdir("/run/lock") or not os.access("/run/lock", os.W_OK):
        pytest.fail("no world-writable /run/lock here: the channel needs one")
    python = uid_python()
    assert python is not None, "no interpreter readable by a slot uid for the uid level"
    course, subs = demo.build_class(tmp_path, (
        demo.Student("s62", "", (cases.body("nn_get_search_params", WRITE),)),
        demo.Student("s63", "", (cases.body("nn_get_search_params", READ),)),
    ), echo=lambda *_: None)
    out = tmp_path / "out"
    try:
        for sid in ("s62", "s63"):  # one after the other, as two batches (or a late upload) are
            grade(course, subs, out, python, "--only", sid, timeout=300)
        report = graded_texts(out, "s63")
        assert "STOLEN" not in report
    finally:
        Path("/run/lock/ag-redteam-channel").unlink(missing_ok=True)
