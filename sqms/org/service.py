"""Keep the departments and people tables in step with the configuration."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sqms.audit_trail import changed_fields, record_change
from sqms.config import Settings
from sqms.org.models import Department, Person


def _sync(session: Session, model: type, key: str, wanted: dict[str, dict], entity: str) -> int:
    """Upsert `wanted` rows by `key`, deactivate the others; audit every change. Returns #changes."""
    changes = 0
    existing = {getattr(row, key): row for row in session.scalars(select(model))}
    for ident, values in wanted.items():
        row = existing.pop(ident, None)
        values = {**values, "active": True}
        if row is None:
            session.add(model(**{key: ident}, **values))
            record_change(session, action="create", entity=entity, entity_id=ident, after=values, comment="config")
            changes += 1
            continue
        before = {k: getattr(row, k) for k in values}
        old, new = changed_fields(before, values)
        if new:
            for k, v in new.items():
                setattr(row, k, v)
            record_change(session, action="update", entity=entity, entity_id=ident, before=old, after=new,
                          comment="config")
            changes += 1
    for ident, row in existing.items():
        if row.active:
            row.active = False
            record_change(session, action="deactivate", entity=entity, entity_id=ident,
                          before={"active": True}, after={"active": False}, comment="removed from config")
            changes += 1
    session.flush()
    return changes


def sync_organisation(session: Session, settings: Settings) -> int:
    """Write config departments and people to the database (idempotent). Returns the number of changes."""
    departments = {
        d.code: {"name": d.name, "name_en": d.name_en, "kind": d.kind} for d in settings.departments
    }
    people = {
        p.email: {"name": p.name, "department": p.department, "roles": list(p.roles)} for p in settings.people
    }
    return _sync(session, Department, "code", departments, "department") + _sync(
        session, Person, "email", people, "person"
    )
