"""Internal audit checklists (`config/checklists/*.yaml`): per department or process, items with a
clause of the regulation, the question, the evidence expected and the area audited (people,
resources, technology, process — the four the regulation names)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sqms.config import ConfigError
from sqms.surveys.questionnaire import Text

Area = Literal["people", "resources", "technology", "process"]
AREA_LABELS = {"people": ("人员", "People"), "resources": ("资源", "Resources"),
               "technology": ("技术", "Technology"), "process": ("过程", "Process")}


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,23}$")
    area: Area
    clause: str = Field(min_length=1)
    question: str = Field(min_length=1)
    evidence: str = ""
    name_en: str | None = None  # the question in English (English checklists and reports)
    evidence_en: str | None = None
    standard: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9-]{1,39}$")  # a document of the register

    def fingerprint(self) -> str:
        """Changes when anything an auditor reads changes (to flag edited items between cycles); an
        English wording added later, or an item without a standard, keeps the fingerprint it had."""
        content = {k: v for k, v in self.model_dump(exclude_none=True).items() if k not in ("name_en", "evidence_en")}
        return hashlib.sha1(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    title: Text
    departments: tuple[str, ...] = Field(min_length=1)
    items: tuple[ChecklistItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Checklist":
        codes = [i.code for i in self.items]
        for n, code in enumerate(codes):
            if codes.index(code) != n:
                raise ValueError(f"items[{n}].code: duplicate item code '{code}'")
        return self


def load_checklists(directory: Path, department_codes: list[str] | None = None) -> dict[str, Checklist]:
    """Every checklist by code; every problem named with its file and key. A department may be on
    one checklist only (so that its audit has one list)."""
    found: dict[str, Checklist] = {}
    problems: list[str] = []
    owner: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        try:
            checklist = Checklist.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: invalid YAML: {exc}")
            continue
        except ValidationError as exc:
            for e in exc.errors():
                loc = ".".join(str(p) for p in e["loc"])
                problems.append(f"{path.name}: {loc}: {e['msg'].removeprefix('Value error, ')}")
            continue
        if checklist.code in found:
            problems.append(f"{path.name}: code: duplicate checklist code '{checklist.code}'")
        for n, dept in enumerate(checklist.departments):
            if department_codes is not None and dept not in department_codes:
                problems.append(f"{path.name}: departments[{n}]: unknown department '{dept}'")
            if dept in owner:
                problems.append(f"{path.name}: departments[{n}]: '{dept}' is already on checklist '{owner[dept]}'")
            owner.setdefault(dept, checklist.code)
        found[checklist.code] = checklist
    if problems:
        raise ConfigError(str(directory), problems)
    return found


def checklist_for(checklists: dict[str, Checklist], department: str) -> Checklist | None:
    return next((c for c in checklists.values() if department in c.departments), None)
