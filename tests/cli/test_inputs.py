"""No input breaks `validate` or `plan`: stack-config problems, referenced files, links, FIFOs, huge files and huge
numbers are located findings in every output format, exit 2, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from tests.cli.conftest import REPO
from tests.integration.pki import TestCA

TODAY = "2026-12-01"
DEV = "stacks/Pulumi.dev.yaml"
INVOICE = "agent_specs/billing/invoice-reader.yaml"
LINK = ("is a symbolic link; inputs must be regular files: git and the diff show only the path a link points to, "
        "while reading it would follow the link to another file")


def run(*args: str):
    return CliRunner().invoke(cli, [*args], catch_exceptions=False)


def validate(*args: str):
    return run("validate", "--today", TODAY, *args)


def edit(path: str, old: str, new: str) -> None:
    text = Path(path).read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    Path(path).write_text(text.replace(old, new))


def test_a_mistyped_account_id_is_located_in_every_format(project_dir: Path) -> None:
    edit(DEV, 'account_id: "111111111111"', "account_id: 11111111111")
    text = validate()
    assert text.exit_code == 2
    assert text.output.splitlines() == [
        f"{DEV}:8:17  error  CFG002  account_id: Input should be a valid string, got 11111111111",
        "9 spec(s) checked: 1 error(s), 0 warning(s) - FAILED"]
    as_json = validate("--format", "json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.output)["findings"] == [
        {"file": DEV, "line": 8, "column": 17, "rule_id": "CFG002", "severity": "error", "path": "account_id",
         "message": "Input should be a valid string, got 11111111111"}]
    sarif = validate("--format", "sarif")
    assert sarif.exit_code == 2
    run_log = json.loads(sarif.output)["runs"][0]
    (result,) = run_log["results"]
    assert result["ruleId"] == "CFG002"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": DEV, "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 8, "startColumn": 17}}
    assert result["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "account_id", "kind": "member"}]
    described = run_log["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert described["id"] == "CFG002" and described["shortDescription"]["text"].startswith("Stack config values")
    plan = run("plan", "--env", "prod")  # another environment: still refused, the stacks are checked together
    assert plan.exit_code == 2
    assert f"{DEV}:8:17  error  CFG002  account_id: Input should be a valid string" in plan.output


CA_LINE = f"{DEV}:19:26  error  CFG003  vault.agent_ca_pem_file: "


@pytest.mark.parametrize("reference,prepare,message", [
    ("/etc/ssl/certs/ca-certificates.crt", None,
     "/etc/ssl/certs/ca-certificates.crt is an absolute path; name the file relative to the project (the folder "
     "holding stacks/), so that review and deployment read the same file"),
    ("../outside/ca.pem", None, "../outside/ca.pem leaves the project (the folder holding stacks/); referenced files "
                               "must be part of the reviewed repository"),
    ("stacks/ca/missing.pem", None, "cannot read stacks/ca/missing.pem: No such file or directory"),
    ("stacks/ca/link.pem", lambda: os.symlink("dev-agents-ca.pem", "stacks/ca/link.pem"), f"stacks/ca/link.pem {LINK}"),
    ("stacks/pki/dev-agents-ca.pem", lambda: os.symlink("ca", "stacks/pki"), f"stacks/pki {LINK}"),
    ("stacks/ca/zero.pem", lambda: os.symlink("/dev/zero", "stacks/ca/zero.pem"), f"stacks/ca/zero.pem {LINK}"),
    ("stacks/ca/pipe.pem", lambda: os.mkfifo("stacks/ca/pipe.pem"),
     "stacks/ca/pipe.pem is a FIFO (named pipe), not a regular file"),
    ("stacks/ca", None, "stacks/ca is a folder, not a regular file"),
    ("stacks/ca/huge.pem", lambda: os.truncate(Path("stacks/ca/huge.pem").open("wb").name, 2 * 1024**3),
     f"stacks/ca/huge.pem is {2 * 1024**3} bytes; files referenced by stack configs are limited to 262144 bytes"),
    ("stacks/ca/key.pem", lambda: Path("stacks/ca/key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
     "stacks/ca/key.pem holds a PRIVATE KEY block; the file must hold PEM certificates only"),
    ("stacks/Pulumi.dev.yaml", None,
     "stacks/Pulumi.dev.yaml holds text outside its PEM blocks; the file must hold PEM certificates only"),
    ("stacks/ca/empty.pem", lambda: Path("stacks/ca/empty.pem").write_bytes(b""),
     "stacks/ca/empty.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
])
def test_an_unusable_agent_ca_is_a_finding_on_the_field_that_names_it(project_dir: Path, reference, prepare,
                                                                      message) -> None:
    if prepare is not None:
        prepare()
    edit(DEV, "agent_ca_pem_file: stacks/ca/dev-agents-ca.pem", f'agent_ca_pem_file: "{reference}"')
    result = validate()
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == CA_LINE + message
    plan = run("plan", "--env", "dev")
    assert plan.exit_code == 2
    assert plan.output.splitlines()[0] == CA_LINE + message
    # A link or special file under stacks/ is also refused as an entry of the folder, whatever references it.
    assert plan.output.splitlines()[1:] == result.output.splitlines()[1:-1] + [
        f"{len(result.output.splitlines()) - 1} error(s); nothing was planned."]


def test_a_number_of_5000_digits_is_a_finding_in_a_spec_and_a_stack_config(project_dir: Path) -> None:
    edit(INVOICE, "  token_ttl: 1h\n", "  token_ttl: 1h\n  secret_id_num_uses: " + "1" * 5000 + "\n")
    edit(DEV, "retention_days: 30", "retention_days: " + "9" * 5000)
    edit("stacks/Pulumi.staging.yaml", 'account_id: "222222222222"', "account_id: 1e999")
    result = validate()
    assert result.exit_code == 2
    too_long = ("is out of range: numbers are 64-bit integers or finite decimals of at most 40 characters; quote the "
                "value if it is text")
    lines = result.output.splitlines()
    assert [line.split("  ", 3)[:3] for line in lines[:-1]] == [
        [f"{INVOICE}:15:23", "error", "YAML008"], [f"{DEV}:39:23", "error", "YAML008"],
        ["stacks/Pulumi.staging.yaml:8:17", "error", "YAML008"]]
    assert lines[0].endswith(f"number 11111111111111111111... (5000 characters) {too_long}")
    assert lines[2].endswith(f"number 1e999 {too_long}")


def test_a_deeply_nested_stack_config_is_a_finding(project_dir: Path) -> None:
    Path(DEV).write_text(Path(DEV).read_text() + "    extra: " + "[" * 30_000 + "]" * 30_000 + "\n")
    result = validate()
    assert result.exit_code == 2
    assert result.output.splitlines()[0].startswith(f"{DEV}:") and "YAML007  document is nested too deeply" in \
        result.output.splitlines()[0]


def test_stack_configs_that_are_no_regular_files_are_refused_without_a_hang(project_dir: Path) -> None:
    os.mkfifo("stacks/Pulumi.qa.yaml")  # no writer: a blocking open would wait forever
    os.symlink("/dev/zero", "stacks/Pulumi.zero.yaml")  # followed, an endless read
    os.mkdir("stacks/Pulumi.dir.yaml")
    with open("stacks/Pulumi.huge.yaml", "wb") as huge:
        huge.truncate(4 * 1024**3)
    result = validate()
    assert result.exit_code == 2
    assert result.output.splitlines()[:-1] == [
        "stacks/Pulumi.dir.yaml:1:1  error  FILE002  file is a folder, not a regular file",
        "stacks/Pulumi.huge.yaml:1:1  error  YAML005  file is 4294967296 bytes; stack configs are limited to 262144 bytes",
        "stacks/Pulumi.qa.yaml:1:1  error  FILE002  file is a FIFO (named pipe), not a regular file",
        f"stacks/Pulumi.zero.yaml:1:1  error  FILE001  file {LINK}",
    ]
    for stack in ("qa", "zero"):  # planning the broken stack itself
        plan = run("plan", "--env", stack)
        assert plan.exit_code == 2 and f"stacks/Pulumi.{stack}.yaml:1:1  error  FILE00" in plan.output


def test_a_linked_stack_config_or_stacks_folder_is_refused(project_dir: Path, tmp_path: Path) -> None:
    shutil.move(DEV, "dev.yaml")
    os.symlink("../dev.yaml", DEV)
    result = validate()
    assert (result.exit_code, result.output.splitlines()[0]) == (2, f"{DEV}:1:1  error  FILE001  file {LINK}")
    plan = run("plan", "--env", "dev")
    assert plan.exit_code == 2 and plan.output.splitlines()[0] == f"{DEV}:1:1  error  FILE001  file {LINK}"
    os.unlink(DEV)
    shutil.move("dev.yaml", DEV)
    shutil.move("stacks", "real-stacks")
    os.symlink("real-stacks", "stacks")
    result = validate()
    assert (result.exit_code, result.output.splitlines()[0]) == (2, f"stacks:1:1  error  FILE001  file {LINK}")


def test_a_linked_spec_or_specs_folder_is_refused(project_dir: Path) -> None:
    shutil.move(INVOICE, "invoice-reader.yaml")
    os.symlink("../../invoice-reader.yaml", INVOICE)
    result = validate()
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == f"{INVOICE}:1:1  error  FILE001  file {LINK}"
    assert validate(INVOICE).output.splitlines()[0] == f"{INVOICE}:1:1  error  FILE001  file {LINK}"
    shutil.move("agent_specs", "real-specs")
    os.symlink("real-specs", "agent_specs")
    result = validate()
    assert (result.exit_code, result.output.splitlines()[0]) == (2, f"agent_specs:1:1  error  FILE001  file {LINK}")


def test_a_ca_replaced_by_another_is_planned_with_its_fingerprint(project_dir: Path, tmp_path: Path) -> None:
    other = TestCA(tmp_path / "pki", "another CA")
    shutil.copy(other.pem_path, "stacks/ca/dev-agents-ca.pem")
    result = run("plan", "--env", "dev", "--format", "json")
    assert result.exit_code == 0
    ca = json.loads(result.output)["platform"]["agent_ca"]
    assert ca["pem"] == other.pem and ca["path"] == "stacks/ca/dev-agents-ca.pem"
    assert [c["subject"] for c in ca["certificates"]] == ["CN=another CA"]


def test_a_duration_of_5000_digits_is_a_short_finding(project_dir: Path) -> None:
    # int() of more than 4,300 digits raises inside CPython; the message then advised sys.set_int_max_str_digits().
    edit(INVOICE, "  token_ttl: 1h\n", "  token_ttl: " + "9" * 5000 + "h\n")
    result = validate()
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (
        f"{INVOICE}:14:14  error  SPEC003  credentials.token_ttl: '9999999999999999'... is not a duration; write e.g. '900s', "
        "'15m', '1h' or '1h30m'")


def test_the_readme_example_is_what_validate_prints(project_dir: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("<!-- section:inputs -->"):readme.index("<!-- /section:inputs -->")]
    example = re.search(r"```console\n\$ agentiam validate [^\n]*\n(.*?)\$ echo \$\?\n(\d+)\n```", section, re.S)
    assert example is not None
    edit(DEV, 'account_id: "111111111111"', "account_id: 11111111111")
    os.unlink("stacks/ca/staging-agents-ca.pem")
    os.symlink("/etc/ssl/certs/ca-certificates.crt", "stacks/ca/staging-agents-ca.pem")
    os.mkfifo("stacks/Pulumi.qa.yaml")
    result = run("validate")
    assert (result.output, result.exit_code) == (example.group(1), int(example.group(2)))
