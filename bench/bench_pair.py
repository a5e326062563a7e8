"""Each hook of this checkout against the same hook of an earlier commit,
in turn, on the benchmark repository of ``bench_hooks.py``.

On a shared or slower machine the whole-command figures of ``bench_hooks.py``
move with the load; a ratio of two checkouts measured in alternation does
not. The earlier commit (``--against``, default ``main``) is unpacked with
``git archive`` under bench/out/pair/; each side gets its own copy of the
benchmark repository, so that each keeps its own run cache (a cache format
that changed between the two would otherwise be rebuilt on every run). Each
hook runs as a whole process, as the direct install's shims run it
(``python -P -m ragguard hook <stage> ...`` with git's arguments and
standard input), the side chosen by ``PYTHONPATH``; one warm-up of each,
then ``--repeat`` pairs. CPU time is that of the process and its children
(the git it runs), which barely moves with the load.

    .venv/bin/python bench/bench_pair.py [--against REV] [--repeat 21]

The hooks only read the repository, so its state is set once, untimed: a
staged change (pre-commit), a message file (commit-msg), the branch
``exp/bench`` as new to the remote (pre-push) and a switch from it to
``exp/other`` just made (post-checkout). Results go to stdout and
bench/out/pair/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_hooks import BRANCH, CHECKOUT, OTHER, _cpu_ms, build, git, quiet_env

OUT = CHECKOUT / "bench" / "out" / "pair"
MESSAGE = "Raise top-k to 8 so that recall@5 covers the long FAQ answers\n"


@dataclass(frozen=True)
class Hook:
    stage: str
    args: tuple[str, ...]
    stdin: str = ""


@dataclass(frozen=True)
class Ratio:
    """Medians in milliseconds of A (this checkout) and B (``--against``)."""

    stage: str
    wall_a: float
    wall_b: float
    cpu_a: float
    cpu_b: float
    cpu_ratio: float  # median of the pairs' A/B
    pairs: int

    def row(self) -> str:
        return (
            f"| {self.stage} | {self.wall_a:.0f} | {self.wall_b:.0f} | "
            f"{self.cpu_a:.0f} | {self.cpu_b:.0f} | {self.cpu_ratio:.3f} |"
        )


def unpack(rev: str, out: Path) -> tuple[Path, str]:
    """The tree of ``rev`` under ``out``, once per commit."""
    oid = git(CHECKOUT, "rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    tree = out / f"ragguard-{oid[:12]}"
    if not (tree / "ragguard" / "__init__.py").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", oid, "ragguard"], cwd=CHECKOUT, capture_output=True
        )
        if archive.returncode != 0:
            raise SystemExit(f"git archive {oid} failed:\n{archive.stderr.decode()}")
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree, oid


def side_copy(work: Path, dest: Path) -> Path:
    """A copy of the benchmark repository, set up for the four hooks."""
    if not dest.exists():
        shutil.copytree(work, dest, symlinks=True)
    off = ["-c", "core.hooksPath=/dev/null"]
    git(dest, *off, "switch", "-q", "-f", BRANCH)
    git(dest, *off, "push", "-q", "origin", "--delete", BRANCH, check=False)
    git(dest, *off, "switch", "-q", OTHER)  # the reflog entry post-checkout reads
    (dest / "src" / "tuning.py").write_text("TOP_K = 8\n")
    git(dest, "add", "src/tuning.py")
    (dest / ".git" / "BENCH_MSG").write_text(MESSAGE)
    return dest


def hooks(work: Path) -> list[Hook]:
    tip = git(work, "rev-parse", BRANCH).strip()
    other = git(work, "rev-parse", OTHER).strip()
    zero = "0" * len(tip)
    origin = git(work, "remote", "get-url", "origin").strip()
    push = f"refs/heads/{BRANCH} {tip} refs/heads/{BRANCH} {zero}\n"
    return [
        Hook("pre-commit", ()),
        Hook("commit-msg", (".git/BENCH_MSG",)),
        Hook("pre-push", ("origin", origin), push),
        Hook("post-checkout", (tip, other, "1")),
    ]


def timed(hook: Hook, work: Path, code: Path) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run of ``hook`` from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-P", "-m", "ragguard", "hook", hook.stage, *hook.args]
    cpu = _cpu_ms()
    started = time.perf_counter()
    out = subprocess.run(
        cmd, cwd=work, env=env, input=hook.stdin, capture_output=True, text=True
    )
    elapsed = (time.perf_counter() - started) * 1000
    if out.returncode != 0:
        raise SystemExit(f"{hook.stage} from {code} exited {out.returncode}:\n{out}")
    return elapsed, _cpu_ms() - cpu


def compare(
    stage_hooks: Sequence[tuple[Hook, Hook]],
    a: tuple[Path, Path],
    b: tuple[Path, Path],
    repeat: int,
) -> list[Ratio]:
    found = []
    for hook_a, hook_b in stage_hooks:
        timed(hook_a, *a)
        timed(hook_b, *b)
        pairs = [(timed(hook_a, *a), timed(hook_b, *b)) for _ in range(repeat)]
        found.append(
            Ratio(
                hook_a.stage,
                statistics.median(x[0] for x, _ in pairs),
                statistics.median(y[0] for _, y in pairs),
                statistics.median(x[1] for x, _ in pairs),
                statistics.median(y[1] for _, y in pairs),
                statistics.median(x[1] / y[1] for x, y in pairs),
                repeat,
            )
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="main", help="the earlier commit (B)")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=10_000)
    args = parser.parse_args(argv)
    hooks_out = CHECKOUT / "bench" / "out" / "hooks"
    quiet_env(hooks_out / "home")
    work = build(hooks_out, args.runs, args.commits)
    tree, oid = unpack(args.against, OUT)
    work_a = side_copy(work, OUT / "work-a")
    work_b = side_copy(work, OUT / f"work-{oid[:12]}")
    stage_hooks = list(zip(hooks(work_a), hooks(work_b), strict=True))
    ratios = compare(stage_hooks, (work_a, CHECKOUT), (work_b, tree), args.repeat)
    head = git(CHECKOUT, "rev-parse", "--short=12", "HEAD").strip()
    print(f"A: this checkout (HEAD {head}, with its uncommitted changes)")
    print(f"B: {args.against} ({oid[:12]}); {args.repeat} pairs after a warm-up")
    print("| hook | A wall ms | B wall ms | A CPU ms | B CPU ms | A/B CPU |")
    print("|---|---|---|---|---|---|")
    for ratio in ratios:
        print(ratio.row())
    results = {"a": head, "b": oid, "hooks": [asdict(r) for r in ratios]}
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
