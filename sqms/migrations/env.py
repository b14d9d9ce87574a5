"""Alembic environment: the URL comes from the caller (sqms.db.migrate) or SQMS config."""

from alembic import context

import sqms.models  # noqa: F401  (registers every table)
from sqms.db import Base, get_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from sqms.config import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = get_engine(_url())
    with connectable.connect() as connection:
        # render_as_batch: SQLite cannot ALTER most things; batch mode recreates the table.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
