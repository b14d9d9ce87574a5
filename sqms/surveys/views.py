"""A satisfaction survey campaign's page: sampling, invitations, answers, analysis, report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from sqms.audit_trail import history
from sqms.surveys.models import SurveyCampaign, SurveyInvitation, SurveyResponse
from sqms.surveys.service import SurveyError, get
from sqms.web import permissions as perm
from sqms.web.workspace import NotFound, Uow, page

router = APIRouter()


def load_campaign(campaign_id: str, uow: Uow) -> SurveyCampaign:
    try:
        return get(uow.session, campaign_id)
    except SurveyError:
        campaign = uow.session.get(SurveyCampaign, int(campaign_id)) if campaign_id.isdigit() else None
        if campaign is None:
            raise NotFound() from None
        return campaign


@router.get("/surveys/{campaign_id}")
def survey_page(request: Request,
                campaign: Annotated[SurveyCampaign, Depends(perm.allow(perm.survey_view, load_campaign))],
                uow: Uow) -> Response:
    invited = uow.session.scalar(select(func.count()).select_from(SurveyInvitation)
                                 .where(SurveyInvitation.campaign_id == campaign.id))
    answered = uow.session.scalar(select(func.count()).select_from(SurveyResponse)
                                  .where(SurveyResponse.campaign_id == campaign.id))
    return page(request, "survey", campaign=campaign, invited=invited, answered=answered,
                history=history(uow.session, "survey", campaign.code))
