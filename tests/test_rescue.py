"""`autograder rescue` grafts the student's work into a fresh release copy, loses nothing,
and its output passes integrity."""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.core.graft import graded_module_source
from autograder.core.rules import INTEGRITY_RULES
from autograder.student.check import check_notebook
from autograder.student.rescue import RescueError, cli_rescue, rescue

POLICY = {"loop_free": ("loss_vectorized",), "forbidden": "np.vectorize"}
STRUCTURAL = [
    (rule, maker) for rule, makers in mv.MAKERS.items() if rule in INTEGRITY_RULES for _, maker in makers
]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mv.make_course(tmp_path_factory.mktemp("course"))


def do_rescue(nb: nbformat.NotebookNode, course: Path, tmp_path: Path):  # noqa: ANN201
    src = mv.write(nb, tmp_path / "mine.ipynb")
    out = tmp_path / "rescued.ipynb"
    result = rescue(src, "T1", out, course=course)
    return result, nbformat.read(str(out), as_version=4)


def integrity(path_or_nb, course: Path) -> list[str]:  # noqa: ANN001
    result = check_notebook(dict(path_or_nb), course=course)
    return [v.rule for v in result.violations if v.rule in INTEGRITY_RULES]


def test_rescue_round_trips_a_clean_notebook(course: Path, tmp_path: Path) -> None:
    solved = mv.solved_synthetic()
    result, out = do_rescue(solved, course, tmp_path)
    assert result.unplaced == [] and result.blocks == 2 and result.answers == 2
    assert [c.source for c in out.cells] == [c.source for c in solved.cells]
    assert check_notebook(mv.mark_run(out), course=course).violations == []


@pytest.mark.parametrize(("rule", "maker"), STRUCTURAL, ids=[m.__name__ for _, m in STRUCTURAL])
def test_rescued_notebook_passes_integrity(course: Path, tmp_path: Path, rule: str, maker) -> None:
    bad = maker(mv.solved_synthetic(), POLICY)
    assert rule in integrity(bad, course)
    _, out = do_rescue(bad, course, tmp_path)
    assert integrity(out, course) == []


def test_rescue_keeps_the_graded_code_of_an_intact_notebook(course: Path, tmp_path: Path) -> None:
    bad = mv.added_markdown_cell(mv.outside_signature_changed(mv.solved_synthetic(), POLICY), POLICY)
    _, out = do_rescue(bad, course, tmp_path)
    release = mv.make_release()

    def code(nb: nbformat.NotebookNode) -> list[str]:
        return [line for line in graded_module_source(nb, release).split("\n")
                if not line.strip().startswith("#")]

    assert code(out) == code(bad)


def test_deleted_marker_puts_the_cell_into_a_marked_comment_block(course: Path, tmp_path: Path) -> None:
    bad = mv.marker_deleted(mv.solved_synthetic(), POLICY)
    result, out = do_rescue(bad, course, tmp_path)
    (item,) = result.unplaced
    assert (item.cell, item.into) == (3, 3) and "marker" in item.reason
    source = out.cells[2].source
    assert "RESCUED: your cell 3" in source
    assert "#         loss += float(np.dot(X[i], W)) ** 2" in source


def test_added_cell_goes_into_the_nearest_todo_block_before_it(course: Path, tmp_path: Path) -> None:
    bad = mv.added_code_cell(mv.solved_synthetic(), POLICY)  # inserted after the first TODO cell
    result, out = do_rescue(bad, course, tmp_path)
    (item,) = result.unplaced
    assert (item.cell, item.into) == (4, 3)
    assert "# x_test = 3" in out.cells[2].source


def test_rescue_works_on_a_notebook_that_lost_its_metadata(course: Path, tmp_path: Path) -> None:
    bad = mv.strip_ids(mv.solved_synthetic())
    del bad.metadata["autograder"]
    result, out = do_rescue(bad, course, tmp_path)
    assert out.metadata["autograder"]["version"] == "1" and result.notes
    assert integrity(out, course) == []
    assert "loss += float" in out.cells[2].source


def test_the_command_says_what_it_placed_and_exits_0(course: Path, tmp_path: Path, capsys) -> None:
    src = mv.write(mv.marker_deleted(mv.solved_synthetic(), POLICY), tmp_path / "mine.ipynb")
    args = argparse.Namespace(notebook=str(src), assignment="T1", output=str(tmp_path / "o.ipynb"),
                              course=str(course))
    assert cli_rescue(args) == 0
    out = capsys.readouterr().out
    assert "your cell 3" in out and "comment block in cell 3" in out and "Restart & Run All" in out


def test_rescue_never_overwrites_the_input(course: Path, tmp_path: Path) -> None:
    src = mv.write(mv.solved_synthetic(), tmp_path / "mine.ipynb")
    with pytest.raises(RescueError):
        rescue(src, "T1", src, course=course)


def test_unreadable_input_is_one_line_and_exit_1(course: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "mine.ipynb"
    src.write_text("{broken", encoding="utf-8")
    args = argparse.Namespace(notebook=str(src), assignment="T1", output=str(tmp_path / "o.ipynb"),
                              course=str(course))
    assert cli_rescue(args) == 1
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and "JSON" in out


def test_rescue_refuses_a_notebook_of_another_assignment(course: Path, tmp_path: Path) -> None:
    nb = mv.solved_synthetic()
    nb.metadata["autograder"]["assignment"] = "A4"
    with pytest.raises(RescueError, match="A4"):
        rescue(mv.write(nb, tmp_path / "x.ipynb"), "T1", tmp_path / "o.ipynb", course=course)


def test_output_folder_gets_the_rescued_copy_inside(course: Path, tmp_path: Path) -> None:
    src = mv.write(mv.solved_synthetic(), tmp_path / "mine.ipynb")
    folder = tmp_path / "rescued"
    folder.mkdir()
    result = rescue(src, "T1", folder, course=course)
    assert result.out_path == folder / "mine_rescued.ipynb" and result.out_path.is_file()


def test_an_unwritable_output_is_one_line_and_exit_1(course: Path, tmp_path: Path, capsys) -> None:
    src = mv.write(mv.solved_synthetic(), tmp_path / "mine.ipynb")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = argparse.Namespace(notebook=str(src), assignment="T1", output=str(blocker / "o.ipynb"),
                              course=str(course))
    assert cli_rescue(args) == 1
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and "cannot write" in out


def test_rescue_reads_the_assignment_from_the_notebook(course: Path, tmp_path: Path) -> None:
    src = mv.write(mv.solved_synthetic(), tmp_path / "mine.ipynb")
    result = rescue(src, None, tmp_path / "o.ipynb", course=course)
    assert result.blocks == 2 and result.unplaced == []
    assert integrity(nbformat.read(str(tmp_path / "o.ipynb"), as_version=4), course) == []


def test_the_command_needs_no_assignment_option(course: Path, tmp_path: Path) -> None:
    from autograder.cli import build_parser

    src = mv.write(mv.solved_synthetic(), tmp_path / "mine.ipynb")
    args = build_parser().parse_args(["rescue", str(src), "-o", str(tmp_path / "o.ipynb"),
                                      "--course", str(course)])
    assert args.assignment is None and cli_rescue(args) == 0


def test_without_metadata_or_option_it_asks_for_the_assignment(course: Path, tmp_path: Path) -> None:
    bad = mv.solved_synthetic()
    del bad.metadata["autograder"]
    src = mv.write(bad, tmp_path / "mine.ipynb")
    with pytest.raises(RescueError, match="--assignment"):
        rescue(src, None, tmp_path / "o.ipynb", course=course)
