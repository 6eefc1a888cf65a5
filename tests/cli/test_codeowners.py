"""`agentiam codeowners`: the committed `.github/CODEOWNERS` stays generated from the specs, and owns what it must."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.diff import toolchange

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "agentiam.yml"


def _options() -> list[str]:
    """The organisation and security team the review workflow checks CODEOWNERS with."""
    env = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["review"]["env"]
    return ["--org", env["CODEOWNERS_ORG"], "--security-team", env["CODEOWNERS_SECURITY_TEAM"]]


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["codeowners", *args])


def owners_of(codeowners: str, path: str) -> list[str]:
    """GitHub's rule: the last matching pattern wins; a pattern with no owner leaves the path unowned."""
    found: list[str] = []
    for line in codeowners.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        if pattern == "*" or toolchange.matches(pattern, path):
            found = owners
    return found


def test_the_committed_codeowners_is_what_the_workflow_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = _run(*_options(), "--check")
    assert result.exit_code == 0, result.output
    assert result.output == ".github/CODEOWNERS: up to date (9 spec file(s))\n"


def test_owners_follow_the_specs_and_the_security_team_owns_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    text = (REPO / ".github" / "CODEOWNERS").read_text(encoding="utf-8")
    security = ["@example/identity-security"]
    assert owners_of(text, "agent_specs/billing/invoice-reader.yaml") == ["@example/billing-platform"]
    assert owners_of(text, "agent_specs/support/ticket-triage.yaml") == ["@example/customer-support-tooling"]
    for path in ("agent_specs/billing/new-agent.yaml", "stacks/Pulumi.prod.yaml", "stacks/ca/prod-agents-ca.pem",
                 ".github/CODEOWNERS", ".github/workflows/agentiam.yml", "agentiam/plan/vault_policy.py",
                 "components/aws_role.py", "__main__.py", "Pulumi.yaml", "pyproject.toml", ".ci/constraints.txt",
                 "setup.py", "requirements.txt"):
        assert owners_of(text, path) == security, path
    # Exactly the paths the diff treats as never deployed are unowned: one definition for both.
    for path in ("README.md", "docs/x.md", "tests/diff/test_x.py", "bench/bench_diff.py", "LICENSE", ".gitignore",
                 "agentiam/README.md", "setup.py"):
        unowned = owners_of(text, path) == []
        assert unowned == (toolchange.classify(path, ["agent_specs", "stacks"]) == "inert"), path


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "agent_specs", tmp_path / "agent_specs")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    shutil.copytree(REPO / ".github", tmp_path / ".github")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_changed_owner_makes_the_file_stale(copy: Path) -> None:
    spec = copy / "agent_specs" / "billing" / "invoice-reader.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("team: billing-platform", "team: finance-apps"),
                    encoding="utf-8")
    result = _run(*_options(), "--check")
    assert result.exit_code == 1
    assert "-/agent_specs/billing/invoice-reader.yaml @example/billing-platform" in result.output
    assert "+/agent_specs/billing/invoice-reader.yaml @example/finance-apps" in result.output
    assert "is stale: run `agentiam codeowners --org example --security-team identity-security`" in result.output
    assert _run(*_options()).exit_code == 0  # regenerate
    assert _run(*_options(), "--check").exit_code == 0


def test_a_new_spec_nobody_listed_yet_needs_the_security_team(copy: Path) -> None:
    shutil.copy(copy / "agent_specs" / "sre" / "incident-log-summariser.yaml", copy / "agent_specs" / "sre" / "x.yaml")
    assert _run(*_options(), "--check").exit_code == 1  # the PR must add its line (reviewed by .github's owners)


@pytest.mark.parametrize(("args", "message"), [
    (["--org", "bad org", "--security-team", "sec"], "--org 'bad org': not a GitHub organisation name"),
    (["--org", "acme", "--security-team", "Sec Team"], "team 'Sec Team': not a GitHub team slug"),
])
def test_bad_names_are_refused(copy: Path, args: list[str], message: str) -> None:
    result = _run(*args)
    assert result.exit_code == 2 and message in result.output


def test_a_path_codeowners_cannot_express_is_refused_not_mangled(copy: Path) -> None:
    (copy / "agent_specs" / "billing" / "more agents").mkdir()
    shutil.copy(copy / "agent_specs" / "sre" / "incident-log-summariser.yaml",
                copy / "agent_specs" / "billing" / "more agents" / "incident-log-summariser-2.yaml")
    result = _run(*_options(), "--output", "-")
    assert result.exit_code == 2
    assert "agent_specs/billing/more agents/incident-log-summariser-2.yaml: cannot be named in CODEOWNERS" \
        in result.output


def test_a_spec_that_does_not_load_has_no_owner_to_name(copy: Path) -> None:
    (copy / "agent_specs" / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    result = _run(*_options(), "--check")
    assert result.exit_code == 2 and "agent_specs/broken.yaml:" in result.output and "YAML001" in result.output
