"""Benchmark: `agentiam check` over 100,000 and 1,000,000 Vault audit and CloudTrail records, with `jq` counting
the same records in the same run as the yardstick.

    python bench/bench_check.py [--sizes 100000 1000000]

Generates, under bench/.work/check/ (git-ignored), per size: a Vault/OpenBao audit log (60 % of the records:
request and response lines of the bundled dev agents' reads, logins, refused reads and failed logins, and an
operator's requests, in the real device's line format) and CloudTrail log files as delivered to S3 (40 %: gzip
documents of 5,000 records; agents' calls, AccessDenied, humans' calls), spread over 30 days.

Measures, each in its own process: `jq` counting every record (`reduce inputs` over the audit log; `zcat | jq`
over `.Records[]` of the CloudTrail files), then the whole `check` (read, normalise, judge, report) over the same
files, with its record count checked against jq's. Prints records per second and the peak resident memory of the
check process (its own `VmHWM`); the memory must be the same at both sizes (streaming).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agentiam import project  # noqa: E402

WORK = REPO / "bench" / ".work" / "check"
UNTIL = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
SINCE = UNTIL - dt.timedelta(days=30)
PER_FILE = 5_000
OPERATOR = {"client_token": "hmac-sha256:" + "c" * 64, "accessor": "hmac-sha256:" + "d" * 64, "display_name": "root",
            "policies": ["root"], "token_policies": ["root"], "token_type": "service"}


def _hmac(rng: random.Random) -> str:
    return f"hmac-sha256:{rng.getrandbits(256):064x}"


def _vault_pair(rng: random.Random, when: dt.datetime, agent, entity: str, role_id_hmac: str) -> list[dict]:
    """A request and its response line, as OpenBao's file device writes them."""
    roll = rng.random()
    rid = str(uuid.UUID(int=rng.getrandbits(128)))
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(10 ** 9):09d}Z"
    vault = agent.vault
    mount_type, error, data, response_data = "database", None, None, None
    if roll < 0.1:  # a login (1 in 10 failed)
        path = f"auth/{vault.approle.mount}/login"
        mount_type = "approle"
        data = {"role_id": role_id_hmac, "secret_id": _hmac(rng)}
        auth = {"token_type": "default"}
        if rng.random() < 0.1:
            error = "invalid role or secret ID"
        else:
            auth = {"client_token": _hmac(rng), "accessor": _hmac(rng), "display_name": vault.approle.mount,
                    "policies": [vault.policy_name], "token_policies": [vault.policy_name], "no_default_policy": True,
                    "metadata": {"role_name": vault.approle.role_name}, "entity_id": entity, "token_type": "service",
                    "token_ttl": 1800}
    elif roll < 0.15:  # an operator
        path = rng.choice(["sys/mounts", "sys/auth", "identity/entity/name/" + agent.identity_name])
        mount_type, auth = "system", dict(OPERATOR)
    else:
        paths = [p for p in vault.policy_rules if "*" not in p and "+" not in p] or ["auth/token/lookup-self"]
        path = rng.choice(paths)
        if roll < 0.17:  # someone else's credentials
            path = f"{vault.approle.mount}-database/creds/agent-dev-other-billing-read"
            error = "1 error occurred:\n\t* permission denied\n\n"
        auth = {"client_token": _hmac(rng), "accessor": _hmac(rng), "display_name": vault.approle.mount,
                "policies": [vault.policy_name], "token_policies": [vault.policy_name],
                "policy_results": {"allowed": error is None}, "metadata": {"role_name": vault.approle.role_name},
                "entity_id": entity, "token_type": "service", "token_ttl": 1800,
                "token_issue_time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        response_data = {"password": _hmac(rng), "username": _hmac(rng)} if "/creds/" in path and not error else None
    request = {"id": rid, "client_id": entity, "operation": "update" if "login" in path else "read",
               "mount_point": path.split("/")[0] + "/", "mount_type": mount_type,
               "mount_running_version": "v2.7.2+builtin.bao", "mount_class": "secret",
               "client_token": auth.get("client_token", ""), "client_token_accessor": auth.get("accessor", ""),
               "namespace": {"id": "root"}, "path": path, "remote_address": f"10.40.3.{rng.randrange(1, 250)}",
               "remote_port": rng.randrange(30000, 60000)}
    if data:
        request["data"] = data
    first = {"time": stamp, "type": "request", "auth": auth, "request": request}
    second = {"time": stamp, "type": "response", "auth": auth, "request": request,
              "response": {"mount_point": request["mount_point"], "mount_type": mount_type,
                           "mount_running_plugin_version": "v2.7.2+builtin.bao", "mount_class": "secret"}}
    if response_data:
        second["response"]["data"] = response_data
    if error:
        first["error"] = second["error"] = error
    return [first, second]


def _cloudtrail(rng: random.Random, when: dt.datetime, agent) -> dict:
    role = agent.aws.role_arn
    account = role.split(":")[4]
    statements = (agent.aws.inline_policy or {}).get("Statement") or [
        {"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::x/*"]}]
    statement = rng.choice(statements)
    action = rng.choice(statement["Action"])
    service, _, name = action.partition(":")
    record = {"eventVersion": "1.09", "userIdentity": {
        "type": "AssumedRole", "principalId": "AROAEXAMPLE:vault", "arn": f"arn:aws:sts::{account}:assumed-role/"
        f"{agent.aws.role_name}/vault-{rng.randrange(10**6)}", "accountId": account, "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role,
                                             "accountId": account, "userName": agent.aws.role_name},
                           "attributes": {"creationDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                          "mfaAuthenticated": "false"}}},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{'monitoring' if service == 'cloudwatch' else service}.amazonaws.com",
        "eventName": name.replace("*", "Object"), "awsRegion": "eu-west-1", "sourceIPAddress": "10.40.1.2",
        "userAgent": "Boto3/1.34.0", "requestParameters": {"key": f"2026/{rng.randrange(10**5):05d}.pdf"},
        "responseElements": None, "requestID": f"{rng.getrandbits(64):016X}",
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))), "readOnly": True, "eventType": "AwsApiCall",
        "managementEvent": False, "recipientAccountId": account,
        "resources": [{"type": "AWS::S3::Object", "ARN": statement["Resource"][0].replace("*", "2026/01.pdf")}]}
    if rng.random() < 0.02:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = "not authorized to perform: s3:PutObject on resource: arn:aws:s3:::x/y"
    if rng.random() < 0.2:  # a person's call: no agent's
        record["userIdentity"] = {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/maria", "accountId": account}
    return record


def generate(size: int) -> tuple[Path, list[Path], Path]:
    folder = WORK / str(size)
    audit, ids = folder / "vault-audit.log", folder / "audit-ids.json"
    trails = sorted(folder.glob("cloudtrail-*.json.gz"))
    if audit.exists() and ids.exists() and trails:
        return audit, trails, ids
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(size)
    plan, _ = project.compile_plan("dev", REPO / "agent_specs", REPO / "stacks", dt.date(2026, 11, 1))
    agents = plan.agents
    entities = {a.identity_name: str(uuid.UUID(int=rng.getrandbits(128))) for a in agents}
    hmacs = {a.identity_name: _hmac(rng) for a in agents}
    ids.write_text(json.dumps({"format": 1, "audit_device": "file", "environments": {"dev": {
        name: {"entity_id": entities[name], "role_id_hmac": hmacs[name], "name_hmac": _hmac(rng)}
        for name in entities}}}))
    vault_lines = size * 6 // 10
    span = (UNTIL - SINCE).total_seconds()
    with open(audit, "w") as out:
        for i in range(vault_lines // 2):
            when = SINCE + dt.timedelta(seconds=span * i / (vault_lines // 2))
            agent = rng.choice(agents)
            for line in _vault_pair(rng, when, agent, entities[agent.identity_name], hmacs[agent.identity_name]):
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
    trail_records = size - vault_lines // 2 * 2
    for start in range(0, trail_records, PER_FILE):
        count = min(PER_FILE, trail_records - start)
        records = [_cloudtrail(rng, SINCE + dt.timedelta(seconds=span * (start + j) / trail_records),
                               rng.choice(agents)) for j in range(count)]
        path = folder / f"cloudtrail-{start // PER_FILE:05d}.json.gz"
        path.write_bytes(gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode(), 6))
    return audit, sorted(folder.glob("cloudtrail-*.json.gz")), ids


def _run(command: list[str] | str, shell: bool = False) -> tuple[str, float]:
    """(stdout, wall-clock seconds) of one child process."""
    started = time.perf_counter()
    done = subprocess.run(command, shell=shell, stdout=subprocess.PIPE, cwd=REPO, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {command}")
    return done.stdout, elapsed


CHECK = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from agentiam.audit.reader import ReadStats, read_events
from agentiam.check.engine import CheckEngine, CheckOptions
from agentiam.check.history import History
from agentiam.check.render import render_json
from agentiam.cli.logs_common import prepare
from agentiam import project
repo = Path({repo!r})
loaded, index, _ = prepare(repo / "agent_specs", repo / "stacks", ("dev",), (Path({ids!r}),), None, None, 60.0)
engine = CheckEngine(index, CheckOptions({since}, {until}, environments=("dev",)), loaded.specs,
                     project.load_environments(repo / "stacks"), History.of(repo / "agent_specs", {until}))
stats = ReadStats()
engine.consume(read_events({files!r}, index, stats))
report = engine.report(stats)
render_json(report)
# VmHWM: this process's own peak (the kernel resets it at exec; ru_maxrss would count the forked parent's pages)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(stats.lines, stats.events, len(report.findings), peak)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        audit, trails, ids = generate(size)
        vault_count, vault_s = _run(["jq", "-n", "reduce inputs as $l (0; .+1)", str(audit)])
        trail_count, trail_s = _run("zcat " + " ".join(map(str, trails)) +
                                       " | jq -n 'reduce (inputs | .Records[]) as $r (0; .+1)'", shell=True)
        jq_records = int(vault_count) + int(trail_count)
        script = CHECK.format(repo=str(REPO), ids=str(ids), since=SINCE.timestamp(), until=UNTIL.timestamp(),
                              files=[str(audit), *map(str, trails)])
        out, check_s = _run([sys.executable, "-c", script])
        lines, events, findings, rss = map(int, out.split())
        assert lines == jq_records, (lines, jq_records)
        rows.append((size, jq_records, vault_s + trail_s, check_s, rss, events, findings))
    print(f"{'records':>10} {'jq s':>8} {'jq rec/s':>10} {'check s':>8} {'check rec/s':>12} {'x jq':>5} "
          f"{'peak RSS':>9} {'agent events':>13} {'findings':>8}")
    for _size, records, jq_s, check_s, rss, events, findings in rows:
        print(f"{records:>10,} {jq_s:>8.2f} {records / jq_s:>10,.0f} {check_s:>8.2f} {records / check_s:>12,.0f} "
              f"{jq_s / check_s:>5.2f} {rss / 1024:>7.1f} MiB {events:>13,} {findings:>8}")


if __name__ == "__main__":
    main()
