"""The service-monitoring KPIs (DESIGN.md §9): inspection_score, mystery_shopper_score,
service_error_rate_per_1000, praise_rate_per_1000; computed with the others in `records.service`."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from sqms.db import read_frame
from sqms.monitoring.models import Compliment, Inspection, ServiceError

EXTERNAL = ("mystery_shopper", "third_party")


def load_monitoring(conn: Connection, start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
    """A period's inspections (by inspected_at), compliments (received_at) and service errors (occurred_at);
    compliments and errors only when the organisation recorded any in the period."""
    def frame(table, columns, when):
        out = read_frame(conn, [table.c[c] for c in columns], table.c[when] >= start, table.c[when] < end)
        out["department"] = out["department"].astype(object)
        return out

    inspections = frame(Inspection.__table__, ["inspection_id", "department", "source", "score"], "inspected_at")
    inspections["score"] = pd.to_numeric(inspections["score"])
    events = {"compliments": frame(Compliment.__table__, ["compliment_id", "department"], "received_at"),
              "errors": frame(ServiceError.__table__, ["error_id", "department"], "occurred_at")}
    # an organisation that recorded no compliments (errors) in the month does not keep them: no data,
    # not a rate of 0 that would read as a missed target everywhere
    return {"inspections": inspections} | {name: f for name, f in events.items() if len(f)}


def monitoring_values(frames: dict[str, pd.DataFrame], records: int) -> dict[str, tuple[float | None, int, dict]]:
    """kpi -> (value, n, extra) for one slice; nothing loaded (a caller without these frames) = no data.

    Called for the organisation and every department of every computed month: plain arrays, no pandas
    selection (which costs more than the few inspections it would select)."""
    inspections = frames.get("inspections")
    if inspections is not None and len(inspections):
        source = inspections["source"].to_numpy(dtype=object)
        score = pd.to_numeric(inspections["score"]).to_numpy(dtype=float, na_value=np.nan)
        internal, external = score[source == "internal"], score[np.isin(source, EXTERNAL)]
    else:
        internal = external = np.empty(0)
    out: dict[str, tuple[float | None, int, dict]] = {
        "inspection_score": (_mean(internal), len(internal), {}),
        "mystery_shopper_score": (_mean(external), len(external), {}),
    }
    for kpi, name in (("service_error_rate_per_1000", "errors"), ("praise_rate_per_1000", "compliments")):
        count = len(frames[name]) if name in frames else 0
        known = name in frames and records > 0
        out[kpi] = (1000.0 * count / records if known else None, records, {name: count})
    return out


def _mean(values: np.ndarray) -> float | None:
    """pandas' mean: None without values, missing scores skipped (NaN when every score is missing)."""
    if not len(values):
        return None
    known = values[~np.isnan(values)]
    return float(known.mean()) if len(known) else float("nan")
