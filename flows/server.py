"""Which Prefect server a flow started from the command line (`sqms run <process>`) runs on."""

from __future__ import annotations

import httpx


class ServerUnreachable(RuntimeError):
    """PREFECT_API_URL names a server that does not answer."""


def prefect_api_url() -> str | None:
    """The Prefect API this process talks to (PREFECT_API_URL or the active profile)."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def server_for_cli_runs(timeout_seconds: float = 10) -> str | None:
    """The configured server, checked to answer, on which `sqms run` makes its flow run (so the run shows
    in that server's UI); None when none is configured: Prefect then starts a temporary server for the
    run, as before. A configured server that does not answer is an error, never a silent fallback."""
    api = prefect_api_url()
    if not api:
        return None
    try:
        httpx.get(f"{api.rstrip('/')}/health", timeout=timeout_seconds).raise_for_status()
    except httpx.HTTPError as exc:
        raise ServerUnreachable(
            f"the Prefect server PREFECT_API_URL={api} does not answer ({exc.__class__.__name__}: {exc}); "
            "start it (make run / systemctl start prefect-server), or unset PREFECT_API_URL to run on a "
            "temporary server") from None
    return api
