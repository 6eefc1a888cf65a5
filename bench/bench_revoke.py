"""Benchmark: how fast `agentiam revoke` cuts an agent off, with few or many other tokens in Vault, or Vault hung.

Starts the real servers (OpenBao with TLS, PostgreSQL, moto: `tests/servers.py`), provisions one agent from the
real Pulumi program (`tests/integration/world.py`), logs it in (a working token from its token role, and database
credentials) and fills Vault with N other tokens: half orphans, half created through another agent's token role
whose name starts with this agent's (`<identity>-other`: the lease index's nearest neighbour). Then it runs the
kill switch (`agentiam.revoke.revoke`, what the CLI calls, after `agent_entry` has read the spec and stack config)
while two pollers watch from outside: one presents the agent's old token to Vault every 5 ms, one reads the IAM
role's kill-switch policy from moto every 10 ms. Printed, from the start of the run:

- old token refused: the first poll Vault answered 403 (the entity disable blocks every token of the agent);
- AWS deny attached: the first poll that found `agentiam-kill-switch` on the role;
- token step done: when the step revoking the agent's tokens (one revoke-prefix of its token role's lease path)
  finished, with the number it revoked; the neighbour role's tokens are checked to be alive afterwards;
- whole run: when the report was ready.

Scenarios: 10 and 10,000 other tokens (or the counts given), then Vault hung behind a fault proxy (the run's
deadline is 10 s there), then `agentiam revoke` as a new process, timed from the process start.

    python bench/bench_revoke.py             # 10 and 10,000 other tokens, then Vault hung
    python bench/bench_revoke.py 10 100000   # other counts (ratios: largest / smallest)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
import botocore.exceptions  # noqa: E402
import hvac  # noqa: E402
import requests  # noqa: E402

from agentiam.client import AgentSession  # noqa: E402
from agentiam.plan import names  # noqa: E402
from agentiam.revoke import DENY_SESSIONS, REVOKE_TOKENS, agent_entry, revoke  # noqa: E402
from agentiam.revoke.aws_adapter import AwsRevoker  # noqa: E402
from agentiam.revoke.vault_adapter import VaultRevoker  # noqa: E402
from tests import servers  # noqa: E402
from tests.faults import FaultProxy, first_time  # noqa: E402
from tests.integration.world import World, build_world, reader_spec  # noqa: E402

AGENT = "ledger-reader"
HUNG_DEADLINE = 10.0


def neighbour_role(world: World) -> str:
    """A token role named like the agent's plus a suffix, with the same kind of settings (another agent's, as far as
    Vault's lease index can tell): half of the other tokens are created through it."""
    role = f"{world.agent(AGENT).vault.token_role.name}-other"
    world.client.write_data(f"auth/token/roles/{role}", data={"orphan": True, "allowed_policies": ["default"],
                                                              "token_period": 7200, "token_explicit_max_ttl": 7200})
    return role


def fill(server: servers.OpenBaoServer, count: int, role: str) -> None:
    """`count` other tokens, created in parallel: half orphans, half through `role` (what other agents hold)."""
    local = threading.local()

    def create(index: int) -> None:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        path = f"auth/token/create/{role}" if index % 2 else "auth/token/create-orphan"
        answer = local.http.post(f"{server.address}/v1/{path}", timeout=30,
                                 headers={"X-Vault-Token": server.root_token}, verify=str(server.ca_cert_path),
                                 json={"policies": ["default"], "ttl": "2h", "no_default_policy": False})
        answer.raise_for_status()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(count)))


def create_role(world: World, moto: servers.MotoServer) -> str:
    """The agent's IAM role in moto, named and shaped by the plan (what the components create)."""
    aws_plan = world.agent(AGENT).aws
    boto3.client("iam", **moto.client_kwargs()).create_role(
        RoleName=aws_plan.role_name, Path=aws_plan.role_path,
        AssumeRolePolicyDocument=json.dumps(aws_plan.trust_policy))
    return aws_plan.role_name


def probes(world: World, moto: servers.MotoServer, token: str) -> tuple[Callable[[], bool], Callable[[], bool]]:
    """(old token refused by Vault?, kill-switch policy on the IAM role?), asked from outside the revoking process."""
    iam = boto3.client("iam", **moto.client_kwargs())
    http = requests.Session()
    role = world.agent(AGENT).aws.role_name

    def refused() -> bool:
        answer = http.get(f"{world.server.address}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token},
                          verify=str(world.server.ca_cert_path), timeout=5)
        return answer.status_code == 403

    def denied() -> bool:
        try:
            iam.get_role_policy(RoleName=role, PolicyName=names.KILL_SWITCH_POLICY_NAME)
        except botocore.exceptions.ClientError:
            return False
        return True

    return refused, denied


