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
    if previous is not None and len(previous):
        analysis.changes = changes(previous, responses)
    before = previous["comment"] if previous is not None and "comment" in previous else []
    analysis.themes = themes([c["comment"] for c in analysis.comments],
                             [c for c in before if isinstance(c, str) and c])
    return analysis


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
