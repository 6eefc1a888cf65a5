"""The pull-request workflow parses and keeps its safety properties (fork-safe review, same-repo preview)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from agentiam.plan import names
from agentiam.render.diff_json import render_json
from tests.diff.conftest import INVOICE, PROJECT, SpecRepo, git

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "agentiam.yml"
SHARDED = PROJECT / "stacks" / "sharded-example"


def load() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action)]


def _runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


def test_triggers_on_every_pull_request_never_pull_request_target() -> None:
    workflow = load()
    triggers = workflow[True]  # PyYAML (YAML 1.1) reads the key `on` as the boolean True
    assert set(triggers) == {"pull_request"}  # never pull_request_target
    assert not (triggers["pull_request"] or {}).keys() & {"paths", "paths-ignore", "branches-ignore"}
    assert workflow["permissions"] == {}
    assert set(workflow["jobs"]) == {"snapshot", "review", "preview"}


def test_every_job_checks_out_without_credentials_and_uses_no_cache() -> None:
    for name, job in load()["jobs"].items():
        for step in steps_using(job, "actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, name
        # A cache written by a job running pull-request code could be restored by the review job.
        for step in steps_using(job, "actions/setup-python@"):
            assert "cache" not in step["with"], name
        assert not steps_using(job, "actions/cache"), name


def test_snapshot_job_runs_the_pull_requests_code_with_nothing_to_steal() -> None:
    job = load()["jobs"]["snapshot"]
    assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(job) and "environment" not in job and "needs" not in job
    assert job["timeout-minutes"] <= 30
    runs = _runs(job)
    assert "pip install -c .ci/constraints.txt ." in runs  # the PR's code, its pinned dependencies
    assert 'agentiam snapshot --all --output-dir "${RUNNER_TEMP}/head-code"' in runs
    (upload,) = steps_using(job, "actions/upload-artifact@")
    assert upload["with"]["name"] == "head-code-snapshots"
    assert upload["with"]["path"] == "${{ runner.temp }}/head-code/"


def test_review_job_is_fork_safe_and_runs_validate_diff_and_codeowners() -> None:
    review = load()["jobs"]["review"]
    assert review["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write"}
    assert review["needs"] == "snapshot" and review["if"] == "${{ !cancelled() }}"
    text = yaml.safe_dump(review)
    assert "secrets." not in text  # no secret reaches the job that runs for forks
    checkout, tool = steps_using(review, "actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    # The gate is installed from the base branch, never from the pull request it judges.
    assert (tool["with"]["ref"], tool["with"]["path"]) == ("${{ github.base_ref }}", ".agentiam-tool")
    assert steps_using(review, "actions/setup-python@")[0]["with"]["python-version"] == "3.11"
    runs = _runs(review)
    assert "pip install -c .agentiam-tool/.ci/constraints.txt ./.agentiam-tool" in runs
    assert "pip install .\n" not in runs and "pip install -c .ci/" not in runs
    # Nothing in this job imports from the working directory (the pull request's checkout): console scripts, or
    # `python -P`.
    calls = [m.group(1) for step in review["steps"] for m in re.finditer(r"(?:^|[\s;&|(])python3?\s+(\S+)",
                                                                         step.get("run", ""))]
    assert calls and set(calls) <= {"-P", "-I"}
    # stderr quotes spec content: printed only between ::stop-commands:: and its closing token.
    for step in review["steps"]:
        run = step.get("run", "")
        if "cat agentiam-" in run:
            assert 'echo "::stop-commands::${fence}"' in run and run.index("cat agentiam-") > run.index("stop-commands")
    assert "agentiam validate --format sarif" in runs
    assert steps_using(review, "github/codeql-action/upload-sarif@")
    comment = steps_using(review, "actions/github-script@")[0]
    assert comment["continue-on-error"] is True  # read-only token on forks must not fail the job
    assert "<!-- agentiam-diff -->" in comment["with"]["script"]
    assert "updateComment" in comment["with"]["script"]
    # The job fails on violations, high-risk widenings and a stale CODEOWNERS, after the comment is posted.
    assert " ".join(review["steps"][-1]["if"].split()) == ("steps.validate.outputs.exit != '0' || "
                                                           "steps.diff.outputs.exit != '0' || "
                                                           "steps.codeowners.outputs.exit != '0'")


def test_review_compares_base_code_and_head_code_snapshots_and_fails_on_high_risk() -> None:
    review = load()["jobs"]["review"]
    (download,) = steps_using(review, "actions/download-artifact@")
    assert download["with"] == {"name": "head-code-snapshots", "path": "${{ runner.temp }}/head-code"}
    assert download["continue-on-error"] is True  # missing: reported as not compiled, high risk
    base_run = next(s for s in review["steps"] if "--code .agentiam-tool" in s.get("run", ""))["run"]
    assert 'agentiam snapshot --all --code .agentiam-tool' in base_run and '"${RUNNER_TEMP}/base-code"' in base_run
    assert 'rm -rf "${RUNNER_TEMP}/base-code"' in base_run and "env -i " in base_run
    diff = next(s for s in review["steps"] if s.get("id") == "diff")["run"]
    assert diff.index("rm -f agentiam-diff.md agentiam-diff.json") < diff.index("agentiam diff")
    assert '--base-code-snapshots "${RUNNER_TEMP}/base-code" --head-code-snapshots "${RUNNER_TEMP}/head-code"' in diff
    markdown = next(line for line in diff.splitlines() if line.strip().startswith("agentiam diff"))
    assert 'agentiam diff --base "origin/${BASE_REF}" --head HEAD' in markdown and "--fail-on high" in markdown
    codeowners = next(s for s in review["steps"] if s.get("id") == "codeowners")["run"]
    assert 'agentiam codeowners --org "${CODEOWNERS_ORG}" --security-team "${CODEOWNERS_SECURITY_TEAM}" --check' \
        in codeowners


def test_preview_job_only_after_the_review_passed_for_same_repository_under_an_environment() -> None:
    preview = load()["jobs"]["preview"]
    assert preview["needs"] == "review"
    condition = " ".join(preview["if"].split())
    assert "!cancelled()" not in condition and "always()" not in condition and "failure()" not in condition
    assert condition.startswith("success() && needs.review.result == 'success'")
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert preview["environment"] == "agentiam-preview"
    assert preview["permissions"]["id-token"] == "write"
    pulumi = steps_using(preview, "pulumi/actions@")[0]
    assert pulumi["uses"].split("@")[1] in ("v6", "v7")
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["diff"] is True
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.review.outputs.stacks) }}"
    assert steps_using(preview, "aws-actions/configure-aws-credentials@")[0]["with"]["role-to-assume"]
    # Cloud credentials only in this job: the two jobs running before it have no OIDC token.
    assert all("id-token" not in load()["jobs"][j]["permissions"] for j in ("snapshot", "review"))


def _affected(step_run: str, root: Path, report: str | None) -> str:
    """Run the workflow step's own command in `root` as GitHub would; what it wrote to $GITHUB_OUTPUT."""
    target = root / "agentiam-diff.json"
    if report is None:
        target.unlink(missing_ok=True)
    else:
        target.write_text(report)
    output = root / "github-output"
    output.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(output), "PYTHONPATH": str(PROJECT)}
    subprocess.run(["bash", "-e", "-c", step_run], cwd=root, env=env, capture_output=True, text=True, check=True)
    return output.read_text()


