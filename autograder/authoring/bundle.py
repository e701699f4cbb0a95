"""`autograder bundle A… -o OUT`: what students download, and nothing of the instructor's.

The bundle is assembled from explicit lists, never as "the repository minus a list": of the
package, the entry points (`STUDENT_TOP`) and the two roles students run (`STUDENT_ROLES`: the
shared core and the student side, whose imports the import-layer contract keeps inside them);
then the release folders, the digits data, a students' README, Makefile and pyproject. A file
added to the repository outside those stays out until someone decides students need it, and the
authoring and grading roles (`GRADER_ONLY_ROLES`) never ship. Then a leak check reads every file
of the assembled tree and refuses the build (nothing is written) when it finds:

* a line of a solution block of any source notebook (`### BEGIN SOLUTION` … `### END SOLUTION`)
  that the release does not show students anyway;
* the name of a hidden test (a function of any `solutions/<A>/hidden_tests.py`);
* an nbgrader solution marker line.

OUT is a folder (new or empty) or a path ending in `.zip`.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder import __version__
from autograder.core.config import (
    CONFIG_NAME,
    REPO_ROOT,
    AssignmentConfig,
    ConfigError,
    course_root,
    release_dir,
)

# The package as students get it, by role. The top-level entry points: the package, the command
# line (whose instructor commands answer "not part of the student kit" when their role is absent)
# and the three paths published notebooks import (aliases of the student and core modules).
STUDENT_TOP: tuple[str, ...] = (
    "__init__.py", "__main__.py", "cli.py", "toolkit.py", "datasets.py", "submission.py",
)
# Whole role subpackages: the shared core (notebook model, releases, integrity, graft, rules,
# score) and the student side (toolkit, self-check, submit, rescue). They import nothing of the
# roles below (pyproject.toml's import contract), so what they need is here.
STUDENT_ROLES: tuple[str, ...] = ("core", "student")
# Never shipped: writing releases and bundles, and everything that grades (sandbox, worker,
# engine, hidden tests, reports, gradebook, LMS exports).
GRADER_ONLY_ROLES: tuple[str, ...] = ("authoring", "grading")
# The commands the student kit answers; the others belong to the roles it does not ship.
STUDENT_COMMANDS: tuple[str, ...] = ("check", "submit", "rescue", "data")
DATA_FILES = ("digits.npz", "README.md")
PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE / "templates" / "bundle"
SOLUTION_BLOCK = re.compile(r"^[ \t]*#+[ \t]*BEGIN SOLUTION.*?^[ \t]*#+[ \t]*END SOLUTION[^\n]*$",
                            re.M | re.S)
MARKER_LINE = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END) SOLUTION\b", re.M)
MIN_LEAK_CHARS = 24  # shorter solution lines (`np.random.seed(seed)`) are too common to be a leak


class BundleError(Exception):
    """The bundle cannot be built; the message says why (nothing was written)."""


@dataclass(frozen=True)
class Leak:
    """Something of the instructor's found in a bundled file."""

    file: str
    what: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what}"


# ---------------------------------------------------------------------------------------------
# What is secret


