"""What the student's code did wrong, as the hidden tests see it: an exception or a timeout."""

from __future__ import annotations

from autograder.grading.protocol import ProtocolError

EXC_MESSAGE_CAP = 500  # characters of a student exception's message


class StudentError(Exception):
    """The student's code raised (or could not be called); `exc_type: message` is shown."""

    status = "error"

    def __init__(self, exc_type: str, message: str = "", output: str = "") -> None:
        self.exc_type = exc_type
        self.message = message[:EXC_MESSAGE_CAP]
        self.output = output
        super().__init__(self.text)

    @property
    def text(self) -> str:
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type


class StudentTimeout(StudentError):
    """The student's call ran past its wall-clock limit (the worker was killed)."""

    status = "timeout"

    def __init__(self, message: str = "", output: str = "") -> None:
        super().__init__("Timeout", message or "the call did not finish in time", output)


def bad_result(name: str, exc: ProtocolError) -> StudentError:
    """The error for a result that cannot cross the pipe (object, subclass, wrong dtype...)."""
    return StudentError("BadResult", f"{name} returned {exc}")
