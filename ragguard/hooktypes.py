"""The git hooks ragguard provides, in the order git meets them.

A module of its own so that the CLI, the hook entry and the installer share
one list without importing each other.
"""

HOOK_TYPES: tuple[str, ...] = (
    "pre-commit",
    "commit-msg",
    "pre-push",
    "post-checkout",
    "pre-merge-commit",
    "post-merge",
)
