"""Fuzz targets and robustness (issue 8): the record and log decoders, the
pre-push standard-input parser, the run cache's file, and two hooks writing
the cache at once.

Property-based with hypothesis, derandomized with fixed example counts so
that CI runs the same inputs every time, in seconds. Seeds are real logs
written by wandb (the ``world`` fixture); generated records follow the wire
format of wandb's ``wandb_internal.proto`` so that the fuzzer reaches the
decoders behind the framing and the checksums.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ragworld
from conftest import git, run_ragguard
from ragguard.hooks import PushedRef, parse_push_lines
from ragguard.runs import cache, wire
from ragguard.runs.folder import ROW_SCHEMA
from ragguard.runs.index import load_runs
from ragguard.runs.logfile import BLOCK, MAGIC, read_log
from ragguard.runs.records import R_CONFIG, R_SUMMARY, WANTED, LogFacts
from wandblog import mutate, write_log


def fuzz(examples: int) -> settings:
    """A fixed number of derandomized examples: CI runs the same inputs."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
        ],
    )


# --- a writer for the wire format, to build records and logs ---------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3 | wire.VARINT) + _varint(value)
    return _varint(number << 3 | wire.LENGTH) + _varint(len(value)) + value


JSON_VALUES = st.sampled_from(
    [b"1", b"0.5", b'"bm25"', b"[1, 2]", b'{"k": 5}', b"NaN", b"null", b"[" * 3000]
    + [b"1" * 5000, b"\xff\xfe", b"", b'{"cli_version": "0.31.0"}', b"1e999"]
)
NUMBERS = st.one_of(
    st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**31, 2**63, 2**64 - 1])
)


@st.composite
def _item(draw: st.DrawFn) -> bytes:
    """A config or summary item: key 1, nested_key 2, value_json 16."""
    parts = [_field(1, draw(st.binary(max_size=12)))]
    parts += [_field(2, k) for k in draw(st.lists(st.binary(max_size=6), max_size=3))]
    parts.append(_field(16, draw(JSON_VALUES | st.binary(max_size=20))))
    return b"".join(draw(st.permutations(parts)))


def _message(depth: int) -> st.SearchStrategy[bytes]:
    """A protobuf message: varints, strings, fixed-width numbers, items and
    nested messages, under field numbers the decoders look at."""
    leaf = st.one_of(
        st.tuples(st.integers(1, 30), NUMBERS).map(lambda f: _field(*f)),
        st.tuples(st.integers(1, 30), st.binary(max_size=24)).map(lambda f: _field(*f)),
        st.tuples(st.sampled_from([1, 2]), _item()).map(lambda f: _field(*f)),
        st.binary(max_size=8),  # whatever bytes: a damaged field
    )
    if depth > 0:
        nested = st.tuples(st.integers(1, 30), _message(depth - 1))
        leaf = leaf | nested.map(lambda f: _field(*f))
    return st.lists(leaf, max_size=6).map(b"".join)


RECORDS = st.tuples(st.sampled_from(sorted(WANTED) + [1, 2, 19, 200]), _message(2)).map(
    lambda f: _field(*f)
)


@pytest.fixture(scope="module")
def seeds(world: ragworld.World) -> list[bytes]:
    """The logs of the world's real runs."""
    logs = sorted((world.base / "work" / "wandb").glob("*/*.wandb"))
    assert logs
    return [log.read_bytes() for log in logs]


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["truncate", "flip", "zero", "garbage", "repeat"]),
        st.floats(0.0, 1.0),
        st.integers(0, 255),
    ),
    max_size=4,
)


# --- the record decoder ------------------------------------------------------------


def _decode(record: bytes) -> LogFacts:
    """What the log reader does with one record: only WireError may escape."""
    facts = LogFacts()
    with contextlib.suppress(wire.WireError):
        facts.apply(record)
    facts.finish()
    return facts


@fuzz(400)
@given(record=RECORDS)
def test_the_record_decoder_raises_only_its_own_error(record: bytes) -> None:
    facts = _decode(record)
    assert isinstance(facts.config, dict) and isinstance(facts.summary, dict)
    assert facts.exit_code is None or isinstance(facts.exit_code, int)


