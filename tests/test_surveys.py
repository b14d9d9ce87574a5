"""Survey campaigns: sampling (allocation, reproducibility, exclusions), statistics against independent
computations, SERVQUAL gaps, the whole lifecycle with mails, detractor actions and the report."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from scipy import stats as scipy_stats
from sqlalchemy import select

from sqms.actions.models import Action
from sqms.db import UnitOfWork
from sqms.ingest import load_mapping
from sqms.notify.models import OutboxMessage
from sqms.org.models import Customer
from sqms.records.models import ServiceRecord
from sqms.stats import mean_change, nps_change, nps_margin, proportion_change, wilson_interval
from sqms.surveys.analysis import analyse as analyse_frames, is_detractor
from sqms.surveys.models import SurveyInvitation, SurveyResponse
from sqms.surveys.questionnaire import load_questionnaires
from sqms.surveys.service import (Answer, advance, allocate, draw_sample, effective_minimum, get, next_step, plan_campaign,
                                  previous_quarter, previous_year, record_answer, sampling_frame)
from sqms.tokens import issue
from tests.xlsx_checks import assert_print_ready
from tests.conftest import ROOT

TZ = ZoneInfo("Asia/Shanghai")


# -- periods and allocation ------------------------------------------------------------------------


def test_previous_periods():
    assert previous_quarter(date(2026, 10, 5)) == ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30))
    assert previous_quarter(date(2026, 1, 5)) == ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31))
    assert previous_quarter(date(2026, 4, 5)) == ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31))
    assert previous_year(date(2026, 1, 10)) == ("2025-annual", date(2025, 1, 1), date(2025, 12, 31))


def test_allocation_by_hand():
    # min 20 each (OPS has only 8), then 400 − 48 = 352 in proportion to what is left: 880 : 280
    assert allocate({"CS": 900, "OPS": 8, "SALES": 300}, 400, 20) == {"CS": 287, "OPS": 8, "SALES": 105}
    assert allocate({"CS": 10, "OPS": 5}, 400, 20) == {"CS": 10, "OPS": 5}  # fewer than wanted: everybody
    # issue 20 item 9: the number asked is kept; the minimum per department shrinks to fit it
    assert allocate({"CS": 100, "OPS": 100}, 10, 20) == {"CS": 5, "OPS": 5}
    assert sum(allocate({"CS": 300, "OPS": 200, "SALES": 90, "HR": 40}, 40, 20).values()) == 40


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["CS", "OPS", "SALES", "HR", "FIN"]), st.integers(0, 500), min_size=1),
       st.integers(1, 600), st.integers(0, 50))
def test_allocation_properties(population, total, minimum):
    got = allocate(population, total, minimum)
    assert set(got) == set(population)
    used = effective_minimum(population, total, minimum)
    assert used <= minimum
    for k, n in population.items():
        assert min(used, n) <= got[k] <= n
    assert sum(got.values()) == min(total, sum(population.values()))  # never more than asked


def test_sample_is_reproducible_and_stratified():
    frame = pd.DataFrame({"customer_id": [f"C{i:03d}" for i in range(300)],
                          "department": ["CS"] * 200 + ["OPS"] * 90 + ["HR"] * 10,
                          "email": [f"c{i}@x.cn" for i in range(300)]})
    one = draw_sample(frame, 60, 5, seed=42)
    two = draw_sample(frame.sample(frac=1, random_state=1), 60, 5, seed=42)  # row order does not matter
    other = draw_sample(frame, 60, 5, seed=43)
    assert one["customer_id"].tolist() == two["customer_id"].tolist()
    assert one["customer_id"].tolist() != other["customer_id"].tolist()
    # 5 each, then 45 in proportion to 195 : 85 : 5 → 30.79, 13.42, 0.79 → largest remainders: CS, HR
    assert one.groupby("department").size().to_dict() == {"CS": 36, "HR": 6, "OPS": 18}
    assert one["customer_id"].is_unique


# -- statistics against independent computations ---------------------------------------------------


def test_wilson_against_scipy():
    for k, n in [(0, 10), (7, 10), (41, 50), (300, 301)]:
        ci = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-6)


def test_welch_by_hand():
    before, after = [3, 4, 4, 5, 2, 4, 3, 5], [4, 5, 5, 5, 4, 4, 5, 3, 5]
    m1, m2 = sum(before) / 8, sum(after) / 9
    v1 = sum((x - m1) ** 2 for x in before) / 7
    v2 = sum((x - m2) ** 2 for x in after) / 8
    se = math.sqrt(v1 / 8 + v2 / 9)
    df = (v1 / 8 + v2 / 9) ** 2 / ((v1 / 8) ** 2 / 7 + (v2 / 9) ** 2 / 8)
    p = 2 * scipy_stats.t.sf(abs((m2 - m1) / se), df)
    change = mean_change(before, after)
    assert change.difference == pytest.approx(m2 - m1)
    assert change.p_value == pytest.approx(p, rel=1e-9)


def test_proportion_and_nps_tests_by_hand():
    change = proportion_change(60, 100, 80, 100)  # 60 % → 80 %
    pooled = 0.7
    z = 0.2 / math.sqrt(pooled * 0.3 * (2 / 100))
    assert change.difference == pytest.approx(20) and change.p_value == pytest.approx(2 * (1 - scipy_stats.norm.cdf(z)))
    assert change.significant
    # NPS 40/100 promoters, 20 detractors (NPS 20) → 50/100, 10 (NPS 40)
    nps = nps_change((40, 20, 100), (50, 10, 100))
    var_b, var_a = 0.4 + 0.2 - 0.2 ** 2, 0.5 + 0.1 - 0.4 ** 2
    z = 0.2 / math.sqrt(var_b / 100 + var_a / 100)
    assert nps.difference == pytest.approx(20) and nps.p_value == pytest.approx(2 * scipy_stats.norm.sf(z))
    assert nps_margin(40, 20, 100) == pytest.approx(1.959963984540054 * math.sqrt(var_b / 100) * 100)


def test_analysis_with_servqual_gaps_by_hand():
    q = load_questionnaires(ROOT / "config" / "questionnaires")["annual"]
    responses = pd.DataFrame([
        {"response_id": "R1", "department": "CS", "customer_id": "A", "csat": 5.0, "nps": 10.0,
         "answers": {"REL1": 4.0, "REL1_E": 5.0, "REL2": 2.0, "REL2_E": 5.0, "TAN1": 5.0}, "comment": "<b>好</b>"},
        {"response_id": "R2", "department": "CS", "customer_id": "B", "csat": 2.0, "nps": 8.0,
         "answers": {"REL1": 3.0, "REL1_E": 4.0}, "comment": None},
        {"response_id": "R3", "department": "OPS", "customer_id": "C", "csat": 4.0, "nps": 3.0,
         "answers": {"REL1": 5.0, "REL1_E": 5.0, "REL2": 5.0}, "comment": ""},
    ])
    invitations = pd.DataFrame({"department": ["CS"] * 4 + ["OPS"] * 2})
    a = analyse_frames(responses, invitations, q, "zh_CN", 30)
    assert a.response_rate == pytest.approx(50) and a.overall.csat_mean == pytest.approx(11 / 3)
    assert a.overall.top2_pct == pytest.approx(200 / 3) and a.overall.nps == pytest.approx(0)  # 1 promoter, 1 detractor
    reliability = next(d for d in a.dimensions if d["dimension"] == "reliability")
    # per response: R1 (4+2)/2=3, R2 3, R3 5 → 11/3; expectations: R1 5, R2 4, R3 5 → 14/3
    assert reliability["perception"] == pytest.approx(11 / 3) and reliability["expectation"] == pytest.approx(14 / 3)
    assert reliability["gap"] == pytest.approx(-1)
    rel2 = next(i for i in a.items if i["code"] == "REL2")
    assert (rel2["mean"], rel2["n"], rel2["expectation"]) == (3.5, 2, 5.0)
    assert [d["response_id"] for d in a.detractors] == ["R2"]  # CSAT 2; R3 (CSAT 4, NPS 3) is satisfied
    assert [c["comment"] for c in a.comments] == ["<b>好</b>"]
    assert is_detractor(None, 2) and is_detractor(6, 3) and is_detractor(6, None) and not is_detractor(7, 3)
    # issue 19 item 16: a customer who gave CSAT 5 (or 4) is never listed as unhappy, whatever the NPS
    assert not is_detractor(6, 5) and not is_detractor(0, 4) and not is_detractor(float("nan"), 5.0)
    assert is_detractor(float("nan"), 1.0) and not is_detractor(float("nan"), float("nan"))
    cs = next(d for d in a.departments if d["department"] == "CS")
    assert (cs["invited"], cs["responded"], cs["rate"]) == (4, 2, 50)


# -- the lifecycle on the database ---------------------------------------------------------------------


def served(settings, customers: dict[str, str], day: date, opted_out=(), without_email=()):
    """Customers with one service record on `day` in their department."""
    with UnitOfWork(settings.database_url, actor="test") as uow:
        for i, (cid, dept) in enumerate(customers.items()):
            uow.session.add(Customer(customer_id=cid, name=f"客户{cid}", opted_out=cid in opted_out,
                                     email=None if cid in without_email else f"{cid.lower()}@example.net"))
            opened = datetime(day.year, day.month, day.day, 10, tzinfo=TZ) + timedelta(minutes=i)
            uow.session.add(ServiceRecord(record_id=f"R-{cid}", department=dept, channel="phone", customer_id=cid,
                                          opened_at=opened, first_response_at=opened, resolved_at=opened,
                                          first_contact_resolved=True))
        uow.commit()


def test_sampling_frame_exclusions(org):
    customers = {f"C{i:02d}": "CS" for i in range(10)}
    served(org, customers, date(2026, 8, 10), opted_out={"C00"}, without_email={"C01"})
    served(org, {"LATE": "CS"}, date(2026, 10, 2))  # served after the period
    now = datetime(2026, 10, 5, 9, tzinfo=TZ)
    with UnitOfWork(org.database_url, actor="test") as uow:
        old, _ = plan_campaign(uow.session, org, kind="adhoc", code="old", period_start=date(2026, 6, 1),
                               period_end=date(2026, 6, 30))
        uow.session.add(SurveyInvitation(campaign_id=old.id, customer_id="C02", department="CS",
                                         invited_at=now - timedelta(days=30)))  # asked 30 days ago
        uow.session.add(SurveyInvitation(campaign_id=old.id, customer_id="C03", department="CS",
                                         invited_at=now - timedelta(days=120)))  # long ago: may be asked
        uow.session.add(SurveyResponse(response_id="X", submitted_at=now - timedelta(days=10), department="CS",
                                       customer_id="C04", nps=9, csat=5.0, answers={}))
        campaign, _ = plan_campaign(uow.session, org, kind="quarterly", code="2026-Q3",
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30), seed=7)
        frame = sampling_frame(uow.session, org, campaign, now)
    assert frame["customer_id"].tolist() == ["C03", "C05", "C06", "C07", "C08", "C09"]


def outbox(settings, obj_like: str) -> list[OutboxMessage]:
    with UnitOfWork(settings.database_url) as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.object.like(obj_like))
                                        .order_by(OutboxMessage.id)))


# the campaign of test_whole_campaign (scripts/report_snapshot.py renders its report too)
CAMPAIGN_CUSTOMERS = {f"CS{i:02d}": "CS" for i in range(12)} | {f"OP{i:02d}": "OPS" for i in range(6)}
CAMPAIGN_DAY0 = datetime(2026, 10, 5, 9, tzinfo=TZ)
CAMPAIGN_ANSWERS = [Answer(5, 10, {"REL1": 5, "RES1": 4}, "很好"), Answer(2, 3, {"REL1": 2}, "<script>x</script>"),
                    Answer(4, 9, {}, None), Answer(4, 7, {"TAN1": 4}, None)]


def answer_campaign(session, settings, invited) -> None:
    """The first invitees answer CAMPAIGN_ANSWERS (tokens are in the mails only, so fresh ones are
    issued as the web would see them)."""
    for invitation, answer in zip(invited, CAMPAIGN_ANSWERS):
        token = issue(session, purpose="survey", subject_id=str(invitation.id), email=invitation.email,
                      valid_days=10, now=CAMPAIGN_DAY0).token
        record_answer(session, settings, token, answer, now=CAMPAIGN_DAY0 + timedelta(days=1))


def test_whole_campaign(org, tmp_path):
    from tests.conftest import make_settings

    org = make_settings(org.database_url, tmp_path, surveys={"min_per_stratum": 3})
    served(org, CAMPAIGN_CUSTOMERS, date(2026, 8, 10))
    day0 = CAMPAIGN_DAY0
    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign, new = plan_campaign(uow.session, org, kind="quarterly", code="2026-Q3", seed=11, sample_total=10,
                                      period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        assert new and plan_campaign(uow.session, org, kind="quarterly", code="2026-Q3",
                                     period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))[1] is False
        assert next_step(campaign, day0.date()) == "sample"
        assert advance(uow.session, org, campaign, "sample", day0) == 10
        assert campaign.sampling == {"CS": {"population": 12, "sample": 6}, "OPS": {"population": 6, "sample": 4}}
        assert advance(uow.session, org, campaign, "invite", day0) == 10
        assert (campaign.remind_on, campaign.close_on) == (date(2026, 10, 12), date(2026, 10, 19))
        assert next_step(campaign, date(2026, 10, 11)) is None
        uow.commit()
    invitations = outbox(org, "2026-Q3:survey_invitation")
    assert len(invitations) == 10 and all("/survey/" in m.body_text for m in invitations)

    with UnitOfWork(org.database_url, actor="test") as uow:  # four customers answer
        invited = list(uow.session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id)))
        answer_campaign(uow.session, org, invited)
        uow.commit()

    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign = get(uow.session, "2026-Q3")
        assert next_step(campaign, date(2026, 10, 12)) == "remind"
        assert advance(uow.session, org, campaign, "remind", datetime(2026, 10, 12, 10, tzinfo=TZ)) == 6
        assert next_step(campaign, date(2026, 10, 19)) == "close"
        advance(uow.session, org, campaign, "close", datetime(2026, 10, 19, 10, tzinfo=TZ))
        opened = advance(uow.session, org, campaign, "analyse", datetime(2026, 10, 19, 10, tzinfo=TZ))
        assert opened == 1  # the answer with CSAT 2 and NPS 3 (NPS 7 is passive, not a detractor)
        uow.commit()
    reminders = outbox(org, "2026-Q3:survey_reminder")
    answered = {i.email for i in invited[:4]}
    assert len(reminders) == 6 and not answered & {m.recipient for m in reminders}

    with UnitOfWork(org.database_url, actor="test") as uow:
        actions = list(uow.session.scalars(select(Action).where(Action.source == "survey")))
        campaign = get(uow.session, "2026-Q3")
        assert campaign.analysis["responded"] == 4 and campaign.analysis["csat_mean"] == pytest.approx(3.75)
        advance(uow.session, org, campaign, "report", datetime(2026, 10, 19, 10, tzinfo=TZ))
        assert campaign.status == "reported" and next_step(campaign, date(2026, 12, 1)) is None
        uow.commit()
    assert len(actions) == 1 and actions[0].type == "immediate" and actions[0].department == invited[1].department
    assert {a.due_on for a in actions} == {date(2026, 10, 21)}  # 2 working days after Mon 19 Oct
    mails = outbox(org, "2026-Q3:report")
    assert len(mails) == len(org.resolve_recipients(org.surveys.report_to))
    html_path, xlsx_path, pdf_path = mails[0].attachments
    assert Path(pdf_path).read_bytes()[:5] == b"%PDF-"
    html = Path(html_path).read_text(encoding="utf-8")
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html and "<svg" in html
    assert "满意度" in html and "SERVQUAL" in html
    book = openpyxl.load_workbook(xlsx_path)
    assert "摘要" in book.sheetnames and "客户意见" in book.sheetnames
    assert_print_ready(book, "2026-Q3")
    summary = {r[0].value: r[1] for r in book["摘要"].iter_rows(min_row=2)}
    assert summary["回收率"].number_format == '0.0"%"' and summary["回收率"].value == 40
    low, high = summary["满意比例 95% 区间下限"].value, summary["满意比例 95% 区间上限"].value
    assert isinstance(low, float) and isinstance(high, float) and low < high  # the interval as two numbers
    assert book["与上次比较"]["A2"].value.startswith("这是该问卷的第一次调查")  # empty, and says why


def test_import_answers_into_a_campaign_with_a_mapping(org, tmp_path):
    from sqms.importers import spec_for
    from sqms.ingest import import_file

    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign, _ = plan_campaign(uow.session, org, kind="adhoc", code="paper-2026", seed=1,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        uow.commit()
        campaign_id = campaign.id
    path = tmp_path / "wjx.csv"
    path.write_text("问卷编号,提交时间,部门,客户编号,推荐度,满意度,REL1,意见建议\n"
                    "W1,2026/10/08 10:00,客服中心,C1,9,10,7,很满意\n"
                    "W2,2026/10/08 11:00,运营中心,C2,0,1,0,\n", encoding="utf-8")
    result = import_file(org, spec_for("survey-responses"), path,
                         mapping=load_mapping(ROOT / "config" / "mappings" / "example-survey.yaml"),
                         constants={"campaign_id": campaign_id}, actor="test")
    assert result.inserted == 2
    with UnitOfWork(org.database_url) as uow:
        rows = {r.response_id: r for r in uow.session.scalars(select(SurveyResponse))}
    assert {r.campaign_id for r in rows.values()} == {campaign_id}
    assert (rows["W1"].department, rows["W1"].csat, rows["W1"].nps, rows["W1"].answers) == ("CS", 5.0, 9,
                                                                                            {"REL1": 5.0})
    # 0 means "not answered" for the items; on the NPS scale 0 is an answer
    assert (rows["W2"].csat, rows["W2"].nps, rows["W2"].answers) == (1.0, 0, {})
    # the report of a campaign without invitations: no rate, shown as "—" (never "—%")
    from sqms.surveys.rendering import produce_survey_report

    with UnitOfWork(org.database_url, actor="test") as uow:
        generated = produce_survey_report(uow.session, org, get(uow.session, "paper-2026"))
        html = Path(generated.files["html"]).read_text(encoding="utf-8")
    assert "—%" not in html and "—</div>" in html and "（2/0）" not in html
    assert "回收率：无邀请名单（2 份答卷均为导入）" in html


def test_campaign_dates_follow_the_configuration(org, tmp_path):
    from tests.conftest import make_settings

    settings = make_settings(org.database_url, tmp_path, surveys={"remind_after_days": 3, "close_after_days": 5})
    with UnitOfWork(settings.database_url, actor="test") as uow:
        campaign, _ = plan_campaign(uow.session, settings, kind="adhoc", code="x", period_start=date(2026, 7, 1),
                                    period_end=date(2026, 7, 31), seed=3)
        advance(uow.session, settings, campaign, "sample", datetime(2026, 10, 5, 9, tzinfo=TZ))
        advance(uow.session, settings, campaign, "invite", datetime(2026, 10, 5, 9, tzinfo=TZ))
        assert (campaign.remind_on, campaign.close_on) == (date(2026, 10, 8), date(2026, 10, 10))
    with pytest.raises(Exception, match="remind_after_days must be less than close_after_days"):
        make_settings(org.database_url, tmp_path, surveys={"remind_after_days": 9, "close_after_days": 5})


def test_survey_workbook_compares_with_the_previous_campaign(tmp_path):
    from types import SimpleNamespace

    from sqms.reporting.excel import write_xlsx
    from sqms.surveys.rendering import excel_tables

    q = load_questionnaires(ROOT / "config" / "questionnaires")["quarterly"]
    now = pd.DataFrame([{"response_id": f"N{i}", "department": "CS", "customer_id": f"N{i}", "csat": 4.0 + i % 2,
                         "nps": 9.0 + i % 2, "answers": {}, "comment": None} for i in range(40)])
    before = now.assign(csat=[2.0] * 20 + [3.0] * 20, nps=[5.0] * 40)
    invitations = pd.DataFrame({"department": ["CS"] * 50})
    a = analyse_frames(now, invitations, q, "zh_CN", 30, previous=before)
    path = write_xlsx(tmp_path / "s.xlsx", excel_tables(a, "zh_CN", SimpleNamespace(code="2026-Q2")))
    rows = {r[0]: r for r in openpyxl.load_workbook(path)["与上次比较"].iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"CSAT 均值", "满意比例", "NPS"}
    assert rows["CSAT 均值"][1:5] == ("2026-Q2", 2.5, 4.5, 2.0) and rows["CSAT 均值"][6] == "是"


def test_imported_answers_count_and_are_never_reminded(org, tmp_path):
    """Issue 20 item 8: answers loaded with `sqms survey import` match their invitations (by customer id,
    or by the form's response id), so the response rate counts them and the reminder skips them."""
    from sqms.importers import spec_for
    from sqms.ingest import import_file
    from sqms.surveys.service import answer_counts, link_responses

    customers = {f"CS{i:02d}": "CS" for i in range(6)} | {f"OP{i:02d}": "OPS" for i in range(4)}
    served(org, customers, date(2026, 8, 10))
    day0 = datetime(2026, 10, 5, 9, tzinfo=TZ)
    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign, _ = plan_campaign(uow.session, org, kind="quarterly", code="2026-Q3", seed=3, sample_total=10,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        advance(uow.session, org, campaign, "sample", day0)
        advance(uow.session, org, campaign, "invite", day0)
        invitations = list(uow.session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id)))
        uow.commit()
        campaign_id = campaign.id
    assert len(invitations) == 10
    by_customer, by_id = invitations[0], invitations[1]
    path = tmp_path / "answers.csv"
    path.write_text("response_id,submitted_at,department,customer_id,nps,csat,comment\n"
                    f"X1,2026-10-06 10:00,{by_customer.department},{by_customer.customer_id},9,5,\n"
                    f"2026-Q3-{by_id.id},2026-10-06 11:00,{by_id.department},,8,4,\n"
                    "X3,2026-10-06 12:00,CS,NOT-INVITED,7,4,\n", encoding="utf-8")
    result = import_file(org, spec_for("survey-responses"), path, constants={"campaign_id": campaign_id},
                         actor="test")
    assert result.inserted == 3
    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign = get(uow.session, "2026-Q3")
        assert link_responses(uow.session, campaign) == 2 and link_responses(uow.session, campaign) == 0
        assert answer_counts(uow.session, campaign) == {"answers": 3, "invited": 10, "answered": 2, "rate": 20.0}
        uow.commit()
    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign = get(uow.session, "2026-Q3")
        assert advance(uow.session, org, campaign, "remind", day0 + timedelta(days=7)) == 8
        uow.commit()
    reminded = {m.recipient for m in outbox(org, "2026-Q3:survey_reminder")}
    assert len(reminded) == 8
    assert not {by_customer.email, by_id.email} & reminded


