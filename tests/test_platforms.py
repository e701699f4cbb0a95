"""Gradescope and PrairieLearn: the exports, unpacked under AUTOGRADER_ROOT, grade an honest and a
hostile submission with the same core as `autograder grade`, into each platform's results.json
(validated against a JSON Schema of the platform's documented format); the scores agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder.core.config import load_config
from autograder.grading.grade import grade_class
from autograder.grading.platforms import gradescope, prairielearn
from demo import classroom as demo

SCHEMAS = Path(__file__).parent / "schemas"
HOSTILE = next(s for s in demo.STUDENTS if s.sid == "s13")  # monkeypatches np.allclose


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """An honest and a hostile A4 zip, graded locally once."""
    root = tmp_path_factory.mktemp("platforms")
    course, subs = demo.build_class(root, (demo.Student("s01", "honest"), HOSTILE), echo=lambda *_: None)
    run = grade_class("A4", subs, root / "out", course=course, jobs=1, stream=open(os.devnull, "w"))
    points = sum(load_config(course / "solutions" / "A4" / "assignment.toml").tests.values())
    return {"root": root, "course": course, "subs": subs, "reports": run.reports, "points": points}


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}


def _gradescope(graded, tmp_path: Path, sid: str) -> dict:
    out = gradescope.export("A4", tmp_path / "A4_gradescope.zip", graded["course"])
    root = tmp_path / "autograder"
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert "setup.sh" in names and "run_autograder" in names
        assert not [n for n in names if n.startswith("source/")]  # the zip IS /autograder/source
        zf.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    shutil.copyfile(graded["subs"] / f"A4_{sid}.zip", root / "submission" / f"A4_{sid}.zip")
    done = subprocess.run(["bash", str(root / "run_autograder")], env=_env(root),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, json.loads((SCHEMAS / "gradescope_results.schema.json").read_text()))
    assert not os.stat(root / "source" / "course" / "solutions").st_mode & 0o077  # root only
    return results


def _prairielearn(graded, tmp_path: Path, sid: str) -> dict:
    out = prairielearn.export("A4", tmp_path / "pl", graded["course"])
    run = out / "grader" / "run"
    assert os.access(run, os.X_OK)
    info = json.loads((out / "question" / "info.json").read_text())
    assert info["externalGradingOptions"]["entrypoint"].endswith("/autograder_A4/run")
    root = tmp_path / "grade"
    with zipfile.ZipFile(graded["subs"] / f"A4_{sid}.zip") as zf:
        zf.extractall(root / "student")  # PrairieLearn hands over the uploaded files
    done = subprocess.run([str(run)], env=_env(root), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, json.loads((SCHEMAS / "prairielearn_results.schema.json").read_text()))
    return results


@pytest.mark.parametrize("sid", ["s01", HOSTILE.sid])
def test_gradescope_total_equals_the_local_score(graded, tmp_path: Path, sid: str) -> None:
    results = _gradescope(graded, tmp_path, sid)
    local = graded["reports"][sid]
    assert results["score"] == pytest.approx(local["score"], abs=1e-3)
    assert results["extra_data"]["sandbox"] == local["grader"]["sandbox"]
    assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(graded["points"])
    if sid == "s01":
        assert results["score"] == pytest.approx(graded["points"])
    else:  # the monkeypatch earns nothing: the prediction group is lost, and it is flagged
        assert results["score"] < graded["points"]
        assert [t["score"] for t in results["tests"] if t["name"] == "nn_predict"] == [0]
        assert "sandbox-violation" in results["extra_data"]["violations"]


@pytest.mark.parametrize("sid", ["s01", HOSTILE.sid])
def test_prairielearn_score_times_points_equals_the_local_score(graded, tmp_path: Path, sid: str) -> None:
    results = _prairielearn(graded, tmp_path, sid)
    assert results["gradable"] is True
    local = graded["reports"][sid]["score"]
    assert results["score"] * graded["points"] == pytest.approx(local, abs=1e-3)


def test_a_submission_that_cannot_be_used_is_a_clear_failure_on_gradescope(graded, tmp_path: Path) -> None:
    out = gradescope.export("A4", tmp_path / "gs.zip", graded["course"])
    root = tmp_path / "autograder"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "notes.txt").write_text("I could not finish, sorry")
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=_env(root),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "could not be graded" in results["output"]
    assert "two_layer_net.ipynb" in results["output"]


def test_export_commands_write_their_outputs(tmp_path: Path) -> None:
    for cmd, out in (("export-gradescope", tmp_path / "g.zip"), ("export-prairielearn", tmp_path / "p")):
        done = subprocess.run([sys.executable, "-m", "autograder", cmd, "A3", "-o", str(out)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert out.exists()
    bad = subprocess.run([sys.executable, "-m", "autograder", "export-gradescope", "A9", "-o",
                          str(tmp_path / "x.zip")], capture_output=True, text=True)
    assert bad.returncode == 1 and "A9" in bad.stderr
