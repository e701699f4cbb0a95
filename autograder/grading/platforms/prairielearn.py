"""`autograder export-prairielearn A -o DIR`: the same core as a PrairieLearn external grader.

DIR holds two folders for a PrairieLearn course:

    grader/     the entry point `run` (executable), the kit, the course files and the data:
                copy it to the course's `serverFilesCourse/autograder_<A>/`
    question/   `info.json` (external grading on, that folder mounted, `run` as the entry point)
                and `question.html` (a file upload for the required files): copy it to the
                course's `questions/<A>/`

PrairieLearn copies `serverFilesCourse/autograder_<A>/` to `/grade/serverFilesCourse/...` and the
student's files to `/grade/student`, runs the entry point, and reads
`/grade/results/results.json`: `gradable`, `score` in [0, 1] (the
automatic points earned, policy deductions included, over the automatic points), `message`,
`output`, and one test per automatically graded group with `name`, `points`, `max_points`,
`output`. `/grade` is AUTOGRADER_ROOT when that is set (tests).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from autograder.grading.platforms import core

DEFAULT_ROOT = "/grade"

RUN = """#!/usr/bin/env bash
# PrairieLearn's external grader entry point: grades /grade/student into /grade/results.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/grade}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${AUTOGRADER_PYTHON:-python3}"
if ! "$PY" -c "import numpy, nbformat, pyflakes" 2>/dev/null; then
    "$PY" -m pip install --quiet -r "$HERE/requirements.txt"
fi
export PYTHONPATH="$HERE/kit${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m autograder.grading.platforms.prairielearn run "$HERE"
"""


def results(report: dict[str, Any], points: float) -> dict[str, Any]:
    """PrairieLearn's results.json for one report; `points`: the automatic points."""
    tests = [{"name": group["grade_id"], "points": round(float(group["score"]), 4),
              "max_points": float(group["max_score"]), "output": core.failing_text(failing)}
             for group, failing in core.automatic_groups(report)]
    score = min(1.0, max(0.0, float(report["score"]) / points)) if points else 0.0
    return {
        "gradable": report["status"] != "error",
        "score": round(score, 6),
        "message": ("Graded." if report["status"] == "graded"
                    else f"Your submission could not be graded: {report['message']}"),
        "output": core.output_text(report),
        "tests": tests,
    }


def run(grader_dir: Path) -> int:
    """Grade /grade/student into /grade/results/results.json."""
    root = core.platform_root(DEFAULT_ROOT)
    core.make_root_only(grader_dir / "course")
    try:
        report = core.grade_submission(grader_dir, root / "student")
        config = core.find_config(report["assignment"], grader_dir / "course")
        data = results(report, core.automatic_points(config))
    except Exception as exc:  # the grader failed: not gradable, never a silent 0
        core.write_json(root / "results" / "results.json", {
            "gradable": False, "score": 0.0,
            "message": f"The autograder failed ({type(exc).__name__}: {exc}); please tell the course staff."})
        return 1
    core.write_json(root / "results" / "results.json", data)
    return 0


def _question_html(files: list[str]) -> str:
    names = ", ".join(files)
    return (
        "<pl-question-panel>\n<p>Build your zip with the kit's submit command, unzip it, and "
        f"upload its files here: {names}.</p>\n</pl-question-panel>\n"
        f'<pl-file-upload file-names="{names}"></pl-file-upload>\n'
        "<pl-submission-panel>\n<pl-external-grader-results></pl-external-grader-results>\n"
        "<pl-file-preview></pl-file-preview>\n</pl-submission-panel>\n"
    )


def export(assignment: str, out: str | Path, course: str | Path | None = None) -> Path:
    """Write the PrairieLearn question folder for `assignment` into `out` (new or empty)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: give a new folder")
    grader, question = out / "grader", out / "question"
    config = core.pack(assignment, grader, course)
    (grader / "run").write_text(RUN, encoding="utf-8")
    (grader / "run").chmod(0o755)
    mounted = f"autograder_{assignment}"
    info = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"autograder/{assignment}")),
        "title": config.title, "topic": "Autograded notebook", "type": "v3",
        "singleVariant": True, "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True, "image": "prairielearn/grader-python",
            "serverFilesCourse": [f"{mounted}/"],
            "entrypoint": f"/grade/serverFilesCourse/{mounted}/run", "timeout": 300},
    }
    question.mkdir(parents=True)
    (question / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    files = [*config.required_files, "MANIFEST.json"]  # the submit zip's content, unzipped
    (question / "question.html").write_text(_question_html(files), encoding="utf-8")
    return out


def cli_export(args: argparse.Namespace) -> int:
    """`autograder export-prairielearn A -o DIR`."""
    return core.run_export("export-prairielearn", export, args, lambda out: (
        f"PrairieLearn grader for {args.assignment}: {out}/grader (copy it to your course's "
        f"serverFilesCourse/autograder_{args.assignment}/) and {out}/question (copy it to "
        f"questions/{args.assignment}/)."))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.exit(run(Path(sys.argv[2])))
    print("usage: python -m autograder.grading.platforms.prairielearn run GRADER_DIR", file=sys.stderr)
    sys.exit(2)
