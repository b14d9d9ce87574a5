"""The one report renderer: a Jinja2 environment over `templates/`, shared by every report and email.

- Templates live in `settings.templates_dir` when set, else `<repo root>/templates`.
- Autoescaping is on for every template except plain-text ones (`*.txt.j2`, `*.subject.j2`,
  `*.md.j2`, `*.txt`): free text from imports (complaint categories, names) can never
  become markup. Pre-rendered SVG charts are passed in as `markupsafe.Markup`.
- Undefined variables are errors (StrictUndefined), so a typo never renders as blank.
- One template serves both languages: `{{ t('服务质量月报', 'Service quality report') }}`
  picks by the `locale` of the context (zh_CN by default, or en).

Filters: `fmt_value(value, kpi)`, `fmt_target(target, kpi)`, `fmt_change(change, kpi)`, `fmt_interval(extra, kpi)`,
`number(decimals)`, `percent(decimals)`, `local_dt(fmt)` (stored UTC → configured timezone),
`status_label`, `kpi_label`, `dept_name`, `code_label(kind)`, `person_name`, `shorten(width)`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context
from markupsafe import Markup

from sqms.config import Settings
from sqms.reporting import formatting as f

PLAIN_TEXT_SUFFIXES = (".txt.j2", ".subject.j2", ".md.j2", ".txt")
_REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def templates_dir(settings: Settings | None = None) -> Path:
    """`settings.templates_dir`, else the repository's `templates/` (else `./templates`)."""
    if settings is not None and settings.templates_dir is not None:
        return Path(settings.templates_dir)
    return _REPO_TEMPLATES if _REPO_TEMPLATES.is_dir() else Path.cwd() / "templates"


def autoescape_for(name: str | None) -> bool:
    """Escape everything except plain-text templates (a string template is escaped too)."""
    return not (name or "").endswith(PLAIN_TEXT_SUFFIXES)


def _locale(ctx: Context) -> str:
    return ctx.get("locale") or "zh_CN"


def _tz(ctx: Context) -> Any:
    settings = ctx.get("settings")
    return settings.tz if isinstance(settings, Settings) else ctx.get("tz")


@pass_context
def _t(ctx: Context, zh: str, en: str) -> str:
    return f.t(_locale(ctx), zh, en)


@pass_context
def _fmt_value(ctx: Context, value: Any, kpi: str, unit: bool = True) -> str:
    return f.fmt_value(value, kpi, _locale(ctx), unit)


@pass_context
def _fmt_target(ctx: Context, target: Any, kpi: str) -> str:
    return f.fmt_target(target, kpi, _locale(ctx))


@pass_context
def _fmt_change(ctx: Context, change: Any, kpi: str) -> str:
    return f.fmt_change(change, kpi, _locale(ctx))


@pass_context
def _fmt_interval(ctx: Context, extra: Any, kpi: str) -> str:
    return f.fmt_interval(kpi, extra, _locale(ctx))


@pass_context
def _local_dt(ctx: Context, moment: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return f.local_datetime(moment, _tz(ctx), fmt)


@pass_context
def _status_label(ctx: Context, status: str) -> str:
    return f.status_label(status, _locale(ctx))


@pass_context
def _kpi_label(ctx: Context, kpi: str) -> str:
    return f.kpi_label(kpi, _locale(ctx))


@pass_context
def _dept_name(ctx: Context, code: str | None) -> str:
    """A department's name in the report language; None is the whole organisation."""
    settings = ctx.get("settings")
    if code is None:
        return f.t(_locale(ctx), "组织整体", "Organisation")
    if isinstance(settings, Settings):
        try:
            return settings.department(code).label(_locale(ctx))
        except KeyError:
            pass
    return code


_LINE_ENDS_IN_BLOCK_TAG = re.compile(r"^(?P<line>[^\n]*?%\})\n", re.MULTILINE)
_ONLY_TAGS = re.compile(r"^\s*(\{%-?(?:[^%]|%(?!\}))*?-?%\}\s*|\{#(?:[^#]|#(?!\}))*?#\}\s*)*$")


class KeepLineBreaks(Extension):
    """Plain-text templates keep the line break after a block tag that ends a line with content.

    `trim_blocks` (right for lines that hold only `{% for %}` or `{% endif %}`) also swallowed the
    newline of `- item{% if late %}, late{% endif %}`, so list items ran together in every text part.
    Such a line gets a second newline for `trim_blocks` to eat; tag-only lines are left alone.
    """

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if not (name or "").endswith(PLAIN_TEXT_SUFFIXES):
            return source

        def keep(match: re.Match) -> str:
            line = match.group("line")
            if _ONLY_TAGS.match(line) or line.endswith("-%}"):
                return match.group(0)
            return line + "\n\n"

        return _LINE_ENDS_IN_BLOCK_TAG.sub(keep, source)


@pass_context
def _code_label(ctx: Context, code: str | None, kind: str) -> str:
    """`{{ complaint.channel|code_label('channel') }}` → 现场: a stored code by its name (sqms.codes)."""
    from sqms.codes import label

    settings = ctx.get("settings")
    return label(settings if isinstance(settings, Settings) else None, kind, code, _locale(ctx))


@pass_context
def _person_name(ctx: Context, email: str | None) -> str:
    from sqms.codes import person_name

    settings = ctx.get("settings")
    return person_name(settings if isinstance(settings, Settings) else None, email)
@pass_context
def _item_url(ctx: Context, kind: str, ident: Any = "") -> str:
    """The workspace page of an item (`sqms.web.links`), for the links in mails."""
    from sqms.web.links import item_url

    return item_url(ctx["settings"], kind, ident)


@lru_cache(maxsize=8)
def _environment(folder: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=autoescape_for,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[KeepLineBreaks],
    )
    env.globals["t"] = _t
    env.globals["item_url"] = _item_url
    env.filters.update({
        "fmt_value": _fmt_value,
        "fmt_target": _fmt_target,
        "fmt_change": _fmt_change,
        "fmt_interval": _fmt_interval,
        "number": lambda value, decimals=0: f.number(value, decimals),
        "percent": lambda value, decimals=1: f.percent(value, decimals),
        "local_dt": _local_dt,
        "status_label": _status_label,
        "kpi_label": _kpi_label,
        "dept_name": _dept_name,
        "code_label": _code_label,
        "person_name": _person_name,
        "shorten": lambda text, width=24: f.shorten(str(text), width),
    })
    return env


def environment(settings: Settings | None = None) -> Environment:
    """The shared environment for the configured templates folder (built once per folder)."""
    return _environment(str(templates_dir(settings).resolve()))


def render_template(settings: Settings, name: str, /, **context: Any) -> str:
    """Render `templates/<name>`. The context always has `settings`, `locale` (default: the
    organisation's) and `org`; explicit keyword arguments win."""
    base = {"settings": settings, "locale": settings.locale, "org": settings.organisation}
    return environment(settings).get_template(name).render({**base, **context})


__all__ = ["Markup", "autoescape_for", "environment", "render_template", "templates_dir"]
