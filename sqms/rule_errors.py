"""A refused service rule in a form that both the CLI and the workspace can speak.

A rule that refuses raises a `RuleError` (each domain's own error derives from it, as does the
state machine's `IllegalTransition`). Its `str()` is the English sentence the CLI prints, as
before; its `problems` carry a code and the parameters, which the workspace renders in the
form's language through the one catalogue `templates/web/app/_problems.html.j2`. A problem
without a code (text only) is shown in English, and as a general sentence on a zh_CN page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    code: str  # the catalogue's key, e.g. "transition.state"; "" when there is none
    text: str  # English, for the CLI and the logs
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


def problem(code: str, text: str, **params: Any) -> Problem:
    return Problem(code, text, params)


class RuleError(ValueError):
    """One or more problems: `RuleError("text")`, `RuleError("text", code="x", n=1)` or
    `RuleError(problem(...), problem(...))`, joined by `sep` after `lead` for the message."""

    def __init__(self, *problems: Problem | str, code: str = "", sep: str = "; ", lead: str = "",
                 **params: Any) -> None:
        items = tuple(p if isinstance(p, Problem) else Problem(code, str(p), params) for p in problems)
        super().__init__(lead + sep.join(p.text for p in items))
        self.problems = items

    def __reduce__(self):  # pickles (e.g. across processes) as its message, like any ValueError
        return (type(self), (str(self),))
