"""内审报告 — the internal audit report of one audit cycle: its data (plain values and DataFrames);
how it is rendered (HTML with inline SVG charts, XLSX) is `sqms.audits.rendering`.

The regulation: an internal audit once or twice a year (mid-year, year-end), organised by the
general manager's office, covers every department involved in service and audits people,
resources, technology and processes; nonconformities are rectified and verified, and the
audit report is an input of the management review. So the report says what was audited
(审核范围), what was found (审核发现, by department and by area), every nonconformity with its
corrective action, the observations and improvement opportunities, how this cycle compares with
the previous one (重复发现), and how far the previous cycle's nonconformities have been fixed
(上次不符合项整改情况).

    report = build_audit_report(session, settings, cycle)        # data only (here)
    generated = produce_audit_report(session, settings, cycle)   # files → recorded version (rendering)
    audit_report_markdown(report)                                # the Prefect artifact (rendering)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.actions.models import DONE, IN_PROGRESS, OPEN, VERIFIED, Action
from sqms.audits.checklists import AREA_LABELS, load_checklists
from sqms.audits.models import NONCONFORMITIES, RESULTS, AuditCycle, AuditFinding, AuditSlot
from sqms.calendar import to_local, utcnow
from sqms.actions.models import ACTION_STATE_LABELS
from sqms.config import ConfigError, Settings
from sqms.reporting.formatting import organisation_name, t


# labels in the two report languages: zh_CN, en
RESULT_LABELS: dict[str, tuple[str, str]] = {
    "conforming": ("符合", "Conforming"),
    "major": ("严重不符合", "Major nonconformity"),
    "minor": ("一般不符合", "Minor nonconformity"),
    "observation": ("观察项", "Observation"),
    "improvement": ("改进机会", "Opportunity for improvement"),
}
UNKNOWN_AREA = "unknown"  # a finding whose item is not on the slot's checklist any more
_AREAS = (*AREA_LABELS, UNKNOWN_AREA)
_AREA_LABELS = {**AREA_LABELS, UNKNOWN_AREA: ("未分类", "Unclassified")}

_FINDING_COLUMNS = ["department", "department_name", "item_code", "area", "area_label", "clause", "question",
                    "result", "result_label", "evidence", "notes", "carried_over", "carry_over_reason", "action_id",
                    "action_ref", "action_title", "owner", "owner_name", "due_on", "action_status",
                    "action_status_label", "overdue", "repeat"]


@dataclass
class AuditReport:
    """Everything the internal audit report shows, as plain values and DataFrames.

    - `scope`: one row per audited department (slot): department, department_name, day, auditor,
      auditor_name, checklist_code, checklist (its title), items, changed_items, recorded (findings in), recorded_at
    - `by_department` / `by_area`: department (area) and its label, a count per result of `RESULTS`, total
    - `nonconformities`: major then minor findings (the columns of `_FINDING_COLUMNS`): the item, what
      was found, the corrective action (ref, owner, due_on, status, overdue), carried_over, repeat
    - `observations`, `improvements`: the same columns for observations and improvement opportunities
    - `comparison`: result, label, previous, current, change (no previous cycle: previous is None)
    - `repeat_findings`: nonconformities of this cycle whose department and item were a
      nonconformity in the previous cycle too, with both results
    - `previous_nonconformities`: the previous cycle's nonconformities and where their actions stand now
      (verified, carried over into this cycle, overdue)
    - `totals`: the key figures (see `_totals`); `summary`: the executive summary sentences
    """

    cycle_code: str
    cycle_status: str
    organisation: str
    locale: str
    timezone: str
    generated_at: datetime
    as_of: datetime
    first_day: date | None
    last_day: date | None
    previous_code: str | None
    scope: pd.DataFrame
    by_department: pd.DataFrame
    by_area: pd.DataFrame
    nonconformities: pd.DataFrame
    observations: pd.DataFrame
    improvements: pd.DataFrame
    comparison: pd.DataFrame
    repeat_findings: pd.DataFrame
    previous_nonconformities: pd.DataFrame
    totals: dict[str, Any]
    summary: list[str] = field(default_factory=list)

    def key_figures(self) -> dict[str, Any]:
        """JSON-ready key figures (kept with the generated report, read by the management review)."""
        def matrix(frame: pd.DataFrame, key: str) -> dict[str, dict[str, int]]:
            return {str(row[key]): {r: int(row[r]) for r in RESULTS} for row in frame.to_dict("records")}

        return {
            "cycle": self.cycle_code,
            "previous": self.previous_code,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "totals": {k: v if v is None or isinstance(v, (str, bool)) else int(v) for k, v in self.totals.items()},
            "by_department": matrix(self.by_department, "department"),
            "by_area": matrix(self.by_area, "area"),
            "repeat_findings": [f"{r['department']}:{r['item_code']}" for r in self.repeat_findings.to_dict("records")],
            "summary": list(self.summary),
        }


def _label(labels: dict[str, tuple[str, str]], key: str | None, locale: str) -> str:
    zh, en = labels.get(key or "", (key or "", key or ""))
    return t(locale, zh, en)


def result_label(result: str, locale: str) -> str:
    return _label(RESULT_LABELS, result, locale)


# -- reading the cycle ----------------------------------------------------------------------------


def previous_cycle(session: Session, cycle: AuditCycle) -> AuditCycle | None:
    """The cycle before this one: the latest created before it (ids grow with time, codes need not sort)."""
    return session.scalars(select(AuditCycle).where(AuditCycle.id < cycle.id)
                           .order_by(AuditCycle.id.desc()).limit(1)).first()


def _slots(session: Session, cycle: AuditCycle | None, order: dict[str, int]) -> list[AuditSlot]:
    """The cycle's slots in the configured order of departments (the order every table follows)."""
    if cycle is None:
        return []
    slots = session.scalars(select(AuditSlot).where(AuditSlot.cycle_id == cycle.id)).all()
    return sorted(slots, key=lambda s: (order.get(s.department, len(order)), s.department))


