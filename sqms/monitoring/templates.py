"""Inspection templates (`config/inspections/*.yaml`): scored items grouped by area, drawn from the
regulations (seed 000 §2.2 interface rules, seed 003 courier conduct rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sqms.config import ConfigError, Settings

Area = Literal["环境", "仪容仪表", "服务用语", "流程规范", "记录"]


class TemplateItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_-]{0,23}$")
    text: str = Field(min_length=1)
    points: float = Field(gt=0)
    weight: float = Field(default=1.0, gt=0)
    red_line: bool = False  # failing it zeroes the inspection
    evidence_required: bool = False  # a failed item needs evidence


class TemplateArea(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    area: Area
    items: tuple[TemplateItem, ...] = Field(min_length=1)


class InspectionTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    name: str = Field(min_length=1)
    name_en: str = ""
    areas: tuple[TemplateArea, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> InspectionTemplate:
        codes = [i.code for i in self.items()]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate item codes: {', '.join(duplicates)}")
        return self

    def items(self) -> list[TemplateItem]:
        return [item for area in self.areas for item in area.items]

    def item(self, code: str) -> TemplateItem | None:
        return next((i for i in self.items() if i.code == code), None)

    def area_of(self, code: str) -> str:
        return next(a.area for a in self.areas for i in a.items if i.code == code)


def load_templates(settings: Settings) -> dict[str, InspectionTemplate]:
    """Every template of `monitoring.inspections_dir` by code; ConfigError listing every problem."""
    folder = Path(settings.monitoring.inspections_dir)
    templates: dict[str, InspectionTemplate] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            template = InspectionTemplate.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (yaml.YAMLError, ValidationError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        if template.code in templates:
            problems.append(f"{path}: duplicate template code {template.code!r}")
        templates[template.code] = template
    if problems:
        raise ConfigError(str(folder), problems)
    return templates
