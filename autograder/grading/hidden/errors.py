"""What the student's code did wrong, as the hidden tests see it: an exception or a timeout.

An exception the student's code raised during a hidden test is shown to the student by its type
and its place in their own code only: its message could carry the hidden inputs (a student's
`raise ValueError(str(X))`), and hidden inputs are the same for every submission. The full
message goes to the staff's grader.log (`StudentError.detail`).
"""

from __future__ import annotations

import builtins
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from autograder.grading.protocol import ProtocolError

EXC_MESSAGE_CAP = 500  # characters of a student exception's message (kept for the staff's log)

Where = Callable[[int], tuple[int | None, int | None]]  # graded-module line -> (cell, line)

# Exception types whose name is shown as is: a class the student defines could carry data in its
# name (type(str(X), (Exception,), {})), a built-in or numpy one cannot.
_KNOWN_TYPES = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
) | {"LinAlgError", "AxisError"}
# The load errors whose message the compiler words (the module has no hidden input yet).
_SYNTAX_TYPES = frozenset({"SyntaxError", "IndentationError", "TabError"})
# The result-type problems the worker words itself (autograder.grading.protocol.to_tagged):
# shown only when they match one of these templates, since a forged reply could say anything;
# a type name in them is shown only when it is a built-in or numpy type (see `_type_shown`).
_OTHER_CLASS = "a class your code defines"
_BAD_RESULT = (
    (re.compile(r"an array of dtype (\w{1,20}) \(only numbers can be graded\)"),
     lambda t: f"an array of dtype {t if _is_dtype(t) else 'that cannot be graded'} (only numbers "
               "can be graded)"),
    (re.compile(r"a dict key of type ([\w.<>]{1,100}) \(only str keys\)"),
     lambda t: f"a dict key of type {_type_shown(t)} (only str keys)"),
    (re.compile(r"an ndarray subclass \(([\w.<>]{1,100})\); return a plain np\.ndarray"),
     lambda t: f"an ndarray subclass ({_type_shown(t)}); return a plain np.ndarray"),
    (re.compile(r"an object of type ([\w.<>]{1,100}) \(only numbers, strings, numpy arrays, lists, "
                r"tuples and dicts can be graded\)"),
     lambda t: f"an object of type {_type_shown(t)} (only numbers, strings, numpy arrays, lists, "
               "tuples and dicts can be graded)"),
    (re.compile(r"a value nested too deeply()"), lambda t: "a value nested too deeply"),
    (re.compile(r"nested deeper than (\d{1,3}) levels"), lambda t: f"nested deeper than {t} levels"),
)


def _is_dtype(name: str) -> bool:
    import numpy as np

    try:
        return np.dtype(name).name == name
    except TypeError:
        return False


def _type_shown(name: str) -> str:
    """A type's name as `protocol.describe` gives it, if it is a built-in or numpy type (a class
    the student defines could carry data in its name)."""
    import numpy as np

    if isinstance(vars(builtins).get(name), type):
        return name
    module, _, attr = name.partition(".")
    if module == "numpy" and isinstance(getattr(np, attr, None), type):
        return name
    return _OTHER_CLASS


def _bad_result_shown(rest: str) -> str | None:
    """The worker's description of an unusable result, rebuilt from its template with vetted
    type names; None for any other text."""
    for pattern, build in _BAD_RESULT:
        found = pattern.fullmatch(rest)
        if found is not None:
            return build(found.group(1))
    return None


_GUARD_SUFFIX = " is not allowed in graded code"
_GUARD_IMPORT = re.compile(r"import ([A-Za-z_][A-Za-z0-9_]{0,40})( \(allowed imports: [A-Za-z0-9_., ]{0,400}\))?")


def guard_operation(message: str, source: str = "", allowed: Iterable[str] = ()) -> str | None:
    """The operation a guard refusal names ("opening files", "import os (allowed imports: ...)"),
    or None when the text is not one the guard words (student code can raise the guard's
    exception class, or write a refusal, with any text). A file path the refusal quotes is
    dropped, since the student chose it; a refused import's module is named only when it is a
    standard or numpy/scipy module or written in `source` (the graded module: text fixed before
    any hidden input existed), and the allowed imports are `allowed` (the grader's list), never
    the message's."""
    from autograder.grading.worker_guard import GUARDED_EVENTS  # the guard's own wording

    what = message.removesuffix(_GUARD_SUFFIX)
    if what == message:
        return None
    if what.startswith("opening files (") and what.endswith(")"):
        what = "opening files"
    imported = _GUARD_IMPORT.fullmatch(what)
    if imported is not None:
        name = imported.group(1)
        if not (name in sys.stdlib_module_names or name in ("numpy", "scipy")
                or re.search(rf"(?<![\w.]){re.escape(name)}\b", source)):
            return None
        names = sorted(allowed)
        return f"import {name}" + (f" (allowed imports: {', '.join(names)})" if names else "")
    known = set(GUARDED_EVENTS.values()) | {"import of a module named by a non-string"}
    return what if what in known else None


