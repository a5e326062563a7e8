"""The ``ragguard`` command line: thin click commands over ragguard's modules.

Each command parses its options and calls one function that takes plain
arguments and returns an exit code or a result to print. Expected failures are
:class:`~ragguard.errors.RagguardError` and are handled once, in :func:`main`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from ragguard import __version__
from ragguard.errors import Exit, RagguardError

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ragguard")
@click.option("--debug", is_flag=True, help="Log diagnostics and versions to stderr.")
def cli(debug: bool) -> None:
    """Enforce the team's experiment protocol on git branches and W&B runs."""
    if debug:
        from ragguard.diagnostics import enable_debug

        enable_debug()


# Commands are registered below, one section per area. Keep each callback thin.

# --- runs -------------------------------------------------------------------

# --- hooks, checks, install, init -------------------------------------------

# --- docs, status, switch, compare, report ----------------------------------

# --- sync, gate, validate ---------------------------------------------------

# --- demo -------------------------------------------------------------------


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
