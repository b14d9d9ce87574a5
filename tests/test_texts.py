"""Texts of mails and reports: line breaks of plain-text parts, no raw codes in zh_CN output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import meta

from sqms.reporting.render import environment
from tests.conftest import CONFIG, ROOT

TEXT_TEMPLATES = sorted(p.relative_to(ROOT / "templates").as_posix()
                        for p in (ROOT / "templates" / "email").glob("*/*.txt.j2"))


class Probe(float):
    """Stands for any value: every attribute, call and item is another probe named by its path,
    and iterating gives two items, `path[0]` and `path[1]`; it prints as `<path>`."""

    def __new__(cls, path: str):
        probe = super().__new__(cls, 1.5)
        probe.path = path
        return probe

    def __getattr__(self, name: str) -> Probe:
        if name.startswith("__"):
            raise AttributeError(name)
        return Probe(f"{self.path}.{name}")

    def __call__(self, *args, **kwargs) -> Probe:
        return Probe(f"{self.path}()")

    def __getitem__(self, key) -> Probe:
        return Probe(f"{self.path}.{key}")

    def __iter__(self):
        return iter([Probe(f"{self.path}[0]"), Probe(f"{self.path}[1]")])

    def __len__(self) -> int:
        return 2

    def __hash__(self) -> int:
        return hash(self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, Probe) and other.path == self.path

    def __str__(self) -> str:
        return f"<{self.path}>"

    __repr__ = __str__


def _loop_items(line: str) -> dict[str, set[str]]:
    """For each iterated value on a line, which of its two items the line shows."""
    seen: dict[str, set[str]] = {}
    for path in re.findall(r"<([^<>]+)>", line):
        for m in re.finditer(r"\[(\d)\]", path):
            seen.setdefault(path[:m.start()], set()).add(m.group(1))
    return seen


@pytest.mark.parametrize("name", TEXT_TEMPLATES)
def test_every_text_part_keeps_one_item_per_line(name: str, tmp_path: Path) -> None:
    """Issue 19 item 23: list items of a plain-text part never run together on one line."""
    from sqms.config import load_settings

    settings = load_settings(CONFIG, database_url=f"sqlite:///{tmp_path}/x.db")
    env = environment(settings)
    source = env.loader.get_source(env, name)[0]
    variables = meta.find_undeclared_variables(env.parse(source))
    locale = name.split("/")[1]
    context = {v: Probe(v) for v in variables}
    context.update(settings=settings, org=settings.organisation, locale=locale)
    text = env.get_template(name).render(context)
    loops = re.findall(r"\{%-?\s*for\s", source)
    if loops:
        assert "[1]" in text, f"{name}: the probe did not reach the loop body"
    joined = set(re.findall(r"([\w.]+)\s*\|\s*join", source))  # meant to be on one line
    for line in text.splitlines():
        mixed = {loop for loop, items in _loop_items(line).items() if len(items) > 1 and loop not in joined}
        assert not mixed, f"{name}: two items of {mixed} on one line: {line!r}"


def test_digest_text_items_on_separate_lines(tmp_path: Path) -> None:
    """A real reminder digest: each overdue item is its own line."""
    from datetime import date, datetime

    from sqms.config import load_settings
    from sqms.notify.compose import compose

    settings = load_settings(CONFIG, database_url=f"sqlite:///{tmp_path}/x.db")
    items = [{"kind": "投诉", "item_id": f"CP-2026-000{n}", "title": f"标题{n}", "due": datetime(2026, 10, 9, 17, 0),
                  "late": n, "stage": "overdue", "owner": "张三", "department": "客服部"} for n in (1, 2)]
    mail = compose(settings, "reminder_digest", "a@example.org", day=date(2026, 10, 12),
                   overdue=items, due_soon=[], escalated=[])
    lines = [line for line in mail.body_text.splitlines() if line.startswith("- ")]
    assert len(lines) == 2 and "CP-2026-0001" in lines[0] and "CP-2026-0002" in lines[1]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_survey_report_text_keeps_lines_after_a_conditional(locale: str, tmp_path: Path) -> None:
    """The NPS line ends in `{% endif %}`: the next figure still starts a new line."""
    from sqms.config import load_settings

    settings = load_settings(CONFIG, database_url=f"sqlite:///{tmp_path}/x.db")
    env = environment(settings)
    name = f"email/{locale}/survey_report.txt.j2"
    text = env.get_template(name).render(title="T", campaign=Probe("campaign"), figures=Probe("figures"),
                                         files=["a.pdf"], recipient_name="", settings=settings, locale=locale,
                                         org=settings.organisation)
    nps = next(line for line in text.splitlines() if "NPS" in line)
    assert "figures.detractors" not in nps