class StudentError(Exception):
    """The student's code raised (or could not be called); `text` is what the student is shown.

    detail: the full text for the staff's log ("" when `text` already says everything).
    """

    status = "error"

    def __init__(self, exc_type: str, message: str = "", output: str = "", *,
                 shown: str | None = None) -> None:
        self.exc_type = exc_type
        self.message = message[:EXC_MESSAGE_CAP]
        self.output = output
        self._shown = shown
        super().__init__(self.text)

    @property
    def full_text(self) -> str:
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type

    @property
    def text(self) -> str:
        return self._shown if self._shown is not None else self.full_text

    @property
    def detail(self) -> str:
        """The full `type: message` for grader.log when the student is shown less, else ""."""
        return self.full_text if self._shown is not None and self._shown != self.full_text else ""


class StudentTimeout(StudentError):
    """The student's call ran past its wall-clock limit (the worker was killed)."""

    status = "timeout"

    def __init__(self, message: str = "", output: str = "") -> None:
        super().__init__("Timeout", message or "the call did not finish in time", output)


def bad_result(name: str, exc: ProtocolError) -> StudentError:
    """The error for a result that cannot cross the pipe (object, subclass, wrong dtype...)."""
    return StudentError("BadResult", f"{name} returned {exc}")


def _place(function: str, line: Any, where: Where | None) -> str:
    """'in nn_forward_pass (cell 12, line 3)', or 'in nn_forward_pass' without a place."""
    text = f"in {function}" if function else "in your code"
    if type(line) is int and where is not None:
        cell, cell_line = where(line)
        if cell is not None:
            return f"{text} (cell {cell}, line {cell_line})" if cell_line else f"{text} (cell {cell})"
    return text


def raised(exc_type: str, message: str, function: str, line: Any = None,
           where: Where | None = None, load: bool = False) -> StudentError:
    """The error for an exception the student's code raised: the student sees its type and place.

    exc_type, message: as the student's exception had them (untrusted text); function: the graded
    function the hidden test called (a name the grader chose); line: the line of the graded module
    where it was raised (untrusted: any value but a known line shows no place); where: maps that
    line to the student's cell and line (autograder.core.graft.GradedModule.where); load: raised
    while the module was loaded (then the compiler's own syntax messages are shown whole).
    """
    shown_type = exc_type if exc_type in _KNOWN_TYPES else f"an exception of {_OTHER_CLASS}"
    if load:
        if exc_type in _SYNTAX_TYPES:
            return StudentError(exc_type, f"your code could not be loaded: {message}")
        return StudentError(exc_type, f"your code could not be loaded: {message}", shown=(
            f"{shown_type}: your code could not be loaded; it raised this {_place('', line, where)} "
            "when the notebook's code was run from the top. Restart the kernel and run all cells "
            "to see the full error."))
    return StudentError(exc_type, message, shown=(
        f"{shown_type} raised {_place(function, line, where)}. Grading does not show an error's "
        f"message (it could contain the test's inputs): run the notebook's check cell for "
        f"{function or 'this function'} to see the full error."))


def from_reply(reply: dict[str, Any], function: str, where: Where | None = None,
               load: bool = False, source: str = "", allowed: Iterable[str] = ()) -> StudentError:
    """The error of a worker's error reply (untrusted: student code can write replies itself).

    Only texts the grader can tell apart from the student's are shown whole: "`f` is not
    defined", a replaced function, the result-type templates of `_BAD_RESULT` and the guard's
    refusals (`guard_operation`, with the graded module's `source` and the `allowed` imports);
    anything else is shown as an exception the student's code raised (`raised`).
    """
    exc_type, message = str(reply.get("type", "Error"))[:100], str(reply.get("message", ""))
    kind = reply.get("kind")
    if not load and kind == "bad-result":
        rest = message.removeprefix(f"{function} returned ")
        shown = _bad_result_shown(rest) if exc_type == "BadResult" and rest != message else None
        if shown is not None:
            return StudentError("BadResult", message, shown=f"BadResult: {function} returned {shown}")
        return StudentError("BadResult", message, shown=(
            f"BadResult: {function} returned a value that cannot be graded: return numbers, "
            "numeric arrays, or lists, tuples and dicts of them."))
    if not load and kind == "exception" and (exc_type, message) in {
            ("NameError", f"{function} is not defined"), ("ReplacedFunction", replaced_message(function))}:
        return StudentError(exc_type, message)
    if exc_type == "ForbiddenOperation":
        operation = guard_operation(message, source, allowed) or "an operation that"
        return StudentError(exc_type, message, shown=f"ForbiddenOperation: {operation}{_GUARD_SUFFIX}")
    return raised(exc_type, message, function, reply.get("line"), where, load)


def unusable_result(exc: BaseException) -> str:
    """The student's message when the hidden test's own code failed on a result: the error's
    type only, since its message can quote the result (`float('[-2.21, ...]')`), and a result
    can carry a hidden input. The traceback goes to grader.log."""
    name = type(exc).__name__
    shown = name if name in _KNOWN_TYPES else "an error"
    return (f"could not check the result ({shown}): check the type and structure of what your "
            "function returns, and run the notebook's check cell for it")


def replaced_message(name: str) -> str:
    """The message of a graded function the student's code replaced (the worker sends it)."""
    return (f"`{name}` is not the function its own cell defines any more (your code "
            "replaced or redefined it), so it was not graded")
