"""``ragguard demo``: a throwaway RAG project that plays the team protocol.

The demo builds a real git repository with a bare ``origin`` remote, installs
ragguard's hooks with ``ragguard install``, and walks through the protocol.
Every git command is real and runs ragguard's hooks the way they run for a
user; what is printed under a command is that command's own output, captured
from git (hooks write into it). Nothing is simulated except the upload to W&B:
the demo has no W&B server, so it leaves the marker ``wandb sync`` would leave.

Each step checks that ragguard did what the protocol says (blocked, named the
check, printed the fix). A step that does not is reported as failing, never
papered over, and the command exits non-zero.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragguard.errors import BadInputError, EnvironmentProblem

BRANCH = "exp/bm25-k1"
SECOND_BRANCH = "exp/tfidf-bigrams"
NAME = "RAG Demo"
EMAIL = "demo@ragguard.invalid"
DEMO_MODULES = ("numpy", "rank_bm25", "sklearn", "wandb")  # the experiment's imports
_SYNC_COMMAND = re.compile(r"wandb sync (\S+)")

POLICY = """\
# The team's ragguard policy (written by `ragguard demo`).
wandb:
  dirs: [wandb]
branches:
  protected: [main]
  doc: docs/branches/{branch}.md
runs:
  require_tags: ["retriever:*"]
  require_config: [retriever.type]
report:
  metric: eval/mrr
  rows: 5
"""

RETRIEVE = '''\
"""Compare retrievers on the standard library's docstrings; log each to W&B.

The experiment code lives in ragguard.demo.experiment (BM25 via rank_bm25,
TF-IDF via scikit-learn, recall@k and MRR); each configuration is one run.
"""

import sys

from ragguard.demo.experiment import main

sys.exit(main(["--wandb", "rag-demo", *sys.argv[1:]]))
'''

README = """\
# rag-demo

