"""The real-server fixtures behave like the servers they stand for: OpenBao with audit, PostgreSQL, moto."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import hvac
import psycopg
import pytest

from tests import servers


def test_openbao_is_initialized_and_unsealed(vault_client: hvac.Client) -> None:
    health = vault_client.sys.read_health_status(method="GET")
    assert health["initialized"] is True
    assert health["sealed"] is False
    assert vault_client.is_authenticated()


def test_root_token_requests_reach_the_file_audit_device(
    openbao: servers.OpenBaoServer, vault_client: hvac.Client
) -> None:
    mount = f"kv-{uuid.uuid4().hex[:8]}"
    vault_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    secret_value = f"not-in-the-log-{uuid.uuid4().hex}"
    vault_client.secrets.kv.v2.create_or_update_secret("agent", {"token": secret_value}, mount_point=mount)
    read = vault_client.secrets.kv.v2.read_secret_version("agent", mount_point=mount, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"token": secret_value}

    devices = vault_client.sys.list_enabled_audit_devices()["data"]
    assert devices[f"{openbao.audit_device}/"]["type"] == "file"

    path = f"{mount}/data/agent"
    entries = servers.audit_entries(openbao.audit_log_path, lambda e: e.get("request", {}).get("path") == path,
                                    expected=4)
    # Writing a key that does not exist yet is a `create`, not an `update` (Vault's existence check).
    assert [(e["type"], e["request"]["operation"]) for e in entries] == [
        ("request", "create"),
        ("response", "create"),
        ("request", "read"),
        ("response", "read"),
    ]
    assert entries[0]["request"]["id"] == entries[1]["request"]["id"]
    assert all(e["auth"]["policies"] == ["root"] for e in entries)
    # Audit strings are HMAC'd: the secret itself must never reach the log.
    assert secret_value not in openbao.audit_log_path.read_text()


def test_postgres_accepts_password_login_over_tcp(postgres: servers.PostgresServer) -> None:
    with psycopg.connect(
        host=postgres.host, port=postgres.port, user=postgres.superuser, password=postgres.password, dbname="postgres"
    ) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)


def test_postgres_rejects_a_wrong_password(postgres: servers.PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=postgres.host, port=postgres.port, user=postgres.superuser, password="wrong", dbname="postgres"
        )


def test_database_engine_issues_and_revokes_postgres_credentials(
    postgres: servers.PostgresServer, vault_client: hvac.Client
) -> None:
    mount = f"database-{uuid.uuid4().hex[:8]}"
    vault_client.sys.enable_secrets_engine("database", path=mount)
    vault_client.secrets.database.configure(
        name="agentiam-pg",
        plugin_name="postgresql-database-plugin",
        connection_url=postgres.connection_url_template,
        username=postgres.superuser,
        password=postgres.password,
        allowed_roles=["reader"],
        mount_point=mount,
    )
    vault_client.secrets.database.create_role(
        name="reader",
        db_name="agentiam-pg",
        creation_statements=[
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
        ],
        default_ttl="5m",
        max_ttl="10m",
        mount_point=mount,
    )

    issued = vault_client.secrets.database.generate_credentials("reader", mount_point=mount)
    username, password = issued["data"]["username"], issued["data"]["password"]
    with psycopg.connect(
        host=postgres.host, port=postgres.port, user=username, password=password, dbname="postgres"
    ) as conn:
        assert conn.execute("select current_user").fetchone() == (username,)
    assert postgres.role_exists(username)

    vault_client.sys.revoke_lease(issued["lease_id"])
    assert not postgres.role_exists(username)


def test_moto_server_answers_iam(moto_server: servers.MotoServer) -> None:
    iam = boto3.client("iam", **moto_server.client_kwargs())
    name = f"agentiam-test-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)
    try:
        role = iam.get_role(RoleName=name)["Role"]
        assert role["Arn"] == created["Role"]["Arn"] == f"arn:aws:iam::123456789012:role/{name}"
        assert role["MaxSessionDuration"] == 3600
    finally:
        iam.delete_role(RoleName=name)


def test_server_is_stopped_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="test body failed"), servers.run_openbao(tmp_path) as server:
        assert server.process.poll() is None
        raise RuntimeError("test body failed")
    assert server.process.returncode is not None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.address}/v1/sys/health", timeout=1)
