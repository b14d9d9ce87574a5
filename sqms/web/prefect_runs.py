"""The last run of each process, read from the Prefect API over plain HTTP (the core never
imports Prefect), with a link to the run in the Prefect UI."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class LastRun:
    flow: str
    state: str
    started: str | None
    url: str


def _post(api: str, path: str, body: dict[str, Any], timeout: float) -> Any:
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def last_runs(api_url: str | None = None, ui_url: str | None = None, *,
              timeout: float = 1.5) -> tuple[list[LastRun], str | None]:
    """(the newest run of every flow, an error to show instead); ([], None) when no API is configured."""
    api = (api_url or os.environ.get("PREFECT_API_URL") or "").rstrip("/")
    if not api:
        return [], None
    ui = (ui_url or os.environ.get("PREFECT_UI_URL") or api.removesuffix("/api")).rstrip("/")
    try:
        flows = {f["id"]: f["name"] for f in _post(api, "/flows/filter", {"limit": 200}, timeout)}
        runs = _post(api, "/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 200}, timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return [], f"{api}: {exc}"
    newest: dict[str, LastRun] = {}
    for run in runs:
        name = flows.get(run.get("flow_id"), run.get("flow_id", "?"))
        if name not in newest:
            newest[name] = LastRun(name, run.get("state_name") or "?", run.get("start_time"),
                                   f"{ui}/runs/flow-run/{run['id']}")
    return sorted(newest.values(), key=lambda r: r.flow), None
