"""A throwaway agentiam project provisioned on the real servers: specs + stack config -> capture -> OpenBao.

Each world gets its own environment name, so its mounts, policies, roles and entities never collide with another
world's on the shared OpenBao fixture. The Vault side is exactly what the real Pulumi program registers
(`tests/pulumi_capture.py`), applied by `tests/vault_apply.py` with the deployer's token of `agentiam bootstrap`,
as `pulumi up` would apply it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import yaml

from agentiam import project
from agentiam.client import AgentSettings
from agentiam.deploy import requirements
from agentiam.deploy.bootstrap import vault_policy_hcl
from agentiam.plan.model import AgentPlan, IdentityPlan
from tests import servers
from tests.integration.pki import ClientCert, TestCA
from tests.pulumi_capture import Capture, capture_stack
from tests.vault_apply import Changes, Replay

DB_PASSWORD_KEY = "billingDbPassword"
OPENBAO_VERSION = servers.openbao_version()  # the fixture's own server, as `bao version` reports it
# Within every environment's expiry horizon (AGT008: at most a year ahead by default), whatever day the tests run.
EXPIRES = (dt.date.today() + dt.timedelta(days=180)).isoformat()


def reader_spec(name: str, *, token_ttl: str = "30m", token_max_ttl: str = "2h", database_ttl: str = "10m",
                database_max_ttl: str = "1h", status: str = "active", function: str = "data-retrieval",
                access: str = "read") -> str:
    """A spec granting dynamic `billing` database credentials and nothing else."""
    return textwrap.dedent(f"""\
        spec_version: 1
        name: {name}
        description: Integration-test agent reading the billing database.
        owner:
          team: billing-platform
          sponsor: maria.keller@example.com
          contact: "#billing-platform-oncall"
        function: {function}
        environments: [ENV]
        status: {status}
        expires: {EXPIRES}
        credentials:
          token_ttl: {token_ttl}
          token_max_ttl: {token_max_ttl}
          database_ttl: {database_ttl}
          database_max_ttl: {database_max_ttl}
        permissions:
          databases:
            - database: billing
              access: {access}
        """)


def stack_config(env: str, ca_pem: Path, postgres: servers.PostgresServer, audit_file: Path,
                 database_port: int | None = None, audit: dict | None = None) -> dict:
    """A stack config whose `billing` database is the PostgreSQL fixture and whose agent CA is the test CA
    (`ca_pem` relative to the project: the folder holding the stacks folder).

    `database_port`: where Vault reaches PostgreSQL instead of its own port (a fault proxy in front of it).
    """
    url = postgres.connection_url_template
    if database_port is not None:
        url = url.replace(f"127.0.0.1:{postgres.port}/", f"127.0.0.1:{database_port}/")
    return {"config": {"agentiam:environment": {
        "name": env, "account_id": "123456789012", "region": "us-east-1",
        "aws_secrets_engine_principal_arn": "arn:aws:iam::123456789012:role/vault-aws-secrets-engine",
        "vault": {"flavor": "openbao", "version": OPENBAO_VERSION, "approle_mount": f"{env}-approle", "cert_mount": f"{env}-cert", "database_mount": f"{env}-database",
                  "aws_mount": "aws", "kv_mount": "secret", "agent_ca_pem_file": str(ca_pem),
                  "audit": audit or {"path": servers.AUDIT_DEVICE, "file_path": str(audit_file),
                                     "api_managed": False}},
        "databases": {"billing": {
            "plugin": "postgresql-database-plugin", "connection_url": url,
            "username": postgres.superuser, "password_secret": DB_PASSWORD_KEY, "schemas": ["public"]}},
        "logging": {
            "agent_log_group": f"/agentiam/{env}/agent-activity", "retention_days": 30,
            "trail_log_group": "/aws/cloudtrail/account-trail",
            "destination_arn": f"arn:aws:firehose:us-east-1:123456789012:deliverystream/agentiam-{env}",
            "destination_role_arn": "arn:aws:iam::123456789012:role/agentiam-logs-to-firehose",
            "alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:agentiam-alerts"},
    }}}


@dataclass
class World:
    """One environment of test agents, provisioned on OpenBao; certificates issued by the world's CA."""

    env: str
    root: Path
    server: servers.OpenBaoServer
    postgres: servers.PostgresServer
    client: hvac.Client
    ca: TestCA
    plan: IdentityPlan
    capture: Capture
    applied: Replay  # applies each capture with the deployer's token, as `pulumi up` would; knows the real ids
    certs: dict[str, ClientCert] = field(default_factory=dict)
    changes: Changes | None = None  # what the last provision created, updated, replaced and deleted

    @property
    def specs_dir(self) -> Path:
        return self.root / "agent_specs"

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    def agent(self, name: str) -> AgentPlan:
        return self.plan.agent(name)

    def role_id(self, name: str) -> str:
        return self.applied.role_ids[self.agent(name).vault.approle.role_name]

    def entity_id(self, name: str) -> str:
        return self.applied.entity_ids[self.agent(name).vault.entity.name]

    def cert(self, name: str) -> ClientCert:
        """The agent's client certificate, with the CN its cert role pins."""
        if name not in self.certs:
            self.certs[name] = self.ca.issue(self.agent(name).vault.entity.cert_alias_name)
        return self.certs[name]

    def settings(self, name: str, *, cert: ClientCert | None = None, role_id: str | None = None,
                 vault_addr: str | None = None) -> AgentSettings:
        """Client settings of agent `name` as its deployment would receive them (`vault_addr`: e.g. via a proxy)."""
        cert = cert or self.cert(name)
        return AgentSettings.for_agent(self.agent(name), vault_addr=vault_addr or self.server.address,
                                       client_cert=str(cert.cert_path),
                                       client_key=str(cert.key_path), role_id=role_id or self.role_id(name),
                                       ca_cert=str(self.server.ca_cert_path))

    def write_spec(self, name: str, text: str) -> None:
        (self.specs_dir / f"{name}.yaml").write_text(text.replace("[ENV]", f"[{self.env}]"))

    def provision(self) -> None:
        """(Re)capture the program over the current specs and apply the change of its Vault side to the server,
        drift read back first, as the deploy pipeline's `pulumi up --refresh` does."""
        self.plan, _ = project.compile_plan(self.env, self.specs_dir, self.stacks_dir)
        self.capture = capture_stack(self.env, specs_dir=self.specs_dir, stacks_dir=self.stacks_dir,
                                     secrets={DB_PASSWORD_KEY: self.postgres.password})
        self.changes = self.applied.apply(self.capture, refresh=True)

    def apply_deployer_policy(self, *, pinned: bool) -> None:
        """The bootstrap's deployer policy, as an administrator applies it (`pinned`: alias mounts' accessors,
        known once the first apply created the mounts)."""
        accessors = ({path: self.applied.accessors[path] for path in requirements.alias_mount_paths(self.plan)}
                     if pinned else None)
        self.client.sys.create_or_update_acl_policy(requirements.deployer_policy_name(self.env), vault_policy_hcl(
            self.plan, requirements.deployer_vault_rules(self.plan, accessors)))


