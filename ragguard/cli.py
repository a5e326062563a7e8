"""The ``ragguard`` command line: thin click commands over ragguard's modules.

Each command parses its options and calls one function that takes plain
arguments and returns an exit code or a result to print. Expected failures are
:class:`~ragguard.errors.RagguardError` and are handled once, in :func:`main`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import click

from ragguard import __version__
from ragguard.errors import Exit, RagguardError
from ragguard.hooktypes import HOOK_TYPES
from ragguard.runs.model import STATES, SYNCS

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ragguard")
@click.option(
    "--debug",
    is_flag=True,
    help="Log diagnostics, versions and check times to stderr (or RAGGUARD_DEBUG=1).",
)
def cli(debug: bool) -> None:
    """Enforce the team's experiment protocol on git branches and W&B runs."""
    if debug:
        from ragguard.diagnostics import enable_debug

        enable_debug()
    elif os.environ.get("RAGGUARD_DEBUG"):
        from ragguard.diagnostics import debug_from_env

        debug_from_env()


# Commands are registered below, one section per area. Keep each callback thin.

# --- runs -------------------------------------------------------------------


@cli.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(STATES),
    help="Only runs in this state (repeatable).",
)
@click.option(
    "--sync",
    "syncs",
    multiple=True,
    type=click.Choice(SYNCS),
    help="Only runs with this sync status (repeatable).",
)
@click.option("--commit", help="Only runs recorded at this commit (a prefix).")
@click.option(
    "--dir",
    "dirs",
    multiple=True,
    metavar="PATH",
    help="Read run folders under PATH instead of the configured roots "
    "(repeatable; works outside a git repository).",
)
@click.option(
    "--deep", is_flag=True, help="Read whole logs, not just head and tail (cached)."
)
@click.option(
    "--stale-after",
    type=float,
    metavar="SECONDS",
    help="A run with no exit record is crashed once its log is this "
    "old (default: the policy's wandb.stale_after, 900).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
def runs_cmd(
    as_json: bool,
    states: tuple[str, ...],
    syncs: tuple[str, ...],
    commit: str | None,
    dirs: tuple[str, ...],
    deep: bool,
    stale_after: float | None,
    no_cache: bool,
) -> int:
    """List the W&B runs of this repository, newest first."""
    from pathlib import Path

    from ragguard.runs.render import RunsQuery, runs_command

    query = RunsQuery(
        dirs=dirs,
        states=states,
        syncs=syncs,
        commit=commit,
        deep=deep,
        stale_after=stale_after,
        use_cache=not no_cache,
    )
    return runs_command(query, as_json=as_json, cwd=Path.cwd(), out=sys.stdout)


# --- hooks, checks, install, init -------------------------------------------

# hook / check (ragguard/hooks.py)


@cli.command(
    "hook",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("stage", type=click.Choice(HOOK_TYPES))
@click.argument("git_args", nargs=-1, type=click.UNPROCESSED)
def hook_command(stage: str, git_args: tuple[str, ...]) -> int:
    """Run the checks of git hook STAGE with git's own arguments.

    \b
    ragguard hook pre-commit
    ragguard hook commit-msg MSGFILE
    ragguard hook pre-push REMOTE-NAME REMOTE-URL   (refs on standard input)
    ragguard hook post-checkout OLD NEW FLAG
    """
    from ragguard.hooks import run_hook

    return run_hook(stage, git_args, sys.stdin)


@cli.command("check")
@click.option(
    "--stage",
    "-s",
    type=click.Choice(
        ("pre-commit", "commit-msg", "pre-push", "post-checkout", "switch")
    ),
    default="pre-push",
    show_default=True,
    help="Whose checks to run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
def check_command(stage: str, as_json: bool) -> int:
    """Run a stage's checks by hand on the current branch; exit 1 on a block."""
    from ragguard.hooks import check_now, print_check

    result = check_now(stage)
    print_check(result, as_json=as_json)
    return int(Exit.BLOCKED) if result.blocked else int(Exit.OK)


# install / uninstall / init (ragguard/install.py, ragguard/init.py)

_hook_type_option = click.option(
    "--hook-type",
    "-t",
    "hook_types",
    multiple=True,
    type=click.Choice(HOOK_TYPES),
    help="Only this hook type (repeatable); default: every hook ragguard has.",
)


@cli.command("install")
@_hook_type_option
def install_command(hook_types: tuple[str, ...]) -> None:
    """Install ragguard's git hooks directly, without the pre-commit framework.

    Existing hooks that ragguard did not write are kept and run after it.
    """
    from pathlib import Path

    from ragguard.install import install, render

    click.echo(render(install(Path.cwd(), hook_types)))


@cli.command("uninstall")
@_hook_type_option
def uninstall_command(hook_types: tuple[str, ...]) -> None:
    """Remove ragguard's git hooks and put back the hooks they chained."""
    from pathlib import Path

    from ragguard.install import render, uninstall

    click.echo(render(uninstall(Path.cwd(), hook_types)))


@cli.command("init")
@click.option(
    "--pre-commit",
    "pre_commit",
    is_flag=True,
    help="Write .pre-commit-config.yaml too (only when there is none).",
)
@click.option("--force", is_flag=True, help="Rewrite an existing .ragguard.yaml.")
@click.option("--repo", "hook_repo", help="The repo: line of the pre-commit entry.")
@click.option("--rev", help="The rev: line of the pre-commit entry.")
def init_command(
    pre_commit: bool, force: bool, hook_repo: str | None, rev: str | None
) -> None:
    """Write a commented .ragguard.yaml, ignore run folders, set up pre-commit."""
    from pathlib import Path

    from ragguard.init import DEFAULT_HOOK_REPO, init

    result = init(
        Path.cwd(),
        pre_commit=pre_commit,
        force=force,
        hook_repo=hook_repo or DEFAULT_HOOK_REPO,
        rev=rev,
    )
    click.echo("\n".join(result.steps))
    if result.printed_entry:
        hint = (
            "\nInstall the hooks: `ragguard install` directly, or through the"
            " pre-commit framework: add this to .pre-commit-config.yaml, then"
            " run pre-commit install:"
        )
        click.echo(hint)
        click.echo(result.pre_commit_entry, nl=False)


# --- docs, status, switch, compare, report ----------------------------------


@cli.group()
def doc() -> None:
    """Branch docs: write one from the template, refresh its runs table."""


@doc.command("init")
@click.argument("branch", required=False)
@click.option("--force", is_flag=True, help="Overwrite a doc that already exists.")
def doc_init(branch: str | None, force: bool) -> None:
    """Write the branch doc (default: the current branch) with its runs."""
    from ragguard.docs import doc_command

    result = doc_command("init", branch, force=force)
    click.echo(result.describe())


@doc.command("update")
@click.argument("branch", required=False)
def doc_update(branch: str | None) -> None:
    """Refresh only the generated runs block; keep everything people wrote."""
    from ragguard.docs import doc_command

    result = doc_command("update", branch)
    click.echo(result.describe())


@cli.command("switch")
@click.argument("branch")
@click.option("-c", "--create", is_flag=True, help="Create BRANCH and switch to it.")
@click.option("--force", is_flag=True, help="Switch even when a check blocks (logged).")
def switch_command(branch: str, create: bool, force: bool) -> int:
    """Check what the current branch still owes, then git switch to BRANCH.

    Refuses (exit 1) with the fix commands when a `switch` check blocks:
    uncommitted changes, unpushed commits, unfinished or unsynced runs.
    """
    from ragguard.switch import switch

    return switch(branch, create=create, force=force)


@cli.command("status")
def status_command() -> None:
    """One screen for the current branch, and the one command to run next."""
    from ragguard.status import render, status

    click.echo("\n".join(render(status())))


@cli.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--metric", "-m", help="Rank runs by this summary key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare_command(a: str, b: str, metric: str | None, as_json: bool) -> None:
    """The best runs of A and B (branches or run ids) side by side."""
    from ragguard.compare import compare, render_text

    comparison, policy = compare(a, b, metric=metric)
    if as_json:
        import json

        click.echo(json.dumps(comparison.to_json(policy), indent=2, sort_keys=True))
        return
    click.echo("\n".join(render_text(comparison, policy)))


@cli.command("report")
@click.option("--branch", "-b", help="The branch to report on (default: current).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("markdown", "json")),
    default="markdown",
    show_default=True,
)
def report_command(branch: str | None, fmt: str) -> None:
    """A shareable report of a branch's runs for a PR or a CI step summary."""
    from ragguard.report import report

    click.echo(report(branch, fmt=fmt), nl=False)  # type: ignore[arg-type]


# --- sync, gate, validate ---------------------------------------------------


@cli.command()
@click.argument("run_ids", nargs=-1, metavar="[RUN]...")
@click.option("--all", "all_runs", is_flag=True, help="Every branch's unsynced runs.")
@click.option("--dry-run", is_flag=True, help="List what would be synced.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds to wait for one run's upload before calling it failed.",
)
def sync(
    run_ids: tuple[str, ...], all_runs: bool, dry_run: bool, timeout: float
) -> int:
    """Upload the current branch's offline runs with `wandb sync`, one by one.

    RUN names runs by id or folder (already synced ones too). Running and
    empty runs are skipped with the reason; nothing is ever deleted. Exits 1
    when any upload failed.
    """
    from ragguard.sync import sync_command

    return sync_command(
        run_ids,
        all_runs=all_runs,
        dry_run=dry_run,
        timeout=timeout,
        echo=click.echo,
        progress=lambda line: click.echo(line, err=True),
    )


@cli.command()
@click.option(
    "--target", default="main", show_default=True, help="The branch merged into."
)
@click.option("--head", "head", help="The ref being merged (default: HEAD).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, writable=True),
    help="Write a Markdown summary here (also appended to $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--offline", is_flag=True, help="Never ask the W&B API (also RAGGUARD_OFFLINE=1)."
)
def gate(
    target: str, head: str | None, as_json: bool, markdown: str | None, offline: bool
) -> int:
    """The merge gate: does HEAD's best run beat TARGET's by the policy's criteria?

    Exits 1 when the merge should not happen. For CI and by hand; the same
    gate runs in pre-push and pre-merge-commit for protected branches.
    """
    from pathlib import Path

    from ragguard.gate import gate_command

    out = Path(markdown) if markdown else None
    code, text = gate_command(
        target, head, as_json=as_json, markdown=out, offline=offline
    )
    click.echo(text)
    return code


@cli.command()
def validate() -> int:
    """Run the policy's post-merge validation now and record the result.

    The post-merge hook runs the same after a merge into a protected branch;
    `ragguard status` shows a failed one until a later run passes.
    """
    from ragguard.validate import validate_command

    return validate_command()


@cli.command()
def receive() -> int:
    """Server side: judge the refs a push updates (a pre-receive hook's stdin).

    Checks the pushed commits' messages, W&B run data committed to git, and
    the branch doc in each pushed branch. See examples/server/pre-receive.
    """
    from ragguard.receive import receive as judge

    code, lines = judge(sys.stdin.read())
    for line in lines:
        click.echo(line)
    return code


# --- demo -------------------------------------------------------------------


@cli.command()
@click.argument(
    "directory",
    required=False,
    type=click.Path(file_okay=False),
)
@click.option(
    "--keep-going",
    is_flag=True,
    help="Never stop for input, and play every step even after one fails.",
)
def demo(directory: str | None, keep_going: bool) -> int:
    """Play the protocol in a throwaway RAG project in DIRECTORY.

    DIRECTORY must be new or empty; by default a new temporary folder. It is
    left for you to explore. Exits 1 if a step did not go as the protocol says.
    """
    from pathlib import Path

    from ragguard.demo.play import play

    folder = Path(directory) if directory else None
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    pause = _press_enter if interactive else None
    return play(folder, keep_going=keep_going, echo=click.echo, pause=pause)


def _press_enter() -> None:
    click.prompt(
        "press Enter for the next step",
        default="",
        show_default=False,
        prompt_suffix=" ",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and map expected failures to their exit codes."""
    try:
        result = cli.main(args=argv, prog_name="ragguard", standalone_mode=False)
    except RagguardError as error:
        click.echo(f"ragguard: {error.message}", err=True)
        return int(error.exit_code)
    except click.exceptions.Abort:
        click.echo("ragguard: aborted", err=True)
        return int(Exit.BLOCKED)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as stop:
        return stop.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:
        if log.isEnabledFor(logging.DEBUG):
            raise
        click.echo(
            "ragguard: unexpected error; rerun with --debug for the traceback",
            err=True,
        )
        return int(Exit.CRASH)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
