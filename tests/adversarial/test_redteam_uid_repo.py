"""Red team: at the `uid` level, the kit repository's own solutions/ are readable by the worker.

`autograder grade --course DIR` with the course outside the repository (as docs and the demo
recommend for course state) narrows DIR's solutions/ and build/ to 0700, but the kit's
repository still holds `solutions/<A>/hidden_tests.py` and the solution notebooks, world-readable
as git checks them out (umask 022), and the grader knows exactly where (REPO_ROOT). A TODO body
that opens that path raises its content into the test message: the hidden tests end up in the
student's own report.json and feedback.html.

Secure behaviour: at the uid level nothing of the hidden tests or solutions the grader can name
(REPO_ROOT/solutions, REPO_ROOT/build) is readable by the slot uid, or the level is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adversarial.test_uid_level import grade, graded_texts, uid_python
from autograder.core.config import REPO_ROOT
from autograder.grading.sandbox import is_root
from demo import classroom as demo

pytestmark = pytest.mark.skipif(not is_root(), reason="the uid level needs root")

PROBE = f"""
_p = {str(REPO_ROOT / "solutions" / "A4" / "hidden_tests.py")!r}
raise RuntimeError("STO" + "LEN " + open(_p).read()[:60])
"""


def test_uid_level_worker_cannot_read_the_repository_hidden_tests(tmp_path: Path) -> None:
    import adversarial.cases as cases

    python = uid_python()
    assert python is not None, "no interpreter readable by a slot uid for the uid level"
    student = demo.Student("s60", "", (cases.body("nn_get_search_params", PROBE),))
    course, subs = demo.build_class(tmp_path, (student,), echo=lambda *_: None)
    out = tmp_path / "out"
    grade(course, subs, out, python, timeout=300)
    first_line = (REPO_ROOT / "solutions" / "A4" / "hidden_tests.py").read_text().splitlines()[0][:40]
    report = graded_texts(out, "s60")
    assert "STOLEN" not in report and first_line not in report


def _git_copy_of_hidden_tests() -> Path | None:
    """A file of the repository's .git holding the hidden tests: a loose object whose content
    has them, else a pack file (they are in it, compressed)."""
    import zlib

    objects = REPO_ROOT / ".git" / "objects"
    if not objects.is_dir():
        return None
    for obj in objects.glob("[0-9a-f][0-9a-f]/*"):
        try:
            if b"Hidden tests of A4" in zlib.decompress(obj.read_bytes()):
                return obj
        except (OSError, zlib.error):
            continue
    return next(iter(sorted(objects.glob("pack/*.pack"))), None)


def test_uid_level_worker_cannot_read_the_hidden_tests_from_the_repository_git_objects(tmp_path: Path) -> None:
    """The fix narrowed REPO_ROOT/solutions and build/, but .git/objects keeps every version of
    the hidden tests and solutions, world-readable: zlib.decompress of a loose object gives them."""
    import adversarial.cases as cases

    target = _git_copy_of_hidden_tests()
    if target is None:
        pytest.fail("no .git in the repository: nothing to show here (the attack needs it)")
    python = uid_python()
    assert python is not None, "no interpreter readable by a slot uid for the uid level"
    probe = f"""
_p = {str(target)!r}
raise RuntimeError("STO" + "LEN " + open(_p, "rb").read()[:40].hex())
"""
    student = demo.Student("s61", "", (cases.body("nn_get_search_params", probe),))
    course, subs = demo.build_class(tmp_path, (student,), echo=lambda *_: None)
    out = tmp_path / "out"
    grade(course, subs, out, python, timeout=300)
    report = graded_texts(out, "s61")
    assert "STOLEN" not in report, report[report.find("STOLEN") - 200:report.find("STOLEN") + 200]
