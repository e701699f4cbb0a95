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


def _module_file(dotted: str) -> str | None:
    """`autograder.a.b` -> "a/b.py" or "a/b/__init__.py" (relative to the package), or None when
    the name is not a module of the package (e.g. a function imported from one)."""
    package = REPO_ROOT / "autograder"
    rel = dotted.split(".")[1:]
    for candidate in ("/".join(rel) + ".py", "/".join([*rel, "__init__.py"])):
        if candidate != ".py" and (package / candidate).is_file():
            return candidate
    return None


def _imports_of(rel: str) -> set[str]:
    """The dotted names of every package module that the file `rel` imports, at import time or
    inside a function, with the packages each one implies (importing a.b.c imports a and a.b)."""
    import ast

    tree = ast.parse((REPO_ROOT / "autograder" / rel).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "autograder")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "autograder":
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # a submodule, if it is one
    parents = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
    return names | parents


def test_every_module_the_student_commands_import_is_in_the_bundle() -> None:
    """What ships is complete: the import closure of the student entry points (the command line,
    the student commands' modules, the notebooks' import paths), every import counted, also the
    ones inside functions, is shipped, and none of it is authoring or grading."""
    from autograder.cli import HANDLERS

    shipped = set(bundle.student_package_files())
    todo = ["autograder.__main__", "autograder.cli", "autograder.toolkit", "autograder.datasets",
            "autograder.submission", *(HANDLERS[c][0] for c in bundle.STUDENT_COMMANDS)]
    seen: set[str] = set()
    while todo:
        rel = _module_file(todo.pop())
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        todo.extend(_imports_of(rel))
    assert seen <= shipped, sorted(seen - shipped)
    assert not [rel for rel in seen if rel.split("/")[0] in bundle.GRADER_ONLY_ROLES]


def test_the_bundle_ships_the_core_and_student_roles_and_no_other(bundle_zip: Path) -> None:
    with zipfile.ZipFile(bundle_zip) as zf:
        package = {n.split("/", 2)[2] for n in zf.namelist() if n.split("/")[1] == "autograder"}
    roles = {name.split("/")[0] for name in package if "/" in name}
    assert roles == {"core", "student"}
    for role in ("core", "student"):  # every module of the two roles, none left out
        expected = {p.relative_to(REPO_ROOT / "autograder").as_posix()
                    for p in (REPO_ROOT / "autograder" / role).rglob("*.py")}
        assert expected <= package, sorted(expected - package)
    assert {"__init__.py", "cli.py", "toolkit.py", "datasets.py", "submission.py"} <= package


def test_the_student_commands_are_answered_and_the_others_name_the_instructors_kit(
        bundle_zip: Path, tmp_path: Path) -> None:
    """The command line from the bundle's package alone (the repository's copy kept out of the
    import system): the student commands run, an instructor command says it is not in the kit."""
    with zipfile.ZipFile(bundle_zip) as zf:
        zf.extractall(tmp_path)
    kit = tmp_path / "kit"
    # The repository is installed in editable mode; its finder would supply the modules the
    # bundle leaves out, so drop it before the kit's package is imported.
    prelude = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
               "if not getattr(f, '__module__', '').startswith('__editable__')]; "
               "from autograder.cli import main; import autograder; "
               f"assert autograder.__file__.startswith({str(kit)!r}), autograder.__file__; ")

    def kit_cli(*argv: str) -> subprocess.CompletedProcess[str]:
        code = prelude + f"sys.exit(main({list(argv)!r}))"
        return subprocess.run([sys.executable, "-c", code], cwd=kit, capture_output=True, text=True,
                              timeout=300)

    nb = "assignments/A3/linear_classifier.ipynb"
    check = kit_cli("check", nb)
    assert check.returncode == 0 and "TODO block(s) are not done yet" in check.stdout, check.stderr
    rescue = kit_cli("rescue", nb, "-o", str(tmp_path / "rescued.ipynb"))
    assert rescue.returncode == 0 and (tmp_path / "rescued.ipynb").is_file(), rescue.stderr
    submit = kit_cli("submit", "A3", "--student-id", "2022123456", "--dir", "assignments/A3",
                     "--out", str(tmp_path / "zips"))
    # the untouched release has no saved models yet: submit runs its checks and says what to do
    assert submit.returncode == 1 and "Submission NOT created" in submit.stdout, submit.stderr
    data = kit_cli("data", "--help")
    assert data.returncode == 0 and "cifar10" in data.stdout
    for done in (check, rescue, submit, data):
        assert "Traceback" not in done.stdout + done.stderr
        assert "instructor command" not in done.stdout
    for argv in (["grade", "A3", "subs", "--out", "out"], ["release"], ["bundle", "A3", "-o", "k"]):
        done = kit_cli(*argv)
        assert done.returncode == 2 and "not part of the student kit" in done.stdout, done.stderr
        assert "Traceback" not in done.stdout + done.stderr


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
