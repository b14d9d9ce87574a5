"""PDCA improvement cycles (持续改进): plan → do → check → act → closed, or back to plan.

After each monthly KPI computation, a department that missed a KPI target by the configured rule
(N months in a row, or once by more than a margin) gets a cycle owned by its manager, with the
baseline and the target. A special-cause signal on a control chart (sqms.spc, on the KPI's bad side)
opens one too, even while the target is met: an early warning. Plan needs a root cause and at least
one action; do lasts while its actions are open; check is automatic and judges whether the process
shifted, not one month's value: the `check_months` months after the actions are done (from
`check_after_months` on) are compared with the months that opened the cycle; the measure worked when
they moved to the good side (eight in a row on the good side of the old centre line, or a mean beyond
3σ/√k from it: a change of limits) and their level meets the target. Met: the owner records the
standard or procedure changed (with a version) and the cycle closes. Not met: a new iteration, and
the quality manager is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms import spc
from sqms.actions.models import DONE, VERIFIED, Action
from sqms.actions.service import NewAction, open_action
from sqms.audit_trail import record_change
from sqms.calendar import periods_ending, shift_period, to_local, utcnow
from sqms.config import Settings
from sqms.improvement.models import ACT, CHECK, CLOSED, DO, PLAN, STATES, ImprovementCycle
from sqms.kpi_catalog import KPI_BY_CODE, observations, status_of
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.records.models import KpiValue
from sqms.records.control import control_series
from sqms.records.service import history, latest_computation, results_frame, results_of
from sqms.reporting.formatting import kpi_label, t
from sqms.rule_errors import RuleError, problem
from sqms.statemachine import StateMachine, Transition

PROCESS = "improvement"
ENTITY = "improvement_cycle"


class ImprovementError(RuleError):
    """Bad input for a cycle; the message says what to fix."""


LIFECYCLE = StateMachine(
    entity=ENTITY,
    states=STATES,
    initial=PLAN,
    id_attr="ref",
    transitions=(
        Transition("start", (PLAN,), DO, guard=lambda c: None if (c.root_cause or "").strip() else problem(
            "pdca.needs.root_cause", "the root cause is required before doing (sqms pdca plan REF --root-cause ...)")),
        Transition("check", (DO,), CHECK),
        Transition("decide", (CHECK,), ACT),
        Transition("standardise", (ACT,), CLOSED, guard=lambda c: (
            problem("pdca.target_missed", "the KPI did not reach its target: the cycle goes back to plan")
            if not c.check_met else None if (c.standard or "").strip() and (c.standard_version or "").strip()
            else problem("pdca.needs.standard",
                         "name the standard or procedure changed and its version (--standard, --version)"))),
        Transition("iterate", (ACT,), PLAN),
    ),
)


# -- the opening rule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Miss:
    department: str
    kpi: str
    value: float
    target: float
    reason: str


def _values(session: Session, period: str) -> dict[tuple[str, str], KpiValue]:
    computation = latest_computation(session, period)
    if computation is None:
        return {}
    return {(v.department, v.kpi): v for v in computation.values if v.department is not None}


def shortfall_pct(kpi: str, value: float, target: float) -> float:
    """How far a value is on the wrong side of its target, in % of the target (0 when met)."""
    if target == 0:
        return 0.0
    gap = (target - value) if KPI_BY_CODE[kpi].better == "higher" else (value - target)
    return max(0.0, 100 * gap / abs(target))


def misses(session: Session, settings: Settings, period: str) -> list[Miss]:
    """Department KPIs of `period` that call for a cycle: missed `consecutive_misses` months in a row,
    or missed once by more than `margin_pct` of the target. A value resting on fewer than `min_n`
    observations never counts (for a complaint rate: fewer complaints, whatever the records)."""
    rule = settings.improvement
    current = _values(session, period)
    earlier = [_values(session, shift_period(period, -k)) for k in range(1, rule.consecutive_misses)]

    def enough(v: KpiValue) -> bool:
        return observations(v.kpi, v.n, v.extra) >= rule.min_n

    found = []
    for (department, kpi), v in sorted(current.items()):
        if v.status != "missed" or v.value is None or v.target is None or not enough(v):
            continue
        streak = all(e.get((department, kpi)) is not None and e[(department, kpi)].status == "missed"
                     and enough(e[(department, kpi)]) for e in earlier)
        short = shortfall_pct(kpi, v.value, v.target)
        if streak:
            reason = t(settings.locale, f"连续 {rule.consecutive_misses} 个月未达标",
                       f"missed {rule.consecutive_misses} months in a row")
        elif short > rule.margin_pct:
            reason = t(settings.locale, f"未达标幅度 {short:.1f}%（超过目标的 {rule.margin_pct:g}%）",
                       f"missed by {short:.1f}% of the target (more than {rule.margin_pct:g}%)")
        else:
            continue
        found.append(Miss(department, kpi, v.value, v.target, reason))
    if rule.open_on_signal:
        found += _signals(session, settings, period, current, {(m.department, m.kpi) for m in found}, enough)
    return sorted(found, key=lambda m: (m.department, m.kpi))


SIGNAL_HISTORY_MONTHS = 13  # the window of the monthly report's control charts


def _signals(session: Session, settings: Settings, period: str, current: dict[tuple[str, str], KpiValue],
             already: set[tuple[str, str]], enough) -> list[Miss]:
    """Department KPIs with a special-cause signal on their bad side completed in `period`, on the
    monthly report's 13 months (the earlier months from their latest computation, computed and stored
    when missing, as the report itself does, so that a first run sees its history too)."""
    periods = periods_ending(period, SIGNAL_HISTORY_MONTHS)
    computation = latest_computation(session, period)
    if computation is None:
        return []
    past = history(session, settings, periods[:-1], as_of=computation.as_of)
    frames = [f for f in (past, results_frame(results_of(computation), period)) if len(f)]
    history_frame = pd.concat(frames, ignore_index=True)
    departments = sorted({d for d, _ in current})
    found = []
    for series in control_series(history_frame, periods, departments, settings.kpi.control_baseline_months):
        key = (series.department, series.kpi)
        v = current.get(key)
        if not series.current or key in already or v is None or v.value is None or v.target is None or not enough(v):
            continue
        words = t(settings.locale, "；", "; ").join(series.rules(settings.locale))
        early = v.status == "met"
        reason = t(settings.locale, f"控制图特殊原因信号：{words}" + ("（目标仍达标，预警）" if early else ""),
                   f"special-cause signal: {words}" + (" (target still met: early warning)" if early else ""))
        found.append(Miss(series.department, series.kpi, v.value, v.target, reason))  # type: ignore[arg-type]
    return found


def open_for_misses(session: Session, settings: Settings, period: str, now: datetime | None = None
                    ) -> list[ImprovementCycle]:
    """One cycle per department and KPI that calls for one and has none open."""
    now = now or utcnow()
    open_pairs = {(c.department, c.kpi) for c in session.scalars(select(ImprovementCycle).where(
        ImprovementCycle.status != CLOSED))}
    opened = []
    for miss in misses(session, settings, period):
        if (miss.department, miss.kpi) in open_pairs:
            continue
        manager = settings.department_manager(miss.department)
        quality = settings.people_with_role("quality_manager")
        owner = manager or (quality[0] if quality else None)
        if owner is None:
            continue
        cycle = ImprovementCycle(department=miss.department, kpi=miss.kpi, status=PLAN, iteration=1,
                                 owner=owner.email, opened_period=period, reason=miss.reason, baseline=miss.value,
                                 target=miss.target, history=[], created_at=now)
        session.add(cycle)
        session.flush()
        record_change(session, action="create", entity=ENTITY, entity_id=cycle.ref, actor="sqms:pdca", after={
            "department": miss.department, "kpi": miss.kpi, "baseline": miss.value, "target": miss.target,
            "period": period, "reason": miss.reason})
        _mail(session, settings, cycle, "pdca_opened", [owner.email], stage="opened")
        opened.append(cycle)
    return opened


# -- what the owner does ----------------------------------------------------------------------------


def get(session: Session, ref: str) -> ImprovementCycle:
    ident = str(ref).upper().removeprefix("PDCA-")
    cycle = session.get(ImprovementCycle, int(ident)) if ident.isdigit() else None
    if cycle is None:
        raise ImprovementError(f"improvement cycle {ref!r} not found", code="not_found", ref=str(ref))
    return cycle


def actions_of(session: Session, cycle: ImprovementCycle, iteration: int | None = None) -> list[Action]:
    """The actions of an iteration (the current one by default)."""
    prefix = f"{cycle.ref}:{iteration or cycle.iteration}:"
    return list(session.scalars(select(Action).where(Action.source == "improvement_cycle",
                                                     Action.source_ref.like(prefix + "%")).order_by(Action.id)))


def plan(session: Session, settings: Settings, cycle: ImprovementCycle, *, root_cause: str | None = None,
         action_title: str | None = None, action_owner: str | None = None, due_on=None,
         actor: str | None = None) -> Action | None:
    """Record the root cause and/or add an action of this iteration (only while planning)."""
    if cycle.status != PLAN:
        raise ImprovementError(f"{cycle.ref} is in {cycle.status}: the plan is made in the plan stage",
                               code="pdca.not_planning", ref=cycle.ref, state=cycle.status)
    if root_cause is not None:
        if not root_cause.strip():
            raise ImprovementError("the root cause cannot be empty", code="required", field="root_cause")
        record_change(session, action="update", entity=ENTITY, entity_id=cycle.ref, actor=actor,
                      before={"root_cause": cycle.root_cause}, after={"root_cause": root_cause.strip()})
        cycle.root_cause = root_cause.strip()
    action = None
    if action_title:
        n = len(actions_of(session, cycle)) + 1
        action = open_action(session, settings, NewAction(
            source="improvement_cycle", source_ref=f"{cycle.ref}:{cycle.iteration}:{n}", type="improvement",
            title=action_title, department=cycle.department, owner=action_owner or cycle.owner, due_on=due_on,
            problem=f"{cycle.ref} {kpi_label(cycle.kpi, settings.locale)}: {cycle.reason}",
            links=[(ENTITY, cycle.ref)]), actor=actor)
    session.flush()
    return action


def start(session: Session, settings: Settings, cycle: ImprovementCycle, *, actor: str | None = None) -> None:
    """Plan → do: a root cause and at least one action."""
    LIFECYCLE.check(cycle, "start")
    if not actions_of(session, cycle):
        raise ImprovementError(f"{cycle.ref}: add at least one action first (sqms pdca plan {cycle.ref} --action ...)",
                               code="pdca.needs.action", ref=cycle.ref)
    LIFECYCLE.apply(session, cycle, "start", actor=actor, data={"actions": [a.ref for a in actions_of(session, cycle)]})


def standardise(session: Session, settings: Settings, cycle: ImprovementCycle, *, standard: str, version: str,
                actor: str | None = None) -> None:
    """Act, when the target was met: the standard or procedure changed, with its version; closes."""
    cycle.standard, cycle.standard_version = standard.strip(), version.strip()
    LIFECYCLE.apply(session, cycle, "standardise", actor=actor,
                    data={"standard": cycle.standard, "version": cycle.standard_version})
    cycle.closed_at = utcnow()


# -- the automatic steps ------------------------------------------------------------------------------


def _value(session: Session, period: str, department: str, kpi: str) -> KpiValue | None:
    computation = latest_computation(session, period)
    if computation is None:
        return None
    return session.scalars(select(KpiValue).where(KpiValue.computation_id == computation.id,
                                                  KpiValue.department == department, KpiValue.kpi == kpi)).first()


def advance(session: Session, settings: Settings, period: str, now: datetime | None = None) -> list[tuple[str, str]]:
    """After the KPIs of `period` are stored: open cycles for new misses, move do → check when the
    actions are done, decide the checks whose month is computed, iterate the failed ones."""
    now = now or utcnow()
    done = [(c.ref, "opened") for c in open_for_misses(session, settings, period, now)]
    this_month = to_local(now, settings.tz).strftime("%Y-%m")
    for cycle in session.scalars(select(ImprovementCycle).where(ImprovementCycle.status.in_((DO, CHECK)))
                                 .order_by(ImprovementCycle.id)):
        if cycle.status == DO:
            actions = actions_of(session, cycle)
            if actions and all(a.status in (DONE, VERIFIED) for a in actions):
                finished = max(a.done_at or now for a in actions)
                cycle.do_ended_period = to_local(finished, settings.tz).strftime("%Y-%m")
                cycle.check_period = check_months(settings, cycle)[-1]
                LIFECYCLE.apply(session, cycle, "check", actor="sqms:pdca",
                                data={"check_period": cycle.check_period})
                done.append((cycle.ref, "check"))
        if cycle.status == CHECK and cycle.check_period and cycle.check_period <= max(period, this_month):
            verdict = judge(session, settings, cycle)
            if verdict is None:
                continue  # a month of the check is not computed yet (or has no data): a later run decides
            cycle.check_value, cycle.check_met = verdict.level, verdict.effective
            LIFECYCLE.apply(session, cycle, "decide", actor="sqms:pdca", data={
                "period": cycle.check_period, "value": verdict.level, "target": cycle.target,
                "met": cycle.check_met, "shifted": verdict.shifted, "months": verdict.months})
            done.append((cycle.ref, "decide"))
            if not cycle.check_met:
                _iterate(session, settings, cycle)
                done.append((cycle.ref, "iterate"))
            else:
                _mail(session, settings, cycle, "pdca_met", [cycle.owner], stage="met")
    session.flush()
    return done


@dataclass(frozen=True)
class Verdict:
    """The Check: the level of the months read, whether the process shifted, and so whether it worked."""

    months: list[str]
    level: float
    shifted: bool | None  # None: too little history for control limits
    level_met: bool

    @property
    def effective(self) -> bool:
        return self.level_met and self.shifted is not False


def check_months(settings: Settings, cycle: ImprovementCycle) -> list[str]:
    rule = settings.improvement
    return [shift_period(cycle.do_ended_period, rule.check_after_months + i) for i in range(rule.check_months)]


def judge(session: Session, settings: Settings, cycle: ImprovementCycle) -> Verdict | None:
    """Whether the process shifted after the actions (None while a month of the check is not computed).

    The months that opened the cycle (`consecutive_misses`, at least 2, ending with the opening month)
    give the old centre line; the check months are the points judged against it. With too little
    history for limits (no σ), every check month has to meet the target instead."""
    rule = settings.improvement
    after = []
    for p in check_months(settings, cycle):
        if latest_computation(session, p) is None:
            return None
        v = _value(session, p, cycle.department, cycle.kpi)
        if v is not None and v.value is not None:
            after.append((p, v.value, v.n))
    if not after:
        return None
    reference = []
    for p in periods_ending(cycle.opened_period, max(2, rule.consecutive_misses)):
        v = _value(session, p, cycle.department, cycle.kpi)
        if v is not None and v.value is not None:
            reference.append((v.value, v.n))
    variation = [v.value if v is not None else None for v in (
        _value(session, p, cycle.department, cycle.kpi) for p in periods_ending(cycle.opened_period, 13))]
    values = [r[0] for r in reference] + [a[1] for a in after]
    counts = [int(r[1]) for r in reference] + [int(a[2]) for a in after]
    kind = spc.CHART_OF.get(cycle.kpi)
    if kind in ("p", "u"):
        weight = sum(a[2] for a in after)
        level = sum(a[1] * a[2] for a in after) / weight if weight else sum(a[1] for a in after) / len(after)
    else:
        level = sum(a[1] for a in after) / len(after)
    chart = spc.chart_for(cycle.kpi, values, counts, baseline=len(reference),
                          sigma=spc.moving_range_sigma(variation)) if reference else None
    better = KPI_BY_CODE[cycle.kpi].better
    if chart is None or any(chart.sigma[i] is None for i in range(len(reference), len(values))):
        return Verdict([a[0] for a in after], level, None,
                       all(status_of(cycle.kpi, a[1], cycle.target) == "met" for a in after))
    shifted = spc.sustained_shift(chart, better, since=len(reference) - 1, min_points=len(after))
    return Verdict([a[0] for a in after], level, shifted, status_of(cycle.kpi, level, cycle.target) == "met")


def _iterate(session: Session, settings: Settings, cycle: ImprovementCycle) -> None:
    """Not met: the iteration is kept in the history, a new one starts in plan; the quality manager is told."""
    cycle.history = [*cycle.history, {"iteration": cycle.iteration, "root_cause": cycle.root_cause,
                                      "actions": [a.ref for a in actions_of(session, cycle)],
                                      "check_period": cycle.check_period, "check_value": cycle.check_value}]
    LIFECYCLE.apply(session, cycle, "iterate", actor="sqms:pdca",
                    data={"iteration": cycle.iteration + 1, "escalated_to": "quality_manager"})
    cycle.iteration += 1
    cycle.root_cause = None
    cycle.do_ended_period = cycle.check_period = None
    cycle.check_value = cycle.check_met = None
    quality = [p.email for p in settings.people_with_role("quality_manager")]
    _mail(session, settings, cycle, "pdca_escalated", [cycle.owner, *quality], stage=f"iteration-{cycle.iteration}")


def _mail(session: Session, settings: Settings, cycle: ImprovementCycle, template: str, recipients: list[str],
          stage: str) -> None:
    department = settings.department(cycle.department).label(settings.locale)
    definition = KPI_BY_CODE[cycle.kpi]
    for email in dict.fromkeys(recipients):
        person = next((p for p in settings.people if p.email == email), email)
        mail = compose(settings, template, person, cycle=cycle, department=department,
                       kpi=kpi_label(cycle.kpi, settings.locale), unit=definition.unit,
                       better="≥" if definition.better == "higher" else "≤")
        enqueue(session, process=PROCESS, obj=f"{cycle.ref}:{stage}", period=cycle.opened_period, email=mail)


# -- the status board ----------------------------------------------------------------------------------


def board(session: Session, settings: Settings) -> list[dict]:
    """Every cycle, open ones first: state, iteration, baseline → target, check result, actions."""
    rows = []
    cycles = session.scalars(select(ImprovementCycle).order_by(ImprovementCycle.status == CLOSED,
                                                               ImprovementCycle.id))
    for c in cycles:
        actions = actions_of(session, c)
        rows.append({
            "ref": c.ref, "department": settings.department(c.department).label(settings.locale), "kpi": c.kpi,
            "kpi_label": kpi_label(c.kpi, settings.locale), "status": c.status, "iteration": c.iteration,
            "owner": c.owner, "opened": c.opened_period, "baseline": c.baseline, "target": c.target,
            "check_period": c.check_period, "check_value": c.check_value, "check_met": c.check_met,
            "actions": len(actions), "actions_done": sum(1 for a in actions if a.status in (DONE, VERIFIED)),
            "standard": c.standard, "standard_version": c.standard_version,
        })
    return rows
