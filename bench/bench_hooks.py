"""What ragguard's hooks add to whole git commands, on a large repository.

Builds (once, under bench/out/hooks/) a repository with 10,000 commits (made
with ``git fast-import``) and 1,000 offline W&B run folders written by the
installed wandb, installs the hooks directly with ``ragguard install``,
and times, median of several runs after a warm-up, the whole command with
hooks minus the same command with hooks off (``core.hooksPath=/dev/null``):

- ``git commit`` (pre-commit alone, commit-msg alone, both as installed),
- ``git push`` of a new branch to a bare remote (pre-push),
- ``git switch`` between two branches (post-checkout),

then the same through the pre-commit framework (``--pre-commit``), whose
environment is built from a committed copy of this checkout.

    .venv/bin/python bench/bench_hooks.py [--repeat 9] [--pre-commit]

Targets (issue 3): pre-commit <= 80 ms, pre-push <= 250 ms,
post-checkout <= 150 ms. Results go to stdout and bench/out/hooks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CHECKOUT = BENCH.parent
OUT = BENCH / "out" / "hooks"
TARGETS_MS = {"pre-commit": 80.0, "pre-push": 250.0, "post-checkout": 150.0}
BRANCH = "exp/bench"
OTHER = "exp/other"
BRANCH_COMMITS = 20
DOC = "# {branch}\n\n## Hypothesis\n\nBM25 beats TF-IDF on the FAQ set.\n\n" + (
    "## Result\n\nrecall@5 0.71 against 0.64.\n"
)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def quiet_env(home: Path) -> None:
    """No user or system git config, a fixed identity, wandb offline."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / ".gitconfig"
    config.write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    os.environ.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(config),
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        NO_COLOR="1",
        PRE_COMMIT_HOME=str(home / "pre-commit"),
    )
    # PYTHONDONTWRITEBYTECODE would time the compiler in every hook: installed
    # packages run from cached bytecode.
    for name in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "WANDB_DIR",
        "SKIP",
        "PYTHONDONTWRITEBYTECODE",
    ):
        os.environ.pop(name, None)


# --- the repository ---------------------------------------------------------


def fast_import_stream(commits: int) -> Iterator[bytes]:
    """``commits`` commits on main, each changing one of 100 modules."""
    for number in range(1, commits + 1):
        body = f"VALUE = {number}\n".encode()
        message = f"Tune retriever setting {number} for the FAQ set\n".encode()
        when = 1_700_000_000 + number * 60
        yield b"commit refs/heads/main\n"
        yield f"mark :{number}\n".encode()
        yield f"committer Bench <bench@example.com> {when} +0000\n".encode()
        yield f"data {len(message)}\n".encode() + message
        if number > 1:
            yield f"from :{number - 1}\n".encode()
        yield f"M 100644 inline src/mod{number % 100:02d}.py\n".encode()
        yield f"data {len(body)}\n".encode() + body + b"\n"


def build_history(work: Path, origin: Path, commits: int) -> None:
    git(work.parent, "init", "-q", "-b", "main", str(work))
    git(work.parent, "init", "-q", "--bare", "-b", "main", str(origin))
    stream = b"".join(fast_import_stream(commits))
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=work, input=stream, check=True
    )
    git(work, "reset", "-q", "--hard", "main")
    (work / ".gitignore").write_text("wandb/\n")
    git(work, "add", ".gitignore")
    git(work, "commit", "-q", "-m", "Ignore W&B run folders")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "-c", "core.hooksPath=/dev/null", "push", "-q", "-u", "origin", "main")
    git(work, "remote", "set-head", "origin", "main")
    for branch in (OTHER, BRANCH):
        git(work, "switch", "-q", "-c", branch, "main")
        doc = work / "docs" / "branches" / f"{branch}.md"
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(DOC.format(branch=branch))
        git(work, "add", "docs")
        git(work, "commit", "-q", "-m", f"Document the {branch} experiment")
    for number in range(BRANCH_COMMITS):
        (work / "src" / "bench.py").write_text(f"CHUNK = {256 + number}\n")
        git(work, "add", "src/bench.py")
        git(work, "commit", "-q", "-m", f"Try chunk size {256 + number} with BM25")


_RUNS_SCRIPT = """
import json, sys
import wandb

spec = json.load(open(sys.argv[1]))
for number, commit in enumerate(spec["commits"]):
    run = wandb.init(
        project="rag",
        dir=spec["dir"],
        tags=["retriever:bm25" if number % 2 else "retriever:dense"],
        config={"retriever": {"type": "bm25"}, "chunk_size": 256 + number % 512},
        settings=wandb.Settings(git_commit=commit),
    )
    run.log({"loss": 1.0 / (number + 1)})
    run.summary["recall@5"] = 0.5 + (number % 400) / 1000
    run.finish()
"""


