"""nbgrader configuration of the course.

The course directory is the folder of this file: instructor sources in solutions/, the student
release in assignments/. Generate the release with `autograder release` (it lints the sources,
keeps every published version and writes the public assignment.toml). Plain `nbgrader` commands
run from this folder (formgrader) read this file.

The settings are the package's own (`autograder.authoring.generate.course_config`, the ones
`autograder release` runs nbgrader with), so the two cannot drift apart:
  - each ### BEGIN/END SOLUTION block becomes the START/END OF YOUR CODE stub, answer cells
    "YOUR ANSWER HERE"; solution cells stay editable, every other cell is locked;
  - hidden_tests.py, stubs.py and assignment.toml (its [private] table) are never copied into
    assignments/;
  - nbgrader's own generate_assignment and autograde (formgrader's Generate and Autograde
    buttons) refuse, before touching anything, and point to `autograder release` and
    `autograder grade` (autograder/grading/nbgrader_guard.py).
"""

import os

from autograder.authoring.generate import course_config
from autograder.core.config import ensure_tools_on_path

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# nbgrader runs the `alembic` executable when it creates a gradebook; it lives next to the
# venv's python, which is not on PATH unless the venv is activated.
ensure_tools_on_path()
c.merge(course_config(os.path.dirname(os.path.abspath(__file__))))
