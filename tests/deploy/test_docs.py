"""The deploy guide shows what the tools really print and check (generated sections compared with the code)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from agentiam import project
from agentiam.deploy.doctor import AwsChecks, VaultChecks

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def _section(name: str) -> str:
    return GUIDE[GUIDE.index(f"<!-- {name} -->\n") + len(f"<!-- {name} -->\n"):GUIDE.index(f"<!-- /{name} -->")]


def test_the_bootstrap_output_is_what_the_command_prints():
    # tests/deploy/test_bootstrap.py produces the golden file from the bundled dev stack
    golden = (ROOT / "tests" / "deploy" / "golden" / "bootstrap-dev.txt").read_text(encoding="utf-8")
    assert _section("bootstrap-output") == f"```\n{golden}```\n"


def test_the_doctor_table_lists_every_check_the_command_runs():
    plan, _ = project.compile_plan("dev", ROOT / "agent_specs", ROOT / "stacks")
    probes = VaultChecks(plan, None, "dev", dt.date.today()).probes() + AwsChecks(plan, None, "dev", 0.0).probes()
    rows = re.findall(r"^\| (\w\d\d) \| (.+) \|$", _section("doctor-checks"), re.M)
    assert rows == [(check_id, title) for check_id, title, _ in probes]


def test_the_readme_links_the_guide_and_the_reference():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/deploy.md" in readme and "docs/stack-config.md" in readme
