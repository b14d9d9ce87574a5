"""Questionnaires (`config/questionnaires/*.yaml`): items, scales and SERVQUAL dimensions."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sqms.config import ConfigError

Dimension = Literal["tangibles", "reliability", "responsiveness", "assurance", "empathy"]


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh_CN: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        return self.zh_CN if locale.startswith("zh") else self.en


class Scale(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: int = 1
    max: int = 5

    @model_validator(mode="after")
    def _ordered(self) -> "Scale":
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,23}$")
    text: Text
    dimension: Dimension | None = None
    scale: Scale | None = None
    expectation_of: str | None = None  # this item asks the expectation twin of another item


class Questionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    title: Text
    scale: Scale = Scale()
    csat_question: Text
    nps_question: Text
    comment_prompt: Text
    items: tuple[Item, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> "Questionnaire":
        codes = [i.code for i in self.items]
        for n, item in enumerate(self.items):
            if codes.index(item.code) != n:
                raise ValueError(f"items[{n}].code: duplicate item code '{item.code}'")
            if item.code in ("NPS", "CSAT"):
                raise ValueError(f"items[{n}].code: '{item.code}' is reserved")
            if item.expectation_of and item.expectation_of not in codes:
                raise ValueError(f"items[{n}].expectation_of: unknown item '{item.expectation_of}'")
        return self

    def item_scale(self, item: Item) -> Scale:
        return item.scale or self.scale


def load_questionnaire(path: Path) -> Questionnaire:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Questionnaire.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"{path}: invalid YAML: {exc}"]) from None
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {message}" if loc else message)
        raise ConfigError(str(path), problems) from None


@lru_cache(maxsize=4)
def load_questionnaires(directory: Path = Path("config/questionnaires")) -> dict[str, Questionnaire]:
    """Every questionnaire in the folder, by code (an empty dict when there is no folder)."""
    found = {}
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        q = load_questionnaire(path)
        found[q.code] = q
    return found


def known_items(directory: Path = Path("config/questionnaires")) -> dict[str, tuple[int, int]]:
    """Item code -> (min, max) of its scale, over every questionnaire."""
    items: dict[str, tuple[int, int]] = {}
    for q in load_questionnaires(directory).values():
        for item in q.items:
            scale = q.item_scale(item)
            items[item.code] = (scale.min, scale.max)
    return items
