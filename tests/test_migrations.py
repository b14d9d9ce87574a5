"""The Alembic migrations build exactly the schema of the models, on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import sqms.models  # noqa: F401
from sqms.db import Base, alembic_config, get_engine, migrate, schema_revision


def test_migrated_schema_matches_the_models(db_url):
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    current, head = schema_revision(db_url)
    assert current == head


def test_downgrade_and_upgrade_again(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path}/roundtrip.db"
    migrate(url)
    command.downgrade(alembic_config(url), "0001")
    assert "actions" not in inspect(get_engine(url)).get_table_names()
    get_engine(url).dispose()
    migrate(url)
    assert {"actions", "reminders_sent", "access_tokens"} <= set(inspect(get_engine(url)).get_table_names())