def deployer_token(client: hvac.Client, env: str, plan: IdentityPlan, *, pinned: dict[str, str] | None = None) -> str:
    """An administrator's doing: the deployer policy of `agentiam bootstrap` and a token of it alone, living longer
    than the provider's child token for the stack (as the CI's JWT role of the bootstrap grants)."""
    client.sys.create_or_update_acl_policy(requirements.deployer_policy_name(env), vault_policy_hcl(
        plan, requirements.deployer_vault_rules(plan, pinned)))
    ttl = plan.deploy.vault_token_ttl + 900
    return client.auth.token.create(policies=[requirements.deployer_policy_name(env)], no_default_policy=True,
                                    ttl=f"{ttl}s")["auth"]["client_token"]


def build_world(root: Path, server: servers.OpenBaoServer, postgres: servers.PostgresServer, client: hvac.Client,
                specs: dict[str, str], *, database_port: int | None = None, audit: dict | None = None,
                apply: bool = True) -> World:
    """Write specs and a stack config under `root`, capture the program and apply its Vault side (`apply=False`:
    only the deployer's policy and token exist; the test provisions)."""
    env = "t" + secrets.token_hex(4)
    ca = TestCA(root / "pki", f"{env} agents CA")
    (root / "agent_specs").mkdir(parents=True)
    (root / "stacks").mkdir()
    (root / "stacks" / f"Pulumi.{env}.yaml").write_text(
        yaml.safe_dump(stack_config(env, ca.pem_path.relative_to(root), postgres, server.audit_log_path,
                                    database_port, audit),
                       sort_keys=False))
    for name, text in specs.items():
        (root / "agent_specs" / f"{name}.yaml").write_text(text.replace("[ENV]", f"[{env}]"))
    plan, _ = project.compile_plan(env, root / "agent_specs", root / "stacks")
    replay = Replay(server.address, deployer_token(client, env, plan), ca_cert=str(server.ca_cert_path)
                    if server.ca_cert_path else None, account_id=plan.account_id, region=plan.region)
    world = World(env=env, root=root, server=server, postgres=postgres, client=client, ca=ca,
                  plan=plan, capture=None, applied=replay)  # type: ignore[arg-type]  # set by provision()
    if apply:
        world.provision()
        world.apply_deployer_policy(pinned=True)  # the mounts exist now: aliases pinned to them (doctor, V06)
    return world
