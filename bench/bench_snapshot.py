"""Benchmark: `agentiam snapshot` (the real program under mocks, canonical JSON) and the tool-change comparison.

Prints, for the bundled examples (dev, staging, prod): wall time of `agentiam snapshot --all` in a new process
(Python and Pulumi SDK start included, best of 3), resources and bytes written per stack; the time
`agentiam diff` spends comparing two snapshot folders (the diff engine in-process, with and without the
snapshots, best of 5); and, for a generated fleet of N dev agents (default 1,000), the snapshot's time and size,
which is what the 256 MiB limit on a snapshot file (`agentiam.diff.toolchange.MAX_SNAPSHOT_BYTES`) is sized by.

    python bench/bench_snapshot.py          # bundled examples + a 1,000-agent fleet
    python bench/bench_snapshot.py 300      # another fleet size (0: skip the fleet)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentiam.diff import toolchange  # noqa: E402
from agentiam.diff.model import RiskLabel  # noqa: E402
from tests.program.fleet import write_fleet  # noqa: E402

CLI = [sys.executable, "-P", "-c", "from agentiam.cli.main import main; main()"]


def snapshot_all(data: Path, out: Path) -> float:
    """Seconds for `agentiam snapshot --all` over `data` with this checkout's code, in a new process."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([*CLI, "snapshot", "--all", "--code", str(ROOT), "--output-dir", str(out)], cwd=data, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    return time.perf_counter() - start


def compare_seconds(base: Path, head: Path, stacks: list[str]) -> float:
    """Best of 5: load both folders and compare every stack (what `agentiam diff` adds for the snapshots)."""
    label = RiskLabel("code-changed", "high", "bench")
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for stack in stacks:
            pair = [toolchange._load_file(folder / f"{stack}.json", stack) for folder in (base, head)]  # noqa: SLF001
            toolchange.compare(pair[0], pair[1], label)
        best = min(best, time.perf_counter() - start)
    return best


def main(fleet: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        times = [snapshot_all(ROOT, work / "a") for _ in range(3)]
        print(f"agentiam snapshot --all, bundled examples (new process, best of 3): {min(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")
        stacks = sorted(p.stem for p in (work / "a").glob("*.json"))
        for stack in stacks:
            data = json.loads((work / "a" / f"{stack}.json").read_text(encoding="utf-8"))
            size = (work / "a" / f"{stack}.json").stat().st_size
            print(f"  {stack:<8} {len(data['resources']):>5} resources  {size / 1024:>7.0f} KiB")
        snapshot_all(ROOT, work / "b")
        same = all((work / "a" / f"{s}.json").read_bytes() == (work / "b" / f"{s}.json").read_bytes() for s in stacks)
        print(f"  a second run wrote identical bytes: {same}")
        print(f"comparing two snapshot folders (every stack, identical, best of 5): "
              f"{compare_seconds(work / 'a', work / 'b', stacks) * 1000:.0f} ms")
        if fleet:
            data = work / "fleet"
            write_fleet(data / "agent_specs", fleet, environments=("dev",))
            shutil.copytree(ROOT / "stacks", data / "stacks")
            for config in (data / "stacks").glob("Pulumi.*.yaml"):
                if config.name != "Pulumi.dev.yaml":
                    config.unlink()
            seconds = snapshot_all(data, work / "fleet-out")
            out = work / "fleet-out" / "dev.json"
            resources = len(json.loads(out.read_text(encoding="utf-8"))["resources"])
            print(f"fleet of {fleet} dev agents: {seconds:.1f} s, {resources} resources, "
                  f"{out.stat().st_size / 1024 / 1024:.1f} MiB; compare: "
                  f"{compare_seconds(work / 'fleet-out', work / 'fleet-out', ['dev']):.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
