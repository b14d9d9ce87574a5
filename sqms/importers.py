"""The import formats by name, as `sqms import <kind>` knows them."""

from __future__ import annotations

from sqms.ingest import ImportSpec

KINDS = ("service-records", "complaints", "survey-responses", "customers", "staff", "inspections", "compliments",
         "service-errors")


def spec_for(kind: str) -> ImportSpec:
    if kind == "service-records":
        from sqms.records.imports import SERVICE_RECORDS as spec
    elif kind == "complaints":
        from sqms.complaints.imports import COMPLAINTS as spec
    elif kind == "survey-responses":
        from sqms.surveys.imports import SURVEY_RESPONSES as spec
    elif kind == "customers":
        from sqms.org.imports import CUSTOMERS as spec
    elif kind == "staff":
        from sqms.monitoring.imports import STAFF as spec
    elif kind == "compliments":
        from sqms.monitoring.imports import COMPLIMENTS as spec
    elif kind == "service-errors":
        from sqms.monitoring.imports import SERVICE_ERRORS as spec
    else:
        raise ValueError(f"unknown import kind {kind!r} (known: {', '.join(KINDS)})")
    return spec
