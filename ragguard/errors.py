"""The one error type ragguard raises for expected failures, and its exit codes.

Every expected failure is a :class:`RagguardError` subclass carrying a complete
sentence; the CLI's single handler prints it on one line and exits with the
subclass's code. Anything else is a crash (``EXIT_CRASH``).
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """Named exit codes, documented in the README."""

    OK = 0
    BLOCKED = 1  # a check blocked, or a gate / sync / validation failed
    USAGE = 2  # click's own code for bad command-line usage
    POLICY = 3  # .ragguard.yaml is invalid
    NOT_A_REPO = 4  # a command needs a git repository and there is none
    ENVIRONMENT = 5  # the environment is broken: missing interpreter, git, wandb
    BAD_INPUT = 6  # an argument names something that does not exist
    CRASH = 70  # an unexpected error: rerun with --debug


class RagguardError(Exception):
    """An expected failure with a message fit to show a user as it is."""

    exit_code: Exit = Exit.BLOCKED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyError(RagguardError):
    """The policy file cannot be used; the message names file and line."""

    exit_code = Exit.POLICY

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class NotARepoError(RagguardError):
    exit_code = Exit.NOT_A_REPO


class EnvironmentProblem(RagguardError):
    exit_code = Exit.ENVIRONMENT


class BadInputError(RagguardError):
    exit_code = Exit.BAD_INPUT