def make_runs(work: Path, count: int) -> None:
    """``count`` real offline runs by the installed wandb, tied to this history.

    One process writes them all (about 0.1 s a run); a run records the commit
    given in its settings, as ``WANDB_GIT_COMMIT`` would. 5 % sit on the
    experiment branch, the rest on main's history. All are marked synced, as
    ``wandb sync`` marks them, so that pushes pass and the hooks do their
    whole work.
    """
    branch = git(work, "rev-list", f"main..{BRANCH}").split()
    history = git(work, "rev-list", f"--max-count={count}", "main").split()
    on_branch = max(1, count // 20)
    commits = [branch[i % len(branch)] for i in range(on_branch)]
    commits += [history[i % len(history)] for i in range(count - on_branch)]
    spec = work.parent / "runs.json"
    spec.write_text(json.dumps({"commits": commits, "dir": str(work)}))
    subprocess.run(
        [sys.executable, "-c", _RUNS_SCRIPT, str(spec)], cwd=work, check=True
    )
    for log in (work / "wandb").glob("offline-run-*/run-*.wandb"):
        log.with_name(log.name + ".synced").write_bytes(b"")


def build(out: Path, runs: int, commits: int) -> Path:
    work, origin = out / "work", out / "origin.git"
    if (out / "built").exists():
        return work
    for stale in (work, origin, out / "hooksets"):
        shutil.rmtree(stale, ignore_errors=True)
    started = time.monotonic()
    build_history(work, origin, commits)
    make_runs(work, runs)
    git(work, "check-ignore", "-q", "wandb/")  # else every switch reports it
    (out / "built").write_text(f"{time.monotonic() - started:.1f} s\n")
    return work


# --- timing -----------------------------------------------------------------


Sample = tuple[float, float]  # wall ms, CPU ms (the command and its children)


@dataclass(frozen=True)
class Figure:
    """One command with hooks and without: medians in milliseconds.

    Wall time is what the user waits; CPU time (user + system, of git and every
    process it waited for) barely moves when other work shares the machine.
    """

    name: str
    hook: str
    path: str  # direct or pre-commit
    with_hooks: float
    without: float
    cpu_with: float
    cpu_without: float
    runs: int
    spread: float  # max - min of the wall differences, ms

    @property
    def added(self) -> float:
        return self.with_hooks - self.without

    @property
    def cpu_added(self) -> float:
        return self.cpu_with - self.cpu_without

    def row(self) -> str:
        target = TARGETS_MS.get(self.hook)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.0f}: " + (
                "met" if self.added <= target else "MISSED"
            )
        return (
            f"| {self.name} | {self.hook} | {self.path} | {self.with_hooks:.0f} | "
            f"{self.without:.0f} | **{self.added:.0f}** | {self.spread:.0f} | "
            f"{self.cpu_added:.0f} | {verdict} |"
        )


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def timed(cmd: Sequence[str], cwd: Path, expect: int = 0) -> Sample:
    cpu = _cpu_ms()
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if out.returncode != expect:
        raise SystemExit(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr}")
    return elapsed, _cpu_ms() - cpu


def pair(
    name: str,
    hook: str,
    path: str,
    repeat: int,
    measure: Callable[[bool], Sample],
) -> Figure:
    """Alternate with/without so that drift hits both alike; one warm-up each."""
    measure(True)
    measure(False)
    ons, offs = [], []
    for _ in range(repeat):
        ons.append(measure(True))
        offs.append(measure(False))
    diffs = [on[0] - off[0] for on, off in zip(ons, offs, strict=True)]
    return Figure(
        name,
        hook,
        path,
        statistics.median(on[0] for on in ons),
        statistics.median(off[0] for off in offs),
        statistics.median(on[1] for on in ons),
        statistics.median(off[1] for off in offs),
        repeat,
        max(diffs) - min(diffs),
    )


def hooks_off() -> list[str]:
    return ["git", "-c", "core.hooksPath=/dev/null"]


def commit_measure(work: Path, hooks: list[str]) -> Callable[[bool], Sample]:
    counter = iter(range(1_000_000))

    def measure(on: bool) -> Sample:
        number = next(counter)
        (work / "src" / "tuning.py").write_text(f"TOP_K = {number}\n")
        git(work, "add", "src/tuning.py")
        cmd = (hooks if on else hooks_off()) + [
            "commit",
            "-q",
            "-m",
            f"Raise top-k to {number} for recall",
        ]
        elapsed = timed(cmd, work)
        git(work, "reset", "-q", "--soft", "HEAD~1")
        return elapsed

    return measure


def push_measure(work: Path, hooks: list[str]) -> Callable[[bool], Sample]:
    """Push the branch as new each time, then delete it on the remote, untimed."""

    def measure(on: bool) -> Sample:
        cmd = (hooks if on else hooks_off()) + ["push", "-q", "origin", BRANCH]
        elapsed = timed(cmd, work)
        off = ["-c", "core.hooksPath=/dev/null"]
        git(work, *off, "push", "-q", "origin", "--delete", BRANCH)
        return elapsed

    return measure


