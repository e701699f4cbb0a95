"""`autograder export-gradescope A -o A_gradescope.zip` and the runner it ships.

The zip is a Gradescope autograder: `setup.sh` (run once when Gradescope builds the image:
installs bubblewrap and the pinned dependencies; nothing is downloaded at grading time) and
`run_autograder` (grades `/autograder/submission`, a zip or loose files, into
`/autograder/results/results.json`), beside the kit, the course files and the data
(autograder.grading.platforms.core); Gradescope unpacks the zip as `/autograder/source`.
`/autograder` is AUTOGRADER_ROOT when that is set (tests).

results.json follows Gradescope's specification: `score` (the total, policy deductions
included), `execution_time`, `output` (the policy findings), and one test per automatically
graded group of assignment.toml with `name`, `score`, `max_score`, `status`, `output` and
`visibility`. The inline questions are graded by hand on Gradescope (manual questions).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from autograder.grading.platforms import core

DEFAULT_ROOT = "/autograder"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip python3-venv bubblewrap util-linux
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
/autograder/venv/bin/pip install --quiet /autograder/source/kit
# The student's code runs as an unprivileged uid: the interpreter must be readable by it.
chmod -R a+rX /autograder/venv
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this, as root, for each submission.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$ROOT/source/kit${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m autograder.grading.platforms.gradescope run
"""


def results(report: dict[str, Any]) -> dict[str, Any]:
    """Gradescope's results.json for one report."""
    tests = []
    for group, failing in core.automatic_groups(report):
        output = core.failing_text(failing, bullet="- ")
        if group.get("note"):
            output = f"{group['note']}\n{output}"
        tests.append({
            "name": group["grade_id"],
            "score": round(float(group["score"]), 4),
            "max_score": float(group["max_score"]),
            "status": "passed" if group["score"] >= group["max_score"] else "failed",
            "output": output,
            "visibility": "visible",
        })
    return {
        "score": round(float(report["score"]), 4),
        "execution_time": max(1, round(float(report["grader"]["seconds"]))),
        "output": core.output_text(report),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"sandbox": report["grader"]["sandbox"], "status": report["status"],
                       "violations": [v["rule"] for v in report.get("violations", [])]},
    }


def run() -> int:
    """Grade /autograder/submission into /autograder/results/results.json."""
    root = core.platform_root(DEFAULT_ROOT)
    source = root / "source"
    core.make_root_only(source / "course")
    try:
        report = core.grade_submission(source, root / "submission")
        data = results(report)
    except Exception as exc:  # the grader itself failed: say so on Gradescope, never a silent 0
        data = {"score": 0.0, "output": f"The autograder failed ({type(exc).__name__}: {exc}). "
                "Please tell the course staff; your submission is kept.", "tests": [],
                "extra_data": {"status": "error"}}
        core.write_json(root / "results" / "results.json", data)
        return 1
    core.write_json(root / "results" / "results.json", data)
    return 0


def export(assignment: str, out: str | Path, course: str | Path | None = None) -> Path:
    """Write the Gradescope autograder zip for `assignment` to `out`."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as tmp:
        base = Path(tmp)
        core.pack(assignment, base, course)  # Gradescope unpacks the zip as /autograder/source
        (base / "setup.sh").write_text(SETUP_SH, encoding="utf-8")
        (base / "run_autograder").write_text(RUN_AUTOGRADER, encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo.from_file(path, path.relative_to(base).as_posix())
                info.external_attr = (0o755 if path.name in ("setup.sh", "run_autograder") else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return out


def cli_export(args: argparse.Namespace) -> int:
    """`autograder export-gradescope A -o ZIP`."""
    return core.run_export("export-gradescope", export, args, lambda out: (
        f"Gradescope autograder for {args.assignment}: {out} ({out.stat().st_size / 1024:.0f} KiB). "
        "Upload it as the assignment's autograder (Configure Autograder → Zip file upload)."))


if __name__ == "__main__":  # run_autograder's entry point
    if sys.argv[1:] == ["run"]:
        sys.exit(run())
    print("usage: python -m autograder.grading.platforms.gradescope run", file=sys.stderr)
    sys.exit(2)
