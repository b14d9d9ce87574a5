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
    """Vectorised `deadline_for` over naive-UTC datetimes (one calendar walk per distinct local day)."""
    tz = settings.tz
    local_day = received_utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.date
    keys = pd.DataFrame({"day": local_day, "severity": severity})
    cache: dict[tuple, object] = {}
    out = []
    for day, sev in keys.itertuples(index=False, name=None):
        if pd.isna(day) or sev is None or (isinstance(sev, float)):
            out.append(pd.NaT)
            continue
        if (day, sev) not in cache:
            start = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
            cache[(day, sev)] = pd.Timestamp(deadline_for(start, sev, settings)).tz_localize(None)
        out.append(cache[(day, sev)])
    return pd.Series(out, index=received_utc.index, dtype="datetime64[us]")