ITEM_RECORDS = st.tuples(
    st.sampled_from([R_CONFIG, R_SUMMARY]),
    st.lists(st.tuples(st.sampled_from([1, 2]), _item()), min_size=1, max_size=4),
).map(lambda f: _field(f[0], b"".join(_field(*item) for item in f[1])))


@fuzz(150)
@given(record=ITEM_RECORDS)
def test_every_config_and_summary_value_reaches_the_json_decoder(
    record: bytes,
) -> None:
    """Items only, so that no damaged field stops the record before its
    values are decoded: nesting past the recursion limit, 5000 digits,
    1e999 and bad UTF-8 must all be kept as text, never raised on."""
    facts = LogFacts()
    facts.apply(record)  # well-formed: not even WireError
    facts.finish()
    assert isinstance(facts.config, dict) and isinstance(facts.summary, dict)


@fuzz(200)
@given(data=st.binary(max_size=512))
def test_the_record_decoder_on_arbitrary_bytes(data: bytes) -> None:
    _decode(data)


# --- the log reader -------------------------------------------------------------


class CountingReader(io.BytesIO):
    """Counts reads: a reader that loops re-reads without end."""

    reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(size)


def _read_everywhere(data: bytes) -> None:
    """Read the log the fast way and the deep way; never raises, and the
    number of reads stays proportional to its blocks (never hangs)."""
    blocks = len(data) // BLOCK + 2
    for deep in (False, True):
        handle = CountingReader(data)
        result = read_log(handle, len(data), deep=deep)
        assert isinstance(result.damage, list) and len(result.damage) <= 20
        assert handle.reads <= 4 * blocks + 8, (handle.reads, len(data))


@fuzz(150)
@given(records=st.lists(RECORDS, max_size=12), pad=st.integers(0, 9), steps=MUTATIONS)
def test_the_log_reader_on_generated_logs(
    records: list[bytes], pad: int, steps: list[tuple[str, float, int]]
) -> None:
    # A padding record of up to 9 blocks sends the reader down its fast path.
    filler = _field(7, bytes(pad * 20000))
    _read_everywhere(mutate(write_log([*records[:6], filler, *records[6:]]), steps))


@fuzz(150)
@given(pick=st.integers(0, 100), steps=MUTATIONS)
def test_the_log_reader_on_damaged_real_logs(
    seeds: list[bytes], pick: int, steps: list[tuple[str, float, int]]
) -> None:
    _read_everywhere(mutate(seeds[pick % len(seeds)], steps))


@fuzz(100)
@given(data=st.binary(max_size=2048), magic=st.booleans())
def test_the_log_reader_on_arbitrary_bytes(data: bytes, magic: bool) -> None:
    _read_everywhere((MAGIC + b"\0" if magic else b"") + data)


# --- the pre-push standard input ------------------------------------------------

OID = st.sampled_from(["0" * 40, "0" * 64]) | st.text("0123456789abcdef", min_size=40)
ASCII_PART = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+=,%#!'\"()",
    min_size=1,
    max_size=12,
)
# Letters git allows in a ref name that Python calls white space or line ends.
UNICODE_SPACES = "\u00a0\u2028\u2029\u0085\u3000\u2003\u1680"
UNICODE_PART = st.text(
    st.characters(codec="utf-8", min_codepoint=0x80, exclude_categories=["Cs"])
    | st.sampled_from(UNICODE_SPACES),
    min_size=1,
    max_size=6,
)