def test_import_before_the_reminder_links_without_an_explicit_step(org, tmp_path):
    """The reminder itself links answers imported by any route into the campaign first."""
    from sqms.importers import spec_for
    from sqms.ingest import import_file

    served(org, {f"CS{i:02d}": "CS" for i in range(4)}, date(2026, 8, 10))
    day0 = datetime(2026, 10, 5, 9, tzinfo=TZ)
    with UnitOfWork(org.database_url, actor="test") as uow:
        campaign, _ = plan_campaign(uow.session, org, kind="quarterly", code="2026-Q3", seed=3, sample_total=4,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        advance(uow.session, org, campaign, "sample", day0)
        advance(uow.session, org, campaign, "invite", day0)
        first = uow.session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id)).first()
        uow.commit()
        campaign_id = campaign.id
    path = tmp_path / "answers.csv"
    path.write_text("response_id,submitted_at,department,customer_id,nps,csat,comment\n"
                    f"P1,2026-10-06 10:00,CS,{first.customer_id},9,5,\n", encoding="utf-8")
    import_file(org, spec_for("survey-responses"), path, constants={"campaign_id": campaign_id}, actor="test")
    with UnitOfWork(org.database_url, actor="test") as uow:
        assert advance(uow.session, org, get(uow.session, "2026-Q3"), "remind", day0 + timedelta(days=7)) == 3
        uow.commit()
    assert first.email not in {m.recipient for m in outbox(org, "2026-Q3:survey_reminder")}