def _findings(session: Session, cycle: AuditCycle | None) -> list[AuditFinding]:
    if cycle is None:
        return []
    return list(session.scalars(select(AuditFinding).where(AuditFinding.cycle_id == cycle.id)
                                .order_by(AuditFinding.id)))


def _actions(session: Session, findings: Iterable[AuditFinding]) -> dict[int, Action]:
    """The actions of these findings as they stand now (one query, not one per finding)."""
    ids = {f.action_id for f in findings if f.action_id is not None}
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Action).where(Action.id.in_(ids)))}


@dataclass
class _Context:
    """What turning findings into rows needs: names in the report language and today's local date."""

    locale: str
    today: date
    departments: dict[str, str]
    people: dict[str, str]
    order: dict[str, int]
    checklists: dict[str, str] = field(default_factory=dict)  # code -> title in the report language


def _item_of(slot: AuditSlot | None, code: str) -> dict[str, Any]:
    """The checklist item as it was used in the slot (the checklist may have changed since)."""
    for item in (slot.items if slot else None) or []:
        if isinstance(item, dict) and item.get("code") == code:
            return item
    return {}


def _finding_row(finding: AuditFinding, slot: AuditSlot | None, action: Action | None, ctx: _Context,
                 repeat: bool = False) -> dict[str, Any]:
    """One finding as the report lists it: the item it is about, what was found and its action."""
    item = _item_of(slot, finding.item_code)
    area = finding.area or item.get("area") or UNKNOWN_AREA
    overdue = action is not None and action.status in (OPEN, IN_PROGRESS) and action.due_on < ctx.today
    return {
        "department": finding.department,
        "department_name": ctx.departments.get(finding.department, finding.department),
        "item_code": finding.item_code, "area": area, "area_label": _label(_AREA_LABELS, area, ctx.locale),
        "clause": item.get("clause"),
        "question": (item.get("name_en") if not ctx.locale.startswith("zh") else None) or item.get("question"),
        "result": finding.result, "result_label": result_label(finding.result, ctx.locale),
        "evidence": finding.evidence, "notes": finding.notes,
        "carried_over": bool(finding.carried_over), "carry_over_reason": finding.carry_over_reason,
        "action_id": action.id if action else None, "action_ref": action.ref if action else None,
        "action_title": action.title if action else None, "owner": action.owner if action else None,
        "owner_name": ctx.people.get(action.owner, action.owner) if action else None,
        "due_on": action.due_on if action else None, "action_status": action.status if action else None,
        "action_status_label": _label(ACTION_STATE_LABELS, action.status, ctx.locale) if action else None,
        "overdue": overdue, "repeat": repeat,
    }


