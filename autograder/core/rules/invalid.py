"""`notebook-invalid`: the file cannot be checked at all (one clear message, no traceback).

Broken JSON, an old nbformat, a file that is not a notebook, a notebook without the release's
metadata, or a notebook of another assignment. The checker fills `CheckContext.invalid` while
loading; this rule turns each message into a finding, and the checker stops there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from autograder.core.rules.base import CheckContext, Finding


class NotebookInvalid:
    """The loading problems of the notebook, one finding each."""

    rule_id: ClassVar[str] = "notebook-invalid"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for message in ctx.invalid:
            yield Finding(message)
