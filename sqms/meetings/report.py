"""月度质量分析会纪要 — the data of the minutes report: attendance, the agenda items with their discussion
and decision, the action items and a summary. How it is rendered is `sqms.meetings.rendering`."""

from __future__ import annotations

from datetime import datetime
from typing import Any


from sqms.actions.models import ACTION_STATE_LABELS, Action
from sqms.config import Person, Settings
from sqms.meetings.models import QualityMeeting
from sqms.reporting.formatting import organisation_name, t


def minutes_data(settings: Settings, meeting: QualityMeeting, as_of: datetime, *, opened: list[Action],
                 when: dict[str, Any], title: str) -> dict[str, Any]:
    """The minutes of `meeting` as the template shows them; `opened` (the actions the minutes opened), `when`
    (the meeting's day, time and place) and `title` are the meeting service's readings."""
    loc = settings.locale
    people = {p.email: p for p in settings.people}
    present = set(meeting.attendees or [])
    invited = list(meeting.participants)
    attendance = [{"email": e, "name": people[e].name if e in people else e,
                   "department": (settings.department(people[e].department).label(loc) if e in people else ""),
                   "invited": e in invited, "present": e in present}
                  for e in dict.fromkeys([*invited, *(meeting.attendees or [])])]
    notes = {n["no"]: n for n in meeting.notes or []}
    items = [{**i, "discussion": notes.get(i["no"], {}).get("discussion", ""),
              "decision": notes.get(i["no"], {}).get("decision", "")} for i in meeting.agenda]
    actions = []
    for a in opened:
        owner = people.get(a.owner)
        zh, en = ACTION_STATE_LABELS.get(a.status, (a.status, a.status))
        actions.append({"ref": a.ref, "title": a.title, "owner": a.owner,
                        "owner_name": owner.name if isinstance(owner, Person) else a.owner,
                        "department": settings.department(a.department).label(loc), "due_on": a.due_on.isoformat(),
                        "type": a.type, "status_label": t(loc, zh, en)})
    n_present = sum(1 for r in attendance if r["present"])
    summary = [t(loc, f"出席 {n_present} 人（应到 {len(invited)} 人）；议题 {len(items)} 项，形成决定 "
                      f"{sum(1 for i in items if i['decision'])} 项，行动项 {len(actions)} 项。",
                 f"{n_present} present ({len(invited)} invited); {len(items)} agenda items, "
                 f"{sum(1 for i in items if i['decision'])} decisions, {len(actions)} action items.")]
    return {"locale": loc, "title": t(loc, f"{title}会议纪要", f"{title}: minutes"),
            "organisation": organisation_name(settings.organisation, loc), "period": meeting.period,
            "generated_at": as_of, "timezone": settings.organisation.timezone, "meeting": meeting,
            "when": when, "attendance": attendance, "items": items,
            "actions": actions, "summary": summary}
