"""The staff workspace's composition point: every domain's pages (`sqms/<domain>/views.py`) mounted under
`/app/`, with the session, CSRF and error answers of `sqms.web.workspace`.

The views import the workspace (its dependencies and `page`); only this module imports the views, so
that the workspace itself depends on no domain.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from sqms.actions.views import router as actions
from sqms.audits.views import router as audits
from sqms.auth.views import router as auth
from sqms.complaints.views import router as complaints
from sqms.improvement.views import router as pdca
from sqms.meetings.views import router as meetings
from sqms.monitoring.views import router as inspections
from sqms.reviews.views import router as reviews
from sqms.suggestions.views import workspace as suggestions
from sqms.surveys.views import router as surveys
from sqms.web import permissions as perm
from sqms.web.dashboard import router as reporting
from sqms.web.my_tasks import router as reminders
from sqms.web.workspace import (
    BadRequestToken,
    Forbidden,
    NotFound,
    NotSignedIn,
    SessionMiddleware,
    csrf_protect,
    page,
    redirect,
    use_navigation,
)


def mount(app: FastAPI) -> None:
    """Mount the workspace's routers (each domain's views) and its session, CSRF and error answers."""
    use_navigation(perm.navigation)
    app.add_middleware(SessionMiddleware)
    for router in (auth, reminders, complaints, actions, pdca, audits, reviews, surveys, reporting, inspections,
                   meetings, suggestions):
        app.include_router(router, prefix="/app", dependencies=[Depends(csrf_protect)])

    @app.exception_handler(NotSignedIn)
    async def _sign_in(request: Request, exc: NotSignedIn) -> Response:
        if request.method == "GET":
            return redirect("/app/login?next=" + request.url.path)
        return page(request, "forbidden", status=403, reason="signed-out")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return page(request, "forbidden", status=403, reason=exc.reason)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return page(request, "forbidden", status=404, reason="not-found")

    @app.exception_handler(BadRequestToken)
    async def _csrf(request: Request, exc: BadRequestToken) -> Response:
        return page(request, "forbidden", status=403, reason="csrf")