def test_customer_mails_come_from_the_organisation(db_url, tmp_path, smtp_server):
    """Issue 20 item 7: a survey invitation (a customer mail) is sent in the organisation's name;
    staff mails keep SQMS. Checked on the From header of the message the SMTP server received."""
    from email.headerregistry import Address

    from sqms.config import SmtpSettings
    from sqms.notify.service import Email, deliver_pending, enqueue
    from sqms.org.service import sync_organisation
    from tests.conftest import make_settings

    settings = make_settings(db_url, tmp_path, smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port,
                                                                 sender="quality@huaxin.example"))
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    served(settings, {"CS01": "CS"}, date(2026, 8, 10))
    day0 = datetime(2026, 10, 5, 9, tzinfo=TZ)
    with UnitOfWork(settings.database_url, actor="test") as uow:
        campaign, _ = plan_campaign(uow.session, settings, kind="quarterly", code="2026-Q3", seed=1, sample_total=1,
                                    period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
        advance(uow.session, settings, campaign, "sample", day0)
        advance(uow.session, settings, campaign, "invite", day0)
        enqueue(uow.session, process="test", obj="internal", period="x",
                email=Email.to("staff@huaxin.example", subject="内部", body_text="x", body_html="<p>x</p>"))
        uow.commit()
    assert deliver_pending(settings).sent == 2
    senders = {str(m["To"].addresses[0].addr_spec): m["From"].addresses[0] for m in smtp_server.messages}
    customer, staff = senders["cs01@example.net"], senders["staff@huaxin.example"]
    assert customer == Address(display_name=settings.organisation.name, addr_spec="quality@huaxin.example")
    assert customer.display_name == "华信运营服务有限公司"
    assert staff.display_name == "SQMS"
