"""Themes of free text on a small fixed set: segmentation, stop words, weighting against the baseline."""

from __future__ import annotations

import pytest

from sqms.themes import themes, tokens

BASELINE = [
    "客服态度很好，问题解决了",
    "维修师傅态度好，很专业",
    "发票开错了，重新开了一次",
    "客服态度一般，但是问题解决了",
    "报价比较清楚",
    "维修及时，态度不错",
]
CURRENT = [
    "电话一直占线，等了很久没人接听",
    "电话占线，打了三次才接通",
    "在线客服回复太慢，等待时间太长",
    "等待时间太长了，电话占线",
    "维修师傅态度好",
    "发票开错了",
]


def test_tokens_drop_stop_words_punctuation_and_single_characters():
    words = tokens("电话一直占线，等了很久没人接听！")
    assert "占线" in words and "电话" in words
    assert not words & {"一直", "了", "，", "！", "等"}


def test_new_words_weigh_more_than_old_ones():
    found = themes(CURRENT, BASELINE, top=5)
    assert [t.word for t in found[:2]] == ["占线", "电话"]  # in 3 of 6 texts now, never before
    top = found[0]
    assert (top.count, top.share_pct, top.baseline_share_pct, top.new) == (3, 50.0, 0.0, True)
    assert top.weight == pytest.approx((3.5 / 7) / (0.5 / 7))  # = 7
    assert top.quotes == ("电话一直占线，等了很久没人接听", "电话占线，打了三次才接通")
    assert "态度" not in [t.word for t in found]  # said as often before: not a theme of this month
    assert all(t.count >= 2 for t in found)


def test_no_texts_no_themes():
    assert themes([], BASELINE) == [] and themes(["", "  "], []) == []


def test_the_complaint_report_shows_this_months_new_themes(sqlite_settings, tmp_path):
    from datetime import datetime, timedelta

    from sqms.complaints.report import build_complaint_analysis
    from sqms.db import UnitOfWork
    from sqms.org.service import sync_organisation
    from sqms.complaints.rendering import render_complaint_report
    from tests.factories import TZ, _complaint

    def complaint(ident: str, dept: str, category: str, at: datetime, text: str):
        row = _complaint(ident, dept, category, at)
        row.description = text
        return row

    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, sqlite_settings)
        february, march = datetime(2026, 2, 3, 9, tzinfo=TZ), datetime(2026, 3, 3, 9, tzinfo=TZ)
        uow.session.add_all([complaint(f"F{i}", "CS", "服务态度", february + timedelta(hours=i), text)
                             for i, text in enumerate(BASELINE)])  # the baseline
        uow.session.add_all([complaint(f"M{i}", "OPS", "响应不及时", march + timedelta(hours=i), text)
                             for i, text in enumerate(CURRENT)])
        uow.commit()
    with UnitOfWork(sqlite_settings.database_url, actor="test") as uow:
        analysis = build_complaint_analysis(uow.session, sqlite_settings, "2026-03")
    assert [t.word for t in analysis.themes[:2]] == ["占线", "电话"]
    html = render_complaint_report(analysis, sqlite_settings, tmp_path)["html"].read_text(encoding="utf-8")
    assert "投诉描述中的新主题" in html and "占线 <span class=\"flag-bad\">新</span>" in html
    assert "“电话一直占线，等了很久没人接听”" in html


def test_survey_comments_get_their_themes_against_the_previous_campaign():
    from pathlib import Path

    import pandas as pd

    from sqms.surveys.analysis import analyse
    from sqms.surveys.questionnaire import load_questionnaires

    q = load_questionnaires(Path(__file__).parent.parent / "config" / "questionnaires")["annual"]

    def frame(texts: list[str]) -> pd.DataFrame:
        return pd.DataFrame([{"response_id": f"R{i}", "department": "CS", "customer_id": f"C{i}", "csat": 4.0,
                              "nps": 8.0, "answers": {"REL1": 4.0}, "comment": text} for i, text in enumerate(texts)])

    a = analyse(frame(CURRENT), pd.DataFrame({"department": ["CS"] * 6}), q, "zh_CN", 30, previous=frame(BASELINE))
    assert [th.word for th in a.themes[:2]] == ["占线", "电话"] and a.themes[0].baseline_share_pct == 0
    first = analyse(frame(CURRENT), pd.DataFrame({"department": ["CS"] * 6}), q, "zh_CN", 30)
    assert first.themes[0].count >= 2  # a first campaign: every recurring word is new
