"""`sqms run <process>` against a configured Prefect server (issue 19 item 33)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import CONFIG, ROOT

pytestmark = pytest.mark.prefect
BIN = Path(sys.executable).parent


def _flow_runs(api: str, flow_name: str) -> list[dict]:
    return httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}}, "limit": 50},
                      timeout=10).json()


def _env(tmp_path: Path, sqlite_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {**env, "PREFECT_HOME": str(tmp_path / "prefect-client"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "SQMS_CONFIG": str(CONFIG), "SQMS_DATABASE_URL": sqlite_url, "SQMS_OUTBOX_DIR": str(tmp_path / "outbox"),
            "SQMS_REPORTS_DIR": str(tmp_path / "reports"), **extra}


@pytest.mark.parametrize("process", ["complaint-sla-watch", "monthly-report"])
def test_a_configured_server_that_is_down_stops_the_run_clearly(sqlite_url, tmp_path, process):
    """No silent temporary server when one is configured: exit 1 naming the URL, nothing run."""
    from tests.smtp import free_port

    api = f"http://127.0.0.1:{free_port()}/api"
    done = subprocess.run([BIN / "sqms", "run", process], env=_env(tmp_path, sqlite_url, PREFECT_API_URL=api),
                          capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"PREFECT_API_URL={api} does not answer" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "reports").exists()


def test_sqms_run_uses_the_configured_server(prefect_harness, sqlite_url, tmp_path):
    """With PREFECT_API_URL set, the run is made on that server (visible in its UI), no temporary server."""
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    assert api
    env = _env(tmp_path, sqlite_url, PREFECT_API_URL=api)
    before = {r["id"] for r in _flow_runs(api, "complaint-sla-watch")}
    done = subprocess.run([BIN / "sqms", "run", "complaint-sla-watch"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"running on the Prefect server {api}" in done.stderr
    assert "temporary server" not in (done.stdout + done.stderr).lower()
    runs = [r for r in _flow_runs(api, "complaint-sla-watch") if r["id"] not in before]
    assert len(runs) == 1 and runs[0]["state_type"] == "COMPLETED"
