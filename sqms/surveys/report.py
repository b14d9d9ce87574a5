"""满意度调查报告的数据 — what the survey report of one campaign shows: the campaign's analysis, the
campaign before it and the questionnaire's title. The readers here are the survey domain's own (the
service uses them too); how the report is rendered is `sqms.surveys.rendering`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.config import Settings
from sqms.db import read_frame
from sqms.surveys.analysis import CampaignAnalysis
from sqms.surveys.models import ANALYSED, REPORTED, SurveyCampaign, SurveyError, SurveyInvitation, SurveyResponse
from sqms.surveys.questionnaire import Questionnaire, load_questionnaires


@dataclass
class SurveyReport:
    campaign: SurveyCampaign
    analysis: CampaignAnalysis
    previous: SurveyCampaign | None
    title: str  # the questionnaire's, in the report's locale
    locale: str


def questionnaire_of(settings: Settings, campaign: SurveyCampaign) -> Questionnaire:
    found = load_questionnaires(settings.questionnaires_dir)
    if campaign.questionnaire not in found:
        raise SurveyError(f"questionnaire {campaign.questionnaire!r} not found in {settings.questionnaires_dir}")
    return found[campaign.questionnaire]


def responses_of(session: Session, campaign_id: int) -> pd.DataFrame:
    t = SurveyResponse.__table__
    return read_frame(session.connection(), [t.c.response_id, t.c.department, t.c.customer_id, t.c.csat, t.c.nps,
                                             t.c.answers, t.c.comment], t.c.campaign_id == campaign_id)


def previous_campaign(session: Session, campaign: SurveyCampaign) -> SurveyCampaign | None:
    """The last campaign of the same kind analysed before this one."""
    return session.scalars(select(SurveyCampaign).where(
        SurveyCampaign.kind == campaign.kind, SurveyCampaign.id < campaign.id,
        SurveyCampaign.status.in_((ANALYSED, REPORTED))).order_by(SurveyCampaign.id.desc()).limit(1)).first()


def analysis_of(session: Session, settings: Settings, campaign: SurveyCampaign):
    from sqms.surveys.analysis import analyse as analyse_frames

    t = SurveyInvitation.__table__
    invitations = read_frame(session.connection(), [t.c.department, t.c.responded_at], t.c.campaign_id == campaign.id)
    previous = previous_campaign(session, campaign)
    return analyse_frames(
        responses_of(session, campaign.id), invitations, questionnaire_of(settings, campaign), settings.locale,
        settings.kpi.low_confidence_n, previous=responses_of(session, previous.id) if previous else None,
        department_names={d.code: d.label(settings.locale) for d in settings.departments}), previous


def build_survey_report(session: Session, settings: Settings, campaign: SurveyCampaign) -> SurveyReport:
    analysis, previous = analysis_of(session, settings, campaign)
    return SurveyReport(campaign, analysis, previous, questionnaire_of(settings, campaign).title.get(settings.locale),
                        settings.locale)
