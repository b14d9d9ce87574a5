"""满意度调查报告 — the report of one survey campaign, HTML (inline SVG charts) and XLSX, kept as a
versioned report for the management review."""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup
from sqlalchemy.orm import Session

from sqms.calendar import utcnow
from sqms.config import Settings
from sqms.reporting import charts
from sqms.reporting.excel import DECIMAL1, DECIMAL2, PCT, Cell, PrintInfo, Sheet, Table, flag
from sqms.reporting.formatting import t
from sqms.reporting.models import GeneratedReport
from sqms.reporting.spec import ReportSpec, produce_report
from sqms.surveys.analysis import CampaignAnalysis
from sqms.surveys.models import SurveyCampaign
from sqms.surveys.report import SurveyReport, build_survey_report

KIND = "survey-report"
TEMPLATE = "reports/survey_report.html.j2"


def _charts(a: CampaignAnalysis, locale: str) -> list[dict[str, Any]]:
    departments = [d for d in a.departments if d["responded"]]
    names = [d["name"] for d in departments]
    out = [
        (t(locale, "各部门满意度均值（1–5）", "CSAT mean by department (1–5)"), charts.department_bars(
            names, [d["scores"].csat_mean for d in departments], decimals=2, locale=locale,
            low_confidence=[d["scores"].low_confidence for d in departments], colour=charts.COLOURS["bar"])),
        (t(locale, "各部门净推荐值 NPS", "NPS by department"), charts.department_bars(
            names, [d["scores"].nps for d in departments], decimals=1, locale=locale,
            low_confidence=[d["scores"].low_confidence for d in departments], colour=charts.COLOURS["bar"])),
        (t(locale, "SERVQUAL 各维度感知得分", "SERVQUAL dimensions: perception"), charts.department_bars(
            [d["label"] for d in a.dimensions], [d["perception"] for d in a.dimensions], decimals=2, locale=locale,
            colour=charts.COLOURS["bar"])),
    ]
    if any(d["gap"] is not None for d in a.dimensions):
        gaps = [d for d in a.dimensions if d["gap"] is not None]
        out.append((t(locale, "SERVQUAL 差距（感知 − 期望）", "SERVQUAL gap (perception − expectation)"),
                    charts.department_bars([d["label"] for d in gaps], [d["gap"] for d in gaps], decimals=2,
                                           locale=locale, statuses=["met" if d["gap"] >= 0 else "missed"
                                                                    for d in gaps])))
    return [{"label": label, "svg": Markup(svg)} for label, svg in out]


def html_context(a: CampaignAnalysis, campaign: SurveyCampaign, settings: Settings, title: str,
                 previous: SurveyCampaign | None) -> dict[str, Any]:
    locale = settings.locale
    return {"locale": locale, "title": f"{title} {campaign.code}", "organisation": settings.organisation.name
            if locale.startswith("zh") else (settings.organisation.name_en or settings.organisation.name),
            "period": f"{campaign.period_start} – {campaign.period_end}", "generated_at": utcnow(),
            "a": a, "campaign": campaign, "previous": previous, "charts": _charts(a, locale),
            "low_n": settings.kpi.low_confidence_n}


