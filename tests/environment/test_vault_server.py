"""The stack config names its Vault server; what the plan relies on follows from flavor and version."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentiam.environment import vault_server
from agentiam.environment.load import parse_environment, project_files
from agentiam.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
FILES = project_files(ROOT / "stacks")
DEV = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()


def _dev(flavor: str, version: str, audit: str | None = "false") -> str:
    text = DEV.replace("flavor: openbao", f"flavor: {flavor}").replace('version: "2.4.1"', f'version: "{version}"')
    return text.replace("        api_managed: false\n", "" if audit is None else f"        api_managed: {audit}\n")


@pytest.mark.parametrize(("flavor", "version", "tags"), [
    ("hashicorp", "1.17.2", True), ("hashicorp", "1.18.3", True), ("hashicorp", "1.17.1", False),
    ("hashicorp", "1.13.0", False), ("openbao", "2.4.1", False), ("openbao", "9.0.0", False)])
def test_session_tags_only_from_hashicorp_vault_1_17_2(flavor, version, tags):
    assert vault_server.supports_session_tags(flavor, vault_server.parse_version(version)) is tags


@pytest.mark.parametrize(("flavor", "version", "requested", "api"), [
    ("hashicorp", "1.18.3", None, True),  # only through sys/audit
    ("openbao", "2.3.1", None, True),     # no config-file devices before 2.4.0
    ("openbao", "2.4.0", None, False),    # declared in the config file
    ("openbao", "2.7.2", True, True)])    # allowed with unsafe_allow_api_audit_creation
def test_the_audit_device_is_managed_the_way_the_server_can(flavor, version, requested, api):
    assert vault_server.audit_api_managed(flavor, vault_server.parse_version(version), requested) is api
    config = parse_environment("stacks/Pulumi.dev.yaml", _dev(flavor, version, None if requested is None
                                                              else str(requested).lower()).encode(), FILES)
    assert config.vault.flavor == flavor


@pytest.mark.parametrize(("flavor", "version", "audit", "located", "message"), [
    ("hashicorp", "1.18.3", "false", "stacks/Pulumi.dev.yaml:23:9  error  CFG002  vault.audit.api_managed: ",
     "HashiCorp Vault enables audit devices only through the API (sys/audit)"),
    ("openbao", "2.3.2", "false", "stacks/Pulumi.dev.yaml:23:9  error  CFG002  vault.audit.api_managed: ",
     "OpenBao 2.3.2 has no audit devices in its config file (since 2.4.0)"),
    ("hashicorp", "1.12.9", None, "stacks/Pulumi.dev.yaml:13:7  error  CFG002  vault.version: ",
     "hashicorp 1.12.9 is older than 1.13.0"),
])
def test_a_server_that_cannot_do_what_the_config_asks_is_refused_on_the_field(flavor, version, audit, located,
                                                                              message):
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", _dev(flavor, version, audit).encode(), FILES)
    (line,) = str(caught.value).splitlines()
    assert line.startswith(located) and message in line, line


@pytest.mark.parametrize("text", ['flavor: vault', 'version: "2.4"', 'version: "v2.4.1"', "version: 2.4"])
def test_flavor_and_version_are_strict(text):
    key = text.split(":")[0]
    raw = DEV.replace(f"{key}: openbao" if key == "flavor" else 'version: "2.4.1"', text)
    with pytest.raises(ConfigError) as caught:
        parse_environment("stacks/Pulumi.dev.yaml", raw.encode(), FILES)
    assert f"CFG002  vault.{key}: " in str(caught.value)
