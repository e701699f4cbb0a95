"""The package's layout by role: the import-layer contract holds, and it is a live check.

The contract (pyproject.toml, `[tool.importlinter]`): the command line sits on top of grading,
authoring and the student side, which are independent of each other, and all three sit on the
shared core, which imports none of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the `autograder` package found first on the path from `project`
    (its cache off, so nothing is written into the checkout)."""
    env = dict(os.environ, PYTHONPATH=str(project))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(project / "pyproject.toml")],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_layer_contract_holds() -> None:
    done = _lint_imports(REPO_ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_a_core_module_importing_grading_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is read and enforced, not vacuously kept: one upward import in a copy of the
    package is reported, by name."""
    shutil.copytree(REPO_ROOT / "autograder", tmp_path / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    module = tmp_path / "autograder" / "core" / "notebook.py"
    module.write_text(module.read_text(encoding="utf-8") + "\nimport autograder.grading.report  # noqa\n",
                      encoding="utf-8")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert "autograder.core.notebook -> autograder.grading.report" in done.stdout
