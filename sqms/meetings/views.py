"""The monthly quality-analysis meeting in the workspace: the meetings, each one's agenda, and the
minutes form (attendance, discussion and decision per agenda item, the action items they open) for
those who record them — the same `record_minutes` the CLI calls, with the same validation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sqms.actions.models import TYPES as ACTION_TYPES
from sqms.actions.service import ActionError
from sqms.audit_trail import history
from sqms.calendar import to_local, utcnow
from sqms.config import Person, Settings
from sqms.db import UnitOfWork
from sqms.meetings.minutes import MinutesError, parse_form
from sqms.meetings.models import QualityMeeting
from sqms.meetings.service import (
    ENTITY,
    MeetingError,
    actions_of,
    find,
    listing,
    meeting_context,
    record_minutes,
)
from sqms.statemachine import IllegalTransition
from sqms.web import permissions as perm
from sqms.web.security import clean_text
from sqms.web.workspace import Cfg, Me, NotFound, Uow, locale_of, page, redirect

router = APIRouter()
EMPTY_ACTION_ROWS = 3  # blank action rows on the form; saving and coming back gives three more


def load_meeting(period: str, uow: Uow) -> QualityMeeting:
    meeting = find(uow.session, str(period).upper().removeprefix("QM-"))
    if meeting is None:
        raise NotFound()
    return meeting


Viewable = Annotated[QualityMeeting, Depends(perm.allow(perm.meeting_view, load_meeting))]
Minutable = Annotated[QualityMeeting, Depends(perm.allow(perm.meeting_minutes, load_meeting))]


@router.get("/meetings", dependencies=[Depends(perm.allow(perm.meeting_list, perm.nothing))])
def meetings_page(request: Request, me: Me, uow: Uow, settings: Cfg) -> Response:
    rows = [m for m in listing(uow.session) if perm.meeting_view(me, m, settings, {})]
    return page(request, "meetings", meetings=rows)


def _show(request: Request, uow: UnitOfWork, settings: Settings, me: Person, meeting: QualityMeeting,
          status: int = 200, errors: list[str] | None = None, values: dict | None = None,
          refused: Exception | None = None) -> Response:
    today = to_local(utcnow(), settings.tz).date()
    if values is None:  # the form starts from what is recorded
        values = {"present": list(meeting.attendees or [])}
        for note in meeting.notes or []:
            values[f"discussion_{note['no']}"] = note.get("discussion", "")
            values[f"decision_{note['no']}"] = note.get("decision", "")
    rows = sorted({int(k[1:].split("_", 1)[0]) for k in values if k.startswith("a") and k[1:2].isdigit()})
    action_rows = rows or list(range(1, EMPTY_ACTION_ROWS + 1))
    names = {p.email: p for p in settings.people}
    return page(request, "meeting", status=status, m=meeting, when=meeting_context(settings, meeting),
                records=perm.meeting_minutes(me, meeting, settings, {}), held=today >= meeting.meeting_on,
                actions=actions_of(uow.session, meeting), history=history(uow.session, ENTITY, meeting.ref),
                notes={n["no"]: n for n in meeting.notes or []}, people=names, action_types=ACTION_TYPES,
                action_rows=action_rows, errors=errors or [], values=values, refused=refused)


@router.get("/meetings/{period}")
def meeting_page(request: Request, meeting: Viewable, me: Me, uow: Uow, settings: Cfg) -> Response:
    return _show(request, uow, settings, me, meeting)


@router.post("/meetings/{period}/minutes")
async def meeting_minutes(request: Request, meeting: Minutable, me: Me, uow: Uow, settings: Cfg) -> Response:
    raw = await request.form()
    form: dict = {k: clean_text(v) for k, v in raw.items() if isinstance(v, str) and k not in ("present",
                                                                                                "csrf_token")}
    form["present"] = [clean_text(v) for v in raw.getlist("present") if isinstance(v, str)]
    loc = locale_of(request, settings)
    try:
        minutes = parse_form(settings, form, {i["no"] for i in meeting.agenda}, loc)
        record_minutes(uow.session, settings, meeting, minutes, actor=me.email)
    except MinutesError as exc:
        uow.rollback()
        return _show(request, uow, settings, me, load_meeting(meeting.period, uow), status=422, errors=exc.problems,
                     values=form)
    except (MeetingError, IllegalTransition, ActionError) as exc:
        uow.rollback()
        return _show(request, uow, settings, me, load_meeting(meeting.period, uow), status=422, refused=exc,
                     values=form)
    uow.commit()
    return redirect(f"/app/meetings/{meeting.period}")