def _ref(part: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """refs/heads/<a>/<b>...: parts joined by '/', valid for git check-ref-format."""
    parts = st.lists(part.filter(lambda p: not p.startswith(".")), min_size=1)
    return parts.map(lambda ps: "refs/heads/" + "/".join(ps)).filter(
        lambda r: not r.endswith((".lock", ".")) and ".." not in r
    )


def _push_line(ref: PushedRef) -> str:
    return f"{ref.local_ref} {ref.local_oid} {ref.remote_ref} {ref.remote_oid}"


def _pushed(part: st.SearchStrategy[str]) -> st.SearchStrategy[PushedRef]:
    return st.builds(PushedRef, _ref(part), OID, _ref(part), OID)


@fuzz(300)
@given(text=st.text(max_size=400))
def test_push_parser_never_raises_and_yields_four_plain_fields(text: str) -> None:
    for ref in parse_push_lines(text):
        for value in (ref.local_ref, ref.local_oid, ref.remote_ref, ref.remote_oid):
            assert value and not {" ", "\n"} & set(value)


# Few tokens, many separators: lines that are nearly git's, which arbitrary
# text almost never makes (three spaces and four fields, an empty one).
NEAR_LINES = st.lists(
    st.sampled_from(["refs/heads/main", "0" * 40, "f" * 40, "", " ", "  ", "\n"])
    | st.sampled_from(["\r", "\r\n", "\t", "\u00a0", "\u2028"]),
    max_size=16,
).map("".join)


@fuzz(300)
@given(text=NEAR_LINES)
def test_push_parser_never_yields_an_empty_or_spaced_field(text: str) -> None:
    for ref in parse_push_lines(text):
        for value in (ref.local_ref, ref.local_oid, ref.remote_ref, ref.remote_oid):
            assert value and not {" ", "\n"} & set(value)


@fuzz(200)
@given(
    refs=st.lists(_pushed(ASCII_PART), max_size=5),
    sep=st.sampled_from(["\n", "\r\n"]),
    end=st.booleans(),
)
def test_push_parser_reads_back_every_ascii_ref(
    refs: list[PushedRef], sep: str, end: bool
) -> None:
    """LF as git writes it; CRLF as a Windows shell or tool may pass it on."""
    text = sep.join(map(_push_line, refs)) + (sep if end else "")
    assert parse_push_lines(text) == refs


@fuzz(100)
@given(refs=st.lists(_pushed(UNICODE_PART), min_size=1, max_size=3))
def test_push_parser_reads_back_non_ascii_refs(refs: list[PushedRef]) -> None:
    assert parse_push_lines("\n".join(map(_push_line, refs)) + "\n") == refs


def test_git_accepts_branch_names_the_parser_drops(repo: Path) -> None:
    """The letters of the test above are real: git takes them in a name."""
    for letter in UNICODE_SPACES:
        name = f"exp/bm25{letter}k5"
        assert git(repo, "check-ref-format", "--branch", name).stdout.strip() == name


# --- the run cache ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cached(world: ragworld.World, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The world's runs read without a cache, and the bytes of a warm cache."""
    work = ragworld.copy(world, tmp_path_factory.mktemp("cache") / "w")
    roots = [work / "wandb"]
    expected = load_runs(roots)
    cache_dir = work / ".git" / "ragguard"
    assert load_runs(roots, cache_dir=cache_dir) == expected
    (path,) = cache_dir.glob("runs-*")
    return roots, cache_dir, path, path.read_bytes(), expected


def _stable(runs: list[Any]) -> list[tuple[str, str, str | None]]:
    return [(run.id, run.state, run.commit) for run in runs]


@fuzz(120)
@given(steps=MUTATIONS)
def test_a_damaged_cache_file_never_breaks_reading(
    cached: Any, steps: list[tuple[str, float, int]]
) -> None:
    """Every field, not only id, state and commit: marshal loads most
    flipped bits without complaint, and only the checksum tells a damaged
    config value or timestamp from a fact."""
    roots, cache_dir, path, good, expected = cached
    path.write_bytes(mutate(good, steps))
    try:
        assert load_runs(roots, cache_dir=cache_dir) == expected
    finally:
        path.write_bytes(good)


BAD_ENTRIES = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=4),
    st.tuples(st.integers(), st.booleans(), st.tuples(st.integers())),
    st.tuples(st.tuples(), st.integers(), st.tuples()),
    st.lists(st.integers(), max_size=3),
)


