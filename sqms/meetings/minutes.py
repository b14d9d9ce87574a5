"""The minutes of a quality-analysis meeting as people write them: a YAML file or the XLSX workbook
`sqms meeting workbook` produces (attendance, the agenda with discussion and decision, action items).

Both are read into `MinutesIn`; every problem is listed with where it is (the YAML key, or the
sheet, row and column) and nothing is recorded until the whole file is right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from sqms.actions.models import TYPES as ACTION_TYPES
from sqms.calendar import parse_day
from sqms.config import Person, Settings
from sqms.reporting.formatting import t

SHEETS = {"attendance": "出席 attendance", "agenda": "议程 agenda", "actions": "行动项 actions"}
COLUMNS = {
    "attendance": ("email", "name", "present"),
    "agenda": ("item", "title", "discussion", "decision"),
    "actions": ("item", "title", "owner", "due", "department", "type"),
}
_YES = {"1", "true", "yes", "y", "是", "出席", "√", "✓", "x"}


class MinutesError(ValueError):
    """Minutes that do not validate; `problems` lists every one."""

    def __init__(self, problems: list[str], heading: str = "the minutes are not recorded:"):
        super().__init__(heading + "\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass
class ActionItem:
    title: str
    owner: str
    due_on: date
    department: str
    type: str = "corrective"
    item: int | None = None


@dataclass
class MinutesIn:
    attendees: list[str]  # emails
    notes: dict[int, dict[str, str]] = field(default_factory=dict)  # agenda no → discussion, decision
    actions: list[ActionItem] = field(default_factory=list)
    period: str | None = None


def _person(settings: Settings, value: Any) -> Person | None:
    text = str(value or "").strip()
    return next((p for p in settings.people if text.lower() == p.email or text == p.name), None)


def _day(value: Any) -> date | None:
    try:
        return parse_day(value)
    except ValueError:
        return None


def _validate(settings: Settings, agenda_numbers: set[int], raw: dict[str, Any],
              where: dict[str, Any], locale: str = "en") -> MinutesIn:
    """`raw`: attendees, items, actions as plain values; `where(kind, index, column)` names a place;
    the problems in `locale` (the CLI's English, or the language of the workspace form)."""
    def say(zh: str, en: str) -> str:
        return t(locale, zh, en)

    problems: list[str] = []
    attendees = []
    for i, value in enumerate(raw.get("attendees") or []):
        person = _person(settings, value)
        if person is None:
            problems.append(f"{where['attendees'](i)}: " + say(
                f"{value!r} 不是已配置的人员（邮箱或姓名）", f"{value!r} is not a configured person (email or name)"))
        else:
            attendees.append(person.email)
    if not attendees and not problems:
        problems.append(f"{where['attendees'](None)}: " + say("请至少填写一名出席人员", "name at least one person present"))
    notes: dict[int, dict[str, str]] = {}
    for i, item in enumerate(raw.get("items") or []):
        # `item`, not `no`: YAML reads a bare `no` key as false
        try:
            no = int(item.get("item"))
        except (TypeError, ValueError):
            problems.append(f"{where['items'](i, 'item')}: " + say(
                f"{item.get('item')!r} 不是议程编号", f"{item.get('item')!r} is not an agenda item number"))
            continue
        if no not in agenda_numbers:
            numbers = ", ".join(map(str, sorted(agenda_numbers)))
            problems.append(f"{where['items'](i, 'item')}: " + say(f"议程中没有第 {no} 项（议程：{numbers}）",
                                                                    f"the agenda has no item {no} (items: {numbers})"))
            continue
        discussion = str(item.get("discussion") or "").strip()
        decision = str(item.get("decision") or "").strip()
        if discussion or decision:
            notes[no] = {"discussion": discussion, "decision": decision}
    codes = [d.code for d in settings.departments]
    actions = []
    for i, a in enumerate(raw.get("actions") or []):
        title = str(a.get("title") or "").strip()
        if not title:
            problems.append(f"{where['actions'](i, 'title')}: " + say("必须填写", "is required"))
        owner = _person(settings, a.get("owner"))
        if owner is None:
            problems.append(f"{where['actions'](i, 'owner')}: " + say(
                f"{a.get('owner')!r} 不是已配置的人员（每个行动项都要有责任人）",
                f"{a.get('owner')!r} is not a configured person (every action item has an owner)"))
        due = _day(a.get("due"))
        if due is None:
            problems.append(f"{where['actions'](i, 'due')}: " + say(
                f"{a.get('due')!r} 不是日期，如 2026-12-15（每个行动项都要有期限）",
                f"{a.get('due')!r} is not a date such as 2026-12-15 (every action item has a deadline)"))
        department = str(a.get("department") or "").strip() or (owner.department if owner else "")
        department = next((d.code for d in settings.departments if department in (d.code, d.name, d.name_en)),
                          department)
        if owner is not None and department not in codes:
            problems.append(f"{where['actions'](i, 'department')}: " + say(f"未知部门 {department!r}",
                                                                            f"unknown department {department!r}"))
        kind = str(a.get("type") or "corrective").strip()
        if kind not in ACTION_TYPES:
            kinds = ", ".join(ACTION_TYPES)
            problems.append(f"{where['actions'](i, 'type')}: " + say(f"{kind!r} 不是 {kinds} 之一",
                                                                      f"{kind!r} is not one of {kinds}"))
        item = a.get("item")
        if item not in (None, ""):
            try:
                item = int(item)
            except (TypeError, ValueError):
                item = -1
            if item not in agenda_numbers:
                problems.append(f"{where['actions'](i, 'item')}: " + say(f"议程中没有第 {a.get('item')!r} 项",
                                                                          f"the agenda has no item {a.get('item')!r}"))
        else:
            item = None
        if title and owner and due and department in codes and kind in ACTION_TYPES:
            actions.append(ActionItem(title=title, owner=owner.email, due_on=due, department=department, type=kind,
                                      item=item))
    if problems:
        raise MinutesError(problems, say("纪要未保存：", "the minutes are not recorded:"))
    return MinutesIn(attendees=list(dict.fromkeys(attendees)), notes=notes, actions=actions,
                     period=str(raw["period"]) if raw.get("period") else None)


def parse_yaml(settings: Settings, text: str, agenda_numbers: set[int]) -> MinutesIn:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MinutesError([f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise MinutesError(["the top level must be a mapping with attendees, items and actions"])
    for key in ("attendees", "items", "actions"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise MinutesError([f"{key}: must be a list"])
    for key in ("items", "actions"):
        bad = [i for i, entry in enumerate(data.get(key) or []) if not isinstance(entry, dict)]
        if bad:
            raise MinutesError([f"{key}[{i}]: must be a mapping" for i in bad])
    where = {"attendees": lambda i: "attendees" if i is None else f"attendees[{i}]",
             "items": lambda i, c: f"items[{i}].{c}", "actions": lambda i, c: f"actions[{i}].{c}"}
    return _validate(settings, agenda_numbers, data, where)


def write_workbook(path: str | Path, settings: Settings, meeting: Any) -> Path:
    """The workbook to fill in: the invitation list with a `present` column, the agenda with empty
    discussion and decision, an empty action-item sheet."""
    import openpyxl
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEETS["attendance"]
    sheet.append(COLUMNS["attendance"])
    names = {p.email: p.name for p in settings.people}
    for email in meeting.participants:
        sheet.append([email, names.get(email, ""), ""])
    yes_no = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    sheet.add_data_validation(yes_no)
    yes_no.add(f"C2:C{len(meeting.participants) + 50}")
    agenda = book.create_sheet(SHEETS["agenda"])
    agenda.append(COLUMNS["agenda"])
    notes = {n["no"]: n for n in meeting.notes or []}
    for item in meeting.agenda:
        note = notes.get(item["no"], {})
        agenda.append([item["no"], item["title"], note.get("discussion", ""), note.get("decision", "")])
    actions = book.create_sheet(SHEETS["actions"])
    actions.append(COLUMNS["actions"])
    kinds = DataValidation(type="list", formula1='"' + ",".join(ACTION_TYPES) + '"', allow_blank=True)
    actions.add_data_validation(kinds)
    kinds.add("F2:F200")
    for ws in (sheet, agenda, actions):
        for column in "ABCDEF":
            ws.column_dimensions[column].width = 24
    path = Path(path)
    book.save(path)
    return path


def parse_workbook(settings: Settings, path: str | Path, agenda_numbers: set[int]) -> MinutesIn:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not a workbook at all
        raise MinutesError([f"{path}: not an XLSX workbook ({exc.__class__.__name__})"]) from None
    problems = [f"sheet {name!r} is missing (write the workbook with `sqms meeting workbook`)"
                for name in SHEETS.values() if name not in book.sheetnames]
    if problems:
        raise MinutesError(problems)
    rows: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for kind, name in SHEETS.items():
        found = []
        iterator = book[name].iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(iterator, ())]
        missing = [c for c in COLUMNS[kind] if c not in header]
        if missing:
            problems.append(f"sheet {name!r}, row 1: missing column(s) {', '.join(missing)}")
            continue
        for n, values in enumerate(iterator, start=2):
            row = dict(zip(header, values))
            if any(v not in (None, "") for v in row.values()):
                found.append((n, row))
        rows[kind] = found
    if problems:
        raise MinutesError(problems)
    letters = {kind: {c: chr(ord("A") + i) for i, c in enumerate(COLUMNS[kind])} for kind in COLUMNS}
    attendance = [(n, r) for n, r in rows["attendance"] if str(r.get("present") or "").strip().lower() in _YES]
    raw = {"attendees": [r.get("email") or r.get("name") for _, r in attendance],
           "items": [r for _, r in rows["agenda"]], "actions": [r for _, r in rows["actions"]]}

    def place(kind: str, source: list, i: int | None, column: str) -> str:
        if i is None:
            return f"sheet {SHEETS[kind]!r}, column {letters[kind][column]} (present)"
        return f"sheet {SHEETS[kind]!r}, row {source[i][0]}, column {letters[kind][column]} ({column})"

    where = {"attendees": lambda i: place("attendance", attendance, i, "email" if i is not None else "present"),
             "items": lambda i, c: place("agenda", rows["agenda"], i, c),
             "actions": lambda i, c: place("actions", rows["actions"], i, c)}
    return _validate(settings, agenda_numbers, raw, where)


def parse_file(settings: Settings, path: str | Path, agenda_numbers: set[int]) -> MinutesIn:
    path = Path(path)
    if not path.is_file():
        raise MinutesError([f"{path}: file not found"])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return parse_workbook(settings, path, agenda_numbers)
    return parse_yaml(settings, path.read_text(encoding="utf-8"), agenda_numbers)


def parse_form(settings: Settings, form: dict[str, Any], agenda_numbers: set[int], locale: str) -> MinutesIn:
    """The workspace's minutes form: `present` (emails ticked), `present_other` (names or emails, comma
    separated), `discussion_<n>` / `decision_<n>` per agenda item, action rows `a<k>_<column>` (a row
    left empty is no row). Problems name the form's fields in `locale`."""
    import re

    others = [x for x in re.split(r"[,，、;；\s]+", str(form.get("present_other") or "")) if x]
    attendees = [*form.get("present", []), *others]
    items = [{"item": no, "discussion": form.get(f"discussion_{no}", ""), "decision": form.get(f"decision_{no}", "")}
             for no in sorted(agenda_numbers)]
    rows = sorted({int(m.group(1)) for k in form if (m := re.fullmatch(r"a(\d+)_\w+", k))})
    actions, row_of = [], []
    for k in rows:
        row = {c: str(form.get(f"a{k}_{c}") or "").strip() for c in COLUMNS["actions"]}
        if row["title"] or row["owner"] or row["due"]:  # a row with something typed or chosen in it
            actions.append(row)
            row_of.append(k)
    labels = {"title": ("事项", "title"), "owner": ("责任人", "owner"), "due": ("期限", "due"),
              "department": ("部门", "department"), "type": ("类型", "type"), "item": ("议程项", "agenda item")}
    n_present = len(form.get("present", []))

    def attendee(i: int | None) -> str:
        if i is None:
            return t(locale, "出席人员", "Present")
        return t(locale, "出席人员", "Present") if i < n_present else t(locale, "其他出席人员", "Others present")

    where = {"attendees": attendee,
             "items": lambda i, c: t(locale, f"议程 {items[i]['item']}", f"Agenda item {items[i]['item']}"),
             "actions": lambda i, c: t(locale, f"行动项 {row_of[i]} · {labels[c][0]}",
                                       f"Action item {row_of[i]} · {labels[c][1]}")}
    return _validate(settings, agenda_numbers, {"attendees": attendees, "items": items, "actions": actions}, where,
                     locale)
