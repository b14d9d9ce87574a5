"""The survey-responses input format (DESIGN.md §3, wide: one column per questionnaire item)."""

from __future__ import annotations

from sqms.ingest import Context, FieldSpec, ImportSpec
from sqms.surveys.models import SurveyResponse
from sqms.surveys.questionnaire import known_items


def _item_fields(ctx: Context) -> list[FieldSpec]:
    # every item column is optional; its scale is the questionnaire's
    return [
        FieldSpec(code, "number", header_optional=True, low=lo, high=hi, scale_group="items")
        for code, (lo, hi) in known_items(ctx.settings.questionnaires_dir).items()
    ]


SURVEY_RESPONSES = ImportSpec(
    kind="survey-responses",
    label="满意度调查答卷 / survey responses",
    table=SurveyResponse.__table__,
    key="response_id",
    fields=[
        FieldSpec("response_id", "id", required=True),
        FieldSpec("submitted_at", "datetime", required=True),
        FieldSpec("department", "department", required=True),
        FieldSpec("customer_id", "id"),
        FieldSpec("nps", "number", low=0, high=10, integer=True),
        FieldSpec("csat", "number", low=1, high=5),
        FieldSpec("comment", "text"),
    ],
    dynamic_fields=_item_fields,
    pack_dynamic_into="answers",
)
