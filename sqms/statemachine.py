"""One state-machine helper for every long process (complaints, actions, surveys, audits, reviews, PDCA).

A machine is a table of named transitions; `apply` checks that the move is legal
(and its guard, if any), sets the new state and writes the transition to the audit
trail with actor, time and comment. Illegal moves raise `IllegalTransition`, whose
message says what is allowed from the current state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from sqlalchemy.orm import Session

from sqms.audit_trail import record_change
from sqms.calendar import utcnow
from sqms.rule_errors import Problem, RuleError, problem

Guard = Callable[[Any], Problem | str | None]  # returns a reason when the move is not allowed now


class IllegalTransition(RuleError):
    """A move that the process does not allow from the current state."""


@dataclass(frozen=True)
class Transition:
    name: str
    sources: tuple[str, ...]
    target: str
    guard: Guard | None = None


@dataclass
class StateMachine:
    entity: str  # as written in the audit trail, e.g. "complaint"
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    state_attr: str = "status"
    id_attr: str = "id"
    _by_name: dict[str, Transition] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {}
        for t in self.transitions:
            unknown = [s for s in (*t.sources, t.target) if s not in self.states]
            if unknown:
                raise ValueError(f"{self.entity}: transition {t.name!r} names unknown states {unknown}")
            if t.name in self._by_name:
                raise ValueError(f"{self.entity}: transition {t.name!r} defined twice")
            self._by_name[t.name] = t
        if self.initial not in self.states:
            raise ValueError(f"{self.entity}: unknown initial state {self.initial!r}")

    def allowed(self, state: str) -> list[str]:
        """Names of the transitions possible from `state`."""
        return [t.name for t in self.transitions if state in t.sources]

    def can(self, obj: Any, name: str) -> bool:
        t = self._by_name.get(name)
        state = getattr(obj, self.state_attr)
        return t is not None and state in t.sources and not (t.guard and t.guard(obj))

    def check(self, obj: Any, name: str, *, guard: bool = True) -> Transition:
        """The transition, or IllegalTransition explaining why not (`guard=False`: the state only,
        for callers that set what the guard looks at after this check)."""
        state = getattr(obj, self.state_attr)
        ident = getattr(obj, self.id_attr, "?")
        t = self._by_name.get(name)
        where = {"entity": self.entity, "ident": ident, "move": name, "state": state}
        if t is None:
            raise IllegalTransition(
                f"{self.entity} {ident}: unknown action {name!r} (actions: {', '.join(self._by_name)})",
                code="transition.unknown", **where)
        if state not in t.sources:
            allowed = ", ".join(self.allowed(state)) or "none, it is final"
            raise IllegalTransition(
                f"{self.entity} {ident}: cannot {name!r} from {state!r} (allowed from {state!r}: {allowed})",
                code="transition.state", allowed=self.allowed(state), **where)
        if guard and t.guard is not None:
            reason = t.guard(obj)
            if reason:
                # the guard's own problem (code and parameters) with the machine's words around it
                why = reason if isinstance(reason, Problem) else problem("", reason)
                raise IllegalTransition(problem(why.code or "transition.guard",
                                                f"{self.entity} {ident}: cannot {name!r}: {why.text}",
                                                **{**where, **why.params}))
        return t

    def apply(self, session: Session, obj: Any, name: str, *, actor: str | None = None, comment: str | None = None,
              at: datetime | None = None, data: dict[str, Any] | None = None) -> Transition:
        """Move `obj` along transition `name` and audit it (actor, time, comment, extra data)."""
        t = self.check(obj, name)
        before = getattr(obj, self.state_attr)
        setattr(obj, self.state_attr, t.target)
        entry = record_change(
            session, action=f"transition:{t.name}", entity=self.entity, entity_id=getattr(obj, self.id_attr),
            before={self.state_attr: before}, after={self.state_attr: t.target, **(data or {})},
            comment=comment, actor=actor,
        )
        entry.at = at or utcnow()
        return t

    def final_states(self) -> Iterable[str]:
        return [s for s in self.states if not self.allowed(s)]
