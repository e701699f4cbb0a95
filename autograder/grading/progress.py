"""The class's progress on the operator's terminal: a live bar, then one table (docs/grading.md)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from autograder.core.config import AssignmentConfig
from autograder.core.identity import shown_id

if TYPE_CHECKING:
    from autograder.grading.batch import ClassRun


class Progress:
    """A rich progress bar with ETA and live counts on a terminal; plain lines otherwise."""

    def __init__(self, total: int, label: str, stream: Any = None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stdout, highlight=False)
        self.total, self.done = total, 0
        self.counts: Counter[str] = Counter()
        self._bar = None
        if self.console.is_terminal and total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console,
            )
            self._task = self._bar.add_task(label, total=total, counts=self._counts())
            self._bar.start()

    def _counts(self) -> str:
        c = self.counts
        return f"graded {c['graded']} · failed {c['failed']} · errored {c['error']}"

    def advance(self, report: Mapping[str, Any]) -> None:
        self.done += 1
        self.counts[str(report["status"])] += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, counts=self._counts())
            return
        score = "" if report["status"] == "error" else f" {round(report['score'], 2):g}/{report['max_score']:g}"
        msg = f" — {shown_id(report['message'], 300)}" if report["status"] != "graded" and report.get("message") else ""
        self.console.print(f"[{self.done}/{self.total}] {shown_id(report['student_id'])}: {report['status']}"
                           f"{score} ({report['grader']['seconds']:.1f} s){msg}", markup=False, soft_wrap=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_table(run: ClassRun, config: AssignmentConfig, stream: Any = None) -> None:
    """The final table: one row per student, then where the reports are."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=stream or sys.stdout, highlight=False)
    table = Table(title=f"{config.name}: {len(run.reports)} submissions")
    for col, justify in (("student", "left"), ("status", "left"), ("score", "right"),
                         ("violations", "left"), ("note", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for sid in sorted(run.reports):
        r = run.reports[sid]
        score = "—" if r["status"] == "error" else f"{round(r['score'], 2):g}/{r['max_score']:g}"
        rules = Counter(v["rule"] for v in r["violations"])
        viol = ", ".join(f"{k}×{n}" if n > 1 else k for k, n in rules.items())
        note = r["message"][:80] if r["status"] != "graded" else ("reused" if sid in run.skipped else "")
        # Text, not markup; control characters shown escaped: a file name a student chose (in
        # an intake message) must not style or move the operator's terminal
        table.add_row(*(Text(shown_id(cell, 200)) for cell in (sid, r["status"], score, viol, note)))
    console.print(table)
    c = Counter(r["status"] for r in run.reports.values())
    console.print(f"graded {c['graded']} · failed {c['failed']} · errored {c['error']} · "
                  f"reused {len(run.skipped)} · {run.seconds:.1f} s", markup=False)
    console.print(f"Reports: {run.out / 'grades.csv'}, {run.out / 'summary.html'}, "
                  f"{run.out}/<student>/feedback.html", markup=False, soft_wrap=True)