def switch_measure(work: Path, hooks: list[str]) -> Callable[[bool], Sample]:
    def measure(on: bool) -> Sample:
        cmd = (hooks if on else hooks_off()) + ["switch", "-q", OTHER]
        elapsed = timed(cmd, work)
        git(work, "-c", "core.hooksPath=/dev/null", "switch", "-q", BRANCH)
        return elapsed

    return measure


def hookset(out: Path, path: str, hook: str, text: str) -> list[str]:
    """``git -c core.hooksPath=<a folder holding only this hook>``."""
    folder = out / "hooksets" / f"{path}.{hook}"
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / hook
    shim.write_text(text)
    shim.chmod(0o755)
    return ["git", "-c", f"core.hooksPath={folder}"]


def figures(work: Path, out: Path, path: str, repeat: int) -> list[Figure]:
    """Each hook alone (from a copy of what was installed), then as installed."""
    hooks = work / ".git" / "hooks"
    alone = {
        hook: hookset(out, path, hook, (hooks / hook).read_text())
        for hook in ("pre-commit", "commit-msg")
    }
    installed = ["git"]
    commits = [
        ("git commit", "pre-commit", commit_measure(work, alone["pre-commit"])),
        ("git commit", "commit-msg", commit_measure(work, alone["commit-msg"])),
        ("git commit", "pre-commit + commit-msg", commit_measure(work, installed)),
    ]
    found = [pair(name, hook, path, repeat, measure) for name, hook, measure in commits]
    git(work, "reset", "-q", "--hard")  # drop the staged change the commits reuse
    found.append(
        pair(
            "git push (new branch)",
            "pre-push",
            path,
            repeat,
            push_measure(work, installed),
        )
    )
    found.append(
        pair(
            "git switch", "post-checkout", path, repeat, switch_measure(work, installed)
        )
    )
    return found


def direct(work: Path, out: Path, repeat: int) -> list[Figure]:
    ragguard = [sys.executable, "-m", "ragguard"]
    subprocess.run([*ragguard, "install"], cwd=work, check=True, capture_output=True)
    try:
        return figures(work, out, "direct", repeat)
    finally:
        subprocess.run([*ragguard, "uninstall"], cwd=work, capture_output=True)


# --- through the pre-commit framework ---------------------------------------


def pre_commit_source(out: Path) -> tuple[Path, str]:
    """A committed copy of this checkout, as the framework needs a repo."""
    source = out / "ragguard-src"
    shutil.rmtree(source, ignore_errors=True)
    skip = shutil.ignore_patterns(
        ".git",
        ".venv",
        "out",
        "wandb",
        "build",
        "dist",
        "*.egg-info",
        "__pycache__",
        ".*_cache",
    )
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=skip)
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "Snapshot")
    return source, git(source, "rev-parse", "HEAD").strip()


def through_pre_commit(work: Path, out: Path, repeat: int) -> list[Figure]:
    from ragguard.init import pre_commit_entry

    source, rev = pre_commit_source(out)
    config = out / "pre-commit-config.yaml"  # outside the work tree: no noise
    config.write_text(pre_commit_entry(str(source), rev))
    framework = [sys.executable, "-m", "pre_commit"]
    subprocess.run(
        [*framework, "install", "-c", str(config)],
        cwd=work,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*framework, "install-hooks", "-c", str(config)],
        cwd=work,
        check=True,
        capture_output=True,
    )
    try:
        return figures(work, out, "pre-commit", repeat)
    finally:
        uninstall = [*framework, "uninstall", "-c", str(config)]
        subprocess.run(uninstall, cwd=work, capture_output=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--pre-commit",
        action="store_true",
        help="also measure through the pre-commit framework",
    )
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.rebuild:
        (args.out / "built").unlink(missing_ok=True)
    quiet_env(args.out / "home")
    work = build(args.out, args.runs, args.commits)
    figures = direct(work, args.out, args.repeat)
    if args.pre_commit:
        figures += through_pre_commit(work, args.out, args.repeat)
    report(figures, args.out)
    return 0


def report(figures: list[Figure], out: Path) -> None:
    print(
        "| command | hooks | install | with hooks ms | hooks off ms | added ms |"
        " spread ms | added CPU ms | target |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for figure in figures:
        print(figure.row())
    direct = {f.hook: f for f in figures if f.path == "direct"}
    for framework in (f for f in figures if f.path == "pre-commit"):
        own = direct.get(framework.hook)
        if own and framework.added > 0 and framework.cpu_added > 0:
            print(
                f"ragguard's share of {framework.hook} through pre-commit: "
                f"{own.added / framework.added:.0%} of the wall time, "
                f"{own.cpu_added / framework.cpu_added:.0%} of the CPU time"
            )
    rows = [asdict(f) | {"added": f.added, "cpu_added": f.cpu_added} for f in figures]
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
