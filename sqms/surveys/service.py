"""Customer-satisfaction survey campaigns (满意度调查): planned → sampled → invited → reminded →
closed → analysed → reported.

The regulation asks for regular surveys (at least yearly, and periodic ones of daily service),
analysed and fed back to the departments concerned. A campaign surveys the customers who had
service in a period: a stratified sample by department (reproducible from its stored seed,
nobody asked twice within `surveys.exclude_surveyed_days`, opted-out customers never), invited
by mail with a single-use link, reminded once, closed, analysed and reported. Each scheduled
run advances every campaign whose next step is due (`advance_due`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sqms.audit_trail import record_change
from sqms.calendar import END_OF_DAY, to_local, utcnow
from sqms.config import Settings
from sqms.db import read_frame
from sqms.notify.compose import compose
from sqms.notify.service import enqueue
from sqms.reporting.service import mail_report
from sqms.org.models import Customer
from sqms.records.models import ServiceRecord
from sqms.statemachine import StateMachine, Transition
from sqms.surveys.models import (ANALYSED, CAMPAIGN_STATES, CLOSED, INVITED, PLANNED, REMINDED, REPORTED, SAMPLED,
                                 SurveyCampaign, SurveyError, SurveyInvitation, SurveyResponse)
from sqms.surveys.questionnaire import Questionnaire, load_questionnaires
from sqms.surveys.report import analysis_of, previous_campaign, questionnaire_of, responses_of  # noqa: F401  (the service's readers)
from sqms.tokens import AccessToken, TokenError, issue, lookup

PROCESS = "surveys"
TOKEN_PURPOSE = "survey"

LIFECYCLE = StateMachine(
    entity="survey",
    states=CAMPAIGN_STATES,
    initial=PLANNED,
    id_attr="code",
    transitions=(
        Transition("sample", (PLANNED,), SAMPLED),
        Transition("invite", (SAMPLED,), INVITED),
        Transition("remind", (INVITED,), REMINDED),
        Transition("close", (INVITED, REMINDED), CLOSED),
        Transition("analyse", (CLOSED,), ANALYSED),
        Transition("report", (ANALYSED,), REPORTED),
    ),
)


# -- which period a campaign surveys -----------------------------------------------------------


def previous_quarter(today: date) -> tuple[str, date, date]:
    """(code, first day, last day) of the calendar quarter before `today`'s."""
    q = (today.month - 1) // 3  # 0..3, this quarter
    year, q = (today.year - 1, 4) if q == 0 else (today.year, q)
    start = date(year, 3 * q - 2, 1)
    end = (date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)) - timedelta(days=1)
    return f"{year}-Q{q}", start, end


def previous_year(today: date) -> tuple[str, date, date]:
    year = today.year - 1
    return f"{year}-annual", date(year, 1, 1), date(year, 12, 31)


def plan_campaign(session: Session, settings: Settings, *, kind: str, code: str, period_start: date,
                  period_end: date, questionnaire: str | None = None, seed: int | None = None,
                  sample_total: int | None = None, actor: str | None = None) -> tuple[SurveyCampaign, bool]:
    """The campaign `code`, planned now unless it exists (returns it and whether it is new)."""
    existing = session.scalars(select(SurveyCampaign).where(SurveyCampaign.code == code)).first()
    if existing is not None:
        return existing, False
    if period_end < period_start:
        raise SurveyError("the period ends before it starts")
    questionnaire = questionnaire or settings.surveys.questionnaires.get(kind, "quarterly")
    if questionnaire not in load_questionnaires(settings.questionnaires_dir):
        raise SurveyError(f"questionnaire {questionnaire!r} not found in {settings.questionnaires_dir}")
    campaign = SurveyCampaign(
        code=code, kind=kind, questionnaire=questionnaire, period_start=period_start, period_end=period_end,
        status=PLANNED, seed=seed if seed is not None else secrets.randbelow(2**31),
        sample_total=sample_total or settings.surveys.sample_total,
        min_per_stratum=settings.surveys.min_per_stratum, sampling={}, analysis={},
        created_at=utcnow(), created_by=actor or session.info.get("actor", "unknown"))
    session.add(campaign)
    session.flush()
    record_change(session, action="create", entity="survey", entity_id=campaign.code, actor=actor, after={
        "kind": kind, "questionnaire": questionnaire, "period": f"{period_start}..{period_end}",
        "seed": campaign.seed, "sample_total": campaign.sample_total})
    return campaign, True


