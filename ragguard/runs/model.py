"""The run record every check, hook and command reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["finished", "failed", "running", "crashed", "empty", "unreadable"]
Sync = Literal["synced", "unsynced", "unconfirmed"]
Mode = Literal["online", "offline", "legacy"]

STATES: tuple[State, ...] = (
    "finished",
    "failed",
    "running",
    "crashed",
    "empty",
    "unreadable",
)
SYNCS: tuple[Sync, ...] = ("synced", "unsynced", "unconfirmed")


@dataclass(frozen=True)
class Run:
    """One W&B run as read from local folders.

    Several folders with the same run id (a resumed run) become one ``Run``:
    ``path`` is the newest segment, ``segments`` lists all of them oldest first,
    and ``sync`` is ``synced`` only when every segment is.
    """

    id: str
    path: str
    mode: Mode
    state: State
    sync: Sync
    exit_code: int | None = None
    project: str | None = None
    entity: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    commit: str | None = None
    remote: str | None = None
    started_at: float | None = None  # seconds since the epoch, UTC
    runtime_s: float | None = None
    size_bytes: int = 0
    wandb_version: str | None = None
    dirty: bool | None = None  # None: not known
    reason: str | None = None  # why a run is empty/unreadable, or a caveat
    segments: tuple[str, ...] = ()
    partial: bool = False  # fast path: mid-log config updates may be missed
    log_mtime: float | None = None
    # Another run written by the same process that ended while this one did
    # not: runs left open in a notebook get their exit record only from
    # run.finish(), or never when the kernel is restarted.
    shared_with: str | None = None

    def config_value(self, dotted: str) -> Any:
        """Look up ``a.b.c`` in the nested config; ``None`` when absent."""
        node: Any = self.config
        if dotted in node:
            return node[dotted]
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def has_config(self, dotted: str) -> bool:
        node: Any = self.config
        if dotted in node:
            return True
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    @property
    def git_branch(self) -> str | None:
        value = self.config_value("git_branch")
        return value if isinstance(value, str) else None

    def url(self) -> str | None:
        """The run's W&B page, when entity and project are known."""
        if not (self.entity and self.project):
            return None
        return f"https://wandb.ai/{self.entity}/{self.project}/runs/{self.id}"
