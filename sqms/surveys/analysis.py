"""What a survey campaign says (pure pandas): response rate, CSAT and NPS with their intervals, per
department, SERVQUAL dimension and item, the gap between perception and expectation, the change
since the previous campaign with a significance test, low-n flags, comments and detractors."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from sqms.stats import Change, mean_change, nps_change, nps_margin, proportion_change, wilson_interval
from sqms.surveys.questionnaire import Questionnaire
from sqms.themes import Theme, themes

DIMENSIONS = ("tangibles", "reliability", "responsiveness", "assurance", "empathy")
DIMENSION_LABELS = {"tangibles": ("有形性", "Tangibles"), "reliability": ("可靠性", "Reliability"),
                    "responsiveness": ("响应性", "Responsiveness"), "assurance": ("保证性", "Assurance"),
                    "empathy": ("移情性", "Empathy")}


@dataclass
class Scores:
    """CSAT and NPS of one group of responses."""

    n: int
    csat_n: int
    csat_mean: float | None
    top2_pct: float | None
    top2_ci: tuple[float, float] | None
    nps_n: int
    nps: float | None
    nps_margin: float | None
    promoters: int
    detractors: int
    low_confidence: bool


def scores(frame: pd.DataFrame, low_n: int) -> Scores:
    csat = frame["csat"].dropna().astype(float)
    nps = frame["nps"].dropna().astype(float)
    top2 = int((csat >= 4).sum())
    ci = wilson_interval(top2, len(csat))
    promoters, detractors = int((nps >= 9).sum()), int((nps <= 6).sum())
    return Scores(
        n=len(frame), csat_n=len(csat), csat_mean=float(csat.mean()) if len(csat) else None,
        top2_pct=100 * top2 / len(csat) if len(csat) else None,
        top2_ci=(100 * ci[0], 100 * ci[1]) if ci else None, nps_n=len(nps),
        nps=100 * (promoters - detractors) / len(nps) if len(nps) else None,
        nps_margin=nps_margin(promoters, detractors, len(nps)), promoters=promoters, detractors=detractors,
        low_confidence=0 < min(len(csat), len(nps)) < low_n or (len(csat) == 0 and len(nps) == 0))


def _answers(frame: pd.DataFrame) -> pd.DataFrame:
    """One column per item code (NaN where not answered)."""
    return pd.DataFrame([dict(a or {}) for a in frame["answers"]], index=frame.index)


@dataclass
class CampaignAnalysis:
    response_rate: float | None
    invited: int
    responded: int
    overall: Scores
    departments: list[dict[str, Any]]  # department, invited, responded, rate, scores
    dimensions: list[dict[str, Any]]  # dimension, perception, expectation, gap, n
    items: list[dict[str, Any]]  # code, text, dimension, mean, n, expectation, gap
    changes: dict[str, Change | None] = field(default_factory=dict)  # csat_mean, top2_pct, nps
    comments: list[dict[str, Any]] = field(default_factory=list)
    themes: list[Theme] = field(default_factory=list)  # words of the comments new since the previous campaign
    detractors: list[dict[str, Any]] = field(default_factory=list)
    answered: int = 0  # invitees who answered (the response rate's numerator)
    item_means: list[dict[str, Any]] = field(default_factory=list)  # per department: name, n, means {code: mean}
    item_changes: list[dict[str, Any]] = field(default_factory=list)  # item means against the previous campaign
    conclusions: list[dict[str, str]] = field(default_factory=list)  # kind (change/action/note), text

    def key_figures(self) -> dict[str, Any]:
        """JSON-ready figures kept with the campaign (for the management review)."""
        overall = asdict(self.overall)
        return {"response_rate": self.response_rate, "invited": self.invited, "responded": self.responded,
                "answered": self.answered,
                **{k: overall[k] for k in ("csat_mean", "top2_pct", "nps", "nps_margin", "csat_n", "nps_n")},
                "dimensions": {d["dimension"]: d["gap"] if d["gap"] is not None else d["perception"]
                               for d in self.dimensions},
                "changes": {k: asdict(v) | {"significant": v.significant} for k, v in self.changes.items() if v},
                "detractors": len(self.detractors)}


def analyse(responses: pd.DataFrame, invitations: pd.DataFrame, q: Questionnaire, locale: str, low_n: int,
            previous: pd.DataFrame | None = None, department_names: dict[str, str] | None = None
            ) -> CampaignAnalysis:
    """`responses`: response_id, department, customer_id, csat, nps, answers (dict), comment.
    `invitations`: department, responded (bool). `previous`: the previous campaign's responses."""
    names = department_names or {}
    zh = locale.startswith("zh")
    invited, responded = len(invitations), len(responses)
    # the rate counts invitees who answered (imported answers of customers never invited are answers,
    # not returns); without the invitations' answer marks, every response is taken as a return
    if "responded_at" in invitations:
        answered = invitations["responded_at"].notna()
    else:
        answered = pd.Series([True] * min(responded, invited) + [False] * max(invited - responded, 0),
                             index=invitations.index)
        answered_by_dept = responses["department"].value_counts()
    departments = []
    for code in sorted(set(invitations["department"]) | set(responses["department"])):
        part = responses[responses["department"] == code]
        mask = invitations["department"] == code
        asked = int(mask.sum())
        returned = int(answered[mask].sum()) if "responded_at" in invitations else int(answered_by_dept.get(code, 0))
        departments.append({"department": code, "name": names.get(code, code), "invited": asked,
                            "responded": len(part), "rate": 100 * returned / asked if asked else None,
                            "scores": scores(part, low_n)})
    answers = _answers(responses)
    items, dimensions = [], []
    twins = {i.expectation_of: i.code for i in q.items if i.expectation_of}
    for item in q.items:
        if item.expectation_of:
            continue
        values = answers[item.code].dropna() if item.code in answers else pd.Series(dtype=float)
        twin = twins.get(item.code)
        expected = answers[twin].dropna() if twin and twin in answers else pd.Series(dtype=float)
        mean = float(values.mean()) if len(values) else None
        exp = float(expected.mean()) if len(expected) else None
        items.append({"code": item.code, "text": item.text.get(locale), "dimension": item.dimension,
                      "dimension_label": DIMENSION_LABELS[item.dimension][0 if zh else 1] if item.dimension else None,
                      "mean": mean, "n": len(values), "expectation": exp,
                      "gap": mean - exp if mean is not None and exp is not None else None,
                      "low_confidence": 0 < len(values) < low_n})
    for dimension in DIMENSIONS:
        mine = [i for i in items if i["dimension"] == dimension]
        if not mine:
            continue
        # per response: the mean of its answered items of the dimension, then the mean over responses
        perception = _dimension_mean(answers, [i["code"] for i in mine])
        expectation = _dimension_mean(answers, [twins[i["code"]] for i in mine if i["code"] in twins])
        label = DIMENSION_LABELS[dimension][0 if zh else 1]
        dimensions.append({"dimension": dimension, "label": label, "perception": perception[0], "n": perception[1],
                           "expectation": expectation[0],
                           "gap": perception[0] - expectation[0] if None not in (perception[0], expectation[0])
                           else None})
    analysis = CampaignAnalysis(
        response_rate=100 * int(answered.sum()) / invited if invited else None, answered=int(answered.sum()), invited=invited, responded=responded,
        overall=scores(responses, low_n), departments=departments, dimensions=dimensions, items=items,
        comments=[{"department": names.get(r.department, r.department), "csat": r.csat, "nps": r.nps,
                   "comment": r.comment} for r in responses.itertuples() if isinstance(r.comment, str) and r.comment],
        detractors=[{"response_id": r.response_id, "customer_id": r.customer_id, "department": r.department,
                     "csat": r.csat, "nps": r.nps} for r in responses.itertuples() if is_detractor(r.nps, r.csat)])
    analysis.item_means = item_means_by_department(responses, [i["code"] for i in items], names, low_n)
    if previous is not None and len(previous):
        analysis.changes = changes(previous, responses)
        analysis.item_changes = item_changes(previous, responses, items)
    before = previous["comment"] if previous is not None and "comment" in previous else []
    analysis.themes = themes([c["comment"] for c in analysis.comments],
                             [c for c in before if isinstance(c, str) and c])
    analysis.conclusions = conclusions(analysis, locale, low_n)
    return analysis


