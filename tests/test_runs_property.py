"""Damaged logs never raise and always get a state: truncate, flip, splice.

The seeds are real logs: the session's runs and multi-block corpus logs.
Derandomized, with fixed example counts and no example database, so that CI
runs the same inputs every time (the decoders' own fuzz targets are in
test_fuzz.py).
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runs_corpus import CORPUS

import wandbgen
from ragguard.runs.folder import read_segment
from ragguard.runs.index import judge_state, load_runs
from ragguard.runs.logfile import read_log
from ragguard.runs.model import STATES
from wandblog import mutate

# Corpus logs with several blocks and multi-block records, when present.
_CORPUS_SEEDS = (
    "birdclef-2021/run-20210419_165958-21l3kq9o/run-21l3kq9o.wandb",
    "basesim/offline-run-20251124_212909-rn7ku8ba/run-rn7ku8ba.wandb",
)


@pytest.fixture(scope="module")
def seeds(sample_runs: wandbgen.SampleRuns) -> list[bytes]:
    logs = [
        next(folder.glob("*.wandb")).read_bytes()
        for folder in sample_runs.folders.values()
    ]
    logs += [(CORPUS / p).read_bytes() for p in _CORPUS_SEEDS if (CORPUS / p).exists()]
    return logs


def _mutations() -> st.SearchStrategy[list[tuple[str, float, int]]]:
    step = st.tuples(
        st.sampled_from(["truncate", "flip", "splice", "zero", "garbage"]),
        st.floats(0.0, 1.0),
        st.integers(0, 255),
    )
    return st.lists(step, min_size=1, max_size=4)


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pick=st.integers(0, 10**6), other=st.integers(0, 10**6), steps=_mutations())
def test_damaged_logs_read_without_raising(seeds, pick, other, steps):
    data = mutate(seeds[pick % len(seeds)], steps, seeds[other % len(seeds)])
    for deep in (False, True):
        result = read_log(io.BytesIO(data), len(data), deep=deep)
        assert isinstance(result.damage, list)


@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pick=st.integers(0, 10**6), steps=_mutations())
def test_damaged_run_folders_get_a_state(sample_runs, seeds, pick, steps):
    source = list(sample_runs.folders.values())[pick % len(sample_runs.folders)]
    data = mutate(next(source.glob("*.wandb")).read_bytes(), steps, seeds[0])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / source.name
        shutil.copytree(source, folder, symlinks=True)
        next(folder.glob("*.wandb")).write_bytes(data)
        segment = read_segment(str(folder))
        state, reason = judge_state(segment, time.time(), 900.0)
        assert state in STATES
        if state in ("empty", "unreadable"):
            assert reason and "\n" not in reason
        (run,) = load_runs([Path(tmp)])
        assert run.state in STATES