def test_affected_stacks_step_reads_the_diff_json(spec_repo: SpecRepo) -> None:
    """The step deciding which stacks get a `pulumi preview`, run on a real diff."""
    step = next(s for s in load()["jobs"]["review"]["steps"] if s.get("id") == "stacks")
    config = spec_repo.read("stacks/Pulumi.staging.yaml")
    spec_repo.write("stacks/Pulumi.staging.yaml", config.replace("kv_mount: secret", "kv_mount: kv-agents"))
    spec_repo.commit("staging kv mount")
    assert _affected(step["run"], spec_repo.root, render_json(spec_repo.diff())) == 'stacks=["staging"]\n'
    assert _affected(step["run"], spec_repo.root, None) == "stacks=[]\n"


def test_a_sharded_environment_is_previewed_in_the_agents_shard_not_as_a_stack_named_after_it(
        spec_repo: SpecRepo) -> None:
    # Pulumi.prod.yaml replaced by the two shards of the bundled example: no stack is called `prod` any more.
    step = next(s for s in load()["jobs"]["review"]["steps"] if s.get("id") == "stacks")
    (spec_repo.root / "stacks" / "Pulumi.prod.yaml").unlink()
    for shard in ("prod-0", "prod-1"):
        spec_repo.write(f"stacks/Pulumi.{shard}.yaml", (SHARDED / f"Pulumi.{shard}.yaml").read_text())
    spec_repo.commit("shard prod", tag="sharded")
    assert names.shard_of("invoice-reader", 2) == 1
    # An agent-only change: the agent's own shard.
    spec_repo.edit(INVOICE, '  contact: "#billing-platform-oncall"', '  contact: "#billing-oncall"')
    spec_repo.commit("new contact")
    report = spec_repo.diff("sharded")
    assert {a.environment for a in report.agents if a.verdict.value != "no change"} == {"dev", "staging", "prod"}
    assert not [e for e in report.environments if e.verdict.value != "no change"]
    assert _affected(step["run"], spec_repo.root, render_json(report)) == 'stacks=["dev", "prod-1", "staging"]\n'
    # Narrowing also narrows prod's boundary (environment-wide): prod-0 owns it, so it is previewed too.
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject]")
    spec_repo.commit("narrow invoice-reader")
    report = spec_repo.diff("HEAD~1")
    assert "prod" in {e.environment for e in report.environments if e.verdict.value != "no change"}
    assert _affected(step["run"], spec_repo.root, render_json(report)) == \
        'stacks=["dev", "prod-0", "prod-1", "staging"]\n'
    # A shard's config edited: that stack by its file name.
    config = spec_repo.read("stacks/Pulumi.prod-1.yaml")
    spec_repo.write("stacks/Pulumi.prod-1.yaml", config.replace("kv_mount: secret", "kv_mount: kv-agents"))
    spec_repo.commit("prod-1 kv mount")
    report = spec_repo.diff("HEAD~1")
    assert report.changed_stack_files == ["stacks/Pulumi.prod-1.yaml"]
    stacks = json.loads(_affected(step["run"], spec_repo.root, render_json(report)).split("=", 1)[1])
    assert "prod" not in stacks and "prod-1" in stacks
    # The agent CA replaced: every cert role of every shard carries it, so every shard is previewed.
    other_ca = (spec_repo.root / "stacks" / "ca" / "dev-agents-ca.pem").read_text()
    spec_repo.write("stacks/ca/prod-agents-ca.pem", other_ca)
    git(spec_repo.root, "commit", "-q", "-m", "prod CA rotated", "--", "stacks")  # not the step's own files
    report = spec_repo.diff("HEAD~1")
    assert report.changed_stack_files == [] and [e.environment for e in report.environments] == ["prod"]
    assert _affected(step["run"], spec_repo.root, render_json(report)) == 'stacks=["prod-0", "prod-1"]\n'


def test_the_affected_stacks_command_refuses_a_report_it_cannot_read(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from agentiam.diff.affected import main

    report = tmp_path / "agentiam-diff.json"
    report.write_text('{"agents": [{"verdict": "changed"}]}')
    assert main([str(report), str(PROJECT / "stacks")]) == 2
    assert "not an `agentiam diff --format json` report (no 'environment' key)" in capsys.readouterr().err
    report.write_text("not json")
    assert main([str(report), str(PROJECT / "stacks")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {report}: Expecting value")
    assert main([str(tmp_path / "absent.json"), str(PROJECT / "stacks")]) == 0
    assert capsys.readouterr().out == "stacks=[]\n"