def scenario(world: World, moto: servers.MotoServer, others: int, *, hung: bool = False) -> dict[str, object]:
    """One revocation of the world's agent, watched from outside; figures in seconds from the run's start."""
    create_role(world, moto)
    neighbour = neighbour_role(world)
    fill(world.server, others, neighbour)
    session = AgentSession(world.settings(AGENT))
    token = session.token()
    session.database(world.agent(AGENT).vault.database_roles[0].name)
    in_vault = len(world.client.list("auth/token/accessors")["data"]["keys"])
    neighbours = (world.client.list(f"sys/leases/lookup/{names.token_lease_prefix(neighbour)}") or {}).get(
        "data", {}).get("keys", [])
    refused, denied = probes(world, moto, token)

    proxy = None
    address = world.server.address
    if hung:
        proxy = FaultProxy("127.0.0.1", int(address.rsplit(":", 1)[1]))
        address = f"https://{proxy.address}"
        proxy.hang()

    entry, scope = agent_entry(AGENT, world.env, world.specs_dir, world.stacks_dir)  # what the CLI reads
    vault = VaultRevoker(address, world.server.root_token, ca_cert=str(world.server.ca_cert_path))
    aws = AwsRevoker(endpoint_url=moto.endpoint_url, region_name=moto.region)
    timeout = HUNG_DEADLINE if hung else 60.0
    started = time.monotonic()
    refused_at = first_time(refused, since=started, until=started + timeout + 5, every=0.005) if not hung \
        else (lambda: None)
    denied_at = first_time(denied, since=started, until=started + timeout + 5)
    report = revoke(entry, scope, vault, aws, timeout=timeout)
    whole = time.monotonic() - started
    steps = {s.action: s for s in report.steps}
    if not hung:
        left = (world.client.list(f"sys/leases/lookup/{names.token_lease_prefix(neighbour)}") or {}).get(
            "data", {}).get("keys", [])
        assert left == neighbours, "the revocation reached the neighbour role's tokens"
    result = {"others": others, "in_vault": in_vault, "hung": hung, "refused": refused_at(), "denied": denied_at(),
              "aws_step": steps[DENY_SESSIONS].seconds, "token_step": steps[REVOKE_TOKENS].seconds,
              "token_outcome": steps[REVOKE_TOKENS].outcome.value, "token_detail": steps[REVOKE_TOKENS].detail,
              "whole": whole, "complete": report.complete}
    vault.close()
    if proxy is not None:
        proxy.close()
    return result


def cli_scenario(world: World, moto: servers.MotoServer) -> dict[str, object]:
    """The operator's view: `agentiam revoke NAME --env ENV --yes` as a new process, watched from its start
    (Python's start, imports and reading the agent's spec and stack config included)."""
    create_role(world, moto)
    refused, denied = probes(world, moto, AgentSession(world.settings(AGENT)).token())
    env = {**os.environ, **moto.env, "VAULT_ADDR": world.server.address, "VAULT_TOKEN": world.server.root_token,
           "VAULT_CACERT": str(world.server.ca_cert_path), "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "AGENTIAM_STATE_DIR": str(world.root / "revocations")}
    command = [sys.executable, "-c", "from agentiam.cli.main import main; main()", "revoke", AGENT, "--env",
               world.env, "--yes", "--specs", str(world.specs_dir), "--stacks", str(world.stacks_dir),
               "--aws-endpoint-url", moto.endpoint_url, "--format", "json"]
    started = time.monotonic()
    refused_at = first_time(refused, since=started, until=started + 60, every=0.005)
    denied_at = first_time(denied, since=started, until=started + 60)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    whole = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return {"refused": refused_at(), "denied": denied_at(), "whole": whole}


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.3f} s" if isinstance(value, float) else str(value)


def main() -> None:
    counts = sorted(int(arg) for arg in sys.argv[1:]) or [10, 10_000]
    with tempfile.TemporaryDirectory(prefix="agentiam-bench-revoke-") as work:
        root = Path(work)
        with servers.run_openbao(root / "openbao", tls=True) as bao, servers.run_postgres(root / "pg") as pg, \
                servers.run_moto(root / "moto") as moto:
            os.environ.update(moto.env)  # the revoker's IAM client uses the standard credential chain
            def fresh_world(name: str) -> World:
                # A fresh OpenBao per count would be cleaner, but one server keeps the earlier counts' tokens:
                # each count is measured on a server holding at least that many.
                client = hvac.Client(url=bao.address, token=bao.root_token, verify=str(bao.ca_cert_path), timeout=30)
                return build_world(root / name, bao, pg, client, {AGENT: reader_spec(AGENT)})

            rows = []
            filled = 0
            for count in counts:
                rows.append(scenario(fresh_world(f"w{count}"), moto, count - filled))
                rows[-1]["others"] = count
                filled = count
            rows.append(scenario(fresh_world("hung"), moto, 0, hung=True))
            cli = cli_scenario(fresh_world("cli"), moto)
    print("\nagentiam revoke: time from the start of the run (plan already loaded)\n")
    header = ("other tokens", "tokens in Vault", "old token refused", "AWS deny attached", "token step done",
              "whole run")
    print(" | ".join(header))
    for row in rows:
        label = f"{row['others']:,}" + (" (Vault hung)" if row["hung"] else "")
        token_step = _fmt(row["token_step"]) + (" FAILED" if row["token_outcome"] == "FAILED" else
                                                 f" ({row['token_detail']})")
        print(" | ".join([label, f"{row['in_vault']:,}", _fmt(row["refused"]), _fmt(row["denied"]), token_step,
                          _fmt(row["whole"])]))
    small, large = rows[0], rows[len(counts) - 1]
    if large is not small:
        for key, what in (("refused", "old token refused"), ("denied", "AWS deny attached"),
                          ("token_step", "token step done")):
            a, b = small[key], large[key]
            if isinstance(a, float) and isinstance(b, float) and a > 0:
                print(f"ratio {large['others']:,} / {small['others']:,} other tokens, {what}: {b / a:.1f}x")
    print(f"\nthe CLI as a new process ({rows[-2]['in_vault']:,} tokens in Vault), from the process start: old token "
          f"refused {_fmt(cli['refused'])}, AWS deny attached {_fmt(cli['denied'])}, exit {_fmt(cli['whole'])}")


if __name__ == "__main__":
    main()
