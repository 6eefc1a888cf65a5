"""The deploy pipeline and the scheduled checks keep their safety properties, and their ordering step works on the
bundled stacks (docs/deploy.md, "The deploy pipeline")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def _runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


def test_no_workflow_uses_pulumi_cloud() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "PULUMI_ACCESS_TOKEN" not in text, path.name
        for job in yaml.safe_load(text)["jobs"].values():
            for step in steps_using(job, "pulumi/actions@"):
                # the self-managed backend and a Pulumi CLI whose explicit providers replace nothing on a setting
                assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}", path.name
                assert step["with"]["pulumi-version"] == "^3.151.0", path.name


def test_deploys_run_main_after_merge_one_at_a_time_never_cancelled() -> None:
    workflow = load("agentiam-deploy.yml")
    assert set(workflow[True]) == {"push", "workflow_dispatch"}  # `on`, read by YAML 1.1 as True
    assert workflow[True]["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"] == {"group": "agentiam-deploy", "cancel-in-progress": False}
    assert set(workflow["jobs"]) == {"plan", "owners", "shards"}


def test_the_plan_job_holds_no_credentials_and_orders_the_affected_stacks() -> None:
    plan = load("agentiam-deploy.yml")["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read"} and "environment" not in plan
    assert "secrets." not in yaml.safe_dump(plan)
    runs = _runs(plan)
    assert 'agentiam diff --base "${BEFORE}" --head "${GITHUB_SHA}"' in runs
    assert "python -P -m agentiam.diff.affected agentiam-diff.json stacks" in runs
    assert "python -P -m agentiam.deploy.pipeline" in runs


@pytest.mark.parametrize("job_name", ["owners", "shards"])
def test_each_deploy_runs_in_its_environments_protection_with_oidc_and_checks_before_and_after(job_name: str) -> None:
    jobs = load("agentiam-deploy.yml")["jobs"]
    job = jobs[job_name]
    assert job["environment"] == "agentiam-${{ matrix.environment }}"  # prod: required reviewers
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["strategy"]["fail-fast"] is False
    names = [s.get("name", s.get("uses")) for s in job["steps"]]
    up = names.index("pulumi up")
    assert names.index("Preflight (agentiam doctor, read-only)") < up < names.index("Post-deploy check (agentiam doctor)")
    for step in steps_using(job, "actions/checkout@"):
        assert step["with"]["persist-credentials"] is False
    (vault,) = steps_using(job, "hashicorp/vault-action@")
    assert vault["with"]["method"] == "jwt" and vault["with"]["role"] == "agentiam-${{ matrix.environment }}"
    assert vault["with"]["jwtGithubAudience"] == "agentiam"  # agentiam.deploy.bootstrap.CI_AUDIENCE
    (pulumi,) = steps_using(job, "pulumi/actions@")
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["refresh"] is True
    assert "${{ matrix" not in _runs(job)  # values reach shells through the environment, never pasted in
    if job_name == "shards":
        assert job["needs"] == ["plan", "owners"]  # the owners' mounts and boundaries exist first
        assert "needs.owners.result == 'success'" in job["if"]


def test_the_scheduled_checks_are_read_only_and_fail_loudly() -> None:
    workflow = load("agentiam-checks.yml")
    assert "schedule" in workflow[True] and workflow["permissions"] == {}
    job = workflow["jobs"]["check"]
    assert job["environment"] == "agentiam-${{ matrix.environment }}-checks"
    runs = _runs(job)
    assert 'agentiam doctor --env "${STACK}" --role auditor --strict' in runs
    assert '::stop-commands::' in runs and "exit \"$code\"" in runs
    (vault,) = steps_using(job, "hashicorp/vault-action@")
    assert vault["with"]["role"] == "agentiam-${{ matrix.environment }}-auditor"
    (drift,) = steps_using(job, "pulumi/actions@")
    assert drift["with"]["command"] == "preview" and drift["with"]["expect-no-changes"] is True
    assert drift["with"]["refresh"] is True and drift["if"] == "${{ !cancelled() }}"
    (issue,) = steps_using(job, "actions/github-script@")
    assert issue["if"] == "${{ failure() }}" and "process.env" in issue["with"]["script"]
    assert "${{" not in issue["with"]["script"]


def _pipeline(*args: str) -> dict[str, list[dict[str, str]]]:
    out = subprocess.run([sys.executable, "-m", "agentiam.deploy.pipeline", *args], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return {line.split("=", 1)[0]: json.loads(line.split("=", 1)[1]) for line in out.splitlines()}


def test_the_order_puts_owners_first_and_names_each_stacks_environment(tmp_path: Path) -> None:
    assert _pipeline("--all", "stacks") == {
        "owners": [{"stack": s, "environment": s} for s in ("dev", "prod", "staging")], "shards": [],
        "all": [{"stack": s, "environment": s} for s in ("dev", "prod", "staging")]}
    # The sharded example as it is adopted: its files in place of Pulumi.prod.yaml, beside the CA they name.
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "ca", stacks / "ca")
    for shard in ("prod-0", "prod-1"):
        shutil.copy(ROOT / "stacks" / "sharded-example" / f"Pulumi.{shard}.yaml", stacks)
    sharded = _pipeline('["prod-1", "prod-0"]', str(stacks))
    assert sharded["owners"] == [{"stack": "prod-0", "environment": "prod"}]
    assert sharded["shards"] == [{"stack": "prod-1", "environment": "prod"}]
    bad = subprocess.run([sys.executable, "-m", "agentiam.deploy.pipeline", '["qa"]', "stacks"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "no stack config for qa" in bad.stderr
