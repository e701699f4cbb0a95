"""`autograder measure A`: run a source notebook with its solutions and show what it measures.

A source notebook states numbers that come from its own reference solution: the sanity values of
its grade cells (a toy loss, the scores of a toy net) and, through `assignment.toml`, the
accuracy bars of the best models. After a change to a solution or to a check's inputs, those
numbers must be measured again. This command does it on any source notebook:

* it runs every notebook of `solutions/<A>/` top to bottom, solutions in place, in a temporary
  copy of the folder (the instructor's own code: no sandbox), with single-threaded BLAS and a
  non-interactive matplotlib backend;
* for every grade cell it reports passed or the error's one line, and what the cell printed
  (the reference's values beside the ones the cell expects);
* for every `[models]` entry it grades the model file the run saved, with the reference's
  predict function, as the grader would: its test accuracy against the band.

Exit 0 when every cell ran and every model reaches its full-credit bar, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.core.config import CONFIG_NAME, ConfigError, course_root, load_config, solution_dir
from autograder.core.models import check_model
from autograder.core.module import load_trusted_module, module_source, nbgrader_meta

# Like the grader's sandbox: one BLAS thread (threads fighting over small matrices on a busy
# machine make a run many times slower), and figures drawn without a display.
KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "MPLBACKEND": "Agg"}
MAX_PRINTED_LINES = 40  # of one grade cell's output in the report (a 30-pair search fits)
TAIL_LINES = 5  # kept at the end of a longer output: where a cell prints its summary
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CellRun:
    """One code cell of a run: where it is, its role, and what it did."""

    notebook: str
    number: int  # 1-based, as Jupyter counts cells
    cell_id: str
    grade_id: str | None  # of a grade cell; None for the other cells
    points: float | None
    printed: str  # its stdout and stderr
    error: str | None  # "ExceptionName: message" (first line) when it raised


@dataclass
class SourceRun:
    """The run of an assignment's source notebooks and the grading of the models it saved."""

    assignment: str
    workdir: Path  # the copy of solutions/<A>/ the notebooks ran in (saved models are there)
    seconds: float
    cells: list[CellRun] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)  # report.json-like test entries
    executed: dict[str, nbformat.NotebookNode] = field(default_factory=dict)  # notebook -> run

    @property
    def errors(self) -> list[CellRun]:
        """The cells that raised."""
        return [c for c in self.cells if c.error is not None]

    @property
    def ok(self) -> bool:
        """Every cell ran and every model reaches its full-credit bar."""
        return not self.errors and all(m["status"] == "passed" for m in self.models)


def _text(output: Any) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    return ""


def _error(outputs: list[Any]) -> str | None:
    for output in outputs:
        if output.get("output_type") == "error":
            message = _ANSI.sub("", str(output.get("evalue", ""))).strip().split("\n")[0]
            return f"{output.get('ename', 'Error')}: {message}" if message else str(output.get("ename"))
    return None


def _cell_runs(name: str, nb: nbformat.NotebookNode) -> list[CellRun]:
    runs = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        graded = bool(meta.get("grade"))
        outputs = list(cell.get("outputs", []))
        runs.append(CellRun(
            notebook=name, number=number, cell_id=str(cell.get("id", "")),
            grade_id=str(meta.get("grade_id")) if graded else None,
            points=float(meta["points"]) if graded and "points" in meta else None,
            printed="".join(_text(o) for o in outputs), error=_error(outputs)))
    return runs


def run_source(
    assignment: str, course: str | Path | None = None, workdir: str | Path | None = None,
    timeout: int = 600, data_dir: str | None = None,
) -> SourceRun:
    """Run `solutions/<assignment>/`'s notebooks with their solutions and grade the models.

    workdir: a new or empty folder to run in (kept); default a temporary one (also kept: the
    saved models are there). timeout: seconds per cell. Raises ConfigError for a missing or
    broken assignment.toml, FileNotFoundError for a missing notebook.
    """
    from nbclient import NotebookClient  # instructor extra; imported here so `--help` is light

    folder = solution_dir(assignment, course_root(course))
    cfg = load_config(folder / CONFIG_NAME)
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"measure-{assignment}-"))
    shutil.copytree(folder, work, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    env = {**os.environ, **KERNEL_ENV}
    run = SourceRun(assignment=assignment, workdir=work, seconds=0.0)
    sources = []
    start = time.perf_counter()
    for name in cfg.notebooks:
        nb = nbformat.read(folder / name, as_version=4)
        sources.append(module_source(nb.cells))
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(work)}})
        client.execute(env=env)
        run.executed[name] = nb
        run.cells += _cell_runs(name, nb)
    run.seconds = time.perf_counter() - start
    if cfg.models:
        reference = load_trusted_module("\n".join(sources), f"{assignment.lower()}_measure_reference")
        run.models = [check_model(spec, cfg, work, reference, data_dir)[0] for spec in cfg.models.values()]
    return run


def _shortened(printed: list[str]) -> list[str]:
    """At most MAX_PRINTED_LINES lines: the head and the last TAIL_LINES (a search's summary)."""
    if len(printed) <= MAX_PRINTED_LINES:
        return printed
    head = MAX_PRINTED_LINES - TAIL_LINES
    return [*printed[:head], f"... ({len(printed) - MAX_PRINTED_LINES} lines left out)", *printed[-TAIL_LINES:]]


def report_lines(run: SourceRun) -> list[str]:
    """The report `autograder measure` prints: grade cells with their output, other cells only
    when they raised, then the models."""
    lines = [f"{run.assignment}: ran {', '.join(run.executed)} with the solutions in "
             f"{run.workdir} ({run.seconds:.1f} s)"]
    for cell in run.cells:
        if cell.grade_id is None and cell.error is None:
            continue
        role = f"{cell.grade_id} ({cell.points:g} points)" if cell.grade_id else cell.cell_id
        lines.append(f"  cell {cell.number} {role}: {'passed' if cell.error is None else 'ERROR'}")
        printed = cell.printed.rstrip("\n").split("\n") if cell.printed.strip() else []
        if cell.grade_id is not None:
            lines += [f"      {line}" for line in _shortened(printed)]
        if cell.error is not None:
            lines.append(f"      {cell.error}")
    for model in run.models:
        verdict = "reaches full credit" if model["status"] == "passed" else "BELOW full credit"
        lines.append(f"  model {model['name']}: {model['message'] or model['status']}: {verdict}")
    errors = len(run.errors)
    lines.append(f"{errors} cell(s) raised" if errors else "Every cell ran.")
    return lines


def cli_measure(args: argparse.Namespace) -> int:
    """`autograder measure A [--course DIR] [--workdir DIR] [--timeout S]`: 0 when every cell ran
    and every model reaches its bar, 1 otherwise (and for a missing assignment)."""
    try:
        run = run_source(args.assignment, getattr(args, "course", None), getattr(args, "workdir", None),
                         getattr(args, "timeout", 600))
    except (ConfigError, FileNotFoundError) as exc:
        print(f"autograder measure: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report_lines(run)))
    return 0 if run.ok else 1
