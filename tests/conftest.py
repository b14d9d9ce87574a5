"""Shared fixtures: real SQLite files and a real PostgreSQL database, settings, SMTP.

Under CI (`CI=true`) a missing PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

# `make test` runs the suite in two pytest-xdist workers: each has its own Prefect home (profiles,
# local storage), test server, PostgreSQL database and browser. Set before Prefect is imported.
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("PREFECT_HOME"):
    os.environ["PREFECT_HOME"] = str(Path(os.environ["PREFECT_HOME"]) / os.environ["PYTEST_XDIST_WORKER"])

import pytest
from sqlalchemy import create_engine, text

import sqms.processes  # noqa: F401 (registers every process's deadlines, as the tasks, CLI and web do)
from sqms.config import Settings, load_settings
from sqms.db import get_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "sqms.yaml"
PG_ADMIN_URL = os.environ.get("SQMS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Flow tests exercise the retries for real; a short backoff keeps them quick (read when tasks/ is imported).
os.environ.setdefault("SQMS_TASK_RETRIES", "2")
os.environ.setdefault("SQMS_TASK_RETRY_DELAY_SECONDS", "0.2")
# the key that seals mails carrying single-use links (else var/secret.key would be created in the checkout)
os.environ.setdefault("SQMS_SECRET_KEY", "sqms-test-suite-secret-key")


def missing(component: str, why: str) -> None:
    """Skip locally, fail under CI: a component the suite needs is not there."""
    message = f"{component} is not available: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing component is a failure)")
    pytest.skip(message)


class PostgresMissing(Exception):
    """The PostgreSQL server cannot create a database (down, refused, no rights)."""


@contextmanager
def scratch_database(prefix: str, driver: str = "psycopg") -> Iterator[str]:
    """A new, empty PostgreSQL database `<prefix>_<random>` for the block (its URL with `driver`), dropped
    after it whatever connections are left (FORCE). PostgresMissing when it cannot be created."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # connection refused, auth, ...
        admin.dispose()
        raise PostgresMissing(f"{PG_ADMIN_URL}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
    admin.dispose()
    url = PG_ADMIN_URL.replace("+psycopg", f"+{driver}").rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        drop_database(url)


@contextmanager
def migrated_database(prefix: str) -> Iterator[str]:
    """A scratch database with SQMS's schema; without a PostgreSQL server the test skips (fails under CI)."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(prefix))
        except PostgresMissing as exc:
            missing("PostgreSQL", str(exc))
        migrate(url)
        yield url
        get_engine(url).dispose()


def drop_database(url: str) -> None:
    """DROP the database of `url` now, whatever connections it has (FORCE: as when the server loses it)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    url = f"sqlite:///{path}"
    migrate(url)
    get_engine(url).dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A fresh PostgreSQL database for this test session, migrated; dropped at the end."""
    with migrated_database("sqms_test") as url:
        yield url


def _truncate_postgres(url: str) -> None:
    with get_engine(url).begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "select tablename from pg_tables where schemaname='public' and tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty, migrated database: a SQLite file, then the PostgreSQL server."""
    if request.param == "sqlite":
        path = tmp_path / "sqms.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        yield url
        get_engine(url).dispose()
    else:
        url = request.getfixturevalue("postgres_database")
        _truncate_postgres(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "sqms.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    get_engine(url).dispose()


def make_settings(db_url: str, tmp_path: Path, **overrides) -> Settings:
    return load_settings(
        CONFIG,
        database_url=db_url,
        outbox_dir=tmp_path / "outbox",
        reports_dir=tmp_path / "reports",
        questionnaires_dir=ROOT / "config" / "questionnaires",
        **overrides,
    )


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The demo configuration on the parametrised database, files under tmp_path."""
    return make_settings(db_url, tmp_path)


@pytest.fixture
def org(settings: Settings) -> Settings:
    """`settings` with the organisation (departments, people) loaded into the database."""
    from sqms.db import UnitOfWork
    from sqms.org.service import sync_organisation

    with UnitOfWork(settings.database_url, actor="test") as uow:
        sync_organisation(uow.session, settings)
        uow.commit()
    return settings


@pytest.fixture
def sqlite_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path)


@pytest.fixture
def smtp_server():
    """A running aiosmtpd server on loopback; stopped at the end of the test."""
    from tests.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes ~20 s to start), on a PostgreSQL database
    of its own.

    `prefect_test_harness` (which this follows) puts the server on a SQLite file, which locks under
    the load of the two-worker suite: a state change waited 60 s on "database is locked", the client
    retried, and the flow's result came back missing. PostgreSQL is the production backend anyway;
    without it (locally, CI=false) the harness's SQLite is used.
    """
    import prefect.context
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.server.database.dependencies import temporary_database_interface
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    from tests.smtp import free_port

    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database("prefect_harness", driver="asyncpg"))
        except PostgresMissing as exc:
            if IN_CI:
                pytest.fail(f"PostgreSQL is not available for the Prefect test server: {exc}")
            stack.enter_context(prefect_test_harness(server_startup_timeout=120))
            yield
            return
        stack.enter_context(temporary_database_interface())
        stack.enter_context(temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: url}))
        server = SubprocessASGIServer(port=free_port())
        previous = SubprocessASGIServer._instances.get(None)
        SubprocessASGIServer._instances[None] = server  # flows find this server, not a second one
        stack.callback(lambda: SubprocessASGIServer._instances.__setitem__(None, previous) if previous is not None
                       else SubprocessASGIServer._instances.pop(None, None))
        server.start(timeout=120)
        stack.callback(server.stop)
        stack.enter_context(temporary_settings({PREFECT_API_URL: server.api_url}))
        # the global context too: for code in threads, whose context was copied before
        stack.enter_context(prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()))
        yield
        _drain_prefect_workers()


