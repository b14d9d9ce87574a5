"""Texts of mails and reports: line breaks of plain-text parts, no raw codes in zh_CN output."""

from __future__ import annotations

import re
from datetime import date, time
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
                  "late": n, "stage": "overdue", "owner": "张三", "department": "客服部",
                  "overdue": f"{n} 个工作日", "url": f"http://127.0.0.1:8000/app/complaints/CP-2026-000{n}"}
             for n in (1, 2)]
    mail = compose(settings, "reminder_digest", "a@example.org", day=date(2026, 10, 12),
                   overdue=items, due_soon=[], escalated=[], hidden=0, total=2, counts=[])
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


# -- item 24: no raw codes in zh_CN output; item 25: the overdue column ------------------------------

RAW = re.compile(r"@example\.com|\b(?:onsite|phone|online|normal|special|service-operations|support-functions"
                 r"|OPS|CS|SALES|GMO|HR|FIN|RND|ADMIN)\b")


def _delivered(settings) -> list[tuple[str, str, str]]:
    """(subject, text, html) of every mail delivered to the .eml folder."""
    import email
    from email import policy

    from sqms.notify.service import deliver_pending

    deliver_pending(settings)
    out = []
    for path in sorted(Path(settings.outbox_dir).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        out.append((str(message["Subject"]), message.get_body(("plain",)).get_content(),
                    message.get_body(("html",)).get_content()))
    return out


def _leaks(text: str) -> list[str]:
    text = re.sub(r"<style.*?</style>|style=\"[^\"]*\"", "", text, flags=re.S)  # CSS says "normal" too
    return [text[max(0, m.start() - 20):m.end() + 5] for m in RAW.finditer(text)]


def test_complaint_mails_and_digests_show_names_not_codes(sqlite_settings) -> None:
    """A special on-site complaint, overdue: the GM's notice and every digest read in names."""
    from datetime import datetime

    from sqms.calendar import to_utc
    from sqms.complaints.service import register
    from sqms.db import UnitOfWork
    from sqms.org.service import sync_organisation
    from sqms.reminders.service import send_reminders
    from sqms.reminders.weekly import send_weekly_digest

    settings = sqlite_settings
    tz = settings.tz
    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        register(uow.session, settings, received_at=to_utc(datetime(2026, 10, 12, 10, 0), tz), department="OPS",
                 channel="onsite", severity="special", category="设施环境", description="门口台阶破损")
        register(uow.session, settings, received_at=to_utc(datetime(2026, 10, 12, 11, 0), tz), department="CS",
                 channel="phone", severity="normal", category="服务态度")
        uow.commit()
    # normal: due 2026-10-14, special: 2026-10-19; on 2026-10-20 both are overdue (one by < 1 working day)
    for day in (date(2026, 10, 15), date(2026, 10, 20), date(2026, 10, 26)):
        with UnitOfWork(settings.database_url, actor="test") as uow:
            send_reminders(uow.session, settings, today=day, now=to_utc(datetime.combine(day, time(9)), tz))
            send_weekly_digest(uow.session, settings, today=day, now=to_utc(datetime.combine(day, time(9)), tz))
            uow.commit()
    mails = _delivered(settings)
    subjects = [s for s, _, _ in mails]
    assert any("重大投诉" in s for s in subjects) and any("待办" in s or "提醒" in s for s in subjects), subjects
    for subject, text, html in mails:
        assert not _leaks(subject + text + html), (subject, _leaks(subject + text + html))
    notice = next(text for subject, text, _ in mails if subject.startswith("[重大投诉"))
    assert "受理渠道：现场" in notice and "处理人：刘洋" in notice
    digests = [(text, html) for subject, text, html in mails
               if "CP-" in text and "已超期" in text and not subject.startswith("[重大投诉")]
    assert digests
    for text, html in digests:
        overdue = [line for line in text.splitlines() if line.startswith("- ") and "已超期" in line]
        assert overdue and all("已超期 —" not in line for line in overdue)
    assert any("不足 1 个工作日" in text for text, _ in digests)


def test_checklist_clauses_cite_real_sections() -> None:
    """Every clause names a section of the company regulation or an article of the general one; no "3.x"."""
    import yaml

    seeds = ROOT.parent / "shared" / "seeds"
    company = next(iter(seeds.glob("004_*.txt")), None) if seeds.is_dir() else None
    general = next(iter(seeds.glob("000_*.txt")), None) if seeds.is_dir() else None
    for path in (ROOT / "config" / "checklists").glob("*.yaml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            clause = item["clause"]
            assert not re.search(r"\d\.x|\bx\b", clause), (path.name, clause)
            sections = re.findall(r"(?<![\d.])(\d+(?:\.\d+)+)", clause.split("通则")[0])
            articles = re.findall(r"第[一二三四五六七八九十]+条", clause)
            assert sections or articles, (path.name, clause)
            if company is not None:
                text = company.read_text(encoding="utf-8")
                for s in sections:
                    assert re.search(rf"(?<![\d.]){re.escape(s)}\s*\S", text), (path.name, s)
            if general is not None:
                text = general.read_text(encoding="utf-8").split("篇二")[0]
                for a in articles:
                    assert a + " " in text or a in text, (path.name, a)


def test_review_target_change_names_the_department(tmp_path: Path) -> None:
    from sqms.config import load_settings
    from sqms.reviews.service import OutputIn, _change_text

    settings = load_settings(CONFIG, database_url=f"sqlite:///{tmp_path}/x.db")
    entry = OutputIn(kind="target_change", text="", kpi="response_within_target_pct", department="OPS", target=92)
    assert "响应及时率（运营部）" in _change_text(settings, entry)


def test_survey_form_marks_the_questions_it_calls_red(tmp_path: Path) -> None:
    """"请检查标红的题目": the questions with an error are marked red, the others are not.

    (Checked on the markup and its style rules: the session's Chromium fixture keeps an event loop
    running that would break the Prefect tests collected after this file.)"""
    from types import SimpleNamespace

    from sqms.config import load_settings
    from sqms.reporting.render import render_template
    from sqms.surveys.questionnaire import load_questionnaires

    settings = load_settings(CONFIG, database_url=f"sqlite:///{tmp_path}/x.db",
                             questionnaires_dir=ROOT / "config" / "questionnaires")
    q = load_questionnaires(settings.questionnaires_dir)["quarterly"]
    campaign = SimpleNamespace(code="2026-Q3", close_on=date(2026, 10, 20))
    html = render_template(settings, "web/survey.html.j2", locale="zh_CN", lang_query="?lang=zh_CN", q=q,
                           campaign=campaign, token="t", errors={"csat": "required", "nps": "required"}, values={})
    assert "标红的题目" in html
    fieldsets = re.findall(r"<fieldset([^>]*)>(.*?)</fieldset>", html, re.S)
    marked = {name for attrs, body in fieldsets if "invalid" in attrs
              for name in re.findall(r'name="(\w+)"', body)}
    assert marked == {"csat", "nps"}
    assert re.search(r"fieldset\.invalid legend \{ color: var\(--red\)", html)
    assert "--red: #c62828" in html


def test_audit_report_scope_names_checklists_by_title(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from sqms.audits.models import AuditSlot
    from sqms.audits.report import _context, scope_table
    from sqms.config import load_settings

    settings = load_settings(CONFIG, database_url=f"sqlite:///{tmp_path}/x.db")
    slots = [AuditSlot(id=1, department="OPS", auditor="li.na@example.com", day=date(2026, 12, 1),
                       checklist_code="service-operations", items=[], changed_items=[]),
             AuditSlot(id=2, department="HR", auditor="huang.li@example.com", day=date(2026, 12, 2),
                       checklist_code="gone", items=[], changed_items=[])]
    scope = scope_table(slots, [], _context(settings, datetime(2026, 12, 1, tzinfo=timezone.utc)))
    assert scope["checklist"].tolist() == ["运营服务实施部门内审检查表", "gone"]