# -- sampling ------------------------------------------------------------------------------------


def sampling_frame(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> pd.DataFrame:
    """Customers served in the period who can be asked: customer_id, department (where they were
    served most), email. Without email, opted out, or surveyed within the exclusion window: left out."""
    tz = settings.tz
    start = datetime.combine(campaign.period_start, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(campaign.period_end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    t = ServiceRecord.__table__
    served = read_frame(session.connection(), [t.c.customer_id, t.c.department, t.c.opened_at],
                        t.c.opened_at >= start, t.c.opened_at < end, t.c.customer_id.is_not(None))
    if served.empty:
        return pd.DataFrame(columns=["customer_id", "department", "email"])
    # each customer in one stratum: the department that served them most (latest on a tie)
    counts = (served.groupby(["customer_id", "department"]).agg(n=("opened_at", "size"), last=("opened_at", "max"))
              .reset_index().sort_values(["customer_id", "n", "last"], ascending=[True, False, False]))
    frame = counts.drop_duplicates("customer_id")[["customer_id", "department"]]
    c = Customer.__table__
    contacts = read_frame(session.connection(), [c.c.customer_id, c.c.email, c.c.opted_out],
                          c.c.email.is_not(None), c.c.email != "")
    contacts = contacts[~contacts["opted_out"].astype(bool)]
    frame = frame.merge(contacts[["customer_id", "email"]], on="customer_id", how="inner")
    recently = now - timedelta(days=settings.surveys.exclude_surveyed_days)
    asked = set(session.scalars(select(SurveyInvitation.customer_id).where(
        SurveyInvitation.invited_at >= recently, SurveyInvitation.campaign_id != campaign.id)))
    answered = set(session.scalars(select(SurveyResponse.customer_id).where(
        SurveyResponse.submitted_at >= recently, SurveyResponse.customer_id.is_not(None))))
    frame = frame[~frame["customer_id"].isin(asked | answered)]
    return frame.sort_values("customer_id").reset_index(drop=True)


def effective_minimum(population: dict[str, int], total: int, minimum: int) -> int:
    """The per-department minimum that keeps the sample within the number asked: `minimum`, or less
    when the non-empty departments times the minimum would exceed `total`."""
    strata = sum(1 for n in population.values() if n > 0)
    if strata == 0 or sum(min(minimum, n) for n in population.values()) <= total:
        return minimum
    return total // strata


def allocate(population: dict[str, int], total: int, minimum: int) -> dict[str, int]:
    """Stratified allocation within `total` (never more customers than asked): every stratum gets
    min(minimum, its size) — the minimum reduced when the strata would need more than `total` —, the
    rest goes in proportion to what each stratum has left (largest remainder), never more than a
    stratum has."""
    minimum = effective_minimum(population, total, minimum)
    base = {k: min(minimum, n) for k, n in population.items()}
    remaining = max(0, total - sum(base.values()))
    left = {k: population[k] - base[k] for k in population}
    pool = sum(left.values())
    if remaining == 0 or pool == 0:
        return base
    if remaining >= pool:
        return dict(population)
    quotas = {k: remaining * left[k] / pool for k in left}
    extra = {k: int(q) for k, q in quotas.items()}
    short = remaining - sum(extra.values())
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - extra[k]), k))[:short]:
        extra[k] += 1
    return {k: base[k] + extra[k] for k in population}


def draw_sample(frame: pd.DataFrame, total: int, minimum: int, seed: int) -> pd.DataFrame:
    """A stratified random sample of `frame` (reproducible: the same frame and seed give the same sample)."""
    frame = frame.sort_values(["department", "customer_id"]).reset_index(drop=True)
    sizes = frame.groupby("department").size().to_dict()
    quota = allocate(sizes, total, minimum)
    rng = np.random.default_rng(seed)
    parts = []
    for department in sorted(quota):
        members = frame[frame["department"] == department]
        picked = rng.choice(len(members), size=quota[department], replace=False) if quota[department] else []
        parts.append(members.iloc[sorted(picked)])
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[0:0]