def item_means_by_department(responses: pd.DataFrame, codes: list[str], names: dict[str, str],
                             low_n: int) -> list[dict[str, Any]]:
    """Each department's mean of every item (None where nobody answered it), with its answers n and
    the † of fewer than `low_n` responses; departments in code order."""
    answers = _answers(responses)
    out = []
    for code in sorted(set(responses["department"].dropna())):
        mask = (responses["department"] == code).to_numpy()
        part = answers[mask]
        means = {c: (float(part[c].mean()) if c in part and part[c].notna().any() else None) for c in codes}
        counts = {c: int(part[c].notna().sum()) if c in part else 0 for c in codes}
        out.append({"department": code, "name": names.get(code, code), "n": int(mask.sum()), "means": means,
                    "counts": counts, "low_confidence": int(mask.sum()) < low_n})
    return out


def item_changes(before: pd.DataFrame, after: pd.DataFrame, items: list[dict[str, Any]],
                 fdr: float = 0.05) -> list[dict[str, Any]]:
    """Every item's mean against the previous campaign (Welch t), the p-values adjusted together
    (Benjamini–Hochberg): with many items, one of them moving by chance is not a finding."""
    from scipy.stats import false_discovery_control

    a, b = _answers(after), _answers(before)
    out = []
    for item in items:
        code = item["code"]
        if code not in a or code not in b:
            continue
        change = mean_change(b[code].dropna().astype(float).tolist(), a[code].dropna().astype(float).tolist())
        if change is not None:
            out.append({"code": code, "text": item["text"], "change": change})
    if out:
        adjusted = false_discovery_control([r["change"].p_value for r in out], method="bh")
        for row, q in zip(out, adjusted):
            row["q_value"] = float(q)
            row["significant"] = bool(q < fdr)
    return out