def excel_tables(a: CampaignAnalysis, locale: str, previous: SurveyCampaign | None = None) -> list[Table]:
    """The workbook: figures as numbers (rates as percent, the top-2 interval as two numbers), † for
    n < 30, the comparison with the previous campaign or why there is none."""
    def r(v: Any, d: int = 2) -> Any:
        return None if v is None else round(float(v), d)

    def pct(v: Any) -> Cell | None:
        return None if v is None else Cell(round(float(v), 1), PCT)

    overall = a.overall
    low, high = overall.top2_ci if overall.top2_ci else (None, None)
    summary = pd.DataFrame({
        t(locale, "项目", "item"): [t(locale, "邀请", "invited"), t(locale, "回复", "responded"),
                                   t(locale, "其中受邀客户回复", "invitees who answered"),
                                   t(locale, "回收率", "response rate"), "CSAT", t(locale, "满意比例", "top-2 share"),
                                   t(locale, "满意比例 95% 区间下限", "top-2 95% CI lower"),
                                   t(locale, "满意比例 95% 区间上限", "top-2 95% CI upper"),
                                   "NPS", t(locale, "NPS ±", "NPS margin"), t(locale, "不满意客户", "detractors")],
        t(locale, "数值", "value"): [a.invited, a.responded, a.answered, pct(a.response_rate), Cell(r(overall.csat_mean), DECIMAL2),
                                    pct(overall.top2_pct), pct(low), pct(high), Cell(r(overall.nps, 1), DECIMAL1),
                                    Cell(r(overall.nps_margin, 1), DECIMAL1), len(a.detractors)]}, dtype=object)
    departments = pd.DataFrame([{
        t(locale, "部门", "department"): d["name"], t(locale, "邀请", "invited"): d["invited"],
        t(locale, "回复", "responded"): d["responded"], t(locale, "回收率", "rate"): pct(d["rate"]),
        "CSAT": r(d["scores"].csat_mean), t(locale, "满意比例", "top-2 share"): pct(d["scores"].top2_pct),
        "NPS": r(d["scores"].nps, 1), "n<30": flag(d["scores"].low_confidence)} for d in a.departments])
    dimensions = pd.DataFrame([{t(locale, "维度", "dimension"): d["label"], t(locale, "感知", "perception"):
                                r(d["perception"]), t(locale, "期望", "expectation"): r(d["expectation"]),
                                t(locale, "差距", "gap"): r(d["gap"]), "n": d["n"]} for d in a.dimensions])
    items = pd.DataFrame([{t(locale, "题目", "item"): i["code"], t(locale, "内容", "text"): i["text"],
                           t(locale, "均值", "mean"): r(i["mean"]), "n": i["n"],
                           t(locale, "期望", "expectation"): r(i["expectation"]), t(locale, "差距", "gap"): r(i["gap"])}
                          for i in a.items])
    comments = pd.DataFrame([{t(locale, "部门", "department"): c["department"], "CSAT": c["csat"], "NPS": c["nps"],
                              t(locale, "意见", "comment"): c["comment"]} for c in a.comments],
                            columns=[t(locale, "部门", "department"), "CSAT", "NPS", t(locale, "意见", "comment")])
    measures = {"csat_mean": ("CSAT 均值", "CSAT mean", DECIMAL2), "top2_pct": ("满意比例", "top-2 share", PCT),
                "nps": ("NPS", "NPS", DECIMAL1)}
    change_columns = [t(locale, "指标", "measure"), t(locale, "上次调查", "previous campaign"),
                      t(locale, "上次", "before"), t(locale, "本次", "now"), t(locale, "变化", "change"), "p",
                      t(locale, "显著", "significant"), t(locale, "检验", "test")]
    changes = pd.DataFrame([[
        t(locale, *measures.get(k, (k, k, None))[:2]), previous.code if previous else None,
        Cell(r(c.before), measures.get(k, ("", "", None))[2]), Cell(r(c.after), measures.get(k, ("", "", None))[2]),
        Cell(r(c.difference), measures.get(k, ("", "", None))[2]), Cell(r(c.p_value, 4), "0.0000"),
        t(locale, "是", "yes") if c.significant else t(locale, "否", "no"), c.test]
        for k, c in a.changes.items() if c], columns=change_columns, dtype=object)
    if previous is None:
        why = t(locale, "这是该问卷的第一次调查，没有上次调查可以比较。",
                "This is the questionnaire's first campaign: there is no previous campaign to compare with.")
    else:
        why = t(locale, f"上次调查 {previous.code} 没有可比较的回复。",
                f"The previous campaign {previous.code} has no answers to compare with.")
    kinds = {"change": t(locale, "显著变化", "changed"), "action": t(locale, "建议措施", "to do"),
             "note": t(locale, "说明", "note")}
    conclusions = pd.DataFrame([{t(locale, "类别", "kind"): kinds[c["kind"]], t(locale, "结论", "conclusion"): c["text"]}
                                for c in a.conclusions],
                               columns=[t(locale, "类别", "kind"), t(locale, "结论", "conclusion")])
    item_means = pd.DataFrame([{t(locale, "部门", "department"): d["name"], "n": d["n"],
                                **{i["code"]: r(d["means"].get(i["code"])) for i in a.items},
                                "n<30": flag(d["low_confidence"])} for d in a.item_means],
                              columns=[t(locale, "部门", "department"), "n", *[i["code"] for i in a.items], "n<30"])
    return [Sheet(t(locale, "摘要", "Summary"), summary),
            Sheet(t(locale, "结论与建议", "Conclusions"), conclusions,
                  empty_note=t(locale, "没有需要特别处理的结论。", "Nothing calls for action.")),
            Sheet(t(locale, "部门", "Departments"), departments),
            Sheet(t(locale, "维度", "Dimensions"), dimensions,
                  empty_note=t(locale, "问卷没有 SERVQUAL 维度。", "The questionnaire has no SERVQUAL dimensions.")),
            Sheet(t(locale, "题目", "Items"), items),
            Sheet(t(locale, "各部门各题均值", "Item means by department"), item_means,
                  empty_note=t(locale, "没有回复。", "No answers.")),
            Sheet(t(locale, "与上次比较", "Changes"), changes, empty_note=why),
            Sheet(t(locale, "客户意见", "Comments"), comments,
                  empty_note=t(locale, "没有客户留下意见。", "No customer left a comment."))]


def print_info(r: SurveyReport, version: int | None = None) -> PrintInfo:
    campaign = r.campaign
    return PrintInfo(f"{r.title} {campaign.code}", f"{campaign.period_start} – {campaign.period_end}", version, r.locale)


SPEC = ReportSpec(kind=KIND, template=TEMPLATE, stem=lambda r: f"survey-report-{r.campaign.code}",
                  context=lambda r, settings: html_context(r.analysis, r.campaign, settings, r.title, r.previous),
                  tables=lambda r: excel_tables(r.analysis, r.locale, r.previous), print_info=print_info)


def produce_survey_report(session: Session, settings: Settings, campaign: SurveyCampaign) -> GeneratedReport:
    """Analysis → HTML + XLSX in the next version's folder → the recorded report (flushed)."""
    r = build_survey_report(session, settings, campaign)
    return produce_report(session, settings, SPEC, r, period=campaign.code, locale=settings.locale,
                          summary=r.analysis.key_figures())