def sample(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> int:
    frame = sampling_frame(session, settings, campaign, now)
    chosen = draw_sample(frame, campaign.sample_total, campaign.min_per_stratum, campaign.seed)
    population = frame.groupby("department").size().to_dict()
    drawn = chosen.groupby("department").size().to_dict()
    campaign.sampling = {d: {"population": int(population.get(d, 0)), "sample": int(drawn.get(d, 0))}
                         for d in sorted(population)}
    session.add_all([SurveyInvitation(campaign_id=campaign.id, customer_id=r.customer_id, department=r.department,
                                      email=r.email) for r in chosen.itertuples()])
    LIFECYCLE.apply(session, campaign, "sample", at=now, data={
        "sample": len(chosen), "population": len(frame), "asked": campaign.sample_total,
        "min_per_department": effective_minimum(population, campaign.sample_total, campaign.min_per_stratum)})
    session.flush()
    return len(chosen)


def sampling_note(campaign: SurveyCampaign) -> str:
    """How the sample size came about, for the person who asked for it."""
    sampling = campaign.sampling or {}
    population = {d: s["population"] for d, s in sampling.items()}
    drawn = sum(s["sample"] for s in sampling.values())
    used = effective_minimum(population, campaign.sample_total, campaign.min_per_stratum)
    text = (f"sample {drawn} of {sum(population.values())} customers served (asked {campaign.sample_total}), "
            f"at least {min(used, campaign.min_per_stratum)} per department")
    if used < campaign.min_per_stratum:
        text += (f" (the configured minimum {campaign.min_per_stratum} per department was reduced to keep to "
                 f"{campaign.sample_total} across {sum(1 for n in population.values() if n)} departments; "
                 f"results of departments under {campaign.min_per_stratum} answers are flagged †)")
    elif drawn < campaign.sample_total:
        text += " (fewer customers were served than asked for: everybody is invited)"
    return text


# -- invitations, reminder, closing ---------------------------------------------------------------


def survey_link(settings: Settings, token: str) -> str:
    return f"{settings.web.base_url}/survey/{token}"


def _closes_at(settings: Settings, campaign: SurveyCampaign) -> datetime:
    return datetime.combine(campaign.close_on, END_OF_DAY, tzinfo=settings.tz)


def _mail(session: Session, settings: Settings, campaign: SurveyCampaign, invitation: SurveyInvitation,
          template: str, now: datetime) -> None:
    """An invitation or reminder with a fresh single-use link, valid until the campaign closes."""
    days = max(1, (_closes_at(settings, campaign) - now).days + 1)
    issued = issue(session, purpose=TOKEN_PURPOSE, subject_id=str(invitation.id), email=invitation.email,
                   valid_days=days, now=now)
    issued.row.expires_at = _closes_at(settings, campaign)
    invitation.token_id = issued.row.id
    q = questionnaire_of(settings, campaign)
    customer = session.get(Customer, invitation.customer_id)
    email = compose(settings, template, invitation.email, recipient_name=(customer.name if customer else "") or "",
                    campaign=campaign, title=q.title.get(settings.locale), link=survey_link(settings, issued.token),
                    opt_out=survey_link(settings, issued.token) + "/opt-out",
                    close_on=campaign.close_on, items=len(q.items))
    enqueue(session, process=PROCESS, obj=f"{campaign.code}:{template}", period=campaign.code, email=email)


def invite(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> int:
    today = to_local(now, settings.tz).date()
    campaign.remind_on = today + timedelta(days=settings.surveys.remind_after_days)
    campaign.close_on = today + timedelta(days=settings.surveys.close_after_days)
    invitations = list(session.scalars(select(SurveyInvitation).where(
        SurveyInvitation.campaign_id == campaign.id, SurveyInvitation.invited_at.is_(None))))
    for invitation in invitations:
        _mail(session, settings, campaign, invitation, "survey_invitation", now)
        invitation.invited_at = now
    campaign.invited_at = now
    LIFECYCLE.apply(session, campaign, "invite", at=now, data={"invited": len(invitations),
                                                                "close_on": campaign.close_on})
    session.flush()
    return len(invitations)


def link_responses(session: Session, campaign: SurveyCampaign) -> int:
    """Answers stored for the campaign (e.g. by `sqms survey import`) matched to its invitations not yet
    answered: by the response id the web form gives (`<campaign>-<invitation id>`, or one already linked),
    else by customer id (the earliest answer of a customer). A matched invitee counts as having answered
    (response rate) and gets no reminder. Idempotent; returns the number newly linked."""
    open_invitations = list(session.scalars(select(SurveyInvitation).where(
        SurveyInvitation.campaign_id == campaign.id, SurveyInvitation.responded_at.is_(None))))
    if not open_invitations:
        return 0
    taken = set(session.scalars(select(SurveyInvitation.response_id).where(
        SurveyInvitation.campaign_id == campaign.id, SurveyInvitation.response_id.is_not(None))))
    responses = [r for r in session.execute(
        select(SurveyResponse.response_id, SurveyResponse.customer_id, SurveyResponse.submitted_at)
        .where(SurveyResponse.campaign_id == campaign.id).order_by(SurveyResponse.submitted_at,
                                                                   SurveyResponse.response_id))
        if r.response_id not in taken]
    by_id = {r.response_id: r for r in responses}
    by_customer: dict[str, object] = {}
    for r in responses:
        if r.customer_id:
            by_customer.setdefault(str(r.customer_id), r)
    linked = 0
    for invitation in open_invitations:
        match = by_id.get(f"{campaign.code}-{invitation.id}") or by_customer.get(invitation.customer_id)
        if match is None or match.response_id in taken:
            continue
        taken.add(match.response_id)
        invitation.responded_at = match.submitted_at
        invitation.response_id = match.response_id
        linked += 1
    session.flush()
    return linked


def answer_counts(session: Session, campaign: SurveyCampaign) -> dict[str, int | float | None]:
    """Answers stored for the campaign, invited, invitees who answered and the response rate (%)."""
    answers = session.scalar(select(func.count()).select_from(SurveyResponse).where(
        SurveyResponse.campaign_id == campaign.id)) or 0
    invited = session.scalar(select(func.count()).select_from(SurveyInvitation).where(
        SurveyInvitation.campaign_id == campaign.id)) or 0
    answered = session.scalar(select(func.count()).select_from(SurveyInvitation).where(
        SurveyInvitation.campaign_id == campaign.id, SurveyInvitation.responded_at.is_not(None))) or 0
    return {"answers": answers, "invited": invited, "answered": answered,
            "rate": round(100 * answered / invited, 1) if invited else None}


def remind(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> int:
    """One reminder to those who neither answered (on the form or in imported answers) nor opted out.

    A step of the survey protocol, not a deadline: customers owe nothing, are never chased or escalated,
    and each gets one fresh single-use link; so it stays here rather than in the reminder engine."""
    link_responses(session, campaign)
    pending = list(session.scalars(
        select(SurveyInvitation).join(Customer, Customer.customer_id == SurveyInvitation.customer_id, isouter=True)
        .where(SurveyInvitation.campaign_id == campaign.id, SurveyInvitation.responded_at.is_(None),
               SurveyInvitation.reminded_at.is_(None), func.coalesce(Customer.opted_out, False).is_(False))))
    for invitation in pending:
        _mail(session, settings, campaign, invitation, "survey_reminder", now)
        invitation.reminded_at = now
    LIFECYCLE.apply(session, campaign, "remind", at=now, data={"reminded": len(pending)})
    session.flush()
    return len(pending)


def close(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> int:
    link_responses(session, campaign)
    campaign.closed_at = now
    answered = session.scalar(select(func.count()).select_from(SurveyInvitation).where(
        SurveyInvitation.campaign_id == campaign.id, SurveyInvitation.responded_at.is_not(None)))
    LIFECYCLE.apply(session, campaign, "close", at=now, data={"responses": answered})
    session.flush()
    return answered


# -- answering -----------------------------------------------------------------------------------


@dataclass
class Answer:
    csat: int
    nps: int
    items: dict[str, int]
    comment: str | None


# Closed means closed: from the close on, a link shows that the survey is over and stores nothing.
ENDED = (CLOSED, ANALYSED, REPORTED)


def open_invitation(session: Session, token: str, now: datetime | None = None, *, allow_closed: bool = False
                    ) -> tuple[AccessToken, SurveyInvitation, SurveyCampaign]:
    """The invitation a link belongs to (TokenError when used, expired, unknown, or its campaign is
    closed — unless `allow_closed`: opting out still works then)."""
    try:
        row = lookup(session, token, TOKEN_PURPOSE, now)
    except TokenError as exc:
        if exc.reason == "expired" and _campaign_of(session, exc.token).status in ENDED:
            raise TokenError("closed", exc.token) from None  # say why: the survey is over
        raise
    invitation = session.get(SurveyInvitation, int(row.subject_id))
    campaign = session.get(SurveyCampaign, invitation.campaign_id)
    if campaign.status in ENDED and not allow_closed:
        raise TokenError("closed", row)
    return row, invitation, campaign


def _campaign_of(session: Session, token: AccessToken) -> SurveyCampaign:
    invitation = session.get(SurveyInvitation, int(token.subject_id))
    return session.get(SurveyCampaign, invitation.campaign_id)


def validate_answer(q: Questionnaire, form: dict[str, str]) -> tuple[Answer | None, dict[str, str]]:
    """The typed answer, or the fields in error with why (CSAT and NPS required; items optional)."""
    errors: dict[str, str] = {}

    def number(name: str, low: int, high: int, required: bool) -> int | None:
        text = (form.get(name) or "").strip()
        if not text:
            if required:
                errors[name] = "required"
            return None
        # isdecimal, not isdigit: "²" is a digit that int() refuses
        if not (text.isdecimal() and len(text) <= 3) or not low <= int(text) <= high:
            errors[name] = "range"
            return None
        return int(text)

    csat = number("csat", 1, 5, True)
    nps = number("nps", 0, 10, True)
    items = {}
    for item in q.items:
        scale = q.item_scale(item)
        value = number(item.code, scale.min, scale.max, False)
        if value is not None:
            items[item.code] = value
    comment = (form.get("comment") or "").strip()
    if len(comment) > 2000:
        errors["comment"] = "too long"
    if errors:
        return None, errors
    return Answer(csat=csat, nps=nps, items=items, comment=comment or None), {}


def record_answer(session: Session, settings: Settings, token: str, answer: Answer,
                  now: datetime | None = None) -> SurveyResponse:
    """Store the response of an invitation (one per invitation) and use up the link."""
    from sqms.tokens import redeem

    now = now or utcnow()
    open_invitation(session, token, now)  # closed campaigns take no answer
    row = redeem(session, token, TOKEN_PURPOSE, now)
    invitation = session.get(SurveyInvitation, int(row.subject_id))
    campaign = session.get(SurveyCampaign, invitation.campaign_id)
    # one answer per invitation, whichever of its links (invitation, reminder) comes first, even at once
    answered_first = session.execute(
        update(SurveyInvitation).where(SurveyInvitation.id == invitation.id, SurveyInvitation.responded_at.is_(None))
        .values(responded_at=now).execution_options(synchronize_session=False)).rowcount
    if answered_first != 1:
        raise TokenError("used", row)
    response = SurveyResponse(
        response_id=f"{campaign.code}-{invitation.id}", submitted_at=now, department=invitation.department,
        customer_id=invitation.customer_id, nps=answer.nps, csat=float(answer.csat),
        answers={k: float(v) for k, v in answer.items.items()}, comment=answer.comment, updated_at=now,
        campaign_id=campaign.id)
    session.add(response)
    invitation.responded_at = now
    invitation.response_id = response.response_id
    session.flush()
    return response


def opt_out(session: Session, token: str, now: datetime | None = None) -> SurveyInvitation:
    """The customer asks not to be surveyed again: recorded on the customer, the link used up."""
    from sqms.tokens import redeem

    row = redeem(session, token, TOKEN_PURPOSE, now)
    invitation = session.get(SurveyInvitation, int(row.subject_id))
    customer = session.get(Customer, invitation.customer_id)
    if customer is not None and not customer.opted_out:
        customer.opted_out = True
        record_change(session, action="opt-out", entity="customer", entity_id=customer.customer_id,
                      before={"opted_out": False}, after={"opted_out": True}, actor=f"customer:{row.email}",
                      comment="survey link")
    session.flush()
    return invitation


# -- the schedule ----------------------------------------------------------------------------------


def next_step(campaign: SurveyCampaign, today: date) -> str | None:
    """What is due for a campaign today (None: nothing yet, or it is finished)."""
    if campaign.status == PLANNED:
        return "sample"
    if campaign.status == SAMPLED:
        return "invite"
    if campaign.status in (INVITED, REMINDED) and campaign.close_on and today >= campaign.close_on:
        return "close"
    if campaign.status == INVITED and campaign.remind_on and today >= campaign.remind_on:
        return "remind"
    if campaign.status == CLOSED:
        return "analyse"
    if campaign.status == ANALYSED:
        return "report"
    return None


def due_campaigns(session: Session) -> list[SurveyCampaign]:
    return list(session.scalars(select(SurveyCampaign).where(SurveyCampaign.status != REPORTED)
                                .order_by(SurveyCampaign.id)))


# -- analysis and report ------------------------------------------------------------------------------


def analyse(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> int:
    """Keep the key figures; every detractor gets a return visit (an immediate action of their
    department, due in `surveys.detractor_action_working_days`). Returns the actions opened."""
    from sqms.actions.models import Action
    from sqms.actions.service import NewAction, open_action
    from sqms.calendar import add_working_days

    result, previous = analysis_of(session, settings, campaign)
    campaign.analysis = {**result.key_figures(), "previous": previous.code if previous else None}
    today = to_local(now, settings.tz).date()
    zh = settings.locale.startswith("zh")
    opened = 0
    for d in result.detractors:
        ref = f"detractor:{d['response_id']}"
        if session.scalars(select(Action.id).where(Action.source == "survey", Action.source_ref == ref)).first():
            continue
        parts = [f"{name} {d[key]:g}" for name, key in (("CSAT", "csat"), ("NPS", "nps"))
                 if d[key] is not None and not pd.isna(d[key])]
        score = ", ".join(parts)
        open_action(session, settings, NewAction(
            source="survey", source_ref=ref, type="immediate", department=d["department"],
            title=(f"回访不满意客户 {d['customer_id']}（{campaign.code} 满意度调查，{score}）" if zh else
                   f"Call back unhappy customer {d['customer_id']} ({campaign.code} survey, {score})"),
            problem=f"{campaign.code}: {score}",
            due_on=add_working_days(today, settings.surveys.detractor_action_working_days),
            links=[("survey_response", d["response_id"]), ("customer", d["customer_id"] or "")]),
            actor="sqms:survey", now=now, notify=False)  # one per detractor: the survey report lists them
        opened += 1
    LIFECYCLE.apply(session, campaign, "analyse", at=now, data={"responses": result.responded,
                                                                  "detractors": len(result.detractors)})
    session.flush()
    return opened


def report(session: Session, settings: Settings, campaign: SurveyCampaign, now: datetime) -> int:
    """Render the report, keep it, and mail it to department heads and top management."""
    from sqms.surveys.rendering import produce_survey_report

    generated = produce_survey_report(session, settings, campaign)
    campaign.report_id = generated.id
    queued = mail_report(session, settings, [generated], recipients=settings.surveys.report_to,
                         template="survey_report", process=PROCESS, obj=f"{campaign.code}:report",
                         period=campaign.code, campaign=campaign, figures=campaign.analysis,
                         title=questionnaire_of(settings, campaign).title.get(settings.locale))
    LIFECYCLE.apply(session, campaign, "report", at=now, data={"report_id": generated.id})
    session.flush()
    return queued


STEPS = {"sample": sample, "invite": invite, "remind": remind, "close": close, "analyse": analyse, "report": report}


def advance(session: Session, settings: Settings, campaign: SurveyCampaign, step: str, now: datetime) -> int:
    if step not in STEPS:
        raise SurveyError(f"unknown step {step!r} (steps: {', '.join(STEPS)})")
    LIFECYCLE.check(campaign, step)
    return STEPS[step](session, settings, campaign, now)


def advance_due(session: Session, settings: Settings, now: datetime | None = None) -> list[tuple[str, str, int]]:
    """Every campaign's due steps, in order, until none is due: (code, step, count) of each."""
    now = now or utcnow()
    today = to_local(now, settings.tz).date()
    done = []
    for campaign in due_campaigns(session):
        while (step := next_step(campaign, today)) is not None:
            done.append((campaign.code, step, advance(session, settings, campaign, step, now)))
    return done


def get(session: Session, code: str) -> SurveyCampaign:
    campaign = session.scalars(select(SurveyCampaign).where(SurveyCampaign.code == code)).first()
    if campaign is None:
        raise SurveyError(f"survey campaign {code!r} not found")
    return campaign
