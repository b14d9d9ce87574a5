"""The README's examples run as written against the demo database; it points at a design inside the repository."""

from __future__ import annotations

import re
import shlex

from typer.testing import CliRunner

from sqms.cli import app
from tests.conftest import ROOT

runner = CliRunner()
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def _commands(text: str) -> list[list[str]]:
    """Every `sqms ...` line of the section's bash blocks: continuations joined, comments dropped."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("sqms "):
                out.append(shlex.split(line)[1:])
    return out


def test_the_design_reference_is_in_the_repository():
    assert "../shared" not in README
    for link in re.findall(r"\]\(((?:docs|config)/[^)#]+)", README):
        assert (ROOT / link).exists(), link
    design = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    assert "## 4. KPI definitions" in design
    assert "no PDF" not in design  # the reports are HTML, XLSX and PDF (issue 17): the contract says so


def test_complaint_and_action_examples_run_on_the_demo(sqms_env, sqlite_url):
    sqms_env(sqlite_url)
    demo = runner.invoke(app, ["init", "--demo"])
    assert demo.exit_code == 0, demo.output
    commands = _commands(_section("Complaints, corrective actions and reminders"))
    assert len(commands) >= 12
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"sqms {' '.join(args)}\n{result.output}"
        if args[:2] == ["complaint", "register"]:
            assert "registered CP-20261009-001" in result.output
        if args[:2] == ["action", "open"]:
            assert "opened CAPA-00021" in result.output  # the demo's inspections opened 20 before it
    shown = runner.invoke(app, ["complaint", "show", "CP-20261009-001"])
    assert "[closed]" in shown.output and "CU-00042" in shown.output