@fuzz(80)
@given(entry=BAD_ENTRIES, pick=st.integers(0, 100))
def test_cache_entries_of_the_wrong_shape_are_read_again(
    cached: Any, entry: object, pick: int
) -> None:
    """marshal loads any shape: a version-matching file with a wrong entry
    (a bit flip that still decodes, another tool) is read afresh."""
    roots, cache_dir, path, good, expected = cached
    entries = dict(cache.load(path, ROW_SCHEMA))
    folders = sorted(entries)
    entries[folders[pick % len(folders)]] = entry
    cache.store(path, ROW_SCHEMA, entries)
    try:
        assert _stable(load_runs(roots, cache_dir=cache_dir)) == _stable(expected)
        assert all(
            isinstance(e, tuple) and len(e) == 3
            for e in cache.load(path, ROW_SCHEMA).values()
        )
    finally:
        path.write_bytes(good)


# --- two hooks at once ---------------------------------------------------------------

READER = """
import sys, zlib
from pathlib import Path

# Read the cache file over and over while the hooks write it, until told to
# stop: every read must find a whole file (os.replace), never half of one.
path, ready, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads = torn = 0
ready.touch()
while not stop.exists():
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        continue
    reads += 1
    torn += len(raw) < 4 or int.from_bytes(raw[:4], "little") != zlib.crc32(raw[4:])
print(reads, torn)
"""


def test_hooks_in_two_worktrees_never_corrupt_the_cache(
    world: ragworld.World, tmp_path: Path
) -> None:
    """A commit in one worktree and a push in another share one run cache:
    many real ``ragguard`` processes read and store it at once."""
    work = ragworld.copy(world, tmp_path / "w")
    other = tmp_path / "other"
    git(work, "worktree", "add", "-q", str(other), "exp/bm25")
    env = {**os.environ, "WANDB_DIR": str(work)}  # both see the same runs
    listed = run_ragguard(work, "runs", "--json", "--no-cache", env=env)
    assert listed.returncode == 0, listed.stderr
    expected = json.loads(listed.stdout)
    cache_dir = work / ".git" / "ragguard"

    path = cache.cache_file(cache_dir, [work / "wandb"])
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    reader = _python(READER, str(path), str(ready), str(stop))
    while not ready.exists() and reader.poll() is None:
        os.sched_yield()  # wait for the reader to start reading

    logs = sorted(str(log) for log in (work / "wandb").glob("*/*.wandb"))
    procs = []
    for index in range(8):
        cwd = work if index % 2 else other
        procs.append(_start(cwd, env, "runs", "--json"))
        procs.append(_start(cwd, env, "check", "--stage", "pre-push", "--json"))
        # Each load after touching a log stores the whole cache again.
        procs.append(_python(TOUCHER, str(work / "wandb"), str(cache_dir), *logs))
    outputs = [proc.communicate(timeout=300) for proc in procs]
    stop.touch()
    read_out, read_err = reader.communicate(timeout=300)

    assert reader.returncode == 0, read_err
    reads, torn = map(int, read_out.split())
    assert reads > 0 and torn == 0, (reads, torn)
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode in (0, 1), err  # 1: the push would be blocked
    found = [json.loads(out) for out, _ in outputs[::3]]  # `ragguard runs`
    assert all(_ids(runs) == _ids(expected) for runs in found)
    for out, _ in outputs[2::3]:
        assert json.loads(out) == _ids(expected)
    assert len(cache.load(path, ROW_SCHEMA)) == len(expected)
    assert [p for p in os.listdir(cache_dir) if p.endswith(".tmp")] == []


TOUCHER = """
import json, os, sys
from pathlib import Path
from ragguard.runs.index import load_runs

root, cache_dir, logs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
for round in range(10):
    os.utime(logs[round % len(logs)])
    runs = load_runs([root], cache_dir=cache_dir)
print(json.dumps(sorted([run.id, run.state] for run in runs)))
"""


def _ids(runs: list[dict[str, Any]]) -> list[list[str]]:
    return sorted([run["id"], run["state"]] for run in runs)


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ragguard", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
