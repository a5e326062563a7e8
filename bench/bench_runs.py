"""Time ``ragguard runs --json`` on a folder of run folders, whole process.

    python bench/make_runs.py --count 1000 --big-log-mb 1024   # once
    python bench/bench_runs.py [--repeat 9]

Every figure is the median (with min and max) of ``--repeat`` runs of a whole
process, timed with ``time.perf_counter`` around ``subprocess.run``, after one
untimed warm-up; the commands take turns, so a drift of the machine's speed
hits them alike. CPU seconds come from ``resource.getrusage`` of the children.

Children run with bytecode caching on, as an installed package does.

- ``python -c pass`` and ``python -c "import ragguard.cli"``: the floor.
- warm: ``ragguard runs --json --dir D`` with its cache in place.
- cold: the same after deleting the cache (the OS page cache stays warm).
- ``wandb sync --dry-run D``: what wandb offers to list unsynced runs.
- the 1 GiB log: classified in-process (``read_segment``), and the peak memory
  of a process classifying it against one that only imports the reader.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE / "out" / "runs" / "wandb"
BIG = HERE / "out" / "big" / "wandb" / "offline-run-20250101_000000-biglog01"
PY = sys.executable
# The console script, as users and the hook shims run it (``-m`` adds runpy).
SCRIPT = Path(PY).with_name("ragguard")
RAGGUARD = [str(SCRIPT)] if SCRIPT.exists() else [PY, "-m", "ragguard"]
WANDB = str(Path(PY).with_name("wandb"))


# Installed packages run from cached bytecode; this environment may disable
# writing it (PYTHONDONTWRITEBYTECODE), which would time the compiler instead.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(
    argv: Sequence[str], before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    if before:
        before()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    return wall, cpu


def cache_dir_of(folder: Path) -> Path:
    sys.path.insert(0, str(HERE.parent))
    from ragguard.runs.cache import default_cache_dir

    return default_cache_dir(folder.resolve())


def bench(repeat: int) -> dict[str, list[tuple[float, float]]]:
    folder = str(RUNS)
    cache = cache_dir_of(RUNS)

    def drop_cache() -> None:
        for path in cache.glob("runs-*"):
            path.unlink()

    commands: dict[str, tuple[list[str], Callable[[], None] | None]] = {
        "python -c pass": ([PY, "-c", "pass"], None),
        'python -c "import ragguard.cli"': ([PY, "-c", "import ragguard.cli"], None),
        "ragguard runs --json (warm)": (
            [*RAGGUARD, "runs", "--json", "--dir", folder],
            None,
        ),
        "ragguard runs --json (cold)": (
            [*RAGGUARD, "runs", "--json", "--dir", folder],
            drop_cache,
        ),  # fmt: skip
        "wandb sync --dry-run": ([WANDB, "sync", "--dry-run", folder], None),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for argv, before in commands.values():
        timed(argv, before)  # warm-up: fills the cache and the OS page cache
    for _ in range(repeat):
        for name, (argv, before) in commands.items():
            results[name].append(timed(argv, before))
    return results


def big_log(repeat: int) -> tuple[list[float], int, int, str]:
    """In-process classification times of the big log, and peak RSS (KiB)."""
    sys.path.insert(0, str(HERE.parent))
    from ragguard.runs.folder import read_segment

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        segment = read_segment(str(BIG))
        times.append(time.perf_counter() - start)
    probe = "import resource, sys; from ragguard.runs.folder import read_segment\n"
    classify = probe + f"read_segment({str(BIG)!r})\n"
    report = "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    base = int(subprocess.check_output([PY, "-c", probe + report], text=True, env=ENV))
    peak = int(
        subprocess.check_output([PY, "-c", classify + report], text=True, env=ENV)
    )
    verdict = f"{segment.exit_seen and 'exit record'}, partial={segment.partial}"
    return times, base, peak, verdict


def row(name: str, values: list[float], unit: str = "ms") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    med = statistics.median(values) * scale
    low, high = min(values) * scale, max(values) * scale
    return f"| {name} | {med:.1f} | {low:.1f} | {high:.1f} |"


def print_verdicts(results: dict[str, list[tuple[float, float]]]) -> None:
    """Targets, each the median of per-round values: the commands of one round
    ran back to back, so a round's difference or ratio is fair even when the
    machine's load changes between rounds."""
    warm = results["ragguard runs --json (warm)"]
    floor = results['python -c "import ragguard.cli"']
    cold = results["ragguard runs --json (cold)"]
    sync = results["wandb sync --dry-run"]
    for label, index in (("wall", 0), ("CPU", 1)):
        pairs = zip(warm, floor, strict=True)
        over = statistics.median(w[index] - f[index] for w, f in pairs)
        ratio = statistics.median(
            s[index] / w[index] for s, w in zip(sync, warm, strict=True)
        )
        cold_s = statistics.median(c[index] for c in cold)
        print(
            f"\n{label}: warm - import of the CLI {over * 1000:.1f} ms (target <= 50)"
        )
        print(f"{label}: cold {cold_s:.2f} s (target < 2)")
        print(f"{label}: wandb sync --dry-run / warm {ratio:.1f}x (target >= 5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    if not RUNS.is_dir():
        sys.exit("bench_runs: run bench/make_runs.py first")
    count = sum(1 for _ in RUNS.iterdir())
    print(f"{count} run folders in {RUNS}; Python {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs; median of {args.repeat}\n")  # fmt: skip
    results = bench(args.repeat)
    print("| command | wall ms median | min | max |\n|---|---|---|---|")
    for name, samples in results.items():
        print(row(name, [wall for wall, _cpu in samples]))
    print("\n| command | CPU ms median | min | max |\n|---|---|---|---|")
    for name, samples in results.items():
        print(row(name, [cpu for _wall, cpu in samples]))
    print_verdicts(results)
    if BIG.is_dir():
        times, base, peak, verdict = big_log(args.repeat)
        size = sum(p.stat().st_size for p in BIG.glob("*.wandb")) / (1 << 20)
        print(f"\n{size:.0f} MiB log ({verdict}):")
        print("| classify | ms median | min | max |\n|---|---|---|---|")
        print(row("read_segment", times))
        print(f"peak RSS: {peak / 1024:.1f} MiB classifying, "
              f"{base / 1024:.1f} MiB importing only")  # fmt: skip


if __name__ == "__main__":
    main()
