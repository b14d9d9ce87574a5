"""`command_session`, the frame of every database command: commit at the end of the block, nothing
written on a refusal (exit code and message as the command asks), a stale schema and a missing file
stopped before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import select

from sqms.cli_common import command_session
from sqms.db import UnitOfWork


class Refused(ValueError):
    pass


def _customers(url: str) -> list[str]:
    from sqms.org.models import Customer

    with UnitOfWork(url) as uow:
        return list(uow.session.scalars(select(Customer.customer_id)))


def test_a_block_commits_and_a_refusal_writes_nothing(sqms_env, sqlite_url, capsys) -> None:
    from sqms.org.models import Customer

    settings = sqms_env(sqlite_url)  # a migrated database
    with command_session("li.na", errors=Refused) as (got, session):
        session.add(Customer(customer_id="C1", name="张三"))
        assert session.info["actor"] == "cli:li.na"  # what the audit trail records for every change
    assert got.database_url == settings.database_url and _customers(sqlite_url) == ["C1"]

    with pytest.raises(typer.Exit) as stopped:
        with command_session(errors=Refused, code=1) as (_, session):
            session.add(Customer(customer_id="C2"))
            session.flush()
            raise Refused("no such customer group")
    assert stopped.value.exit_code == 1
    assert "error: no such customer group" in capsys.readouterr().err
    assert _customers(sqlite_url) == ["C1"]

    with pytest.raises(KeyError):  # anything else is not a refusal: it propagates, and nothing is written
        with command_session(errors=Refused) as (_, session):
            session.add(Customer(customer_id="C3"))
            raise KeyError("bug")
    assert _customers(sqlite_url) == ["C1"]


def test_a_stale_schema_and_a_missing_file_stop_first(sqms_env, sqlite_url, tmp_path: Path, capsys) -> None:
    sqms_env(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(typer.Exit) as stopped, command_session() as _:
        pytest.fail("the block ran on a database without the schema")
    assert stopped.value.exit_code == 2 and "run `sqms init`" in capsys.readouterr().err
    sqms_env(sqlite_url)  # migrated
    with pytest.raises(typer.Exit) as stopped, command_session(file=tmp_path / "missing.xlsx") as _:
        pytest.fail("the block ran without its file")
    assert stopped.value.exit_code == 1 and "missing.xlsx: file not found" in capsys.readouterr().err
