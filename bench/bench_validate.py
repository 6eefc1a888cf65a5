"""Benchmark: `project.validate` over 10,000 generated specs against bare YAML parsing of the same files.

    python bench/bench_validate.py [--count 10000] [--repeat 3]

Generates realistic, varied, valid specs under bench/.work/specs (git-ignored), then in the same process
measures (a) the baseline: read every file + `yaml.load(..., Loader=yaml.CSafeLoader)`, and (b) the full
`project.validate` (read, safe compose, own YAML 1.2 scalars, pydantic, every guardrail). Target: (b) within
2x of (a). Also times a cold `agentiam validate <one spec>` subprocess (median wall clock).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agentiam import project  # noqa: E402
from agentiam.findings import Severity  # noqa: E402

WORK = REPO / "bench" / ".work" / "specs"
STACKS = REPO / "stacks"
TODAY = dt.date(2026, 12, 1)

TEAMS = ("billing-platform", "customer-support-tooling", "data-science", "platform-finops", "sre",
         "security-engineering", "growth", "logistics", "payments-risk", "search-relevance")
NOUNS = ("invoice", "ticket", "order", "shipment", "refund", "churn", "cost", "incident", "catalog", "fraud",
         "ledger", "payout", "lead", "review", "inventory", "pricing")
VERBS = {"data-retrieval": ("reader", "retriever", "lookup"), "integration": ("sync", "bridge", "pusher"),
         "analysis": ("forecaster", "scorer", "modeller"), "reporting": ("reporter", "digest", "summary"),
         "monitoring": ("watcher", "monitor", "sentinel")}
ENV_SETS = (["dev"], ["dev", "staging"], ["dev", "staging", "prod"], ["staging", "prod"], ["prod"])
DURATIONS = ("15m", "30m", "1h", "2h", "4h")
SESSION_TTLS = ("15m", "30m", "45m", "1h")  # the bundled stacks' engines run on roles: 1h cap (AGT015)


def _read_statements(rng: random.Random, team: str, noun: str) -> list[str]:
    pick = rng.randrange(4)
    if pick == 0:
        return [f"""    - sid: read-{noun}-objects
      actions: [s3:GetObject, s3:ListBucket]
      resources:
        - arn:aws:s3:::{team}-{{env}}-{noun}-data
        - arn:aws:s3:::{team}-{{env}}-{noun}-data/*"""]
    if pick == 1:
        return [f"""    - sid: query-{noun}-table
      actions: [dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem]
      resources: ["arn:aws:dynamodb:{{region}}:{{account}}:table/{team}-{{env}}-{noun}"]"""]
    if pick == 2:
        return [f"""    - sid: read-{noun}-logs
      actions: [logs:StartQuery, logs:GetQueryResults, logs:FilterLogEvents]
      resources: ["arn:aws:logs:{{region}}:{{account}}:log-group:/services/{{env}}/{noun}"]""",
                """    - sid: read-metrics
      actions: [cloudwatch:GetMetricStatistics, logs:DescribeLogGroups]
      resources: ["*"]"""]
    return [f"""    - sid: read-{noun}-params
      actions: [ssm:GetParameter, ssm:GetParametersByPath]
      resources: ["arn:aws:ssm:{{region}}:{{account}}:parameter/{team}/{{env}}/{noun}/*"]"""]


def spec_text(i: int, rng: random.Random) -> tuple[str, str]:
    """(agent name, YAML text) of the i-th generated spec."""
    function = rng.choice(tuple(VERBS))
    team, noun = rng.choice(TEAMS), rng.choice(NOUNS)
    name = f"{noun}-{rng.choice(VERBS[function])}-{i:05d}"
    envs = rng.choice(ENV_SETS)
    ttl = rng.choice(DURATIONS)
    statements = _read_statements(rng, team, noun)
    if rng.random() < 0.5:
        statements += _read_statements(rng, team, rng.choice(NOUNS) + "x")
    if function == "integration":
        statements.append(f"""    - sid: send-{noun}-events
      actions: [sqs:SendMessage, sqs:GetQueueUrl]
      resources: ["arn:aws:sqs:{{region}}:{{account}}:{team}-{{env}}-{noun}-outbound"]""")
    if function == "analysis":
        statements.append(f"""    - sid: scratch
      scratch: true
      actions: [s3:PutObject, s3:GetObject]
      resources: ["arn:aws:s3:::{team}-scratch-{{account}}-{{env}}/{{agent}}/*"]""")
    # a few sids repeat across generated statements; keep them unique within the spec
    seen: set[str] = set()
    unique = []
    for statement in statements:
        sid = statement.split("sid: ", 1)[1].split("\n", 1)[0]
        if sid not in seen:
            seen.add(sid)
            unique.append(statement)
    lines = [
        "# yaml-language-server: $schema=../agent-spec.schema.json",
        f"# Generated benchmark agent {i}: {function} for {team}.",
        "spec_version: 1",
        f"name: {name}",
        f"description: Generated {function} agent that handles {noun} work for the {team} team.",
        "owner:",
        f"  team: {team}",
        f"  sponsor: owner{i % 97}@example.com",
        f'  contact: "#{team}"',
        f"function: {function}",
        f"environments: [{', '.join(envs)}]",
        f"expires: 2027-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        "credentials:",
        f"  token_ttl: {ttl}",
        f"  token_max_ttl: {rng.choice(('8h', '12h', '24h'))}",
        f"  aws_session_ttl: {rng.choice(SESSION_TTLS)}",
        "permissions:",
        "  aws:",
        *unique,
    ]
    if rng.random() < 0.4:
        access = "write" if function == "integration" and rng.random() < 0.5 else "read"
        lines += ["  databases:", f"    - database: {rng.choice(('billing', 'analytics'))}", f"      access: {access}"]
    if rng.random() < 0.6:
        lines += ["  kv:", f"    - path: {team}/{{agent}}/*", "      capabilities: [read, list]"
                  if function != "integration" else "      capabilities: [read]"]
    if function == "integration":
        lines += ["network:", "  egress:", f"    - host: api.{noun}-partner.io", "      port: 443",
                  f"      purpose: exchange {noun} records with the partner", "  rate_limit:",
                  f"    requests: {rng.choice((10, 60, 100, 600))}", "    interval: 1m"]
    if rng.random() < 0.3:
        env = rng.choice(envs)
        lines += ["overrides:", f"  {env}:"]
        if rng.random() < 0.3:
            lines.append("    status: suspended")
        else:
            lines += ["    credentials:", "      token_ttl: 15m"]
    return name, "\n".join(lines) + "\n"


def generate(count: int) -> list[Path]:
    """Write `count` specs under WORK (recreated), spread over team folders like a real repository."""
    if WORK.exists():
        shutil.rmtree(WORK)
    rng = random.Random(20261201)
    files = []
    for i in range(count):
        name, text = spec_text(i, rng)
        team = text.split("  team: ", 1)[1].split("\n", 1)[0]
        path = WORK / team / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return sorted(files)


def baseline(files: list[Path]) -> None:
    for path in files:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)  # noqa: S506 - CSafeLoader is the safe loader


def full(files: list[Path], environments) -> project.Validation:
    return project.validate(files, STACKS, TODAY, environments)


def _timed(func, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def cold_cli(spec: Path, runs: int) -> list[float]:
    command = [shutil.which("agentiam") or "agentiam", "validate", str(spec), "--today", TODAY.isoformat()]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="specs to generate")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions of each measurement")
    parser.add_argument("--cli-runs", type=int, default=5, help="cold `agentiam validate` runs")
    args = parser.parse_args()

    start = time.perf_counter()
    files = generate(args.count)
    print(f"generated {len(files):,} specs in {time.perf_counter() - start:.1f} s under {WORK.relative_to(REPO)}")
    environments = project.load_environments(STACKS)

    first_full, result = _timed(full, files, environments)  # includes loading the IAM catalogue and risk sets
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    if errors or len(result.specs) != len(files):
        print("generated specs must all be valid; first problems:", *[f.render() for f in errors[:5]], sep="\n")
        return 1
    base_times, full_times = [], []
    for _ in range(args.repeat):  # interleaved, so drift (page cache, CPU frequency) hits both alike
        base_times.append(_timed(baseline, files)[0])
        full_times.append(_timed(full, files, environments)[0])
    # Best of N (as timeit reports) is the figure least disturbed by other processes on a shared machine;
    # the medians are printed too.
    base, validate = min(base_times), min(full_times)
    n = len(files)
    print(f"(a) read + yaml.load(CSafeLoader):   {base:6.2f} s  {base / n * 1e6:7.0f} us/spec  "
          f"(best of {args.repeat}; median {statistics.median(base_times):.2f} s)")
    print(f"(b) project.validate (full):         {validate:6.2f} s  {validate / n * 1e6:7.0f} us/spec  "
          f"(best of {args.repeat}; median {statistics.median(full_times):.2f} s)")
    print(f"    first validate, cold caches:     {first_full:6.2f} s  {first_full / n * 1e6:7.0f} us/spec")
    median_ratio = statistics.median(full_times) / statistics.median(base_times)
    print(f"ratio (b)/(a): {validate / base:.2f}x best-of, {median_ratio:.2f}x median  (target <= 2x)")
    cli = cold_cli(REPO / "agent_specs" / "billing" / "invoice-reader.yaml", args.cli_runs)
    print(f"cold `agentiam validate <one spec>`: median {statistics.median(cli) * 1000:.0f} ms "
          f"(min {min(cli) * 1000:.0f}, max {max(cli) * 1000:.0f}, {len(cli)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
