"""Issue 17 §3: the survey report's conclusions (what changed significantly, what to do) and the item
means per department, checked against independent pandas / scipy computations."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from sqms.reporting.excel import write_xlsx
from sqms.reporting.render import render_template
from sqms.surveys.analysis import analyse
from sqms.surveys.questionnaire import load_questionnaires
from sqms.surveys.rendering import TEMPLATE, excel_tables, html_context
from tests.conftest import ROOT

Q = load_questionnaires(ROOT / "config" / "questionnaires")["quarterly"]


def _responses(seed: int, n: int, rel1_mean: float, csat: list[float], prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        answers = {"REL1": float(np.clip(round(rng.normal(rel1_mean, 0.6)), 1, 5)),
                   "TAN1": float(np.clip(round(rng.normal(4.0, 0.6)), 1, 5))}
        if i % 3:
            answers["RES1"] = float(rng.integers(3, 6))
        rows.append({"response_id": f"{prefix}{i}", "department": ["CS", "OPS", "SALES"][i % 3],
                     "customer_id": f"{prefix}{i}", "csat": csat[i % len(csat)], "nps": 8.0, "answers": answers,
                     "comment": None})
    return pd.DataFrame(rows)


def test_item_means_per_department_match_a_groupby():
    now = _responses(1, 60, 4.0, [4.0, 5.0], "N")
    a = analyse(now, pd.DataFrame({"department": ["CS"] * 30}), Q, "zh_CN", 30)
    long = pd.DataFrame([{"department": r.department, "item": k, "score": v}
                         for r in now.itertuples() for k, v in r.answers.items()])
    expected = long.groupby(["department", "item"])["score"].mean()
    got = {(d["department"], code): m for d in a.item_means for code, m in d["means"].items() if m is not None}
    assert got == pytest.approx(expected.to_dict())
    assert [d["department"] for d in a.item_means] == ["CS", "OPS", "SALES"]
    assert [d["n"] for d in a.item_means] == [20, 20, 20] and all(d["low_confidence"] for d in a.item_means)
    cs = a.item_means[0]
    assert cs["means"]["EMP1"] is None and cs["counts"]["RES1"] == len(long.query("department == 'CS' and item == 'RES1'"))


def test_conclusions_name_the_significant_changes_with_the_fdr_held():
    before = _responses(2, 90, 4.3, [4.0, 5.0], "B")
    now = _responses(3, 90, 3.0, [2.0, 3.0, 4.0], "N")  # REL1 and CSAT fall, TAN1 and RES1 do not move
    a = analyse(now, pd.DataFrame({"department": ["CS"] * 120}), Q, "zh_CN", 30, previous=before)
    # independent: Welch t per item, Benjamini–Hochberg by hand
    p = {}
    for code in ("REL1", "TAN1", "RES1"):
        x = [r[code] for r in now["answers"] if code in r]
        y = [r[code] for r in before["answers"] if code in r]
        p[code] = scipy_stats.ttest_ind(x, y, equal_var=False).pvalue
    ranked = sorted(p, key=p.get)
    q, running = {}, 1.0
    for rank in range(len(ranked), 0, -1):
        running = min(running, p[ranked[rank - 1]] * len(ranked) / rank)
        q[ranked[rank - 1]] = running
    got = {r["code"]: r for r in a.item_changes}
    assert set(got) == set(p)
    for code in p:
        assert got[code]["q_value"] == pytest.approx(q[code])
        assert got[code]["significant"] == (q[code] < 0.05)
    assert got["REL1"]["significant"] and not got["TAN1"]["significant"]

    changes = [c["text"] for c in a.conclusions if c["kind"] == "change"]
    actions = [c["text"] for c in a.conclusions if c["kind"] == "action"]
    assert any(c.startswith("满意度均值较上次调查显著下降") for c in changes)
    assert any(c.startswith("题目 REL1") and "显著下降" in c for c in changes)
    assert not any("TAN1" in c for c in changes)
    assert any(c.startswith("满意度均值显著下降：请质量经理组织查明原因") for c in actions)
    worst = min((i for i in a.items if i["mean"] is not None), key=lambda i: i["mean"])
    assert worst["code"] == "REL1" and any(f"得分最低的是题目 {worst['code']}" in c for c in actions)
    assert any(c.startswith(f"{len(a.detractors)} 位不满意客户") for c in actions)


def test_no_change_says_so_and_the_report_shows_it(sqlite_settings, tmp_path):
    before = _responses(4, 60, 4.0, [4.0, 5.0], "B")
    now = _responses(4, 60, 4.0, [4.0, 5.0], "N")  # the same answers
    a = analyse(now, pd.DataFrame({"department": ["CS"] * 80}), Q, "zh_CN", 30, previous=before,
                department_names={"CS": "客服部", "OPS": "运营部", "SALES": "销售部"})
    assert [c["text"] for c in a.conclusions if c["kind"] == "change"] == [
        "与上次调查相比，各项结果均无统计学显著变化（差异在抽样波动范围内）。"]
    campaign = SimpleNamespace(code="2026-Q3", period_start="2026-07-01", period_end="2026-09-30")
    html = render_template(sqlite_settings, TEMPLATE, **html_context(
        a, campaign, sqlite_settings, "客户满意度调查", SimpleNamespace(code="2026-Q2")), version=1)
    section = html[html.index('<section id="conclusions">'):html.index('<section id="departments">')]
    assert "结论与建议" in section and "无统计学显著变化" in section and "建议措施" in section
    means = html[html.index('id="item-means"'):html.index('<section id="comments">')]
    assert "各部门各题均值" in means and means.count("<tr") == 1 + 3 + 1  # heading, CS/OPS/SALES, all
    cs = next(d for d in a.item_means if d["department"] == "CS")
    assert f"{cs['means']['REL1']:.2f}" in means
    path = write_xlsx(tmp_path / "s.xlsx", excel_tables(a, "zh_CN", campaign))
    book = openpyxl.load_workbook(path)
    rows = list(book["各部门各题均值"].iter_rows(values_only=True))
    assert rows[0][:3] == ("部门", "n", "TAN1") and rows[1][0] == "客服部"
    assert rows[1][rows[0].index("REL1")] == pytest.approx(round(cs["means"]["REL1"], 2))
    kinds = [r[0] for r in book["结论与建议"].iter_rows(min_row=2, values_only=True)]
    assert kinds[0] == "显著变化" and "建议措施" in kinds
