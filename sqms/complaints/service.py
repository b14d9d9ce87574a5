"""Complaint rules: the settle-by deadline from the working-day calendar."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from sqms.calendar import deadline_after
from sqms.config import Settings


def deadline_for(received_at: datetime, severity: str, settings: Settings) -> datetime:
    """End of the N-th working day after the local day of receipt (N by severity, from config)."""
    return deadline_after(received_at, settings.complaints.deadline_working_days[severity], settings.tz)


def deadlines_for(received_utc: pd.Series, severity: pd.Series, settings: Settings) -> pd.Series:
    """Vectorised `deadline_for` over naive-UTC datetimes (one calendar walk per distinct local day and severity).

    NaT where the receipt time or the severity is missing (or the severity unknown).
    """
    tz = settings.tz
    local_day = received_utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    severity = pd.Series(severity.to_numpy(dtype=object), index=received_utc.index)
    known = local_day.notna() & severity.isin(list(settings.complaints.deadline_working_days))
    keys = pd.DataFrame({"day": local_day[known], "severity": severity[known]})
    distinct = keys.drop_duplicates()
    due = {
        (day, sev): pd.Timestamp(deadline_for(datetime(day.year, day.month, day.day, 12, tzinfo=tz), sev, settings))
        .tz_convert("UTC").tz_localize(None)
        for day, sev in distinct.itertuples(index=False, name=None)
    }
    out = pd.Series(pd.NaT, index=received_utc.index, dtype="datetime64[us]")
    if due:
        index = pd.MultiIndex.from_frame(keys)
        lookup = pd.Series(list(due.values()), index=pd.MultiIndex.from_tuples(list(due)), dtype="datetime64[us]")
        out[known.to_numpy()] = lookup.reindex(index).to_numpy()
    return out
