"""The run index: find local W&B run folders, read them fast, cache the result."""

from ragguard.runs.model import STATES, SYNCS, Run

__all__ = ["Run", "STATES", "SYNCS"]
