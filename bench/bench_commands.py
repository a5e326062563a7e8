"""What ``ragguard status``, ``report`` and ``compare`` cost on a large repository.

Uses a private copy (bench/out/commands/) of the repository that
``bench_hooks.py`` builds (10,000 commits, 1,000 real offline W&B runs; built
first when missing), warms the run index's cache, then times each whole
command, median of several runs, minus ``ragguard --version`` (Python and
click start-up). Measured with the policy's ``merge.metric`` unset and set:
with it, ``status`` asks the merge gate for a verdict, which reads the
default branch's history.

    .venv/bin/python bench/bench_commands.py [--repeat 9]

Target (issue 5): ``status`` within the post-checkout budget, 150 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hooks import OUT as HOOKS_OUT  # noqa: E402
from bench_hooks import build, quiet_env  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "commands"
RAGGUARD = [sys.executable, "-m", "ragguard"]
COMMANDS = (
    ("status", ["status"]),
    ("report", ["report"]),
    ("report --format json", ["report", "--format", "json"]),
    ("compare", ["compare", "main", "exp/bench"]),
)
POLICIES = {
    "no merge.metric": "",
    "merge.metric set": "merge:\n  metric: recall@5\n",
}


def private_copy(runs: int, commits: int) -> Path:
    quiet_env(HOOKS_OUT / "home")
    source = build(HOOKS_OUT, runs, commits)
    work = OUT / "work"
    if not work.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, work, symlinks=True)
        shutil.copytree(HOOKS_OUT / "origin.git", OUT / "origin.git", symlinks=True)
        url = str(OUT / "origin.git")
        subprocess.run(["git", "remote", "set-url", "origin", url], cwd=work)
    return work


def median_ms(argv: Sequence[str], cwd: Path, repeat: int) -> float:
    subprocess.run(argv, cwd=cwd, capture_output=True)  # warm the cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=10_000)
    args = parser.parse_args(argv)
    work = private_copy(args.runs, args.commits)
    print("| command | policy | whole (ms) | minus --version (ms) |")
    print("|---|---|---:|---:|")
    for label, text in POLICIES.items():
        (work / ".ragguard.yaml").write_text(text)
        base = median_ms([*RAGGUARD, "--version"], work, args.repeat)
        for name, cmd in COMMANDS:
            whole = median_ms([*RAGGUARD, *cmd], work, args.repeat)
            print(f"| `ragguard {name}` | {label} | {whole:.0f} | {whole - base:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
