"""The diff reads every input as `validate` does, on real temporary git repositories: a link is refused with the same
finding (never read as the path git stores), and the agent CA is read at both revisions and compared by what it
trusts, even when only the PEM file changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.diff.model import Direction, Verdict
from agentiam.errors import ConfigError, SpecError
from agentiam.findings import Finding
from agentiam.inputs.references import FORMATS
from tests.diff.conftest import INVOICE, SpecRepo, labels
from tests.integration.pki import TestCA

TODAY = dt.date(2026, 12, 1)
DEV = "stacks/Pulumi.dev.yaml"
DEV_CA = "stacks/ca/dev-agents-ca.pem"
CA_FIELD = "agent_ca_pem_file: stacks/ca/dev-agents-ca.pem"
CA_SUBJECT = "agent CA (vault.agent_ca_pem_file)"


def validated(repo: SpecRepo, monkeypatch: pytest.MonkeyPatch) -> list[Finding]:
    """What `agentiam validate` reports in the repository's working tree."""
    monkeypatch.chdir(repo.root)
    return project.validate([Path("agent_specs")], Path("stacks"), TODAY).findings


def diff_cli(repo: SpecRepo, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(repo.root)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return CliRunner().invoke(cli, ["diff", *args])


def commit_as_link(repo: SpecRepo, path: str, moved_to: str, link: str) -> None:
    """Move the file at `path` to `moved_to` and commit a link `path` -> `link` in its place."""
    shutil.move(repo.root / path, repo.root / moved_to)
    os.symlink(link, repo.root / path)
    repo.commit(f"{path} is a link")


def fingerprints(pem: bytes) -> list[str]:
    return [c.sha256_fingerprint for c in FORMATS["pem-certificates"](pem)]


@pytest.mark.parametrize("head", ["HEAD", None])
def test_a_spec_replaced_by_a_link_is_refused_by_validate_and_diff_alike(spec_repo: SpecRepo, head: str | None,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Read as git stores it, the diff compiled the link's target path; validate, plan and Pulumi followed it to a
    # spec nobody reviewed. Now both refuse it, with one finding.
    spec_repo.write("elsewhere/invoice-reader.yaml", spec_repo.read(INVOICE).replace("s3:GetObject", "s3:*"))
    os.unlink(spec_repo.root / INVOICE)
    os.symlink("../../elsewhere/invoice-reader.yaml", spec_repo.root / INVOICE)
    if head:
        spec_repo.commit("invoice-reader is a link now")
    with pytest.raises(SpecError) as refused:
        spec_repo.diff("base", head)
    finding = Finding(INVOICE, 1, 1, "FILE001", refused.value.findings[0].severity, "",
                      "file is a symbolic link; inputs must be regular files: git and the diff show only the path a "
                      "link points to, while reading it would follow the link to another file")
    assert refused.value.findings == [finding]
    assert [f for f in validated(spec_repo, monkeypatch) if f.file == INVOICE] == [finding]
    result = diff_cli(spec_repo, monkeypatch, "--base", "base", *(["--head", head] if head else []))
    assert result.exit_code == 2 and result.output.splitlines()[0] == finding.render()


def test_a_linked_specs_folder_is_refused_in_git_as_on_disk(spec_repo: SpecRepo,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    commit_as_link(spec_repo, "agent_specs", "specs-elsewhere", "specs-elsewhere")
    with pytest.raises(SpecError) as refused:
        spec_repo.diff()
    assert [(f.file, f.rule_id) for f in refused.value.findings] == [("agent_specs", "FILE001")]
    assert [(f.file, f.rule_id) for f in validated(spec_repo, monkeypatch)] == [("agent_specs", "FILE001")]


def test_a_stack_config_that_is_a_link_is_refused_by_validate_and_diff_alike(spec_repo: SpecRepo,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    commit_as_link(spec_repo, DEV, "dev.yaml", "../dev.yaml")
    with pytest.raises(ConfigError) as refused:
        spec_repo.diff()
    assert [f.render() for f in refused.value.findings] == [
        f"{DEV}:1:1  error  FILE001  file is a symbolic link; inputs must be regular files: git and the diff show only the "
        "path a link points to, while reading it would follow the link to another file"]
    assert validated(spec_repo, monkeypatch) == refused.value.findings
    assert diff_cli(spec_repo, monkeypatch, "--base", "base", "--head", "HEAD").exit_code == 2


def test_a_stack_config_that_is_a_folder_is_refused_not_skipped(spec_repo: SpecRepo,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # git lists only the files inside: skipped, the environment would silently vanish from the diff.
    os.unlink(spec_repo.root / DEV)
    spec_repo.write(f"{DEV}/README", "not a stack config\n")
    spec_repo.commit("dev stack config is a folder")
    with pytest.raises(ConfigError) as refused:
        spec_repo.diff()
    assert [f.render() for f in refused.value.findings] == [f"{DEV}:1:1  error  FILE002  file is a folder, not a regular file"]
    assert validated(spec_repo, monkeypatch) == refused.value.findings


@pytest.mark.parametrize("committed", [True, False])
def test_a_ca_overwritten_with_another_is_a_high_risk_trust_change(spec_repo: SpecRepo, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  committed: bool) -> None:
    # The stack config does not change: only the PEM does. Whoever holds the new CA's key can log in as any agent.
    old_pem = (spec_repo.root / DEV_CA).read_bytes()
    attacker = TestCA(tmp_path / "pki", "attacker CA")
    shutil.copy(attacker.pem_path, spec_repo.root / DEV_CA)
    if committed:
        spec_repo.commit("rotate the dev agent CA")
    report = spec_repo.diff("base", "HEAD" if committed else None)
    assert report.changed_stack_files == [] and report.agents == []
    (env,) = report.environments
    assert (env.environment, env.verdict, env.stack_files) == ("dev", Verdict.HIGH_RISK, (DEV_CA,))
    (change,) = env.changes
    (old_fp,), (new_fp,) = fingerprints(old_pem), fingerprints(attacker.pem_path.read_bytes())
    assert (change.system, change.subject, change.direction, labels(change)) == (
        "trust", CA_SUBJECT, Direction.WIDER, {"trust-changed"})
    assert change.risks[0].severity == "high"
    assert change.before.startswith(f"{DEV_CA} (sha256 ") and f"CN=agentiam dev agents CA (example) (SHA-256 {old_fp}" \
        in change.before
    assert f"CN=attacker CA (SHA-256 {new_fp}" in change.after and old_fp not in change.after
    assert f"client certificates signed by CN=attacker CA (SHA-256 {new_fp}) now log agents in" in \
        change.risks[0].reason
    args = ["--base", "base"] + (["--head", "HEAD"] if committed else [])
    result = diff_cli(spec_repo, monkeypatch, *args, "--fail-on", "high")
    assert result.exit_code == 1
    assert "environment dev: widened: high risk" in result.output and new_fp in result.output and old_fp in result.output
    assert diff_cli(spec_repo, monkeypatch, *args, "--fail-on", "never").exit_code == 0


def test_a_ca_changed_with_its_stack_config_is_reported_once(spec_repo: SpecRepo, tmp_path: Path) -> None:
    attacker = TestCA(tmp_path / "pki", "attacker CA")
    shutil.copy(attacker.pem_path, spec_repo.root / "stacks/ca/new-dev-ca.pem")
    spec_repo.edit(DEV, CA_FIELD, "agent_ca_pem_file: stacks/ca/new-dev-ca.pem")
    spec_repo.commit("point dev at a new CA file")
    (env,) = spec_repo.diff().environments
    assert env.compiled == "full" and env.stack_files == (DEV, DEV_CA, "stacks/ca/new-dev-ca.pem")
    assert [(c.system, c.subject, labels(c)) for c in env.changes] == [("trust", CA_SUBJECT, {"trust-changed"})]


def test_a_certificate_removed_narrows_and_the_same_certificates_reencoded_are_neutral(spec_repo: SpecRepo,
                                                                                      tmp_path: Path) -> None:
    old_pem = (spec_repo.root / DEV_CA).read_bytes()
    second = TestCA(tmp_path / "pki", "second CA").pem_path.read_bytes()
    (spec_repo.root / DEV_CA).write_bytes(old_pem + second)
    spec_repo.commit("a two-CA bundle", tag="bundle")
    (spec_repo.root / DEV_CA).write_bytes(old_pem)
    spec_repo.commit("drop the second CA", tag="dropped")
    (change,) = spec_repo.diff("bundle", "dropped").environments[0].changes
    assert (change.op, change.direction, change.risks) == ("narrowed", Direction.NARROWER, ())
    (spec_repo.root / DEV_CA).write_bytes(old_pem.replace(b"\n", b"\r\n"))
    spec_repo.commit("CRLF")
    (env,) = spec_repo.diff("dropped", "HEAD").environments
    (change,) = env.changes
    assert (change.direction, change.risks, env.verdict) == (Direction.NEUTRAL, (), Verdict.CHANGED)
    assert change.after.endswith("(same certificates)")


@pytest.mark.parametrize("reference,message", [
    ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt is an absolute path; name the file "
     "relative to the project (the folder holding stacks/), so that review and deployment read the same file"),
    ("../../outside-ca.pem", "../../outside-ca.pem leaves the project (the folder holding stacks/); referenced files "
     "must be part of the reviewed repository"),
])
def test_a_ca_outside_the_project_is_refused_by_validate_and_diff_alike(spec_repo: SpecRepo, reference: str,
                                                                       message: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    spec_repo.edit(DEV, CA_FIELD, f"agent_ca_pem_file: {reference}")
    spec_repo.commit("CA from outside the repository")
    with pytest.raises(ConfigError) as refused:
        spec_repo.diff()
    assert [f.render() for f in refused.value.findings] == [f"{DEV}:19:26  error  CFG003  vault.agent_ca_pem_file: {message}"]
    assert validated(spec_repo, monkeypatch) == refused.value.findings
    result = diff_cli(spec_repo, monkeypatch, "--base", "base", "--head", "HEAD", "--fail-on", "never")
    assert result.exit_code == 2 and result.output.splitlines()[0] == refused.value.findings[0].render()


def test_a_linked_ca_is_refused_by_validate_and_diff_alike(spec_repo: SpecRepo,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    commit_as_link(spec_repo, DEV_CA, "real-ca.pem", "../../real-ca.pem")
    with pytest.raises(ConfigError) as refused:
        spec_repo.diff()
    assert [(f.file, f.line, f.rule_id) for f in refused.value.findings] == [(DEV, 19, "CFG003"), (DEV_CA, 1, "FILE001")]
    assert validated(spec_repo, monkeypatch) == refused.value.findings


def test_a_base_whose_ca_was_a_link_can_still_be_fixed(spec_repo: SpecRepo) -> None:
    pem = (spec_repo.root / DEV_CA).read_bytes()
    os.unlink(spec_repo.root / DEV_CA)
    os.symlink("staging-agents-ca.pem", spec_repo.root / DEV_CA)
    spec_repo.commit("broken", tag="broken")
    (spec_repo.root / DEV_CA).unlink()
    (spec_repo.root / DEV_CA).write_bytes(pem)
    spec_repo.commit("fix")
    report = spec_repo.diff("broken", "HEAD")
    assert any(note.startswith("2 stack config problem(s) at broken") for note in report.notes)
    (env,) = report.environments  # dev counts as new: reviewed like a new environment, its CA fingerprinted
    assert env.environment == "dev" and {c.op for c in env.changes} == {"added"}
    (ca,) = [c for c in env.changes if c.subject == CA_SUBJECT]
    assert ca.after == (f"{DEV_CA} (sha256 {hashlib.sha256(pem).hexdigest()}): CN=agentiam dev agents CA (example) "
                        f"(SHA-256 {fingerprints(pem)[0]}, until 2036-11-26)")
