"""The import formats by name, as `sqms import <kind>` knows them."""

from __future__ import annotations

from sqms.ingest import ImportSpec

KINDS = ("service-records", "complaints", "survey-responses", "customers")


def spec_for(kind: str) -> ImportSpec:
    if kind == "service-records":
        from sqms.records.imports import SERVICE_RECORDS as spec
    elif kind == "complaints":
        from sqms.complaints.imports import COMPLAINTS as spec
    elif kind == "survey-responses":
        from sqms.surveys.imports import SURVEY_RESPONSES as spec
    elif kind == "customers":
        from sqms.org.imports import CUSTOMERS as spec
    else:
        raise ValueError(f"unknown import kind {kind!r} (known: {', '.join(KINDS)})")
    return spec
