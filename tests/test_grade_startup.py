"""What a grade run does before its first submission reaches a worker (docs/benchmarks.md,
start-up): no heavy module is imported before the first dispatch, the pool's fork server
preloads every module a worker imports, the sandbox preflight runs beside the rest of the
start-up, the release notebooks and the gradebook are read and opened only when a result is
about to be saved, and a config is validated once per text. No test here times anything: each
checks which modules are imported, or what is read when."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

import autograder.core.config as config_module
from autograder.core.config import find_config
from autograder.grading.batch import (
    Parent,
    _release_notebooks,
    entry_task,
    grading_key,
    start_fork_server,
)
from autograder.grading.sandbox import SandboxError
from autograder.grading.sandbox.preflight import BackgroundPreflight

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "course"

# Modules a grade run needs only after its first dispatch (the gradebook, the reports, the
# terminal's progress bar, Gradescope's metadata), or never (jsonschema's optional format
# libraries, the notebook reader in the parent): importing one of them before the dispatch is
# start-up time every run pays.
HEAVY = ("nbgrader", "sqlalchemy", "alembic", "jinja2", "rich", "matplotlib", "yaml", "dateutil",
         "nbformat", "traitlets", "lark", "rfc3987_syntax", "isoduration", "arrow", "webcolors",
         "rfc3986_validator", "rfc3339_validator", "uri_template", "fqdn", "jsonpointer")

# Runs `autograder` (argv[2:]) and writes to argv[1] the modules imported when the first
# submission was handed to the pool.
PARENT_PROBE = """
import json, sys
import concurrent.futures.process as cfp
seen = []
submit = cfp.ProcessPoolExecutor.submit
def first(self, *args, **kwargs):
    if not seen:
        seen.append(sorted(sys.modules))
    return submit(self, *args, **kwargs)
cfp.ProcessPoolExecutor.submit = first
from autograder.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"exit": code, "modules": seen[0] if seen else None}, f)
"""

# A fresh interpreter in the state of a pool worker (the fork server's preloads imported)
# grades the pickled task argv[1] and writes to argv[2] the kit's modules the grading imported.
WORKER_PROBE = """
import importlib, json, pickle, sys
import autograder
from autograder.grading.forkserver import PRELOAD
for name in PRELOAD:
    importlib.import_module(name)
with open(sys.argv[1], "rb") as f:
    task = pickle.load(f)
before = set(sys.modules)
from autograder.grading.pipeline import grade_one
result = grade_one(task)
new = sorted(m for m in set(sys.modules) - before if m == "autograder" or m.startswith("autograder."))
with open(sys.argv[2], "w") as f:
    json.dump({"status": result.status, "message": result.message, "new": new}, f)
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from autograder.authoring.release import release

    root = tmp_path_factory.mktemp("startup") / "course"
    shutil.copytree(FIXTURE, root)
    assert release(["F1"], course=root) == 0
    return root


