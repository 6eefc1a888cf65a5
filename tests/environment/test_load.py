"""Stack config loading: typed, located errors, no Pulumi."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentiam.environment.load import load_environment, parse_environment, project_files
from agentiam.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FILES = project_files(ROOT / "stacks")  # referenced files, as the project on disk holds them


@pytest.mark.parametrize("stack,account", [("dev", "111111111111"), ("staging", "222222222222"),
                                           ("prod", "333333333333")])
def test_bundled_stacks_load(stack, account):
    env = load_environment(ROOT / "stacks", stack)
    assert env.name == stack and env.account_id == account
    assert env.databases["billing"].password_secret == "billingDbPassword"


def test_unknown_stack_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"no such stack config; known stacks: .*dev.*prod"):
        load_environment(ROOT / "stacks", "qa")


def test_wrong_values_are_located_by_line_and_field():
    raw = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    raw = raw.replace('account_id: "111111111111"', "account_id: 111111111111").replace(
        "retention_days: 30", "retention_days: 31")
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", raw.encode(), FILES)
    lines = str(caught.value).splitlines()
    assert any(line.startswith("stacks/Pulumi.dev.yaml:8:17  error  CFG002  account_id: Input should be a valid string")
               for line in lines), lines
    assert any("CFG002  logging: retention_days 31 is not a CloudWatch Logs retention value" in line
               for line in lines), lines


def test_missing_config_key_is_a_config_error():
    with pytest.raises(ConfigError, match="CFG001"):
        parse_environment("stacks/Pulumi.x.yaml", b"config:\n  aws:region: eu-west-1\n", FILES)


@pytest.mark.parametrize("raw,expected", [
    (b"", "stacks/Pulumi.x.yaml:1:1  error  YAML007  file is empty; a stack config is a YAML mapping"),
    (b"- config\n", "stacks/Pulumi.x.yaml:1:1  error  YAML007  a stack config is a YAML mapping, not a list"),
    (b"config: [a]\n", "stacks/Pulumi.x.yaml:1:1  error  CFG001  missing `config: agentiam:environment: {...}` "
                       "(see README, stack config)"),
])
def test_a_stack_config_of_the_wrong_shape_is_named_as_one(raw, expected):
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.x.yaml", raw, FILES)
    assert str(caught.value) == expected


def test_a_schema_name_cannot_carry_sql():
    # Schema names go into the GRANT statements Vault runs as the database's management user.
    raw = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text().replace(
        "schemas: [public]", "schemas: ['public\"; DROP TABLE invoices; --']", 1)
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", raw.encode(), FILES)
    assert str(caught.value) == (
        "stacks/Pulumi.dev.yaml:30:19  error  CFG002  databases.billing.schemas[public\"; DROP TABLE invoices; --]: "
        "expected a PostgreSQL schema name (lower-case identifier), e.g. 'public', "
        "got 'public\"; DROP TABLE invoices; --'")


def test_a_database_name_cannot_leave_its_vault_path():
    raw = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text().replace("      billing:\n", "      ../sys:\n", 1)
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", raw.encode(), FILES)
    assert str(caught.value) == (
        "stacks/Pulumi.dev.yaml:25:7  error  CFG002  databases.../sys: expected a database connection name, as specs' "
        "`permissions.databases` refer to it, e.g. 'billing', got '../sys'")