def _cell_sources(path: Path) -> list[str]:
    """The cell sources of a notebook file ([] when it is not one)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cells = nb.get("cells", []) if isinstance(nb, dict) else []
    return ["".join(c["source"]) if isinstance(c.get("source"), list) else str(c.get("source", ""))
            for c in cells if isinstance(c, dict)]


def _norm(line: str) -> str:
    return " ".join(line.split())


def secrets(course: Path) -> tuple[set[str], set[str]]:
    """(solution lines, hidden-test names) of every assignment in the course's solutions/.

    A solution line counts when it has at least MIN_LEAK_CHARS characters and the release does
    not show it anyway (given code that the solution repeats is not a secret)."""
    shown: set[str] = set()
    for nb in (course / "assignments").glob("*/*.ipynb"):
        for source in _cell_sources(nb):
            shown.update(_norm(line) for line in source.splitlines())
    lines: set[str] = set()
    names: set[str] = set()
    for folder in sorted(p for p in (course / "solutions").glob("*") if p.is_dir()):
        for nb in folder.glob("*.ipynb"):
            for source in _cell_sources(nb):
                for block in SOLUTION_BLOCK.findall(source):
                    for line in block.splitlines()[1:-1]:
                        text = _norm(line)
                        if len(text) >= MIN_LEAK_CHARS and text not in shown and not text.startswith("#"):
                            lines.add(text)
        tests = folder / "hidden_tests.py"
        if tests.is_file():
            tree = ast.parse(tests.read_text(encoding="utf-8"))
            names.update(n.name for n in tree.body
                         if isinstance(n, ast.FunctionDef) and len(n.name) >= 8 and not n.name.startswith("_"))
    names = {n for n in names if not any(n in s for s in shown)}
    return lines, names


def _texts(path: Path) -> Iterator[str]:
    """The text of a bundled file to search: its cell sources for a notebook, else its text."""
    if path.suffix == ".ipynb":
        yield from _cell_sources(path)
    try:
        yield path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return  # binary (the digits data): no text to leak


def leak_check(root: Path, course: Path) -> list[Leak]:
    """Every instructor secret found in the files under `root`."""
    lines, names = secrets(course)
    name_re = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b") if names else None
    found: list[Leak] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        for text in _texts(path):
            if MARKER_LINE.search(text):
                found.append(Leak(rel, "an nbgrader solution marker (BEGIN/END SOLUTION)"))
            normalized = {_norm(line) for line in text.splitlines()}
            for line in sorted(lines & normalized):
                found.append(Leak(rel, f"a solution line: {line[:60]!r}"))
            if name_re is not None and (m := name_re.search(text)):
                found.append(Leak(rel, f"the hidden test name {m.group(1)!r}"))
    return sorted(set(found), key=lambda leak: (leak.file, leak.what))


# ---------------------------------------------------------------------------------------------
# Assembling


def _student_dependencies() -> tuple[list[str], dict[str, list[str]]]:
    """(dependencies, extras) of the bundle: the kit's base dependencies and its `student` extra,
    read from the kit's own pyproject.toml so there is one list."""
    from autograder.core.config import tomllib

    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    return list(project["dependencies"]), {"lab": list(project["optional-dependencies"]["student"])}


def _pyproject() -> str:
    deps, extras = _student_dependencies()

    def toml_list(items: Iterable[str]) -> str:
        return "[\n" + "".join(f"    {json.dumps(i)},\n" for i in items) + "]"

    lab = extras["lab"]
    return (
        "# The student kit: the self-check, submit, rescue and the notebooks' toolkit.\n"
        "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
        "[project]\nname = \"autograder-student\"\n"
        f"version = \"{__version__}\"\nrequires-python = \">=3.10\"\n"
        f"dependencies = {toml_list(deps)}\n\n"
        f"[project.optional-dependencies]\nlab = {toml_list(lab)}\n\n"
        "[project.scripts]\nautograder = \"autograder.cli:main\"\n\n"
        "[tool.setuptools.packages.find]\ninclude = [\"autograder*\"]\n"
    )


def _rules_table(config: AssignmentConfig) -> str:
    rows = ["| rule | severity | points per finding | at most |", "|---|---|---|---|"]
    for rule_id, policy in sorted(config.rules.items()):
        cap = "" if policy.cap is None else f"{policy.cap:g}"
        rows.append(f"| `{rule_id}` | {policy.severity} | {policy.deduction:g} | {cap} |")
    total = "" if config.total_deduction_cap is None else (
        f"\nAll deductions together: at most {config.total_deduction_cap:g} points.\n")
    return "\n".join(rows) + "\n" + total


