"""`agentiam snapshot`: the real program's registrations as canonical JSON, secrets masked, what Pulumi would run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from agentiam.program import snapshot
from tests.program.conftest import stack_run
from tests.pulumi_capture import PROJECT_DIR

SECRET = "[secret sha256:"


def _snapshot(tmp_path: Path, *args: str, cwd: Path = PROJECT_DIR, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(cli, ["snapshot", *args])


@pytest.fixture(scope="module")
def dev_snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """`agentiam snapshot --env dev` of the bundled project, run twice: (text of the first, parsed)."""
    texts = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        for run in range(2):
            out = tmp_path_factory.mktemp("snap") / f"dev-{run}.json"
            result = _snapshot(out.parent, "--env", "dev", "--output", str(out), monkeypatch=monkeypatch)
            assert result.exit_code == 0, result.output
            texts.append(out.read_text(encoding="utf-8"))
    assert texts[0] == texts[1]  # canonical: the same program over the same inputs gives the same bytes
    return texts[0], json.loads(texts[0])


def _resource(data: dict, type_token: str, name: str) -> dict:
    (found,) = [r for r in data["resources"] if r["type"] == type_token and r["name"] == name]
    return found


def test_snapshot_lists_every_registration_of_the_real_program(dev_snapshot) -> None:  # type: ignore[no-untyped-def]
    _text, data = dev_snapshot
    capture = stack_run("dev").capture
    assert (data["kind"], data["format"], data["stack"], data["project"], data["environment"], data["error"]) == \
        ("agentiam-program-snapshot", 1, "dev", "agentiam", "dev", None)
    assert sorted((r["type"], r["name"]) for r in data["resources"]) == \
        sorted((r.type_token, r.name) for r in capture.resources)
    assert [r["key"] for r in data["resources"]] == sorted(r["key"] for r in data["resources"])
    role = _resource(data, "aws:iam/role:Role", "agent-dev-invoice-reader-aws-role")
    assert role["key"] == "agentiam:index:AgentAwsRole$aws:iam/role:Role::agent-dev-invoice-reader-aws-role"
    assert role["parent"] == "agentiam:index:AgentIdentity$agentiam:index:AgentAwsRole::agent-dev-invoice-reader-aws"
    assert role["inputs"]["permissionsBoundary"] == \
        "arn:aws:iam::111111111111:policy/agentiam/dev/agentiam-dev-boundary-data-retrieval"
    # Dependencies and option references are resource keys: no stack-specific URN prefix.
    assert role["dependencies"] == [
        "agentiam:index:Platform$aws:iam/policy:Policy::agentiam-dev-boundary-data-retrieval"]
    assert "urn:pulumi:" not in _text
    approle = _resource(data, "vault:appRole/authBackendRole:AuthBackendRole", "agent-dev-invoice-reader-vault-approle")
    assert approle["options"]["additionalSecretOutputs"] == ["roleId"]
    assert approle["options"]["version"]  # the provider plugin version: a dependency bump shows


def test_snapshot_never_contains_a_secret(dev_snapshot) -> None:  # type: ignore[no-untyped-def]
    text, data = dev_snapshot
    secrets = stack_run("dev").capture.secret_config
    assert secrets and all(value not in text for value in secrets.values())
    connection = _resource(data, "vault:database/secretBackendConnection:SecretBackendConnection",
                           "agentiam-dev-db-billing")
    assert connection["secret_inputs"] == ["postgresql"]
    masked = connection["inputs"]["postgresql"]
    assert set(masked) == {"connectionUrl", "password", "username"}  # the shape stays, every value is masked
    assert all(value.startswith(SECRET) for value in masked.values())
    assert data["secret_outputs"] == ["approle_role_ids"]
    role_ids = stack_run("dev").capture.outputs["approle_role_ids"]
    assert all(v.startswith(SECRET) for v in data["outputs"]["approle_role_ids"].values())
    assert all(role_id not in text for role_id in role_ids.values())
    assert data["outputs"]["agents"]["invoice-reader"]["owner"] == "billing-platform"  # plain outputs stay plain


class _Record(SimpleNamespace):
    pass


def test_a_secret_in_a_plain_input_is_named_and_secret_paths_are_masked() -> None:
    record = _Record(type_token="t:m:R", name="r", urn="urn:pulumi:s::p::t:m:R::r", parent_urn=None, custom=True,
                     inputs={"tags": {"leak": "x-hunter2-y"}, "list": [{"a": 1}, {"b": "hunter2"}], "plain": "ok"},
                     secret_inputs=frozenset({"list[1].b"}), dependencies=frozenset(), options={})
    data = snapshot.build("s", "p", "e", [record], {"o": "hunter2"}, [], {"p:dbPassword": "hunter2"})
    inputs = data["resources"][0]["inputs"]
    assert inputs["tags"]["leak"] == "x-[secret:p:dbPassword]-y"  # a secret flowing into a plain input shows as such
    assert inputs["list"][0] == {"a": 1} and inputs["list"][1]["b"].startswith(SECRET)
    assert inputs["plain"] == "ok"
    assert data["outputs"]["o"] == "[secret:p:dbPassword]"
    assert "hunter2" not in snapshot.dumps(data)


def _data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(PROJECT_DIR / "agent_specs", data / "agent_specs")
    shutil.copytree(PROJECT_DIR / "stacks", data / "stacks")
    return data


def test_a_refused_stack_is_recorded_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir(tmp_path)
    spec = data / "agent_specs" / "billing" / "invoice-reader.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("token_max_ttl: 12h", "token_max_ttl: 48h"),
                    encoding="utf-8")
    out = tmp_path / "out"
    result = _snapshot(tmp_path, "--all", "--output-dir", str(out), "--code", str(PROJECT_DIR), cwd=data,
                       monkeypatch=monkeypatch)
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in out.iterdir()) == ["dev.json", "prod.json", "staging.json"]
    dev = json.loads((out / "dev.json").read_text(encoding="utf-8"))
    assert dev["resources"] == [] and "AGT010" in dev["error"] and "invoice-reader.yaml" in dev["error"]
    assert "stack dev: the program refused it" in result.output


def test_the_program_and_stack_configs_pulumi_yaml_names_are_what_runs(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "Pulumi.yaml").write_text("name: other-project\nmain: program/\nstackConfigDir: configs\n")
    (code / "program").mkdir()
    (code / "program" / "__main__.py").write_text(
        "import pulumi, pulumi_vault as vault\n"
        "vault.Policy('only', name='only', policy='path \"x\" {}', opts=pulumi.ResourceOptions(protect=True,\n"
        "             retain_on_delete=True, ignore_changes=['policy']))\n"
        "pulumi.export('password', pulumi.Config().require_secret('billingDbPassword'))\n")
    data = tmp_path / "data"
    shutil.copytree(PROJECT_DIR / "stacks", data / "configs")  # the agent CA path is relative to `data`
    shutil.copytree(PROJECT_DIR / "stacks" / "ca", data / "stacks" / "ca")
    result = _snapshot(tmp_path, "--env", "dev", "--code", str(code), cwd=data, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    taken = json.loads(result.output)
    assert taken["project"] == "other-project"
    (only,) = taken["resources"]
    assert only["key"] == "pulumi:pulumi:Stack$vault:index/policy:Policy::only"
    assert (only["options"]["protect"], only["options"]["retainOnDelete"], only["options"]["ignoreChanges"]) == \
        (True, True, ["policy"])
    assert taken["outputs"]["password"].startswith(SECRET)  # the project's own config namespace, masked


def test_mixed_code_and_bad_project_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    shutil.copytree(PROJECT_DIR / "agentiam", other / "agentiam")
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", other / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "__main__.py", other / "__main__.py")
    policy = other / "agentiam" / "plan" / "vault_policy.py"
    policy.write_text(policy.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    result = _snapshot(tmp_path, "--env", "dev", "--code", str(other), monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert "is not the code in" in result.output and "plan/vault_policy.py" in result.output
    (other / "Pulumi.yaml").write_text("main: [not, a, path]\n")
    result = _snapshot(tmp_path, "--env", "dev", "--code", str(other), monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "Pulumi.yaml: `name` must be the project's name" in result.output
    result = _snapshot(tmp_path, "--all", monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "give --output-dir" in result.output
    result = _snapshot(tmp_path, "--env", "qa", monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "Pulumi.qa.yaml: no such stack config" in result.output
    assert "known stacks: dev, prod, staging" in result.output
    assert "Traceback" not in result.output


def test_a_program_that_crashes_is_recorded_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "Pulumi.yaml").write_text("name: agentiam\nstackConfigDir: stacks\n")
    (code / "__main__.py").write_text("import pulumi_vault as vault\n"
                                      "vault.Policy('first', name='first', policy='')\n"
                                      "raise ValueError('no such template')\n")
    data = _data_dir(tmp_path)
    result = _snapshot(tmp_path, "--env", "dev", "--code", str(code), cwd=data, monkeypatch=monkeypatch)
    assert result.exit_code == 1 and "Traceback" not in result.output
    taken = json.loads(result.output.split("\nstack dev:")[0])
    assert taken["error"] == "the program failed: ValueError: no such template"
    assert [r["name"] for r in taken["resources"]] == ["first"]  # what it registered before it stopped