def _submissions(course: Path, folder: Path) -> Path:
    """A class of one: student s01's zip of F1, the release notebook with its TODO done."""
    text = (course / "assignments" / "F1" / "fixture.ipynb").read_text()
    text = text.replace("raise NotImplementedError", "return a + b")
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "F1_s01.zip", "w") as zf:
        zf.writestr("fixture.ipynb", text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        zf.writestr("MANIFEST.json", json.dumps({"assignment": "F1", "student_id": "s01",
                                                 "files": {"fixture.ipynb": digest}}))
    return folder


def _parent(course: Path, db: str) -> Parent:
    config = find_config("F1", course)
    return Parent(config, course, course / "out", db, _release_notebooks(config, course))


def test_the_parent_does_not_open_the_gradebook_before_a_result_is_saved(course: Path, tmp_path: Path) -> None:
    db = tmp_path / "gradebook.db"
    parent = _parent(course, f"sqlite:///{db}")
    try:
        assert not db.exists()
        parent.open_gradebook()
        assert db.exists()
    finally:
        parent.close()


def test_opening_the_gradebook_syncs_the_assignment_once(course: Path, tmp_path: Path) -> None:
    parent = _parent(course, f"sqlite:///{tmp_path / 'gradebook.db'}")
    try:
        first = parent.open_gradebook()
        assert parent.open_gradebook() is first
        assert first.gb.find_assignment("F1").name == "F1"
    finally:
        parent.close()


def test_a_gradebook_that_cannot_be_opened_raises_from_open_gradebook(course: Path) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    parent = _parent(course, "notaurl")
    try:
        with pytest.raises(SQLAlchemyError):
            parent.open_gradebook()
    finally:
        parent.close()


def test_start_fork_server_leaves_the_pool_s_fork_server_running() -> None:
    from multiprocessing import forkserver

    start_fork_server()
    assert forkserver._forkserver._forkserver_pid is not None


# --------------------------------------------------------------------------- before the dispatch


def test_grade_imports_no_heavy_module_before_its_first_dispatch(course: Path, tmp_path: Path) -> None:
    work = tmp_path / "course"
    shutil.copytree(course, work)
    subs = _submissions(work, tmp_path / "subs")
    found = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", PARENT_PROBE, str(found), "grade", "F1", str(subs),
                    "--out", str(tmp_path / "out"), "--jobs", "1", "--course", str(work)],
                   check=True, capture_output=True, timeout=300)
    run = json.loads(found.read_text())
    assert run["exit"] == 0 and run["modules"] is not None
    loaded = sorted({m.split(".")[0] for m in run["modules"]} & set(HEAVY))
    assert loaded == []


def test_the_fork_server_preloads_every_kit_module_a_worker_imports(course: Path, tmp_path: Path) -> None:
    from autograder.grading.intake import collect_submissions

    config = find_config("F1", course)
    (entry,) = collect_submissions(_submissions(course, tmp_path / "subs"), "F1", config)
    task_file, found = tmp_path / "task.pickle", tmp_path / "found.json"
    task_file.write_bytes(pickle.dumps(entry_task(entry, config, course, grading_key(config, course))))
    subprocess.run([sys.executable, "-c", WORKER_PROBE, str(task_file), str(found)], check=True,
                   capture_output=True, timeout=300)
    graded = json.loads(found.read_text())
    assert graded["status"] == "graded", graded["message"]
    assert graded["new"] == []


def _fresh(code: str, tmp_path: Path) -> str:
    """stdout of `code` in a fresh interpreter whose sys.path starts with tmp_path."""
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
                           + code], check=True, capture_output=True, text=True, timeout=120)
    return done.stdout.strip()


def test_jsonschema_imported_after_the_kit_leaves_out_its_format_libraries(tmp_path: Path) -> None:
    # stand-ins for the optional libraries, found first whether or not the real ones are installed
    for name in ("webcolors", "isoduration", "rfc3339_validator"):
        (tmp_path / f"{name}.py").write_text("")
    code = ("import autograder, jsonschema\n"
            "print(sorted(n for n in ('webcolors', 'isoduration', 'rfc3339_validator') if n in sys.modules))")
    assert _fresh(code, tmp_path) == "[]"


def test_a_format_library_stays_importable_by_other_code_after_jsonschema(tmp_path: Path) -> None:
    (tmp_path / "webcolors.py").write_text("MARK = 'the stand-in'\n")
    code = "import autograder, jsonschema, webcolors\nprint(webcolors.MARK)"
    assert _fresh(code, tmp_path) == "the stand-in"


# --------------------------------------------------------------------------- the preflight


def test_the_background_preflight_gives_the_level_once_the_probe_answered() -> None:
    stopped = threading.Event()

    def check(requested: str, python: str | None, answered) -> str:
        answered("bwrap")
        stopped.wait()  # the probe worker is being stopped: the level is known already
        return "bwrap"

    pending = BackgroundPreflight("auto", check=check)
    try:
        assert pending.level() == "bwrap"
    finally:
        stopped.set()
        pending.join()


def test_the_background_preflight_raises_the_preflight_s_error_from_level() -> None:
    def check(requested: str, python: str | None, answered) -> str:
        raise SandboxError("the sandbox for student code is not available")

    pending = BackgroundPreflight("auto", check=check)
    with pytest.raises(SandboxError, match="not available"):
        pending.level()
    pending.join()


