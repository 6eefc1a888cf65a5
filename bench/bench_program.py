"""Benchmark: the real Pulumi program under the mock runtime for 100 and 1,000 agents in one stack.

Prints, per fleet size: plan time (validate + build, no Pulumi), program time (the whole `__main__.py` run under
mocks: plan + registrations), resources registered, resources per agent, ms per resource, and the ratio of the
1,000-agent program time to the 100-agent one measured in the same run (linear = ~10x). Baseline, same run: a
program registering the same number of flat, independent `vault.Policy` resources under the same mocks: the SDK's
own cost per registration, without components, dependencies or the plan.

    python bench/bench_program.py            # 100 and 1,000 agents
    python bench/bench_program.py 100 300    # other sizes (ratio is largest / smallest)
    python bench/bench_program.py --without-gc   # the same with CPython's cyclic GC off during each run

The mock runtime keeps every Output and future of the run alive; CPython's cyclic garbage collector walked that
growing heap again and again, which was the whole of the excess over a 10x ratio; the program now freezes what
survives each collection out of later ones (`components.stack.freeze_survivors`, docs/benchmarks.md). The flat
baseline does not (it is what any program pays); `--without-gc` compares both with the collector off, which shows
the SDK's cost per resource of the program's resources against a flat one. Targets (issue 15): 1,000/100 agents
within 11x; program time within 1.3x of the baseline's for the same number of resources at every size.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentiam import project  # noqa: E402
from tests.program.fleet import write_fleet  # noqa: E402
from tests.pulumi_capture import PROJECT_DIR, capture_stack  # noqa: E402

STACK = "dev"
WITHOUT_GC = "--without-gc" in sys.argv
BASELINE_PROGRAM = """\
import os
import pulumi_vault as vault
for index in range(int(os.environ["AGENTIAM_BENCH_RESOURCES"])):
    vault.Policy(f"baseline-{index}", name=f"baseline-{index}", policy='path "x" { capabilities = ["read"] }')
"""


def _timed_capture(**kwargs: object) -> tuple[float, object]:
    gc.collect()
    if WITHOUT_GC:
        gc.disable()
    try:
        start = time.perf_counter()
        capture = capture_stack(STACK, **kwargs)
        return time.perf_counter() - start, capture
    finally:
        gc.enable()


def measure(count: int, workdir: Path) -> dict[str, float]:
    """Plan and program times for a generated fleet of `count` agents."""
    specs = workdir / f"fleet-{count}"
    write_fleet(specs, count, environments=(STACK,))
    start = time.perf_counter()
    plan, _ = project.compile_plan(STACK, specs, PROJECT_DIR / "stacks")
    plan_seconds = time.perf_counter() - start
    program_seconds, capture = _timed_capture(specs_dir=specs)
    identities = capture.of_type("agentiam:index:AgentIdentity")
    per_agent = [len(capture.descendants(identity.urn)) + 1 for identity in identities[:10]]
    custom_per_agent = [sum(r.custom for r in capture.descendants(identity.urn)) for identity in identities[:10]]
    assert len(identities) == len(plan.agents) == count
    return {"agents": count, "plan_s": plan_seconds, "program_s": program_seconds,
            "resources": len(capture.resources), "per_agent": sum(per_agent) / len(per_agent),
            "custom_per_agent": sum(custom_per_agent) / len(custom_per_agent),
            "ms_per_resource": 1000 * program_seconds / len(capture.resources)}


def baseline(resources: int, workdir: Path) -> float:
    """Seconds to register `resources` flat resources under the same mocks (the SDK's floor)."""
    program = workdir / "baseline" / "__main__.py"
    program.parent.mkdir(exist_ok=True)
    program.write_text(BASELINE_PROGRAM, encoding="utf-8")
    os.environ["AGENTIAM_BENCH_RESOURCES"] = str(resources)
    seconds, capture = _timed_capture(program=program)
    assert len(capture.resources) == resources
    return seconds


def main(sizes: list[int]) -> None:
    """Measure every size, then print the table and the ratios."""
    # warm-up: imports of pulumi_aws / pulumi_vault submodules (docs/facts.md#machines: ~0.5 s each)
    capture_stack(STACK)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for n in sizes:  # each size's baseline right after its program: the same load on a shared machine
            rows.append(measure(n, Path(tmp)))
            rows[-1]["baseline_s"] = baseline(rows[-1]["resources"], Path(tmp))
    print(f"{'agents':>7} {'plan s':>8} {'program s':>10} {'resources':>10} {'res/agent':>10} "
          f"{'custom/agent':>13} {'ms/resource':>12} {'baseline s':>11} {'baseline ms/res':>16}")
    for row in rows:
        print(f"{row['agents']:>7} {row['plan_s']:>8.2f} {row['program_s']:>10.2f} {row['resources']:>10} "
              f"{row['per_agent']:>10.1f} {row['custom_per_agent']:>13.1f} {row['ms_per_resource']:>12.2f} "
              f"{row['baseline_s']:>11.2f} {1000 * row['baseline_s'] / row['resources']:>16.2f}")
    if WITHOUT_GC:
        print("(cyclic GC disabled during each program run)")
    first, last = rows[0], rows[-1]
    print(f"program time ratio {last['agents']}/{first['agents']} agents: "
          f"{last['program_s'] / first['program_s']:.1f}x (agents x{last['agents'] / first['agents']:.0f}, "
          f"target <= 11x); baseline ratio: {last['baseline_s'] / first['baseline_s']:.1f}x")
    for row in rows:  # the same number of resources: time per resource is time
        print(f"program / flat baseline at {row['agents']} agents ({row['resources']} resources): "
              f"{row['program_s'] / row['baseline_s']:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:] if a.isdigit()] or [100, 1000])
