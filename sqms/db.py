"""SQLAlchemy 2 engine, declarative Base, the unit of work and migrations.

Times are stored as naive UTC in every database (one convention for SQLite and
PostgreSQL); `UTCDateTime` converts at the boundary and refuses naive input so
that a local time can never be stored by mistake.
"""

from __future__ import annotations

import getpass
import logging
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import JSON, Boolean, Connection, DateTime, Engine, String, create_engine, event, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    import pandas as pd

UTC = timezone.utc
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DateTime writes and reads


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive UTC at rest."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: convert it to UTC with sqms.calendar.to_utc first")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JsonType, list[Any]: JsonType}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per URL per process (pooled connections are reused across units of work)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60}, json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the report) never block the importer
            cursor.execute("PRAGMA synchronous=NORMAL")
            # SQLite's default 2 MB page cache makes index maintenance of a million-row import
            # thrash; 64 MB keeps the indexes' hot pages in memory.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)


def read_frame(conn: Connection, columns: list[ColumnElement], *where: Any) -> pd.DataFrame:
    """`SELECT columns WHERE ...` as a DataFrame; datetime columns come back as naive-UTC datetime64.

    SQLite keeps datetimes as text and SQLAlchemy would parse them one value at a time in
    Python; here they are read as text and parsed by pandas in one vectorised call (10× faster
    on a month of records). PostgreSQL's driver already returns datetimes natively.
    """
    import pandas as pd

    sqlite = conn.dialect.name == "sqlite"
    times = {c.key for c in columns if isinstance(c.type, (DateTime, UTCDateTime))}
    selected = [type_coerce(c, String).label(c.key) if sqlite and c.key in times else c for c in columns]
    stmt = select(*selected)
    for clause in where:
        stmt = stmt.where(clause)
    result = conn.execute(stmt)
    if all(c.key in times or _plain(c, conn.dialect) for c in columns):
        rows = result.cursor.fetchall()  # the driver's own tuples: no per-row processing needed
    else:
        rows = [tuple(r) for r in result.all()]
    frame = pd.DataFrame(rows, columns=[c.key for c in columns], dtype=object)
    for key in times:
        values = (pd.to_datetime(frame[key], format="ISO8601", utc=True) if len(frame)
                  else pd.Series([], dtype="datetime64[us, UTC]"))
        frame[key] = values.dt.tz_localize(None).astype("datetime64[us]")
    return frame


def _plain(column: ColumnElement, dialect: Any) -> bool:
    """Whether the driver's value is already what we want (no result processing; 0/1 booleans are fine)."""
    if isinstance(column.type, Boolean):
        return True
    try:
        return column.type.dialect_impl(dialect).result_processor(dialect, None) is None
    except Exception:  # some dialects need the driver's type code to tell: assume processing
        return False


def _json_dumps(value: Any) -> str:
    # keep Chinese readable in the database (the audit log is read by people)
    return json.dumps(value, ensure_ascii=False)


def default_actor() -> str:
    """Who is acting when nobody said: `SQMS_ACTOR`, else the OS user."""
    try:
        return os.environ.get("SQMS_ACTOR") or getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


class UnitOfWork:
    """One transaction: `with UnitOfWork(url, actor=...) as uow: ...; uow.commit()`.

    Leaving the block without `commit()` rolls back, so a failure half-way writes nothing.
    `actor` is written to the audit trail for every change made inside.
    """

    def __init__(self, url: str, actor: str | None = None):
        import sqms.models  # noqa: F401  (every table known, so that foreign keys resolve on flush)

        self.url = url
        self.actor = actor or default_actor()
        self._factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)

    def __enter__(self) -> "UnitOfWork":
        self.session: Session = self._factory()
        self.session.info["actor"] = self.actor
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        # close() rolls back what was not committed and detaches the objects without expiring
        # them, so what a unit of work read stays readable after it.
        try:
            self.session.close()
        finally:
            self._undo(exc)

    def commit(self) -> None:
        self.session.commit()
        self.session.info.pop(ON_ABORT, None)

    def rollback(self) -> None:
        self.session.rollback()
        self._undo(None)

    def _undo(self, exc: BaseException | None) -> None:
        """Work that was never committed: its side effects outside the database go too."""
        for callback in self.session.info.pop(ON_ABORT, []):
            try:
                callback(exc)
            except Exception:  # cleaning up must not hide why the work failed
                logging.getLogger(__name__).exception("could not undo after an aborted unit of work")


ON_ABORT = "sqms.on_abort"


def on_abort(session: Session, callback: Any) -> None:
    """Call `callback(exception or None)` if the unit of work of `session` ends without committing
    what it did so far (files written for rows that were never stored)."""
    session.info.setdefault(ON_ABORT, []).append(callback)


@contextmanager
def unit_of_work(url: str, actor: str | None = None) -> Iterator[Session]:
    """Shorthand: yields the session and commits when the block ends without error."""
    with UnitOfWork(url, actor) as uow:
        yield uow.session
        uow.commit()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database schema to `revision` (idempotent)."""
    from alembic import command

    import sqms.models  # noqa: F401  (registers every table on Base.metadata)

    command.upgrade(alembic_config(url), revision)


def schema_revision(url: str) -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of the code).

    Read without Alembic's machinery (a third of a second to import): the database's
    `alembic_version` row, and the head as the one revision no migration names as its parent."""
    from sqlalchemy import inspect, text

    with get_engine(url).connect() as conn:
        current = (conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                   if inspect(conn).has_table("alembic_version") else None)
    return current, _code_head()


@lru_cache(maxsize=1)
def _code_head() -> str | None:
    import ast

    revisions: dict[str, Any] = {}
    for path in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
        values = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, (ast.Constant, ast.Tuple)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                        values[target.id] = ast.literal_eval(node.value)
        if "revision" in values:
            revisions[values["revision"]] = values.get("down_revision")
    parents = {p for down in revisions.values() for p in (down if isinstance(down, tuple) else (down,)) if p}
    heads = sorted(set(revisions) - parents)
    if len(heads) != 1:  # a branched history: Alembic says what is wrong
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return heads[0]