_MEASURES = {"csat_mean": ("满意度均值", "the CSAT mean", "{:+.2f}"), "top2_pct": ("满意比例", "the top-2 share", "{:+.1f} 个百分点"),
             "nps": ("NPS", "the NPS", "{:+.1f}")}


def conclusions(a: CampaignAnalysis, locale: str, low_n: int) -> list[dict[str, str]]:
    """结论与建议: what changed significantly since the previous campaign (the headline figures and the
    items, FDR-controlled), and what to do: the weakest item or SERVQUAL gap, the department furthest
    below the rest, the return visits to the unhappy customers, the new themes of the comments."""
    zh = locale.startswith("zh")

    def t(z: str, e: str) -> str:
        return z if zh else e

    out: list[dict[str, str]] = []
    moved = [(k, c) for k, c in a.changes.items() if c is not None and c.significant]
    for key, c in moved:
        zh_name, en_name, fmt = _MEASURES[key]
        diff = fmt.format(c.difference) if zh else (f"{c.difference:+.2f}" if key == "csat_mean" else
                                                    f"{c.difference:+.1f}" + (" points" if key == "top2_pct" else ""))
        up = c.difference > 0
        out.append({"kind": "change", "text": t(
            f"{zh_name}较上次调查显著{'上升' if up else '下降'}（{diff}，p = {c.p_value:.3f}，{c.test}）。",
            f"{en_name[0].upper() + en_name[1:]} {'rose' if up else 'fell'} significantly since the previous "
            f"survey ({diff}, p = {c.p_value:.3f}, {c.test}).")})
    for row in a.item_changes:
        if row.get("significant"):
            c, up = row["change"], row["change"].difference > 0
            out.append({"kind": "change", "text": t(
                f"题目 {row['code']}「{row['text']}」均值显著{'上升' if up else '下降'}（{c.before:.2f} → {c.after:.2f}，"
                f"校正后 q = {row['q_value']:.3f}）。",
                f"Item {row['code']} “{row['text']}” {'rose' if up else 'fell'} significantly ({c.before:.2f} → "
                f"{c.after:.2f}, adjusted q = {row['q_value']:.3f}).")})
    if a.changes and not any(r["kind"] == "change" for r in out):
        out.append({"kind": "change", "text": t("与上次调查相比，各项结果均无统计学显著变化（差异在抽样波动范围内）。",
                                                "No result changed significantly since the previous survey "
                                                "(the differences are within sampling variation).")})
    for key, c in moved:
        if c.difference < 0:
            out.append({"kind": "action", "text": t(
                f"{_MEASURES[key][0]}显著下降：请质量经理组织查明原因，必要时开启 PDCA 改进循环。",
                f"{_MEASURES[key][1][0].upper() + _MEASURES[key][1][1:]} fell significantly: the quality manager "
                "should have the causes found and, where needed, open a PDCA cycle.")})
    gaps = [i for i in a.items if i["gap"] is not None and i["gap"] < 0]
    scored = [i for i in a.items if i["mean"] is not None]
    if gaps:
        worst = min(gaps, key=lambda i: i["gap"])
        out.append({"kind": "action", "text": t(
            f"感知与期望差距最大的是题目 {worst['code']}「{worst['text']}」（差距 {worst['gap']:.2f}），应作为下一阶段的改进重点。",
            f"The largest gap between perception and expectation is item {worst['code']} “{worst['text']}” "
            f"({worst['gap']:.2f}): the focus of the next improvement.")})
    elif scored:
        worst = min(scored, key=lambda i: i["mean"])
        out.append({"kind": "action", "text": t(
            f"得分最低的是题目 {worst['code']}「{worst['text']}」（均值 {worst['mean']:.2f}），应作为下一阶段的改进重点。",
            f"The lowest-scoring item is {worst['code']} “{worst['text']}” (mean {worst['mean']:.2f}): the focus "
            "of the next improvement.")})
    overall = a.overall.csat_mean
    solid = [d for d in a.departments if d["scores"].csat_mean is not None and not d["scores"].low_confidence]
    if overall is not None and len(solid) > 1:
        low = min(solid, key=lambda d: d["scores"].csat_mean)
        if low["scores"].csat_mean < overall:
            out.append({"kind": "action", "text": t(
                f"{low['name']}满意度均值最低（{low['scores'].csat_mean:.2f}，整体 {overall:.2f}）：请部门经理对照各题均值找出薄弱环节。",
                f"{low['name']} has the lowest CSAT mean ({low['scores'].csat_mean:.2f}, overall {overall:.2f}): "
                "its manager should read the item means by department for the weak points.")})
    if a.detractors:
        out.append({"kind": "action", "text": t(
            f"{len(a.detractors)} 位不满意客户已各自安排回访（部门即时措施），回访结果纳入下次报告。",
            f"{len(a.detractors)} unhappy customers each get a return visit (an immediate action of their "
            "department); the outcome goes into the next report.")})
    new = [th.word for th in a.themes if th.new][:3]
    if new:
        out.append({"kind": "action", "text": t(
            f"客户留言出现新主题：{'、'.join(new)}，建议相关部门核实。",
            f"New themes in the comments: {', '.join(new)}; the departments concerned should look into them.")})
    if a.overall.low_confidence:
        out.append({"kind": "note", "text": t(f"回复不足 {low_n} 份，以上结论仅供参考。",
                                              f"Fewer than {low_n} answers: these conclusions are indicative only.")})
    return out


