"""`notebook-invalid`: the file cannot be checked at all (one clear message, no traceback).

Broken JSON, an old nbformat, a file that is not a notebook, a notebook without the release's
metadata, or a notebook of another assignment. The checker fills `CheckContext.invalid` while
loading; this rule turns each message into a finding, and the checker stops there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from autograder.core.rules.base import CheckContext, Finding, RuleInfo
from autograder.core.rules.policy import RulePolicy


class NotebookInvalid(RuleInfo):
    """The loading problems of the notebook, one finding each."""

    rule_id: ClassVar[str] = "notebook-invalid"
    hint: ClassVar[str] = (
        "Open the notebook in Jupyter, save it, and check it with `autograder check`."
    )
    # nothing is sound when the notebook cannot be read: an error unless the toml says otherwise
    default_policy: ClassVar[RulePolicy] = RulePolicy(severity="error")

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for message in ctx.invalid:
            yield Finding(message)
