"""Backprop assignment kit: student toolkit, release, policy checks and a sandboxed grader."""

import sys

__version__ = "0.1.0"

# nbformat and the config loader import jsonschema, whose `jsonschema._format` imports, when they
# are installed, the optional libraries of its format checks ("iri", "uri", "duration",
# "color", ...; the instructor extra pulls them all in through jupyter_events). They cost a
# fixed 0.15 s at every start of `autograder`, of a grading pool's fork server and of every
# notebook check (1.2 s more for `rfc3987_syntax`, which compiles dozens of lark grammars at
# import: python-jsonschema/jsonschema#1428). No schema the kit validates checks a format, and
# jsonschema leaves out the check of a format whose library it cannot import. So these imports
# fail, but only those made by `jsonschema._format` while it runs: any other module still
# imports them normally (the finder is consulted only for a module not imported yet).
JSONSCHEMA_FORMAT_LIBRARIES = frozenset({
    "rfc3987", "rfc3987_syntax", "rfc3986_validator", "rfc3339_validator", "isoduration",
    "webcolors", "uri_template", "fqdn", "jsonpointer", "idna"})


class _FormatLibrariesAbsentForJsonschema:
    """A meta path finder that refuses JSONSCHEMA_FORMAT_LIBRARIES while `jsonschema._format`
    is being executed (its spec is `_initializing` then), and finds nothing otherwise."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> None:
        if fullname in JSONSCHEMA_FORMAT_LIBRARIES:
            spec = getattr(sys.modules.get("jsonschema._format"), "__spec__", None)
            if getattr(spec, "_initializing", False):
                raise ModuleNotFoundError(f"No module named {fullname!r} (left out for "
                                          "jsonschema's format checks by autograder)", name=fullname)
        return None


if not any(type(f).__name__ == _FormatLibrariesAbsentForJsonschema.__name__ for f in sys.meta_path):
    sys.meta_path.insert(0, _FormatLibrariesAbsentForJsonschema())