def _dimension_mean(answers: pd.DataFrame, codes: list[str]) -> tuple[float | None, int]:
    present = [c for c in codes if c in answers]
    if not present:
        return None, 0
    per_response = answers[present].mean(axis=1, skipna=True).dropna()
    return (float(per_response.mean()) if len(per_response) else None), len(per_response)


def is_detractor(nps: Any, csat: Any) -> bool:
    """An unhappy customer (不满意客户) who gets a return visit: CSAT 1–2, or NPS 0–6 unless the
    customer said they were satisfied (CSAT 4–5): someone who scores 5 but would not recommend
    us is an NPS detractor in the NPS figure, not a dissatisfied customer to call back."""
    has_csat = csat is not None and not pd.isna(csat)
    has_nps = nps is not None and not pd.isna(nps)
    if has_csat and csat <= 2:
        return True
    return has_nps and nps <= 6 and not (has_csat and csat >= 4)


def changes(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, Change | None]:
    """CSAT mean (Welch t), top-2 share (two-proportion z) and NPS (z) against the previous campaign."""
    cb, ca = before["csat"].dropna().astype(float), after["csat"].dropna().astype(float)
    nb, na = before["nps"].dropna().astype(float), after["nps"].dropna().astype(float)
    return {
        "csat_mean": mean_change(cb.tolist(), ca.tolist()),
        "top2_pct": proportion_change(int((cb >= 4).sum()), len(cb), int((ca >= 4).sum()), len(ca)),
        "nps": nps_change((int((nb >= 9).sum()), int((nb <= 6).sum()), len(nb)),
                          (int((na >= 9).sum()), int((na <= 6).sum()), len(na))),
    }