def test_the_background_preflight_asks_for_the_requested_level() -> None:
    asked: list[str] = []
    pending = BackgroundPreflight("uid", check=lambda requested, python, answered: asked.append(requested) or "uid")
    assert pending.level() == "uid" and asked == ["uid"]
    pending.join()


# --------------------------------------------------------------------------- read once, when needed


def test_release_notebooks_are_read_when_first_used(course: Path, tmp_path: Path) -> None:
    from autograder.core.notebook import NotebookError

    work = tmp_path / "course"
    shutil.copytree(course, work)
    (work / "assignments" / "F1" / "fixture.ipynb").write_text("{ not json")
    notebooks = _release_notebooks(find_config("F1", work), work)  # not read yet: no error
    assert list(notebooks) == ["fixture.ipynb"]
    with pytest.raises(NotebookError, match="not a valid notebook"):
        notebooks["fixture.ipynb"]


def test_a_missing_release_notebook_is_reported_before_grading(course: Path, tmp_path: Path) -> None:
    work = tmp_path / "course"
    shutil.copytree(course, work)
    (work / "assignments" / "F1" / "fixture.ipynb").unlink()
    with pytest.raises(config_module.ConfigError, match="not released yet"):
        _release_notebooks(find_config("F1", work), work)


def test_a_config_text_is_validated_once(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = config_module.validate_config
    monkeypatch.setattr(config_module, "_VALIDATED", {})
    monkeypatch.setattr(config_module, "validate_config", lambda data, label: calls.append(label) or real(data, label))
    first, again = find_config("F1", course), find_config("F1", course)
    assert len(calls) == 1 and again == first


def test_an_edited_config_is_validated_again(course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "course"
    shutil.copytree(course, work)
    find_config("F1", work)
    toml = work / "solutions" / "F1" / "assignment.toml"
    toml.write_text(toml.read_text().replace("add = 2.0", "add = -2.0"))
    with pytest.raises(config_module.ConfigError, match="tests.add must be at least 0"):
        find_config("F1", work)


def test_each_lookup_of_a_config_gets_its_own_tables(course: Path) -> None:
    first = find_config("F1", course)
    first.tests["add"] = 99.0
    first.raw["tests"]["add"] = 99.0
    again = find_config("F1", course)
    assert again.tests["add"] == 2.0 and again.raw["tests"]["add"] == 2.0



def test_a_preflight_whose_bwrap_worker_answered_makes_no_separate_bwrap_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.grading.sandbox import levels, preflight

    checks: list[bool] = []
    monkeypatch.setattr(levels, "_STARTED", set())
    monkeypatch.setattr(levels, "_bwrap_starts", lambda root, python=None: checks.append(root) or True)
    assert preflight("auto") == "bwrap"
    assert checks == [] and levels.bwrap_works(levels.is_root(), None)


class _NoBwrapCaller:
    """A probe caller for which bwrap fails to start and any other level answers."""

    def __init__(self, source: str, level: str, python: str | None = None) -> None:
        if level == "bwrap":
            raise SandboxError("bwrap: setting up uid map: Permission denied")
        self.level = level

    def __enter__(self) -> _NoBwrapCaller:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def call(self, name: str, args: list, kwargs: dict, seed: int) -> int:
        return args[0] + 1


def test_a_preflight_whose_bwrap_worker_fails_chooses_the_level_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.grading.sandbox import levels, preflight

    preflight_module = sys.modules["autograder.grading.sandbox.preflight"]
    monkeypatch.setattr(levels, "_STARTED", set())
    monkeypatch.setattr(levels, "_bwrap_starts", lambda root, python=None: False)
    monkeypatch.setattr(levels, "runtime_readable_by_others", lambda rt: True)
    monkeypatch.setattr(levels, "is_root", lambda: True)
    monkeypatch.setattr(preflight_module, "SandboxCaller", _NoBwrapCaller)
    assert preflight("auto") == "uid"
    assert not levels.bwrap_works(True, None)  # the failed probe is not remembered as a success
