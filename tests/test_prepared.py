"""One preparation (`autograder.core.prepared`): the rules analyse the graded module the grader runs."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fixtures import make_violations as mv

import autograder.core.graft as graft_module
import autograder.core.rules as rules_module
from autograder.core.prepared import CheckedNotebook, prepare_notebook, run_checks
from autograder.core.releases import Unusable
from autograder.core.rules import CheckContext, Finding, RuleInfo
from autograder.student.check import check_notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mv.make_course(tmp_path_factory.mktemp("course"), versions=("1", "2"))


@pytest.fixture()
def solved_path(tmp_path: Path) -> Path:
    return mv.write(mv.solved_synthetic(), tmp_path / "mini.ipynb")


class _Recorder(RuleInfo):
    """A rule that only remembers the graded module object it was shown."""

    rule_id: ClassVar[str] = "undefined-name"  # any registered id: its findings are none
    hint: ClassVar[str] = ""
    seen: ClassVar[list[Any]] = []

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        type(self).seen.append(ctx.graded)
        return iter(())


class _Crasher(RuleInfo):
    """A rule that raises on every notebook."""

    rule_id: ClassVar[str] = "forbidden-import"
    hint: ClassVar[str] = ""

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        raise RuntimeError("the rule itself is broken")


def test_the_rules_analyse_the_very_graded_module_object_the_grader_runs(
    course: Path, solved_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Recorder.seen = []
    monkeypatch.setattr(rules_module, "RULES", [_Recorder()])
    checked = prepare_notebook(solved_path, mv.ASSIGNMENT, course)
    run_checks(checked)
    engine_module = checked.graded  # what grading joins and hands to the engine
    assert _Recorder.seen == [engine_module]
    assert _Recorder.seen[0] is engine_module
    assert "def loss_vectorized" in engine_module.source


def test_the_graft_is_computed_once_for_the_rules_and_the_grader(
    course: Path, solved_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = graft_module.graft

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(graft_module, "graft", counting)
    checked = prepare_notebook(solved_path, mv.ASSIGNMENT, course)
    run_checks(checked)  # every registered rule, the loop and undefined-name rules read `graded`
    source = checked.graded.source
    assert len(calls) == 1 and "return float(np.sum(square(X @ W)))" in source


def test_the_self_check_result_carries_the_prepared_notebook_it_checked(course: Path, solved_path: Path) -> None:
    result = check_notebook(solved_path, course=course)
    assert isinstance(result.checked, CheckedNotebook)
    assert result.release is result.checked.release
    assert (result.checked.version, result.checked.notebook) == ("1", mv.NOTEBOOK)


def test_a_notebook_without_release_metadata_is_unusable_with_a_way_out(course: Path, tmp_path: Path) -> None:
    nb = mv.solved_synthetic()
    del nb.metadata["autograder"]
    with pytest.raises(Unusable, match="autograder rescue"):
        prepare_notebook(mv.write(nb, tmp_path / "mini.ipynb"), mv.ASSIGNMENT, course)


def test_rescue_mode_prepares_a_notebook_that_lost_its_metadata_against_the_current_release(
    course: Path, tmp_path: Path
) -> None:
    nb = mv.solved_synthetic()
    del nb.metadata["autograder"]
    checked = prepare_notebook(nb, mv.ASSIGNMENT, course, label="mini.ipynb", metadata_required=False)
    assert checked.version == "2"
    assert checked.notes and "declares no release version" in checked.notes[0]


def test_a_declared_published_version_is_the_release_used(course: Path) -> None:
    nb = mv.solved_synthetic()  # declares version 1; the current release is version 2
    checked = prepare_notebook(copy.deepcopy(nb), mv.ASSIGNMENT, course, label=mv.NOTEBOOK)
    assert checked.version == "1" and checked.notes == ()
    assert "(v2)" not in checked.release.cells[0]["source"]


def test_a_rule_that_raises_is_reported_as_a_crash_with_its_traceback(
    course: Path, solved_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules_module, "RULES", [_Crasher()])
    found = run_checks(prepare_notebook(solved_path, mv.ASSIGNMENT, course))
    assert found.violations == []
    (crash,) = found.crashes
    assert crash.startswith("forbidden-import:\n") and "RuntimeError: the rule itself is broken" in crash
    assert any("forbidden-import: could not be checked" in note for note in found.notes)


class _EngineReached(Exception):
    """Stops the grading pipeline where it hands the module to the engine."""


def test_the_grade_pipeline_hands_the_engine_the_module_the_rules_analysed(
    course: Path, solved_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    from autograder.core.contracts import GradeTask
    from autograder.grading import engine, measure, pipeline

    _Recorder.seen = []
    monkeypatch.setattr(rules_module, "RULES", [_Recorder()])
    monkeypatch.setattr(pipeline, "trusted_modules", lambda config, course: (None, None))
    ran: list[str] = []

    def engine_stand_in(source: str, *args: Any, **kwargs: Any) -> Any:
        ran.append(source)
        raise _EngineReached

    monkeypatch.setattr(engine, "grade_module", engine_stand_in)
    handed: list[Any] = []  # the module objects whose line maps the engine's findings use
    real_where = measure.joined_where
    monkeypatch.setattr(measure, "joined_where", lambda modules: handed.extend(modules) or real_where(modules))
    submission = tmp_path / "T1_123.zip"
    with zipfile.ZipFile(submission, "w") as zf:
        zf.writestr(mv.NOTEBOOK, solved_path.read_bytes())
        zf.writestr("MANIFEST.json", "{}")
    task = GradeTask(student_id="123", path=str(submission), sha256="", assignment=mv.ASSIGNMENT,
                     course=str(course))
    with pytest.raises(_EngineReached):
        pipeline.StudentPipeline().run(task, tmp_path / "work", pipeline.Found())
    (analysed,) = _Recorder.seen
    assert ran == [analysed.source]
    assert len(handed) == 1 and handed[0] is analysed