def _finding_frame(rows: list[dict[str, Any]], ctx: _Context) -> pd.DataFrame:
    """Major before minor, then departments in configured order, then item code."""
    frame = pd.DataFrame(rows, columns=_FINDING_COLUMNS).astype(
        {"action_id": "Int64", "carried_over": bool, "overdue": bool, "repeat": bool})
    if frame.empty:
        return frame
    frame["_r"] = frame["result"].map(RESULTS.index)
    frame["_d"] = frame["department"].map(lambda d: ctx.order.get(d, len(ctx.order)))
    return frame.sort_values(["_r", "_d", "item_code"]).drop(columns=["_r", "_d"]).reset_index(drop=True)


# -- the pieces -----------------------------------------------------------------------------------


def scope_table(slots: list[AuditSlot], findings: list[AuditFinding], ctx: _Context) -> pd.DataFrame:
    """审核范围: who audited which department on which day against which checklist, and how far
    its findings are recorded (an item without a finding has no result yet)."""
    recorded: dict[int, int] = {}
    for f in findings:
        recorded[f.slot_id] = recorded.get(f.slot_id, 0) + 1
    rows = [{
        "department": s.department, "department_name": ctx.departments.get(s.department, s.department),
        "day": s.day, "auditor": s.auditor, "auditor_name": ctx.people.get(s.auditor, s.auditor),
        "checklist_code": s.checklist_code, "checklist": ctx.checklists.get(s.checklist_code, s.checklist_code),
        "items": len(s.items or []), "changed_items": len(s.changed_items or []),
        "recorded": recorded.get(s.id, 0), "recorded_at": s.recorded_at,
    } for s in slots]
    return pd.DataFrame(rows, columns=["department", "department_name", "day", "auditor", "auditor_name",
                                       "checklist_code", "checklist", "items", "changed_items", "recorded",
                                       "recorded_at"])


def _count_matrix(rows: pd.DataFrame, key: str, keys: list[str], labels: list[str], label_column: str) -> pd.DataFrame:
    """A count per result for each key (every key listed, zero when nothing was found), and the total."""
    counts = rows.groupby([key, "result"]).size() if len(rows) else pd.Series(dtype="int64")
    out = pd.DataFrame({key: keys, label_column: labels})
    for result in RESULTS:
        out[result] = [int(counts.get((k, result), 0)) for k in keys]
    out["total"] = out[list(RESULTS)].sum(axis=1).astype("int64")
    return out


def by_department(rows: pd.DataFrame, scope: pd.DataFrame) -> pd.DataFrame:
    """审核发现按部门: every audited department, in configured order."""
    return _count_matrix(rows, "department", scope["department"].tolist(), scope["department_name"].tolist(),
                         "department_name")


def by_area(rows: pd.DataFrame, locale: str) -> pd.DataFrame:
    """审核发现按审核要素: the four areas the regulation names (and "unclassified" only when it occurs)."""
    areas = [a for a in _AREAS if a != UNKNOWN_AREA or (len(rows) and (rows["area"] == UNKNOWN_AREA).any())]
    return _count_matrix(rows, "area", areas, [_label(_AREA_LABELS, a, locale) for a in areas], "area_label")


def comparison(current: pd.DataFrame, previous: pd.DataFrame | None, locale: str) -> pd.DataFrame:
    """Counts by result then and now; `previous` and `change` are None without a previous cycle."""
    now = current["result"].value_counts() if len(current) else pd.Series(dtype="int64")
    then = previous["result"].value_counts() if previous is not None and len(previous) else pd.Series(dtype="int64")
    rows = []
    for result in RESULTS:
        before = int(then.get(result, 0)) if previous is not None else None
        after = int(now.get(result, 0))
        rows.append({"result": result, "label": result_label(result, locale), "previous": before,
                     "current": after, "change": None if before is None else after - before})
    return pd.DataFrame(rows, columns=["result", "label", "previous", "current", "change"])


