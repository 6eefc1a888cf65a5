"""The agent CA every cert role trusts is the plan's: the bytes reviewed and fingerprinted, never the file re-read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentiam import project
from agentiam.inputs.references import FORMATS
from tests.integration.pki import TestCA
from tests.program.conftest import StackRun
from tests.pulumi_capture import PROJECT_DIR, capture_stack

CERT_ROLE = "vault:index/certAuthBackendRole:CertAuthBackendRole"


def test_every_cert_role_trusts_the_plans_pem(run: StackRun) -> None:
    ca = run.plan.platform.agent_ca
    assert ca.path == run.environment.vault.agent_ca_pem_file
    assert ca.pem.encode() == (PROJECT_DIR / ca.path).read_bytes()
    assert [c.sha256_fingerprint for c in ca.certificates] == [
        c.sha256_fingerprint for c in FORMATS["pem-certificates"](ca.pem.encode())]
    roles = run.capture.of_type(CERT_ROLE)
    assert len(roles) == len(run.plan.agents) > 0
    assert {role.inputs["certificate"] for role in roles} == {ca.pem}


def test_the_ca_swapped_after_review_is_not_what_deploys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The file changes between planning and registering (a second read would pick the attacker's CA up).
    stacks = tmp_path / "stacks"
    shutil.copytree(PROJECT_DIR / "stacks", stacks)
    reviewed = (stacks / "ca" / "dev-agents-ca.pem").read_text()
    attacker = TestCA(tmp_path / "pki", "swapped-in CA")
    planned: list[str] = []
    real = project.compile_plan

    def compile_then_swap(*args, **kwargs):
        plan, warnings = real(*args, **kwargs)
        planned.append(plan.platform.agent_ca.pem)
        shutil.copy(attacker.pem_path, stacks / "ca" / "dev-agents-ca.pem")
        return plan, warnings

    monkeypatch.setattr(project, "compile_plan", compile_then_swap)
    capture = capture_stack("dev", stacks_dir=stacks)
    assert planned == [reviewed]
    assert {role.inputs["certificate"] for role in capture.of_type(CERT_ROLE)} == {reviewed}
    assert attacker.pem not in {role.inputs["certificate"] for role in capture.of_type(CERT_ROLE)}
