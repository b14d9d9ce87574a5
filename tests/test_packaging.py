"""Production installs carry no test tools (issue 19 item 34)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import ROOT


def _dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-n", "-B", "-C", str(ROOT), target], capture_output=True, text=True,
                          check=True).stdout


def test_make_install_syncs_without_the_dev_group() -> None:
    assert "sync --frozen --no-dev" in _dry_run("install")


def test_make_test_syncs_the_dev_group() -> None:
    out = _dry_run("test")
    assert "sync --frozen --group dev" in out and "--no-dev" not in out
    assert "pytest -n 2" in out  # two xdist workers, one per core of the machine
    assert "--group dev --compile-bytecode" in out  # no process of the suite compiles what it imports


def test_test_tools_are_only_in_the_dev_group() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = " ".join(project["project"]["dependencies"]).lower()
    dev = project["dependency-groups"]["dev"]
    for tool in ("pytest", "pytest-xdist", "aiosmtpd", "hypothesis", "ruff", "playwright"):
        assert tool not in runtime
        assert any(d.startswith(tool) for d in dev)