def _nc_keys(rows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(department, item code) → result of every nonconformity."""
    ncs = rows[rows["result"].isin(NONCONFORMITIES)] if len(rows) else rows
    return {(r["department"], r["item_code"]): r["result"] for r in ncs.to_dict("records")}


def repeat_findings(nonconformities: pd.DataFrame, previous_rows: pd.DataFrame) -> pd.DataFrame:
    """重复发现: the same department and item a nonconformity in both cycles — the corrective action
    of last time did not prevent it from happening again."""
    before = _nc_keys(previous_rows)
    frame = nonconformities[nonconformities["repeat"]].copy()
    frame.insert(frame.columns.get_loc("result") + 1, "previous_result",
                 [before[(d, i)] for d, i in zip(frame["department"], frame["item_code"])])
    return frame.reset_index(drop=True)


def previous_status(previous_rows: pd.DataFrame, current_rows: pd.DataFrame) -> pd.DataFrame:
    """上次不符合项整改情况: the previous cycle's nonconformities with their actions as they are now
    (verified or not, overdue), whether they were formally carried over into this cycle (the flag
    is set on the old finding when its cycle closes with it open) and whether they came back."""
    frame = previous_rows[previous_rows["result"].isin(NONCONFORMITIES)].copy()
    again = _nc_keys(current_rows)
    frame["verified"] = (frame["action_status"] == VERIFIED).astype(bool)
    frame["repeat"] = [(d, i) in again for d, i in zip(frame["department"], frame["item_code"])]
    return frame.reset_index(drop=True)


# -- key figures and the summary --------------------------------------------------------------------


def _totals(report: AuditReport) -> dict[str, Any]:
    """The figures the summary, the cards and the artifact are made of."""
    scope, ncs, prev = report.scope, report.nonconformities, report.previous_nonconformities
    counts = {row["result"]: row for row in report.comparison.to_dict("records")}
    items, recorded = int(scope["items"].sum()), int(scope["recorded"].sum())
    previous_ncs = sum(counts[r]["previous"] or 0 for r in NONCONFORMITIES)
    return {
        "departments": len(scope), "auditors": scope["auditor"].nunique(), "items": items,
        "recorded": recorded, "unrecorded": max(items - recorded, 0),
        **{r: counts[r]["current"] for r in RESULTS},
        "nonconformities": len(ncs), "with_action": int(ncs["action_id"].notna().sum()),
        "without_action": int(ncs["action_id"].isna().sum()), "overdue_actions": int(ncs["overdue"].sum()),
        "carried_over": int(ncs["carried_over"].sum()), "repeat": len(report.repeat_findings),
        "previous": report.previous_code, "previous_nonconformities": previous_ncs if report.previous_code else None,
        "previous_verified": int((prev["action_status"] == VERIFIED).sum()),
        "previous_done": int((prev["action_status"] == DONE).sum()),
        "previous_in_progress": int(prev["action_status"].isin([OPEN, IN_PROGRESS]).sum()),
        "previous_overdue": int(prev["overdue"].sum()),
        "previous_no_action": int(prev["action_id"].isna().sum()),
        "previous_carried_over": int(prev["carried_over"].sum()),
    }


def _n(n: int, one: str, many: str | None = None) -> str:
    """`1 observation`, `2 observations`: English sentences count things."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def _join(locale: str, parts: list[str]) -> str:
    return t(locale, "、", ", ").join(parts)


def _findings_sentence(r: AuditReport) -> str:
    """Scope and the count of each kind of finding: the first thing the management review reads."""
    loc, k = r.locale, r.totals
    days = (t(loc, f"{r.first_day} 至 {r.last_day}，", f"{r.first_day} to {r.last_day}, ")
            if r.first_day and r.last_day else "")
    text = t(
        loc,
        f"本次内审覆盖 {k['departments']} 个部门（{days}内审员 {k['auditors']} 名），审核检查项 {k['items']} 项，"
        f"共发现严重不符合 {k['major']} 项、一般不符合 {k['minor']} 项、观察项 {k['observation']} 项、"
        f"改进机会 {k['improvement']} 项",
        f"The internal audit covered {_n(k['departments'], 'department')} ({days}{_n(k['auditors'], 'auditor')}) "
        f"and {_n(k['items'], 'checklist item')}: {k['major']} major and "
        f"{_n(k['minor'], 'minor nonconformity', 'minor nonconformities')}, {_n(k['observation'], 'observation')} "
        f"and {_n(k['improvement'], 'opportunity', 'opportunities')} for improvement")
    if k["unrecorded"]:
        return text + t(loc, f"；尚有 {k['unrecorded']} 项未记录审核结果。",
                        f"; {_n(k['unrecorded'], 'item has', 'items have')} no result recorded yet.")
    return text + t(loc, "。", ".")


def _nonconformity_sentence(r: AuditReport) -> str:
    """Where the nonconformities are (areas, departments) and whether each has its corrective action."""
    loc, k = r.locale, r.totals
    if not k["nonconformities"]:
        return t(loc, "本次内审未发现不符合项。", "No nonconformity was found.")
    areas = r.by_area.assign(n=r.by_area["major"] + r.by_area["minor"]).query("n > 0")
    areas = areas.sort_values("n", ascending=False, kind="stable")  # ties: in the regulation's order
    where = _join(loc, [t(loc, f"{a}（{n} 项）", f"{a.lower()} ({n})") for a, n in zip(areas["area_label"], areas["n"])])
    departments = _join(loc, r.by_department.query("major + minor > 0")["department_name"].tolist())
    actions = (t(loc, "均已开具纠正措施", "each has a corrective action") if not k["without_action"] else
               t(loc, f"已开具纠正措施 {k['with_action']} 项，尚未开具 {k['without_action']} 项",
                 f"{_n(k['with_action'], 'has', 'have')} a corrective action, {k['without_action']} not yet"))
    return t(loc, f"不符合项分布在{where}方面，涉及{departments}；{actions}。",
             f"Nonconformities by area: {where}; in {departments}; {actions}.")


def _comparison_sentence(r: AuditReport) -> str:
    """Better or worse than last time, and what came back (重复发现)."""
    loc, k = r.locale, r.totals
    if r.previous_code is None:
        return t(loc, "本次为首次内审，无上次结果可供比较。", "This is the first internal audit: nothing to compare with.")
    before, now = k["previous_nonconformities"], k["nonconformities"]
    trend = (t(loc, "减少为", "down to") if now < before else t(loc, "增加为", "up to") if now > before
             else t(loc, "持平，仍为", "unchanged at"))
    repeat = (t(loc, f"其中重复发现 {k['repeat']} 项（同一部门同一检查项再次不符合）",
                f"{_n(k['repeat'], 'is a repeat finding', 'are repeat findings')} (same department and item again)") if k["repeat"]
              else t(loc, "无重复发现", "none is a repeat finding"))
    return t(loc, f"与上次内审（{r.previous_code}）相比，不符合项由 {before} 项{trend} {now} 项，{repeat}。",
             f"Compared with the previous audit ({r.previous_code}), nonconformities went from {before} "
             f"{trend} {now}; {repeat}.")


def _follow_up_sentence(r: AuditReport) -> str | None:
    """How far last time's nonconformities have been fixed and verified."""
    loc, k = r.locale, r.totals
    if r.previous_code is None:
        return None
    if not k["previous_nonconformities"]:
        return t(loc, "上次内审未发现不符合项。", "The previous audit found no nonconformity.")
    return t(
        loc,
        f"上次内审的 {k['previous_nonconformities']} 项不符合项：已验证关闭 {k['previous_verified']} 项，"
        f"已完成待验证 {k['previous_done']} 项，整改中 {k['previous_in_progress']} 项（其中逾期 "
        f"{k['previous_overdue']} 项），未开具措施 {k['previous_no_action']} 项；转入本次跟踪 "
        f"{k['previous_carried_over']} 项。",
        f"The previous audit's {_n(k['previous_nonconformities'], 'nonconformity', 'nonconformities')}: "
        f"{k['previous_verified']} verified, "
        f"{k['previous_done']} done awaiting verification, {k['previous_in_progress']} in progress "
        f"({k['previous_overdue']} overdue), {k['previous_no_action']} without an action; "
        f"{k['previous_carried_over']} carried over into this audit.")


def executive_summary(report: AuditReport) -> list[str]:
    """A few sentences in the report language for the management review: scope and findings, where
    the nonconformities are, the comparison with last time, the follow-up of last time's."""
    sentences = [_findings_sentence(report), _nonconformity_sentence(report), _comparison_sentence(report),
                 _follow_up_sentence(report)]
    return [s for s in sentences if s]


# -- building it --------------------------------------------------------------------------------------


def _context(settings: Settings, as_of: datetime) -> _Context:
    locale = settings.locale
    return _Context(locale=locale, today=to_local(as_of, settings.tz).date(),
                    departments={d.code: d.label(locale) for d in settings.departments},
                    people={p.email: p.name for p in settings.people},
                    order={d.code: n for n, d in enumerate(settings.departments)},
                    checklists=_checklist_titles(settings, locale))


def _checklist_titles(settings: Settings, locale: str) -> dict[str, str]:
    try:
        return {c.code: c.title.get(locale) for c in load_checklists(settings.checklists_dir).values()}
    except ConfigError:  # a broken checklist file must not stop the report: codes are shown then
        return {}


def _rows(session: Session, cycle: AuditCycle | None, ctx: _Context,
          repeat_of: dict[tuple[str, str], str] | None = None) -> tuple[list[AuditSlot], list[AuditFinding],
                                                                        pd.DataFrame]:
    """A cycle's slots, findings and one row per finding (`repeat` set from the other cycle's NCs)."""
    slots = _slots(session, cycle, ctx.order)
    findings = _findings(session, cycle)
    by_id = {s.id: s for s in slots}
    actions = _actions(session, findings)
    repeat_of = repeat_of or {}
    rows = [_finding_row(f, by_id.get(f.slot_id), actions.get(f.action_id) if f.action_id else None, ctx,
                         repeat=f.result in NONCONFORMITIES and (f.department, f.item_code) in repeat_of)
            for f in findings]
    return slots, findings, _finding_frame(rows, ctx)


def build_audit_report(session: Session, settings: Settings, cycle: AuditCycle, *,
                       as_of: datetime | None = None) -> AuditReport:
    """The internal audit report of `cycle` as it stands at `as_of` (default now: the state of the
    actions and what is overdue are judged then), compared with the previous cycle."""
    as_of = as_of or utcnow()
    ctx = _context(settings, as_of)
    previous = previous_cycle(session, cycle)
    _, _, previous_rows = _rows(session, previous, ctx)
    slots, findings, rows = _rows(session, cycle, ctx, repeat_of=_nc_keys(previous_rows))
    scope = scope_table(slots, findings, ctx)
    nonconformities = rows[rows["result"].isin(NONCONFORMITIES)].reset_index(drop=True)
    report = AuditReport(
        cycle_code=cycle.code, cycle_status=cycle.status,
        organisation=organisation_name(settings.organisation, ctx.locale), locale=ctx.locale,
        timezone=settings.organisation.timezone, generated_at=utcnow(), as_of=as_of,
        first_day=cycle.first_day or (scope["day"].min() if len(scope) else None),
        last_day=cycle.last_day or (scope["day"].max() if len(scope) else None),
        previous_code=previous.code if previous else None, scope=scope,
        by_department=by_department(rows, scope), by_area=by_area(rows, ctx.locale),
        nonconformities=nonconformities,
        observations=rows[rows["result"] == "observation"].reset_index(drop=True),
        improvements=rows[rows["result"] == "improvement"].reset_index(drop=True),
        comparison=comparison(rows, previous_rows if previous else None, ctx.locale),
        repeat_findings=repeat_findings(nonconformities, previous_rows),
        previous_nonconformities=previous_status(previous_rows, rows),
        totals={},
    )
    report.totals = _totals(report)
    report.summary = executive_summary(report)
    return report


__all__ = ["RESULT_LABELS", "AuditReport", "build_audit_report", "previous_cycle"]