A retrieval experiment that follows the team's W&B protocol, enforced by
ragguard. Run it with `python retrieve.py`.
"""

GOAL = (
    "Find the BM25 k1/b setting that best retrieves a function's documentation "
    "from its one-line summary, and check it against TF-IDF."
)
HYPOTHESIS = (
    "Summaries are short and reuse few words, so BM25's length normalisation "
    "should beat plain TF-IDF cosine."
)


@dataclass(frozen=True)
class Outcome:
    """How one step went: ``problem`` is None when ragguard behaved as designed."""

    title: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class Player:
    """Runs commands in the demo project and prints them with their output."""

    def __init__(self, root: Path, echo: Callable[[str], None]) -> None:
        self.root = root
        self.work = root / "rag-project"
        self.origin = root / "origin.git"
        self.echo = echo
        self.env = demo_env()

    def run(
        self, argv: Sequence[str], *, cwd: Path | None = None, quiet: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv``; show it and its combined output unless ``quiet``."""
        self.echo(f"$ {shown(argv)}")
        proc = subprocess.run(
            list(argv),
            cwd=cwd or self.work,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if not quiet or proc.returncode != 0:
            self.show_output(proc)
        return proc

    def show_output(self, proc: subprocess.CompletedProcess[str]) -> None:
        for line in proc.stdout.rstrip().splitlines():
            self.echo(f"    {line}".rstrip())
        if proc.returncode != 0:
            self.echo(f"    (exit status {proc.returncode})")

    def git(self, *args: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        return self.run(["git", *args], quiet=quiet)

    def ragguard(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "ragguard", *args])

    def write(self, relative: str, text: str, *, append: bool = False) -> None:
        """Write a file in the project, shown as the shell command that would."""
        path = self.work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        redirect = ">>" if append else ">"
        lines = text.splitlines()
        if len(lines) == 1:
            self.echo(f"$ echo {shlex.quote(lines[0])} {redirect} {relative}")
        else:
            self.echo(f"$ cat {redirect} {relative} <<'EOF'")
            for line in lines:
                self.echo(f"  {line}".rstrip())
            self.echo("  EOF")
        with path.open("a" if append else "w", encoding="utf-8") as handle:
            handle.write(text)

    def say(self, text: str) -> None:
        self.echo(f"-> {text}")


def demo_env() -> dict[str, str]:
    """The environment of every child: no inherited git or W&B state.

    Git exports ``GIT_DIR`` and friends into hooks, and a user's global config
    may set ``core.hooksPath`` or commit signing: none of it may reach the
    throwaway repository. W&B runs stay offline and local to the project.
    """
    dropped = ("GIT_", "WANDB_", "RAGGUARD_", "PRE_COMMIT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.pop("SKIP", None)
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=NAME,
        GIT_AUTHOR_EMAIL=EMAIL,
        GIT_COMMITTER_NAME=NAME,
        GIT_COMMITTER_EMAIL=EMAIL,
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_CONSOLE="off",
        NO_COLOR="1",
    )
    return env


def shown(argv: Sequence[str]) -> str:
    """``argv`` as the user would type it: ``python`` and ``ragguard`` by name."""
    words = list(argv)
    if words[:2] == ["sh", "-c"]:
        return words[2]
    if words[:3] == [sys.executable, "-m", "ragguard"]:
        words = ["ragguard", *words[3:]]
    elif words[:1] == [sys.executable]:
        words = ["python", *words[1:]]
    return shlex.join(words)


def expect_block(proc: subprocess.CompletedProcess[str], check: str) -> str | None:
    """Why ``proc`` is not a block by ``check``; None when it is one."""
    if proc.returncode == 0:
        return f"git accepted it: ragguard's {check} check did not block"
    if check not in proc.stdout:
        return f"git refused, but the output does not name the {check} check"
    return None


def expect_pass(proc: subprocess.CompletedProcess[str], what: str) -> str | None:
    if proc.returncode != 0:
        return f"{what} failed (exit status {proc.returncode})"
    return None


def best_run_id(table: str) -> str | None:
    """The run id in the first data row of the experiment's table (best first)."""
    rows = [line.split() for line in table.splitlines() if line.strip()]
    for header, first in zip(rows, rows[1:], strict=False):
        if header[:2] == ["config", "run"] and len(first) > 1:
            return first[1]
    return None


def printed_fix(output: str, check: str) -> str | None:
    """The first ``fix:`` command printed under a finding of ``check``."""
    found = re.search(rf"\[{re.escape(check)}\][^\n]*\n\s*fix: ([^\n]+)", output)
    return found[1].strip() if found else None


def fill_doc(text: str) -> str:
    """Write the Goal and Hypothesis lines a person would write."""
    lines = text.splitlines()
    for title, prose in (("Hypothesis", HYPOTHESIS), ("Goal", GOAL)):
        at = next(
            (i for i, ln in enumerate(lines) if re.match(rf"#+\s*{title}\s*$", ln)),
            None,
        )
        if at is None:
            lines += ["", f"## {title}", "", prose]
        else:
            lines[at + 1 : at + 1] = ["", prose]
    return "\n".join(lines) + "\n"


class Demo:
    """The protocol, step by step, in a project under ``root``."""

    def __init__(self, root: Path, echo: Callable[[str], None]) -> None:
        self.play = Player(root, echo)
        self.best_run: str | None = None

    def steps(self) -> list[tuple[str, Callable[[], str | None]]]:
        return [
            ("Set up a RAG project with ragguard's hooks", self.setup),
            ("Run the retrieval experiment", self.experiment),
            ("Commit without the run folders", self.staged_runs),
            ("Document the experiment branch", self.branch_doc),
            ("Push only synced runs", self.synced_runs),
            ("Switch branches", self.switch),
        ]

    def told(self, problem: str | None, narration: str) -> str | None:
        """Narrate a step that went as designed; hand back the problem otherwise."""
        if problem is None:
            self.play.say(narration)
        return problem

    def setup(self) -> str | None:
        p = self.play
        p.work.mkdir(parents=True)
        p.run(["git", "init", "-q", "--bare", str(p.origin)], cwd=p.root)
        p.git("-c", "init.defaultBranch=main", "init", "-q")
        for key, value in (("user.name", NAME), ("user.email", EMAIL)):
            p.git("config", key, value)
        p.write("README.md", README)
        p.write("retrieve.py", RETRIEVE)
        p.write(".ragguard.yaml", POLICY)
        p.git("add", "README.md", "retrieve.py", ".ragguard.yaml")
        p.git("commit", "-q", "-m", "Start the retrieval experiments repository")
        p.git("remote", "add", "origin", str(p.origin))
        p.git("push", "-q", "-u", "origin", "main")
        p.git("remote", "set-head", "origin", "main", quiet=True)
        installed = p.ragguard("install")
        return self.told(
            expect_pass(installed, "ragguard install"),
            "A project pushed to a bare origin, with ragguard's git hooks "
            "installed and a policy asking every run for a retriever:* tag.",
        )

    def experiment(self) -> str | None:
        p = self.play
        p.git("switch", "-q", "-c", BRANCH)
        p.write("params.md", "BM25 k1 in {0.9, 1.2}, BM25+, TF-IDF (1-1, 1-2)\n")
        p.git("add", "params.md")
        plan = p.git("commit", "-q", "-m", "Plan a BM25 k1 sweep against TF-IDF")
        started = time.perf_counter()
        result = p.run([sys.executable, "retrieve.py"])
        seconds = time.perf_counter() - started
        self.best_run = best_run_id(result.stdout)
        listed = p.ragguard("runs")
        return self.told(
            expect_pass(plan, "the branch's first commit")
            or expect_pass(result, "the experiment")
            or expect_pass(listed, "ragguard runs"),
            f"Five retrievers ranked {_count(result.stdout)} in {seconds:.1f} s: "
            "five real offline W&B runs, finished, tagged, not yet synced.",
        )

    def staged_runs(self) -> str | None:
        p = self.play
        p.write("results.md", "See the W&B runs of this branch.\n")
        p.git("add", "-A")
        blocked = p.git("commit", "-q", "-m", "Record the BM25 and TF-IDF results")
        problem = expect_block(blocked, "staged-runs")
        fix = printed_fix(blocked.stdout, "staged-runs")
        if fix:
            p.run(["sh", "-c", fix])  # exactly the fix ragguard printed
        else:
            p.git("rm", "-r", "-q", "--cached", "wandb")
            p.write(".gitignore", "wandb/\n", append=True)
        p.git("add", ".gitignore", "results.md")
        done = p.git("commit", "-q", "-m", "Record the BM25 and TF-IDF results")
        return self.told(
            problem or expect_pass(done, "the commit after the fix"),
            "`git add -A` staged the run folders and ragguard refused the commit; "
            "with its fix applied (unstage, ignore wandb/) the commit passes.",
        )

    def branch_doc(self) -> str | None:
        p = self.play
        blocked = p.git("push", "-q", "-u", "origin", BRANCH)
        problem = expect_block(blocked, "branch-doc")
        init = p.ragguard("doc", "init")
        problem = problem or expect_pass(init, "ragguard doc init")
        doc = p.work / "docs" / "branches" / f"{BRANCH}.md"
        if not doc.exists():
            return problem or f"ragguard doc init wrote no {doc.relative_to(p.work)}"
        p.echo(f"$ $EDITOR {doc.relative_to(p.work)}   # write Goal and Hypothesis")
        doc.write_text(fill_doc(doc.read_text(encoding="utf-8")), encoding="utf-8")
        p.git("add", "docs")
        done = p.git("commit", "-q", "-m", "Document the goal of the BM25 sweep")
        return self.told(
            problem or expect_pass(done, "the doc commit"),
            "The push was refused for want of a branch doc (and of synced runs: "
            "next step); `ragguard doc init` wrote one and we wrote its goal.",
        )

    def synced_runs(self) -> str | None:
        p = self.play
        blocked = p.git("push", "-q", "-u", "origin", BRANCH)
        problem = expect_block(blocked, "runs-synced")
        folders = _SYNC_COMMAND.findall(blocked.stdout)
        if not problem and not folders:
            problem = "the block did not print a `wandb sync <folder>` command"
        p.echo("# This demo has no W&B server to sync to: instead of `wandb sync`")
        p.echo("# we leave the marker it writes once a run is uploaded.")
        for run_dir in folders or _unsynced(p.work):
            _mark_synced(p, run_dir)
        done = p.git("push", "-q", "-u", "origin", BRANCH)
        return self.told(
            problem or expect_pass(done, "the push after syncing"),
            "Runs that exist only on this laptop blocked the push, with the exact "
            "sync command; once marked synced, the push is accepted.",
        )

    def switch(self) -> str | None:
        p = self.play
        p.git("switch", "-q", "-c", SECOND_BRANCH)
        p.write("params.md", "TF-IDF with bigrams\n")
        commit = p.git("commit", "-q", "-a", "-m", "Try TF-IDF with word bigrams")
        run = p.run([sys.executable, "retrieve.py", "--config", "tfidf-bigram"])
        p.write("README.md", "Next: try chunks of 256 tokens.\n", append=True)
        p.echo(f"# {SECOND_BRANCH} now has an unpushed commit, an unsynced run")
        p.echo("# and an uncommitted edit. We leave it:")
        arrived = p.git("switch", BRANCH)
        return self.told(
            expect_pass(commit, f"the commit on {SECOND_BRANCH}")
            or expect_pass(run, "the experiment")
            or _check_summary(arrived, self.best_run),
            f"git cannot undo a switch, so ragguard says what {SECOND_BRANCH} "
            f"still owes and summarises {BRANCH}, best run first.",
        )


def _count(table: str) -> str:
    found = re.search(r"(\d+) passages, (\d+) questions", table)
    return f"{found[1]} passages for {found[2]} questions" if found else "passages"


def _unsynced(work: Path) -> list[str]:
    return sorted(
        str(log.parent.relative_to(work))
        for log in (work / "wandb").glob("offline-run-*/run-*.wandb")
        if not log.with_name(log.name + ".synced").exists()
    )


def _mark_synced(p: Player, run_dir: str) -> None:
    folder = p.work / run_dir
    run_id = folder.name.rsplit("-", 1)[-1]
    marker = folder / f"run-{run_id}.wandb.synced"
    p.echo(f"$ touch {shlex.quote(str(marker.relative_to(p.work)))}")
    marker.touch()


def _check_summary(
    proc: subprocess.CompletedProcess[str], best_run: str | None
) -> str | None:
    if proc.returncode != 0:
        return f"git switch failed (exit status {proc.returncode})"
    if SECOND_BRANCH not in proc.stdout:
        return f"the post-checkout output does not report what {SECOND_BRANCH} left"
    if best_run and best_run not in proc.stdout:
        return f"the summary of {BRANCH} does not show its best run {best_run}"
    return None


def preflight() -> None:
    """Refuse to start without git or the demo's extras, saying how to fix it."""
    if shutil.which("git") is None:
        raise EnvironmentProblem("ragguard demo needs git on PATH; install git")
    missing = [name for name in DEMO_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise EnvironmentProblem(
            f"ragguard demo needs {', '.join(missing)}: "
            "pip install 'ragguard[demo]' (from a clone: pip install '.[demo]')"
        )


def resolve_root(directory: Path | None) -> Path:
    """The demo's folder: new, or existing and empty."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="ragguard-demo-"))
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BadInputError(f"{directory} is not an empty folder; name a new one")
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


def play(
    directory: Path | None,
    *,
    keep_going: bool,
    echo: Callable[[str], None] = print,
    pause: Callable[[], None] | None = None,
) -> int:
    """Play the demo; 0 when every step went as the protocol says, else 1.

    Without ``keep_going`` the demo stops at the first failing step, and calls
    ``pause`` between steps when one is given (the CLI gives one on a TTY).
    """
    preflight()
    root = resolve_root(directory)
    demo = Demo(root, echo)
    echo(f"ragguard demo: a throwaway RAG project in {demo.play.work}")
    started = time.perf_counter()
    outcomes = []
    for number, (title, step) in enumerate(demo.steps()):
        if number and pause is not None and not keep_going:
            pause()
        echo(f"\n== {number}. {title} ==")
        outcome = Outcome(title, _guarded(step))
        outcomes.append(outcome)
        if not outcome.ok:
            echo(f"!! step {number} FAILED: {outcome.problem}")
            if not keep_going:
                break
    seconds = time.perf_counter() - started
    return _finish(outcomes, len(demo.steps()), demo.play.work, seconds, echo)


def _guarded(step: Callable[[], str | None]) -> str | None:
    try:
        return step()
    except (OSError, subprocess.SubprocessError) as error:
        return f"could not run: {error}"


def _finish(
    outcomes: list[Outcome],
    total: int,
    work: Path,
    seconds: float,
    echo: Callable[[str], None],
) -> int:
    failed = [o for o in outcomes if not o.ok]
    echo(f"\n== done in {seconds:.0f} s ==")
    if failed or len(outcomes) < total:
        echo(f"{len(failed)} step(s) failed: " + "; ".join(o.title for o in failed))
    else:
        echo("every step went as the protocol says.")
    echo(f"Explore it: cd {shlex.quote(str(work))} && {ragguard_command()} runs")
    return 1 if failed else 0


def ragguard_command() -> str:
    """How the user can call this ragguard: by name when it is on PATH."""
    script = Path(sys.executable).parent / "ragguard"
    on_path = shutil.which("ragguard")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "ragguard"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m ragguard"
