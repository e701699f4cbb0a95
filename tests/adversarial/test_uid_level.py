"""The `uid` sandbox level for real: `autograder grade --sandbox uid`.

No bubblewrap: the worker runs as a slot uid on the host's own file system, with the audit
hook off (containment must hold without it). The course, OUT and the host folder live under a
world-traversable folder in the host's /tmp, created the way an operator would (umask 022,
nothing chmod-ed by hand), so only what the grader does itself keeps the worker out.

A classmate is graded first; then a thief, whose TODO body finds OUT on the grader's command
line (/proc/*/cmdline: readable at this level, and it is found), tries to read the classmate's
report, feedback, autograded notebook, the gradebook, the score log and the course's hidden
tests, and leaves files in /tmp, /var/tmp and /dev/shm. Nothing may be read, nothing may be
left, and the classmate keeps full marks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adversarial.cases import ASSIGNMENT, FULL, LEAK, Kit, body, submitted
from autograder.grading.sandbox import SandboxError, is_root, runtime, runtime_readable_by_others
from demo import classroom as demo

pytestmark = pytest.mark.skipif(not is_root(), reason="the uid level needs root")


def uid_python() -> str | None:
    """An interpreter a slot uid can run: this one, or a system Python of the same version."""
    if runtime_readable_by_others(runtime()):
        return ""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        try:
            if os.path.exists(candidate) and runtime_readable_by_others(runtime(candidate)):
                return candidate
        except SandboxError:
            continue
    return None


@pytest.fixture(scope="module")
def solved() -> tuple[Any, bytes]:
    with tempfile.TemporaryDirectory(prefix="ag-uid-") as tmp:
        course = demo.demo_course(Path(tmp))
        solution = demo.executed_solution(demo.ASSIGNMENT, course, echo=lambda *_: None)
        return solution.notebook, solution.files[demo.MODEL]


@pytest.fixture(scope="module")
def host_root() -> Iterator[Path]:
    old = os.umask(0o022)  # an operator's usual umask: folders 0755, files 0644
    root = Path(tempfile.mkdtemp(prefix="ag-uid-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        os.umask(old)
        shutil.rmtree(root, ignore_errors=True)


MARK = f"ag-uid-litter-{os.getpid()}"


def thief_code(course: Path, out: Path) -> str:
    targets = [out / "victim" / "report.json", out / "victim" / "feedback.html",
               out / "grades.csv", out / "summary.html",
               course / "autograded" / "victim" / ASSIGNMENT / demo.NOTEBOOK,
               course / "gradebook.db", course / "grading" / ASSIGNMENT / "score_log.jsonl",
               course / "solutions" / ASSIGNMENT / "hidden_tests.py"]
    return f'''
import os
leak = "STO" + "LEN: "
found = []
outs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open("/proc/" + pid + "/cmdline", "rb") as fh:
                argv = fh.read().split(b"\\0")
        except OSError:
            continue
        if b"--out" in argv:
            outs.append(argv[argv.index(b"--out") + 1].decode())
for out in outs:
    try:
        found.append(leak + "listed " + ",".join(os.listdir(out)))
    except OSError:
        pass
for path in {[str(t) for t in targets]!r} + [o + "/victim/report.json" for o in outs]:
    try:
        with open(path, "rb") as fh:
            found.append(leak + path + " " + fh.read(60).decode("latin-1"))
    except OSError:
        pass
for folder in ("/tmp", "/var/tmp", "/dev/shm"):
    with open(folder + "/{MARK}-file", "w") as fh:
        fh.write("left behind")
os.mkdir("/tmp/{MARK}-dir")
raise RuntimeError("OUT seen " + str(len(outs)) + " times; " + " | ".join(found))
'''


def grade(course: Path, subs: Path, out: Path, python: str | None, *options: str,
          timeout: float = 600) -> str:
    """`autograder grade A4 SUBS --out OUT --course COURSE --sandbox uid --no-worker-guard
    [options]` in a fresh process (one job unless `options` say otherwise); its output."""
    env = dict(os.environ)
    if python:
        env["AUTOGRADER_WORKER_PYTHON"] = python
    cmd = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(subs), "--no-worker-guard", "--out", str(out),
           "--jobs", "1", "--course", str(course), "--sandbox", "uid", *options]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def graded_texts(out: Path, sid: str) -> str:
    """A student's report.json and, when there is one, grader.log: an exception's message
    reaches only the staff's log, so a read that worked shows there."""
    return "".join(p.read_text() for p in (out / sid / "report.json", out / sid / "grader.log")
                   if p.exists())


@pytest.fixture(scope="module")
def graded(host_root: Path, solved: tuple[Any, bytes]) -> dict[str, Any]:
    python = uid_python()
    if python is None:
        pytest.skip("no Python of this version that an unprivileged uid can run")
    course = demo.demo_course(host_root / "course")
    out = host_root / "out"
    out.mkdir()  # made by the operator beforehand, 0755: the grader must narrow it
    kit_work = host_root / "work"
    victim_subs, thief_subs = host_root / "subs-victim", host_root / "subs-thief"
    for subs in (victim_subs, thief_subs):
        subs.mkdir()
    submitted()(Kit(*solved, course, victim_subs, kit_work, None), "victim")
    submitted(body("nn_get_search_params", thief_code(course, out)))(
        Kit(*solved, course, thief_subs, kit_work, None), "thief")
    first = grade(course, victim_subs, out, python)
    victim_before = (out / "victim" / "report.json").read_text()
    second = grade(course, thief_subs, out, python)
    return {"course": course, "out": out, "victim": json.loads(victim_before),
            "victim_before": victim_before,
            "victim_after": (out / "victim" / "report.json").read_text(),
            "thief": json.loads((out / "thief" / "report.json").read_text()),
            "thief_text": (out / "thief" / "report.json").read_text(),
            # what the thief's code raised: only the staff's log has an exception's message
            "thief_log": (out / "thief" / "grader.log").read_text(),
            "output": first + second}


def search_message(report: dict[str, Any]) -> str:
    return " ".join(t["message"] for t in report["tests"] if "search" in t["name"])


def test_both_submissions_were_graded_at_the_uid_level(graded):
    assert graded["victim"]["grader"]["sandbox"] == graded["thief"]["grader"]["sandbox"] == "uid"


def test_the_classmate_keeps_full_marks(graded):
    assert graded["victim"]["score"] == FULL and graded["victim"]["violations"] == []


def test_the_thief_ran_and_found_out_on_the_command_line(graded):
    assert "RuntimeError" in search_message(graded["thief"])  # all the student is shown
    assert "OUT seen" in graded["thief_log"] and "OUT seen 0 times" not in graded["thief_log"]


def test_the_thief_read_nothing_of_out_the_classmate_or_the_course(graded):
    assert LEAK not in graded["thief_text"] and LEAK not in graded["output"]
    assert LEAK not in graded["thief_log"]
    assert graded["victim_after"] == graded["victim_before"]


def test_out_and_the_course_folders_are_owner_only(graded):
    course, out = graded["course"], graded["out"]
    for folder in (out, out / "victim", course / "autograded", course / "grading",
                   course / "solutions"):
        assert folder.stat().st_mode & 0o077 == 0, folder
    for report in (out / "victim" / "report.json", out / "grades.csv", course / "gradebook.db"):
        assert report.stat().st_mode & 0o077 == 0, report


def test_nothing_is_left_in_the_hosts_shared_temporary_folders(graded):
    left = [p for folder in ("/tmp", "/var/tmp", "/dev/shm")
            for p in Path(folder).glob(f"{MARK}*")]
    assert left == []
