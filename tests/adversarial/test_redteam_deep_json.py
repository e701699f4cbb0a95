"""Red team: notebook JSON that Python's json reads but the grader then chokes on: *grader error*.

* 200 000 nested lists in the metadata: the parent's writing of the autograded notebook calls
  `json.loads`, which raises RecursionError (not a ValueError, so not caught);
* a lone surrogate (`"\\ud800"`) in a markdown cell: json accepts it, writing the autograded
  notebook as UTF-8 raises UnicodeEncodeError;
* a 5000-digit `execution_count`: json raises ValueError (int max str digits) in the check step,
  which is not handled as an invalid notebook.

Each gives the student status `error` (no score; "grader error ..."), and `autograder grade` exits
1 for the whole batch, every rerun. A hostile notebook must be a `failed` (notebook-invalid) or a
graded submission, never a grader error.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from demo import classroom as demo


def _deep(text: str) -> str:
    return text.replace('"metadata": {', '"metadata": {"zz": ' + "[" * 200_000 + "]" * 200_000 + ", ", 1)


def _surrogate(text: str) -> str:
    i = text.index('"cells": [') + len('"cells": [')
    return text[:i] + '{"cell_type": "markdown", "metadata": {}, "source": "hi \\ud800 there"}, ' + text[i:]


def _bigint(text: str) -> str:
    return text.replace('"execution_count": 1,', '"execution_count": ' + "9" * 5000 + ",", 1)


@pytest.mark.parametrize("mutate", [_deep, _surrogate, _bigint], ids=["deep", "surrogate", "bigint"])
def test_hostile_notebook_json_is_not_a_grader_error(tmp_path: Path, mutate: Callable[[str], str]) -> None:
    course, subs = demo.build_class(tmp_path, (demo.Student("s80", ""),), echo=lambda *_: None)
    zpath = subs / "A4_s80.zip"
    with zipfile.ZipFile(zpath) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    text = mutate(json.dumps(json.loads(members[demo.NOTEBOOK])))
    assert text != json.dumps(json.loads(members[demo.NOTEBOOK]))
    members[demo.NOTEBOOK] = text.encode()
    manifest = json.loads(members["MANIFEST.json"])
    manifest["files"][demo.NOTEBOOK] = hashlib.sha256(members[demo.NOTEBOOK]).hexdigest()
    members["MANIFEST.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", "A4", str(subs), "--out", str(out),
                          "--course", str(course)], capture_output=True, text=True, timeout=300)
    report = json.loads((out / "s80" / "report.json").read_text())
    assert report["status"] in ("graded", "failed"), (report["status"], report.get("message"))
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-1500:]