def _readme(configs: list[AssignmentConfig]) -> str:
    import string

    parts = []
    for config in configs:
        nbs = ", ".join(f"`assignments/{config.name}/{nb}`" for nb in config.notebooks)
        files = ", ".join(f"`{f}`" for f in config.required_files)
        allowed = ", ".join(f"`{m}`" for m in config.allowed_imports)
        loop_free = ", ".join(f"`{f}`" for f in config.loop_free) or "none"
        parts.append(
            f"### {config.name}: {config.title}\n\n"
            f"- Notebook: {nbs}\n- You hand in: {files} (the zip command collects them)\n"
            f"- Imports allowed in your code: {allowed}\n"
            f"- Functions that must not loop in Python: {loop_free}\n\n"
            + _rules_table(config)
        )
    template = string.Template((TEMPLATES / "README.md").read_text(encoding="utf-8"))
    first = configs[0]
    return template.substitute(
        assignments="\n".join(parts), A=first.name, NB=first.notebooks[0],
        names=", ".join(c.name for c in configs),
    )


def student_package_files(package: Path = PACKAGE) -> list[str]:
    """The package files the bundle ships, as POSIX paths relative to `package`: `STUDENT_TOP`,
    then every file of the `STUDENT_ROLES` subpackages (bytecode caches left out)."""
    files = [name for name in STUDENT_TOP if (package / name).is_file()]
    missing = sorted(set(STUDENT_TOP) - set(files))
    if missing:  # an entry point renamed without this list: say so rather than ship a broken kit
        raise BundleError(f"the package has no {', '.join(missing)}: update bundle.STUDENT_TOP")
    for role in STUDENT_ROLES:
        files.extend(sorted(
            p.relative_to(package).as_posix() for p in (package / role).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
        ))
    return files


def assemble(assignments: list[str], dest: Path, course: Path) -> None:
    """Write the bundle's files into the empty folder `dest`, from the explicit lists only."""
    configs = []
    for name in assignments:
        folder = release_dir(name, course)
        if not (folder / CONFIG_NAME).is_file():
            raise BundleError(f"assignment {name!r} has no release in {folder}: run `autograder release {name}`")
        configs.append(_public_config(folder))
        target = dest / "assignments" / name
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for rel in student_package_files():
        target = dest / "autograder" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / rel, target)
    (dest / "data").mkdir()
    for name in DATA_FILES:
        shutil.copyfile(REPO_ROOT / "data" / name, dest / "data" / name)
    (dest / "README.md").write_text(_readme(configs), encoding="utf-8")
    shutil.copyfile(TEMPLATES / "Makefile", dest / "Makefile")
    (dest / "pyproject.toml").write_text(_pyproject(), encoding="utf-8")


def _public_config(release_folder: Path) -> AssignmentConfig:
    """The student-visible config: the released assignment.toml, never the instructor's."""
    from autograder.core.config import load_config

    return load_config(release_folder / CONFIG_NAME)


def build_bundle(assignments: list[str], out: str | Path, course: str | Path | None = None) -> Path:
    """Assemble, leak-check, then write the bundle to `out` (a folder or a `.zip`)."""
    course_dir = course_root(course)
    out = Path(out)
    if out.suffix != ".zip" and out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty: give a new folder or a .zip path")
    with tempfile.TemporaryDirectory(prefix="autograder-bundle-") as tmp:
        root = Path(tmp) / "bundle"
        root.mkdir()
        assemble(assignments, root, course_dir)
        leaks = leak_check(root, course_dir)
        if leaks:
            raise BundleError("the bundle would give away instructor material, so it was not "
                              "written:\n  " + "\n  ".join(map(str, leaks)))
        if out.suffix == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(p for p in root.rglob("*") if p.is_file()):
                    zf.write(path, f"{out.stem}/{path.relative_to(root).as_posix()}")
            out.write_bytes(buf.getvalue())
        else:
            shutil.copytree(root, out, dirs_exist_ok=True)
    return out


def cli_bundle(args: argparse.Namespace) -> int:
    """`autograder bundle A… -o OUT`: exit 0 when written, 1 when refused (a leak, a bad name)."""
    try:
        out = build_bundle(list(args.assignments), args.output, getattr(args, "course", None))
    except (BundleError, ConfigError) as exc:
        print(f"autograder bundle: {exc}", file=sys.stderr)
        return 1
    size = out.stat().st_size if out.is_file() else sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"Student bundle for {', '.join(args.assignments)}: {out} ({size / 1024:.0f} KiB), "
          "leak check passed.")
    return 0
