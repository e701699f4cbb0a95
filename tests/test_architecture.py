"""The package's layout by role: the import contracts hold, and they are live checks.

The contracts (pyproject.toml, `[tool.importlinter]`): the command line sits on top of grading,
authoring and the student side, which are independent of each other, and all three sit on the
shared core, which imports none of them; the core and the student side import nothing of the
`instructor` extra (the student bundle installs only the base dependencies). docs/architecture.md
has one line per module.
"""

from __future__ import annotations

import os
import re
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


def _lint_a_copy_with(tmp_path: Path, line: str) -> subprocess.CompletedProcess[str]:
    """import-linter on a copy of the package whose core/notebook.py ends with `line`."""
    shutil.copytree(REPO_ROOT / "autograder", tmp_path / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    module = tmp_path / "autograder" / "core" / "notebook.py"
    module.write_text(module.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    return _lint_imports(tmp_path)


def test_a_core_module_importing_grading_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is read and enforced, not vacuously kept: one upward import in a copy of the
    package is reported, by name."""
    done = _lint_a_copy_with(tmp_path, "import autograder.grading.report")
    assert done.returncode != 0
    assert "autograder.core.notebook -> autograder.grading.report" in done.stdout


def test_a_core_module_importing_an_instructor_package_breaks_the_contract(tmp_path: Path) -> None:
    done = _lint_a_copy_with(tmp_path, "def _f():\n    import jinja2")  # inside a function too
    assert done.returncode != 0
    assert "autograder.core.notebook -> jinja2" in done.stdout


def _contract(name_start: str) -> dict:
    from autograder.core.config import tomllib

    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in data["tool"]["importlinter"]["contracts"]
                   if c["name"].startswith(name_start)]
    return contract


def test_the_forbidden_instructor_packages_are_the_instructor_extra() -> None:
    """The list in the contract is the import names of the packages only the `instructor` extra
    installs (not the base dependencies, not the students' `student` extra), so a package added
    to that extra is forbidden to the student side as soon as it is added."""
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    from autograder.core.config import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {Requirement(r).name.lower().replace("_", "-") for r in requirements}

    extras = project["optional-dependencies"]
    instructor_only = names(extras["instructor"]) - names(project["dependencies"]) - names(extras["student"])
    imports = {top for top, dists in packages_distributions().items() if not top.startswith("_")
               and any(d.lower().replace("_", "-") in instructor_only for d in dists)}
    assert set(_contract("The student side and the core")["forbidden_modules"]) == imports


# ---------------------------------------------------------------------------------------------
# docs/architecture.md describes the tree: one table row per module file of the package

ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
ROW_PATH = re.compile(r"^\|\s*`((?:autograder|demo)/[^`]+\.py)`\s*\|", re.M)


def _documented_modules() -> list[str]:
    """The module paths of docs/architecture.md's tables, one per row (the first cell)."""
    return ROW_PATH.findall(ARCHITECTURE.read_text(encoding="utf-8"))


def _package_modules() -> set[str]:
    package = REPO_ROOT / "autograder"
    return {p.relative_to(REPO_ROOT).as_posix() for p in package.rglob("*.py")
            if "__pycache__" not in p.parts}


def test_every_module_of_the_package_has_its_line_in_the_architecture_page() -> None:
    missing = sorted(_package_modules() - set(_documented_modules()))
    assert not missing, f"docs/architecture.md has no row for: {missing}"


def test_every_module_the_architecture_page_lists_exists_once() -> None:
    listed = _documented_modules()
    assert len(listed) == len(set(listed)), sorted({m for m in listed if listed.count(m) > 1})
    gone = sorted(m for m in listed if not (REPO_ROOT / m).is_file())
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"
