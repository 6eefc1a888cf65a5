"""The pull-request workflow parses and keeps its safety properties (fork-safe review, same-repo preview)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from agentiam.render.diff_json import render_json
from tests.diff.conftest import SpecRepo

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "agentiam.yml"


def load() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def test_triggers_on_pull_requests_touching_specs_or_stacks_only() -> None:
    workflow = load()
    triggers = workflow[True]  # PyYAML (YAML 1.1) reads the key `on` as the boolean True
    assert set(triggers) == {"pull_request"}  # never pull_request_target
    assert triggers["pull_request"]["paths"] == ["agent_specs/**", "stacks/**"]
    assert workflow["permissions"] == {}


def test_review_job_is_fork_safe_and_runs_validate_and_diff() -> None:
    review = load()["jobs"]["review"]
    assert review["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write"}
    text = yaml.safe_dump(review)
    assert "secrets." not in text  # no secret reaches the job that runs for forks
    checkout = steps_using(review, "actions/checkout@")[0]
    assert checkout["with"]["fetch-depth"] == 0
    assert steps_using(review, "actions/setup-python@")[0]["with"]["python-version"] == "3.11"
    runs = "\n".join(s.get("run", "") for s in review["steps"])
    assert "pip install ." in runs
    assert "agentiam validate --format sarif" in runs
    assert 'agentiam diff --base "origin/${BASE_REF}"' in runs and "--format markdown" in runs
    assert steps_using(review, "github/codeql-action/upload-sarif@")
    comment = steps_using(review, "actions/github-script@")[0]
    assert comment["continue-on-error"] is True  # read-only token on forks must not fail the job
    assert "<!-- agentiam-diff -->" in comment["with"]["script"]
    assert "updateComment" in comment["with"]["script"]
    # The job still fails on violations, after the comment is posted.
    assert review["steps"][-1]["if"] == "steps.validate.outputs.exit != '0' || steps.diff.outputs.exit != '0'"


def test_preview_job_only_for_same_repository_with_oidc() -> None:
    preview = load()["jobs"]["preview"]
    assert preview["needs"] == "review"
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert preview["permissions"]["id-token"] == "write"
    pulumi = steps_using(preview, "pulumi/actions@")[0]
    assert pulumi["uses"].split("@")[1] in ("v6", "v7")
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["diff"] is True
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.review.outputs.stacks) }}"
    assert steps_using(preview, "aws-actions/configure-aws-credentials@")[0]["with"]["role-to-assume"]


def test_affected_stacks_step_reads_the_diff_json(spec_repo: SpecRepo, tmp_path: Path) -> None:
    """The inline script deciding which stacks get a `pulumi preview`, run on a real diff."""
    step = next(s for s in load()["jobs"]["review"]["steps"] if s.get("id") == "stacks")
    script = step["run"].split("<<'EOF' >> \"$GITHUB_OUTPUT\"\n", 1)[1].rsplit("EOF", 1)[0]
    config = spec_repo.read("stacks/Pulumi.staging.yaml")
    spec_repo.write("stacks/Pulumi.staging.yaml", config.replace("kv_mount: secret", "kv_mount: kv-agents"))
    spec_repo.commit("staging kv mount")
    (tmp_path / "agentiam-diff.json").write_text(render_json(spec_repo.diff()))
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout == 'stacks=["staging"]\n'
    (tmp_path / "agentiam-diff.json").unlink()
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout == "stacks=[]\n"
