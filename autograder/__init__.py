"""Backprop assignment kit: student toolkit, release, policy checks and a sandboxed grader."""

import sys

__version__ = "0.1.0"

# nbformat imports jsonschema, whose optional IRI format check imports `rfc3987_syntax` when it is
# installed (the instructor extra pulls it in through jupyter_events). That one import compiles
# dozens of lark grammars: about 1.2 s at every start of `autograder`, of every grading worker
# pool, of every notebook check. No schema the kit validates uses the "iri" formats, and
# jsonschema skips the check when the import fails, so keep it from loading. Nothing else uses it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
