"""The student bundle: built from an explicit list, leak-checked, and a student's whole path
works from it alone (fresh venv, self-check, solve and run, `make submission`, graded)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.authoring import bundle
from autograder.authoring.bundle import BundleError, build_bundle, leak_check, secrets
from autograder.core.config import REPO_ROOT, load_config
from autograder.grading.grade import grade_class

INSTRUCTOR_ONLY = ("solutions/", "hidden_tests", "tests/", "bench/", "docs/", "grade.py",
                   "sandbox.py", "worker.py", "engine.py", "hidden.py", "gradebook.py", "demo.py")


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory) -> Path:
    return build_bundle(["A2", "A3", "A4"], tmp_path_factory.mktemp("bundle") / "kit.zip")


def test_the_bundle_holds_what_students_need_and_nothing_of_the_instructors(bundle_zip: Path) -> None:
    with zipfile.ZipFile(bundle_zip) as zf:
        names = [n.split("/", 1)[1] for n in zf.namelist()]
        public = zf.read("kit/assignments/A3/assignment.toml").decode()
    for needed in ("README.md", "Makefile", "pyproject.toml", "data/digits.npz",
                   "assignments/A3/linear_classifier.ipynb", "assignments/A4/two_layer_net.ipynb",
                   "autograder/student/toolkit.py", "autograder/student/check.py", "autograder/student/submission.py",
                   "autograder/student/rescue.py"):
        assert needed in names
    assert not [n for n in names if any(part in n for part in INSTRUCTOR_ONLY)]
    assert "[private]" not in public


def test_every_module_the_student_commands_import_is_in_the_bundle() -> None:
    """The explicit list is complete: the import closure of the student entry points, less the
    grader-only modules, which a student module may only name inside a function (never at
    import time), and which are never shipped."""
    import ast

    package = REPO_ROOT / "autograder"
    listed = set(bundle.STUDENT_MODULES)
    todo = ["cli", "check", "rescue", "submission", "toolkit", "datasets"]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = package / f"{module}.py"
        tree = ast.parse(path.read_text())
        for node in tree.body:  # what runs at import time must be shipped
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder."):
                assert node.module.removeprefix("autograder.") not in bundle.GRADER_ONLY, (module, node.module)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder."):
                name = node.module.removeprefix("autograder.").replace(".", "/")
                if name in bundle.GRADER_ONLY:
                    continue
                todo.append(name if (package / f"{name}.py").exists() else f"{name}/__init__")
                for alias in node.names:
                    if (package / name / f"{alias.name}.py").exists():
                        todo.append(f"{name}/{alias.name}")
    assert seen <= listed, sorted(seen - listed)
    assert not listed & bundle.GRADER_ONLY


def test_the_leak_check_finds_a_solution_line_a_hidden_test_name_and_a_marker(tmp_path: Path) -> None:
    lines, names = secrets(REPO_ROOT)
    assert lines and names
    (tmp_path / "notes.py").write_text(f"x = 1\n    {sorted(lines)[0]}\n")
    (tmp_path / "more.md").write_text(f"see {sorted(names)[0]} for details\n")
    (tmp_path / "nb.py").write_text("def f():\n    ### BEGIN SOLUTION\n    pass\n")
    found = {leak.file: leak.what for leak in leak_check(tmp_path, REPO_ROOT)}
    assert set(found) == {"notes.py", "more.md", "nb.py"}
    assert "solution line" in found["notes.py"] and "hidden test" in found["more.md"]


def test_a_leak_refuses_the_build_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    real = bundle.assemble

    def leaky(assignments, dest, course):
        real(assignments, dest, course)
        shutil.copyfile(REPO_ROOT / "solutions" / "A3" / "hidden_tests.py", dest / "autograder" / "x.py")

    monkeypatch.setattr(bundle, "assemble", leaky)
    with pytest.raises(BundleError, match="hidden test name"):
        build_bundle(["A3"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bundle_command_exits_1_on_an_unknown_assignment(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "autograder", "bundle", "A9", "-o", str(tmp_path / "k")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "A9" in done.stderr and "Traceback" not in done.stderr


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(REPO_ROOT)))
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_students_whole_path_from_the_bundle_alone(bundle_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(bundle_zip) as zf:
        zf.extractall(tmp_path)
    kit = tmp_path / "kit"
    setup = _run(["make", "setup", f"PYTHON={sys.executable}"], kit)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    pip_list = _run([str(kit / ".venv/bin/python"), "-m", "pip", "list"], kit).stdout.lower()
    assert "nbgrader" not in pip_list and "jupyterlab" in pip_list  # light: no instructor UI

    check = _run(["make", "check", "A=A3"], kit)
    assert check.returncode == 0 and "TODO block(s) are not done yet" in check.stdout
    assert "Traceback" not in check.stdout + check.stderr

    nb_path = kit / "assignments" / "A3" / "linear_classifier.ipynb"
    solved = mv.solved_real(nb_path, "A3", "linear_classifier.ipynb")
    nbformat.write(solved, nb_path)
    run = _run([str(kit / ".venv/bin/jupyter"), "nbconvert", "--to", "notebook", "--execute",
                "--inplace", "--ExecutePreprocessor.timeout=600", str(nb_path)], kit)
    assert run.returncode == 0, run.stderr[-3000:]

    made = _run(["make", "submission", "A=A3", "ID=2022123456"], kit)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    zip_path = kit / "assignments" / "A3" / "A3_2022123456.zip"
    with zipfile.ZipFile(zip_path) as zf:
        assert json.loads(zf.read("MANIFEST.json"))["student_id"] == "2022123456"

    course = tmp_path / "course"
    for part in ("solutions", "assignments"):
        shutil.copytree(REPO_ROOT / part / "A3", course / part / "A3")
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copyfile(zip_path, subs / zip_path.name)
    result = grade_class("A3", subs, tmp_path / "out", course=course, jobs=1,
                         stream=open(os.devnull, "w"))
    report = result.reports["2022123456"]
    automatic = sum(load_config(course / "solutions" / "A3" / "assignment.toml").tests.values())
    assert report["status"] == "graded", report["message"]
    assert report["score"] == pytest.approx(automatic), [t for t in report["tests"] if t["status"] != "passed"]
