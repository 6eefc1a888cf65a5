"""Benchmark: `agentiam inventory` over 8,000 generated agents (the varied fleet of bench/bench_validate.py, 1-3
environments each): time and peak memory.

    python bench/bench_inventory.py [--count 8000] [--repeat 3]

The bundled stack configs, copied with every account's IAM quotas declared at AWS's maximum (5,000 roles and
policies, docs/fleet.md): 8,000 generated agents put ~4,900 roles in prod's account, the most one account can hold;
more would stop the inventory at AGT048, as it would stop `pulumi up`.

Prints, in one process (best of --repeat): the compile's parts (read + guardrails, the plans of every environment)
and the inventory's own (entries and blast radius from the plans, then each writer); then, per format, the CLI as
a new process (`agentiam inventory --format F --output FILE`): wall time, Python start included, and its peak
resident memory (VmHWM of the new process image, printed by the process itself as it exits: a forked child's
maxrss from wait4 would count the benchmark's own memory, copied at fork).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agentiam import project  # noqa: E402
from agentiam.environment.model import Selection  # noqa: E402
from agentiam.inventory.build import build_inventory  # noqa: E402
from agentiam.inventory.model import TIER_ORDER  # noqa: E402
from agentiam.plan.build import build_plan  # noqa: E402
from agentiam.render.inventory_csv import render_csv  # noqa: E402
from agentiam.render.inventory_json import render_json  # noqa: E402
from agentiam.render.inventory_markdown import render_markdown  # noqa: E402
from agentiam.render.inventory_text import render_text  # noqa: E402
from agentiam.spec.validate import LoadedSpec  # noqa: E402
from bench.bench_validate import STACKS, TODAY, WORK, generate  # noqa: E402


def best(repeat: int, func, *args):
    """(best seconds, last result) of `repeat` runs."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


# Runs the CLI and, at exit, writes its peak resident set (VmHWM, KiB) as the last line of stderr.
DRIVER = ("import atexit, sys\n"
          "atexit.register(lambda: sys.stderr.write('\\nVmHWM ' + open('/proc/self/status').read()"
          ".split('VmHWM:')[1].split()[0] + '\\n'))\n"
          "from agentiam.cli.main import main\nmain()\n")


def quotas_at_most(folder: Path) -> Path:
    """The bundled stacks folder copied under `folder`, every stack config declaring AWS's largest IAM quotas."""
    stacks = folder / "stacks"
    shutil.copytree(STACKS, stacks)
    for path in sorted(stacks.glob("Pulumi.*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document["config"]["agentiam:environment"]["quotas"] = {"iam_roles": 5000,
                                                                 "iam_customer_managed_policies": 5000}
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return stacks


def cli_run(*args: str) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one `agentiam ARGS...` process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"agentiam {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return took, int(done.stderr.rsplit("VmHWM ", 1)[1].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=8_000, help="specs to generate (at most ~8,000: quotas)")
    parser.add_argument("--repeat", type=int, default=3, help="in-process repetitions (best is printed)")
    args = parser.parse_args()

    files = generate(args.count)
    print(f"generated {len(files):,} specs under {WORK.relative_to(REPO)}")
    stacks_tmp = tempfile.TemporaryDirectory()
    stacks = quotas_at_most(Path(stacks_tmp.name))
    environments = project.load_environments(stacks)

    def load_and_check():  # as the inventory's compile does (`environment_plans`)
        specs, findings, _count = project.check_specs([WORK], stacks, TODAY, environments, LoadedSpec.without_document)
        return specs, findings

    def plans(specs):
        out = []
        for env in environments.values():
            env = env.model_copy(update={"selection": Selection()})
            with project._cyclic_gc_paused():  # noqa: SLF001
                out.append((build_plan(specs, env), env))
        return out

    t_check, (specs, findings) = best(args.repeat, load_and_check)
    errors = [f for f in findings if f.severity.value == "error"]
    if errors:
        raise SystemExit(f"generated specs must be valid: {errors[0].render()} (+{len(errors) - 1} more)")
    t_plans, plan_list = best(args.repeat, plans, specs)
    t_build, inventory = best(args.repeat, build_inventory, plan_list, TODAY)
    entries = len(inventory.entries)
    tiers = ", ".join(f"{tier.value} {sum(e.blast.tier is tier for e in inventory.entries):,}"
                      for tier in reversed(TIER_ORDER))
    print(f"\n{entries:,} agent x environment entries ({len(specs):,} agents; tiers: {tiers})")
    print("in-process, best of", args.repeat)
    print(f"  read + strict YAML + guardrails          {t_check:7.2f} s")
    print(f"  plans of {len(plan_list)} environments                  {t_plans:7.2f} s")
    print(f"  inventory entries + blast radius         {t_build:7.2f} s  ({t_build / entries * 1e6:.0f} us/entry)")
    for name, writer in (("json", render_json), ("csv", render_csv), ("markdown", render_markdown),
                         ("text", lambda inv: render_text(inv, width=160))):
        took, text = best(args.repeat, writer, inventory)
        print(f"  write {name:<9}                          {took:7.2f} s  ({len(text.encode()) / 2**20:.1f} MiB)")

    print("\nCLI, one new process per format (Python start included)")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("json", "csv", "markdown", "text"):
            took, rss = cli_run("inventory", "--specs", str(WORK), "--stacks", str(stacks), "--today",
                                TODAY.isoformat(), "--format", fmt, "--output", str(Path(tmp) / f"inventory.{fmt}"))
            print(f"  agentiam inventory --format {fmt:<9} {took:7.2f} s   peak RSS {rss / 1024:6.0f} MiB")
        # What every command pays first: read + guardrails, no plan.
        took, rss = cli_run("validate", str(WORK), "--stacks", str(stacks), "--today", TODAY.isoformat(),
                            "--format", "json")
        print(f"  baseline: agentiam validate            {took:7.2f} s   peak RSS {rss / 1024:6.0f} MiB")
    shutil.rmtree(WORK, ignore_errors=True)
    stacks_tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