def _drain_prefect_workers() -> None:
    """Send the logs and events still buffered before the server stops (as the Prefect harness does)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            drained = APILogWorker.instance().drain()
            if inspect.isawaitable(drained):
                await drained
        except RuntimeError:  # never started
            pass
        drained = EventsWorker.drain_all()
        if inspect.isawaitable(drained):
            await drained

    run_coro_as_sync(drain())


@pytest.fixture
def sqms_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point the process-wide settings (what flows and the CLI read) at a test database and folders.

    Returns a function `use(db_url, **env)`; the settings cache is cleared before and after.
    """
    from sqms.config import get_settings

    def use(db_url: str, **env: str):
        monkeypatch.setenv("SQMS_CONFIG", str(CONFIG))
        monkeypatch.setenv("SQMS_DATABASE_URL", db_url)
        monkeypatch.setenv("SQMS_OUTBOX_DIR", str(tmp_path / "outbox"))
        monkeypatch.setenv("SQMS_REPORTS_DIR", str(tmp_path / "reports"))
        monkeypatch.setenv("SQMS_QUESTIONNAIRES_DIR", str(ROOT / "config" / "questionnaires"))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return get_settings()

    yield use
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium for browser tests; installed when missing (apt), a failure under CI if it cannot be."""
    path = shutil.which("chromium")
    if path is None and shutil.which("apt-get"):
        import subprocess

        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True, check=False,
                       capture_output=True, timeout=900)
        path = shutil.which("chromium")
    if path is None:
        missing("chromium", "not installed and apt-get could not install it")
    return path


@pytest.fixture(scope="session")
def poppler() -> dict[str, str]:
    """pdftotext, pdffonts, pdfinfo and pdfimages (Debian poppler-utils) to read the PDFs back; installed
    when missing (apt), a failure under CI if they cannot be."""
    tools = {name: shutil.which(name) for name in ("pdftotext", "pdffonts", "pdfinfo", "pdfimages")}
    if not all(tools.values()) and shutil.which("apt-get"):
        import subprocess

        subprocess.run("apt-get update -qq && apt-get install -y -qq poppler-utils", shell=True, check=False,
                       capture_output=True, timeout=900)
        tools = {name: shutil.which(name) for name in tools}
    if not all(tools.values()):
        missing("poppler-utils", "not installed and apt-get could not install it")
    return tools  # type: ignore[return-value]


@pytest.fixture(scope="session")
def browser(chromium):
    """One headless Chromium (Playwright drives Debian's binary; nothing is downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def soffice() -> str:
    """LibreOffice Calc headless (Debian `libreoffice-calc-nogui`, pdfinfo from `poppler-utils`) to print
    workbooks as a person would; installed when missing (apt), a failure under CI if it cannot be."""
    if (shutil.which("soffice") is None or shutil.which("pdfinfo") is None) and shutil.which("apt-get"):
        import subprocess

        subprocess.run("apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                       "libreoffice-calc-nogui poppler-utils", shell=True, check=False, capture_output=True,
                       timeout=1800)
    path = shutil.which("soffice")
    if path is None or shutil.which("pdfinfo") is None:
        missing("LibreOffice Calc", "soffice/pdfinfo not installed and apt-get could not install them")
    return path


ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def web_server(sqms_env, sqlite_url, smtp_server):
    """`sqms web` on a free loopback port over a fresh SQLite database, mails to the test SMTP server.
    Returns (settings, base URL)."""
    import threading
    import time

    import uvicorn

    from sqms.web.app import create_app
    from tests.smtp import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = sqms_env(sqlite_url, SQMS_WEB__BASE_URL=base, **smtp_server.env())
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield settings, base
    server.should_exit = True
    thread.join(timeout=10)


def pytest_collection_modifyitems(config, items):
    """The order of the run: the production topology's runs first, browser tests last.

    Browser tests go last because Playwright's sync API leaves its event loop registered as the
    running loop of the main thread; Prefect then takes every later synchronous call
    (`state.result()`, a flow call) for an async one and hands back a coroutine. With the one
    browser of a session (of an xdist worker) started after its flow tests, both share a session
    without meeting: pytest-xdist hands each worker its tests in this order.

    The topology's runs that need no browser go first: they mostly wait on heartbeats and
    subprocesses, which overlaps with the other worker's CPU-bound tests instead of ending the run.
    """
    uses_browser = {id(item): bool({"browser", "chromium"} & set(getattr(item, "fixturenames", ())))
                    for item in items}
    # A page's phone layout does not depend on the database: each browser test runs at both sizes on
    # SQLite and at desktop size on PostgreSQL (where the database paths are the same as on the desktop),
    # which keeps the suite within its time.
    twice = [item for item in items if uses_browser[id(item)] and hasattr(item, "callspec")
             and {"postgresql", "phone"} <= set(item.callspec.id.split("-"))]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [item for item in items if item not in twice]

    def place(item) -> tuple[int, int]:
        topology = item.module.__name__.endswith("test_topology")
        return (2 if uses_browser[id(item)] else 0 if topology else 1, 0 if topology else 1)

    items.sort(key=place)
