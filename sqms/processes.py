"""The composition point: every process that has deadlines, registered once for the reminder engine.

Each process declares its deadlines next to its rules — `DEADLINES` in its service module: its kinds
of item with their zh_CN/en labels, the function listing its open items, and, if it has them, its own
reminder mail or weekly figures — and this module puts them together. The engine
(`sqms.reminders`) imports no process; the flows' tasks, the CLI and the web import this module,
which registers `DEADLINES` with the engine. A new process with deadlines adds one line below.
"""

from __future__ import annotations

from sqms.actions.service import DEADLINES as actions
from sqms.audits.service import DEADLINES as audits
from sqms.complaints.service import DEADLINES as complaints
from sqms.monitoring.plan import DEADLINES as inspections
from sqms.reminders.service import Registry, register
from sqms.reviews.service import DEADLINES as reviews
from sqms.standards.service import DEADLINES as standards
from sqms.suggestions.service import DEADLINES as suggestions
from sqms.web.links import item_url

# Surveys have no entry: their one reminder goes to customers as a step of the survey protocol (a fresh
# single-use link on day 7, once per invitee), not to an owner with a deadline; their owners' deadlines
# (the call-backs of unhappy customers) are actions.
DEADLINES = Registry((complaints, actions, reviews, standards, suggestions, inspections, audits), link=item_url)
register(DEADLINES)
