"""Benchmark: `agentiam validate` at fleet scale (10,000 and 100,000 specs): time against bare YAML parsing of the
same files, and peak memory, per size.

    python bench/bench_fleet.py [--sizes 10000 100000] [--repeat 3] [--jobs 1 2] [--memory-only]

Generates, per size, the varied valid fleet of bench/bench_validate.py under bench/.work/fleet-<size>/ (git-ignored,
kept between runs). Then, per size, each in a new process so that peaks never mix:

- time: one process measures (a) bare parsing, every file read + `yaml.load(..., Loader=yaml.CSafeLoader)`, and
  (b) `project.validate` as `agentiam validate` runs it (streamed, no spec kept) with each --jobs value,
  interleaved --repeat times after a warm-up validate of one team's folder (IAM catalogue, risk sets); prints
  the medians and the median of the per-repeat ratios (b)/(a), each ratio taken from measurements made one
  after the other in the same process;
- memory: one process per --jobs value runs `project.validate` alone and one the bare parsing alone; each prints
  its own peak resident memory (VmHWM of the new process image: a forked child's maxrss would count the parent's
  pages) and, with workers, the largest worker's (ru_maxrss of the waited-for children, pages shared with the
  parent at fork included).

Targets (issue 15): ratio <= 1.5x; peak at 100,000 at most twice the peak at 10,000. On a shared machine, the
ratio of two measurements taken back to back is steadier than either time; the spread of the ratios is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_validate import TODAY, spec_text  # noqa: E402
from bench_validate import generate as generate_specs  # noqa: E402

WORK = REPO / "bench" / ".work"

CHILD = """
import json, os, sys, time, datetime as dt, statistics
sys.path.insert(0, {repo!r})
from pathlib import Path
import yaml
from agentiam import project
import resource
folder, mode, repeat, jobs = Path({folder!r}), {mode!r}, {repeat}, {jobs!r}
stacks, today = Path({repo!r}) / "stacks", dt.date.fromisoformat({today!r})

def files():
    return sorted(str(p) for p in folder.rglob("*.yaml"))

def bare():
    for path in files():
        with open(path, "rb") as handle:
            yaml.load(handle.read(), Loader=yaml.CSafeLoader)  # noqa: S506 - CSafeLoader is the safe loader

def validate(workers, where=folder):
    result = project.validate([where], stacks, today, keep_specs=False, jobs=workers)
    # The only findings: the bundled stacks' accounts cannot hold so many roles (AGT048, one per environment).
    assert result.files_checked and all(f.rule_id == "AGT048" for f in result.findings), result.findings[:3]

def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start

out = {{}}
if mode == "time":
    # warm-up, one team's folder: the IAM catalogue, the risk sets
    validate(1, min(p for p in folder.iterdir() if p.is_dir()))
    out = {{"bare": [], **{{str(j): [] for j in jobs}}}}
    for _ in range(repeat):
        out["bare"].append(timed(bare))
        for j in jobs:
            out[str(j)].append(timed(lambda: validate(j)))
else:
    bare() if mode == "bare" else validate(jobs[0])
out["peak_kib"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
out["worker_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps(out))
"""


def generate(count: int) -> Path:
    """The fleet of `count` specs (bench_validate's generator), written once and reused."""
    folder = WORK / f"fleet-{count}"
    stamp = folder / ".complete"
    rng = random.Random(20261201)  # the generator's first specs: a change of the spec format regenerates the fleet
    version = hashlib.sha256("".join(spec_text(i, rng)[1] for i in range(50)).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == version:
        return folder
    generate_specs(count, folder)
    stamp.write_text(version)
    return folder


def child(folder: Path, mode: str, repeat: int = 1, jobs: tuple[int, ...] = (1,)) -> dict:
    script = CHILD.format(repo=str(REPO), folder=str(folder), mode=mode, repeat=repeat, jobs=jobs,
                          today=TODAY.isoformat())
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed ({mode}):\n{done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="interleaved timings per size")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="validate's worker processes, each "
                        "measured (`agentiam validate --jobs`)")
    parser.add_argument("--memory-only", action="store_true", help="measure peaks only (no timing)")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        folder = generate(size)
        timing = {"bare": [0.0], **{str(j): [0.0] for j in args.jobs}} if args.memory_only else \
            child(folder, "time", args.repeat, tuple(args.jobs))
        bare_peak = child(folder, "bare")["peak_kib"]
        for jobs in args.jobs:
            ratios = [v / b if b else 0.0 for b, v in zip(timing["bare"], timing[str(jobs)], strict=True)]
            memory = child(folder, "validate", jobs=(jobs,))
            rows.append((size, jobs, statistics.median(timing["bare"]), statistics.median(timing[str(jobs)]),
                         statistics.median(ratios), min(ratios), max(ratios), memory["peak_kib"],
                         memory["worker_kib"] if jobs > 1 else 0, bare_peak))
    print("peak memory only (--memory-only): no timing" if args.memory_only else
          f"medians of {args.repeat} interleaved runs per size (bare parse, then validate with each --jobs)")
    print(f"{'specs':>8} {'jobs':>4} {'bare parse s':>12} {'validate s':>10} {'ratio':>6} {'(min-max)':>11} "
          f"{'us/spec':>8} {'peak validate':>14} {'largest worker':>15} {'peak parse':>11}")
    for size, jobs, bare, full, ratio, low, high, peak, worker, bare_peak in rows:
        timed = (f"{'-':>12} {'-':>10} {'-':>6} {'-':>11} {'-':>8}" if args.memory_only else
                 f"{bare:>12.2f} {full:>10.2f} {ratio:>5.2f}x {low:>5.2f}-{high:<5.2f} {full / size * 1e6:>8.0f}")
        largest = f"{worker / 1024:>11.1f} MiB" if jobs > 1 else f"{'-':>15}"
        print(f"{size:>8,} {jobs:>4} {timed} {peak / 1024:>10.1f} MiB {largest} {bare_peak / 1024:>7.1f} MiB")
    for jobs in args.jobs:
        mine = [row for row in rows if row[1] == jobs]
        if len(mine) > 1:
            first, last = mine[0], mine[-1]
            workers = f", {last[8] / max(first[8], 1):.2f}x (largest worker)" if jobs > 1 else ""
            print(f"--jobs {jobs}: peak memory {last[0]:,} / {first[0]:,} specs: {last[7] / first[7]:.2f}x (validate"
                  f" process){workers} for x{last[0] / first[0]:.0f} specs; target <= 2x")


if __name__ == "__main__":
    main()
