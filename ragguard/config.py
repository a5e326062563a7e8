"""The policy file ``.ragguard.yaml``: load it, validate it, fill in defaults.

The file is read with ``yaml.safe_load``. Every refusal names the file, the
line and says in a sentence what is expected (:class:`PolicyError`, its own
exit code). No file means :data:`DEFAULT_POLICY`. PyYAML is imported only when
a file exists, so a repository without a policy pays nothing for it.

The file is untrusted input (it arrives with any branch), so it must be a
regular file of at most 1 MiB, and anchors and aliases, deep nesting, huge
scalars and huge lists are refused from the event stream before anything is
constructed: no alias bombs, no recursion, no endless reads.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ragguard.errors import PolicyError

POLICY_FILE = ".ragguard.yaml"

# Limits on untrusted policy text; a real policy is a few hundred bytes.
MAX_POLICY_BYTES = 1024 * 1024
MAX_SCALAR_CHARS = 4096
MAX_LIST_ITEMS = 1000
MAX_DEPTH = 20  # a policy nests 3 deep; libyaml's composer recurses

Severity = Literal["block", "warn", "off"]
SEVERITIES: tuple[Severity, ...] = ("block", "warn", "off")

# Stages a check can be configured for. ``switch`` is ``ragguard switch``;
# the merge stages are run by the merge gate.
STAGES: tuple[str, ...] = (
    "pre-commit",
    "commit-msg",
    "pre-push",
    "post-checkout",
    "switch",
    "pre-merge-commit",
)
_BRANCH_STAGES = (
    "pre-commit",
    "pre-push",
    "post-checkout",
    "switch",
    "pre-merge-commit",
)

# Check id -> the stages where it has something to look at.
CHECK_STAGES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "staged-runs": ("pre-commit",),
        "branch-doc": _BRANCH_STAGES,
        "commit-msg": ("commit-msg",),
        "runs-finished": _BRANCH_STAGES,
        "runs-synced": _BRANCH_STAGES,
        "run-metadata": _BRANCH_STAGES,
        "run-commit": _BRANCH_STAGES,
        "left-behind": ("post-checkout", "switch"),
        "merge-gate": ("pre-push", "pre-merge-commit"),
    }
)

_DEFAULT_CHECKS: dict[str, dict[str, Severity]] = {
    "staged-runs": {"pre-commit": "block"},
    "branch-doc": {"pre-commit": "warn", "pre-push": "block"},
    "commit-msg": {"commit-msg": "block"},
    # A push carries code, not results: a run still being written warns there
    # (`pre-push: block` makes it wait) and blocks only leaving the branch.
    "runs-finished": {"pre-push": "warn", "post-checkout": "warn", "switch": "block"},
    "runs-synced": {"pre-push": "block", "post-checkout": "warn", "switch": "block"},
    "run-metadata": {"pre-push": "block"},
    "run-commit": {"pre-push": "warn"},
    "left-behind": {"post-checkout": "warn", "switch": "block"},
    "merge-gate": {"pre-push": "block", "pre-merge-commit": "block"},
}

CheckTable = Mapping[str, Mapping[str, Severity]]


def _freeze_checks(table: Mapping[str, Mapping[str, Severity]]) -> CheckTable:
    return MappingProxyType(
        {check: MappingProxyType(dict(stages)) for check, stages in table.items()}
    )


@dataclass(frozen=True)
class WandbPolicy:
    dirs: tuple[str, ...] = ("wandb",)
    projects: tuple[str, ...] = ()
    stale_after: float = 900.0  # seconds
    entity: str | None = None
    project: str | None = None
    remote: bool = False  # ask the W&B API on push and in CI
    remote_timeout: float = 5.0  # seconds


@dataclass(frozen=True)
class BranchesPolicy:
    default: str | None = None  # None: origin/HEAD, init.defaultBranch, main, master
    protected: tuple[str, ...] = ("main",)  # glob patterns
    doc: str = "docs/branches/{branch}.md"
    doc_template: str | None = None  # a path relative to the repository root

    def is_protected(self, branch: str) -> bool:
        return any(fnmatchcase(branch, pattern) for pattern in self.protected)


@dataclass(frozen=True)
class RunsPolicy:
    require_tags: tuple[str, ...] = ()  # glob patterns, e.g. "retriever:*"
    require_config: tuple[str, ...] = ()  # dotted keys, e.g. retriever.type


@dataclass(frozen=True)
class CommitMsgPolicy:
    min_words: int = 3
    forbid: tuple[str, ...] = ("wip", "fix", "update", "changes", "misc", "tmp")


@dataclass(frozen=True)
class ReportPolicy:
    metric: str | None = None  # None: the first numeric summary keys
    rows: int = 10


@dataclass(frozen=True)
class MergePolicy:
    metric: str | None = None
    goal: Literal["max", "min"] = "max"
    threshold: float | None = None
    beat_baseline: bool = True
    min_delta: float = 0.0
    require_synced: bool = True
    require_doc: bool = True


@dataclass(frozen=True)
class PostMergePolicy:
    # A shell command line (str) or an argument vector (tuple); None: nothing.
    validate: str | tuple[str, ...] | None = None
    timeout: float = 600.0  # seconds


@dataclass(frozen=True)
class PushPolicy:
    check_tags: bool = False  # check pushed tags like branches


@dataclass(frozen=True)
class Policy:
    """The whole policy; ``path`` is the file it came from, ``None`` for defaults."""

    wandb: WandbPolicy = field(default_factory=WandbPolicy)
    branches: BranchesPolicy = field(default_factory=BranchesPolicy)
    runs: RunsPolicy = field(default_factory=RunsPolicy)
    commit_msg: CommitMsgPolicy = field(default_factory=CommitMsgPolicy)
    checks: CheckTable = field(default_factory=lambda: _freeze_checks(_DEFAULT_CHECKS))
    report: ReportPolicy = field(default_factory=ReportPolicy)
    merge: MergePolicy = field(default_factory=MergePolicy)
    post_merge: PostMergePolicy = field(default_factory=PostMergePolicy)
    push: PushPolicy = field(default_factory=PushPolicy)
    path: Path | None = None

    def severity(self, check: str, stage: str) -> Severity:
        """How ``check`` counts at ``stage``: ``off`` when not configured there."""
        return self.checks.get(check, {}).get(stage, "off")

    def checks_for(self, stage: str) -> list[tuple[str, Severity]]:
        """The checks that run at ``stage`` with their severity, in table order."""
        found = ((check, self.severity(check, stage)) for check in self.checks)
        return [(check, sev) for check, sev in found if sev != "off"]


DEFAULT_POLICY = Policy()


def load_policy(repo_root: Path) -> Policy:
    """The policy of the repository at ``repo_root``; defaults without a file."""
    path = Path(repo_root) / POLICY_FILE
    data = _read_policy_file(path)
    if data is None:
        return DEFAULT_POLICY
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        sentence = f"is not UTF-8 text: byte {data[error.start]:#04x} cannot be read; "
        sentence += "save the file as UTF-8."
        raise PolicyError(_shown(path), line, sentence) from None
    return parse_policy(text, path)


def _read_policy_file(path: Path) -> bytes | None:
    """The bytes of the policy file; ``None`` when there is no such file.

    Only a regular file (after following links) of at most
    :data:`MAX_POLICY_BYTES` is read: a link to ``/dev/zero`` or a FIFO would
    otherwise read or block forever. Opened non-blocking and checked with
    ``fstat`` on the open descriptor, so the file checked is the file read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if os.path.islink(path):  # a dangling link is a mistake, not "no policy"
            target = os.readlink(path)
            sentence = f"is a symbolic link to {target}, which does not exist."
            raise PolicyError(_shown(path), None, sentence) from None
        return None
    except OSError as error:
        raise PolicyError(_shown(path), None, _open_problem(error)) from None
    try:
        return _read_regular(fd, path)
    finally:
        os.close(fd)


def _open_problem(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a symbolic link that loops; point it at a file or replace it."
    return f"cannot be read: {error.strerror or error}."


def _read_regular(fd: int, path: Path) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        sentence = f"is {kind}; the policy must be a regular YAML file."
        raise PolicyError(_shown(path), None, sentence)
    sentence = "is larger than 1 MiB; a policy is a short YAML file."
    too_big = PolicyError(_shown(path), None, sentence)
    if info.st_size > MAX_POLICY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := os.read(fd, 65536):  # bounded even if the file grows
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_POLICY_BYTES:
                raise too_big
    except OSError as error:
        raise PolicyError(_shown(path), None, _open_problem(error)) from None
    return b"".join(chunks)


def parse_policy(text: str, path: Path | str = POLICY_FILE) -> Policy:
    """Validate the YAML ``text`` of a policy file and return the policy."""
    import yaml

    shown = _shown(Path(path))
    if len(text.encode("utf-8", "replace")) > MAX_POLICY_BYTES:
        sentence = "is larger than 1 MiB; a policy is a short YAML file."
        raise PolicyError(shown, None, sentence)
    try:
        _screen_events(text, shown)  # before anything is constructed
        data = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as error:
        line, problem = _yaml_problem(error, text)
        raise PolicyError(shown, line, f"is not valid YAML: {problem}.") from error
    except _DuplicateKey as dup:
        raise PolicyError(shown, dup.line, dup.sentence) from None
    except (ValueError, TypeError, OverflowError) as error:
        # A constructor refusing a scalar: a date like 2001-02-30, !!int zz.
        sentence = f"is not valid YAML: a value cannot be read ({error})."
        raise PolicyError(shown, _unreadable_line(text), sentence) from None
    policy = _Validator(shown, lines).policy(data)
    return replace(policy, path=Path(path))


def _yaml_problem(error: Exception, text: str) -> tuple[int | None, str]:
    """The line of a YAML error and what is wrong, with where the construct
    began (an unclosed ``[`` is found at the end of the file) and a word on
    tabs, which YAML never allows for indentation."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return None, problem
    lines = text.split("\n")
    row = lines[mark.line] if mark.line < len(lines) else ""
    if row[mark.column : mark.column + 1] == "\t":
        problem += " (a tab: indent with spaces, YAML does not allow tabs)"
    context = getattr(error, "context", None)
    start = getattr(error, "context_mark", None)
    if context and start is not None and start.line != mark.line:
        problem += f" ({context} that starts on line {start.line + 1})"
    return mark.line + 1, problem


def _unreadable_line(text: str) -> int | None:
    """The line of the first scalar that safe_load's constructors refuse:
    safe_load itself does not say where."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    constructor = yaml.constructor.SafeConstructor()
    pending = [yaml.compose(text, Loader=loader)]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except (ValueError, TypeError, OverflowError, yaml.YAMLError):
                return node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            pending.extend(item for pair in reversed(node.value) for item in pair)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(reversed(node.value))
    return None


def _screen_events(text: str, shown: str) -> None:
    """Refuse anchors, aliases, deep nesting and huge scalars from the event
    stream, which is linear in the text: an alias bomb or a self-referencing
    alias never gets expanded, and no constructor recursion can overflow."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        mark = event.start_mark
        line = mark.line + 1 if mark is not None else None
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise PolicyError(
                shown,
                line,
                "uses a YAML anchor or alias (&name or *name); a policy has no "
                "use for them, so write each value out in full.",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                sentence = f"nests more than {MAX_DEPTH} levels deep; a policy "
                raise PolicyError(shown, line, sentence + "nests three at most.")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent) and (
            len(event.value) > MAX_SCALAR_CHARS
        ):
            sentence = f"holds a value longer than {MAX_SCALAR_CHARS} characters; "
            raise PolicyError(shown, line, sentence + "shorten it.")


def _shown(path: Path) -> str:
    """The path as a user would type it: relative to the cwd when inside it."""
    try:
        # Resolve the folder only: the file itself may be a looping link
        # (``resolve`` raises RuntimeError on a loop before Python 3.13).
        full = path.parent.resolve() / path.name
        return str(full.relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


# --- line numbers -----------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, line: int, sentence: str) -> None:
        super().__init__(sentence)
        self.line = line
        self.sentence = sentence


Key = tuple[str | int, ...]


def _line_map(text: str) -> dict[Key, int]:
    """Map each key path, e.g. ``("wandb", "dirs", 0)``, to its 1-based line."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    root = yaml.compose(text, Loader=loader)
    lines: dict[Key, int] = {}
    if root is not None:
        _walk(root, (), lines)
    return lines


def _walk(node: Any, key: Key, lines: dict[Key, int]) -> None:
    import yaml

    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for knode, vnode in node.value:
            name = str(knode.value)
            if name in seen:
                dotted = ".".join(str(k) for k in (*key, name))
                line = knode.start_mark.line + 1
                raise _DuplicateKey(line, f"{dotted} is given twice; keep one.")
            seen.add(name)
            _walk(vnode, (*key, name), lines)
            lines[(*key, name)] = knode.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*key, index), lines)


# --- validation -------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a number of seconds or text like 15m, 90s, 1h30m.

    Raises ``ValueError`` for anything else, including zero and negatives.
    """
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_duration_text(value.strip().lower())
    else:
        raise ValueError(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(value)
    return seconds


def _parse_duration_text(text: str) -> float:
    if not text:
        raise ValueError(text)
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION.findall(text)
    if "".join(number + unit for number, unit in parts) != text:
        raise ValueError(text)
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _show(value: object) -> str:
    if value is None:
        return "null (nothing)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class _Validator:
    """Turns the loaded YAML into a :class:`Policy`, refusing with file:line."""

    def __init__(self, shown: str, lines: Mapping[Key, int]) -> None:
        self.shown = shown
        self.lines = lines

    def fail(self, key: Key, sentence: str) -> PolicyError:
        line = None
        for end in range(len(key), -1, -1):
            if key[:end] in self.lines:
                line = self.lines[key[:end]]
                break
        return PolicyError(self.shown, line, sentence)

    def policy(self, data: object) -> Policy:
        if data is None:
            return DEFAULT_POLICY
        section = self.mapping((), data, _SECTIONS)
        built: dict[str, Any] = {}
        for name, value in section.items():
            built[name] = _SECTIONS[name](self, (name,), value)
        return Policy(**built)

    def mapping(
        self, key: Key, value: object, allowed: Mapping[str, object] | Sequence[str]
    ) -> dict[str, Any]:
        where = ".".join(map(str, key)) or "the policy"
        if not isinstance(value, dict):
            sentence = f"{where} must be a mapping of names to values, not "
            raise self.fail(key, sentence + f"{_show(value)}.")
        for name in value:
            if not isinstance(name, str) or name not in allowed:
                raise self.fail((*key, str(name)), self.unknown(where, name, allowed))
        return value

    def unknown(self, where: str, name: object, allowed: Sequence[str] | Any) -> str:
        import difflib

        options = list(allowed)
        sentence = f"unknown key {name!r} in {where}; expected one of: "
        sentence += ", ".join(options)
        close = difflib.get_close_matches(str(name), options, n=1)
        return sentence + (f" (did you mean {close[0]!r}?)." if close else ".")

    def section(self, key: Key, value: object, cls: type[Any]) -> Any:
        if value is None:  # an empty section, e.g. "wandb:" alone
            return cls()
        names = [f.name for f in fields(cls)]
        given = self.mapping(key, value, names)
        checked = {}
        for name, item in given.items():
            checked[name] = _FIELDS[(key[0], name)](self, (*key, name), item)
        return cls(**checked)

    # Field checkers: each returns the field's value or raises.

    def string(self, key: Key, value: object, *, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            what = "a non-empty string" + (" or null" if nullable else "")
            raise self.fail(key, f"{_dotted(key)} must be {what}, not {_show(value)}.")
        return value

    def strings(self, key: Key, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            sentence = f"{_dotted(key)} must be a list of strings, not {_show(value)}."
            raise self.fail(key, sentence)
        if len(value) > MAX_LIST_ITEMS:
            sentence = f"{_dotted(key)} lists {len(value)} items; at most "
            raise self.fail(key, sentence + f"{MAX_LIST_ITEMS} are allowed.")
        return tuple(self.string((*key, i), item) for i, item in enumerate(value))

    def duration(self, key: Key, value: object) -> float:
        try:
            return parse_duration(value)
        except ValueError:
            sentence = (
                f"{_dotted(key)} must be a positive duration such as 90s, 15m, 2h "
                f"or a number of seconds, not {_show(value)}."
            )
            raise self.fail(key, sentence) from None

    def boolean(self, key: Key, value: object) -> bool:
        if not isinstance(value, bool):
            sentence = f"{_dotted(key)} must be true or false, not {_show(value)}."
            raise self.fail(key, sentence)
        return value

    def integer(self, key: Key, value: object, *, least: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            sentence = f"{_dotted(key)} must be a whole number of at least {least}, "
            raise self.fail(key, sentence + f"not {_show(value)}.")
        return value

    def number(self, key: Key, value: object, *, nullable: bool = False) -> Any:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            what = "a number" + (" or null" if nullable else "")
            raise self.fail(key, f"{_dotted(key)} must be {what}, not {_show(value)}.")
        if not math.isfinite(value):  # .nan and .inf compare to nothing sensibly
            sentence = f"{_dotted(key)} must be a finite number, not {value}."
            raise self.fail(key, sentence)
        return float(value)

    def choice(self, key: Key, value: object, options: Sequence[str]) -> str:
        if value not in options:
            listed = ", ".join(options[:-1]) + " or " + options[-1]
            sentence = f"{_dotted(key)} must be {listed}, not {_show(value)}."
            raise self.fail(key, sentence)
        return str(value)


def _dotted(key: Key) -> str:
    return ".".join(str(part) for part in key if not isinstance(part, int))


def _relative_path(v: _Validator, key: Key, value: object, *, nullable: bool) -> Any:
    text = v.string(key, value, nullable=nullable)
    if text is None:
        return None
    parts = text.replace("\\", "/").split("/")
    if os.path.isabs(text) or text.startswith("~") or ".." in parts:
        sentence = f"{_dotted(key)} must be a path inside the repository, "
        raise v.fail(key, sentence + f"relative to its root, not {text!r}.")
    return text


def _doc_pattern(v: _Validator, key: Key, value: object) -> str:
    text = _relative_path(v, key, value, nullable=False)
    if "{branch}" not in text:
        sentence = f"{_dotted(key)} must contain {{branch}}, e.g. docs/branches/"
        raise v.fail(key, sentence + "{branch}.md, so each branch has its own doc.")
    try:
        text.format(branch="x")
    except (KeyError, IndexError, ValueError):
        sentence = f"{_dotted(key)} may use only the placeholder {{branch}}, "
        raise v.fail(key, sentence + f"not {text!r}.") from None
    return text


# What git never allows in a branch name (git check-ref-format): a pattern
# holding one literally can never match, and protects nothing.
_NEVER_IN_BRANCH = (" ", "~", "^", ":", "\\", "..", "@{", "//")


def _branch_globs(v: _Validator, key: Key, value: object) -> tuple[str, ...]:
    patterns = v.strings(key, value)
    for index, pattern in enumerate(patterns):
        problem = _unclosed_class(pattern) or _not_a_branch(pattern)
        if problem:
            sentence = f"{_dotted(key)} pattern {pattern!r} can never match a branch: "
            raise v.fail((*key, index), sentence + problem + ".")
    return patterns


def _branch_name(v: _Validator, key: Key, value: object) -> str | None:
    name = v.string(key, value, nullable=True)
    if name is None:
        return None
    problem = _not_a_branch(name)
    if not problem and any(c in name for c in "*?["):
        problem = "it must be one branch name, not a pattern"
    if problem:
        sentence = f"{_dotted(key)} {name!r} is not a branch name: {problem}."
        raise v.fail(key, sentence)
    return name


def _tag_globs(v: _Validator, key: Key, value: object) -> tuple[str, ...]:
    patterns = v.strings(key, value)
    for index, pattern in enumerate(patterns):
        problem = _unclosed_class(pattern)
        if problem:
            sentence = f"{_dotted(key)} pattern {pattern!r} is not a glob: {problem} "
            raise v.fail((*key, index), sentence + "(write [[] for a literal '[').")
    return patterns


def _not_a_branch(text: str) -> str | None:
    """Why no branch can be named ``text`` (glob characters aside), or None."""
    if text.startswith("refs/"):
        return "write the branch name as git shows it, e.g. main, without refs/heads/"
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        return "it holds a control character"
    bad = next((part for part in _NEVER_IN_BRANCH if part in text), None)
    if bad is not None:
        return f"git does not allow {bad!r} in branch names"
    if text.startswith("/") or text.endswith(("/", ".", ".lock")):
        return (
            "git does not allow a branch name to start with / or end with /, . or .lock"
        )
    return None


def _unclosed_class(pattern: str) -> str | None:
    """Whether a ``[`` opens a character class that never closes (fnmatch
    would then match the ``[`` literally), in fnmatch's own reading."""
    i, end = 0, len(pattern)
    while i < end:
        i += 1
        if pattern[i - 1] != "[":
            continue
        j = i + (i < end and pattern[i] == "!")
        j += j < end and pattern[j] == "]"
        while j < end and pattern[j] != "]":
            j += 1
        if j >= end:
            return "its '[' opens a character class that is never closed"
        i = j + 1
    return None


def _config_keys(v: _Validator, key: Key, value: object) -> tuple[str, ...]:
    keys = v.strings(key, value)
    for index, dotted in enumerate(keys):
        if any(not part.strip() for part in dotted.split(".")):
            sentence = f"{_dotted(key)} holds config keys like retriever.type, "
            raise v.fail((*key, index), sentence + f"not {dotted!r}.")
    return keys


def _forbid(v: _Validator, key: Key, value: object) -> tuple[str, ...]:
    return tuple(word.strip().lower() for word in v.strings(key, value))


def _validate_cmd(v: _Validator, key: Key, value: object) -> Any:
    if value is None or isinstance(value, str):
        return v.string(key, value, nullable=True)
    if value == []:
        sentence = f"{_dotted(key)} must not be an empty list; give a command "
        raise v.fail(key, sentence + "line, a list of arguments, or null for none.")
    if isinstance(value, list):
        return v.strings(key, value)
    sentence = f"{_dotted(key)} must be a command line, a list of arguments or "
    raise v.fail(key, sentence + f"null, not {_show(value)}.")


def _checks(v: _Validator, key: Key, value: object) -> CheckTable:
    given = v.mapping(key, value, CHECK_STAGES) if value is not None else {}
    table = {check: dict(stages) for check, stages in _DEFAULT_CHECKS.items()}
    for check, stages in given.items():
        table[check] = _check_stages(v, (*key, check), check, stages)
    return _freeze_checks(table)


def _check_stages(
    v: _Validator, key: Key, check: str, value: object
) -> dict[str, Severity]:
    """One check's row: a mapping of stage -> severity merged over the default,
    or a single severity for every stage where the check runs by default."""
    if isinstance(value, str | bool):
        sev = _severity(v, key, value)
        return {stage: sev for stage in _DEFAULT_CHECKS[check]}
    if not isinstance(value, dict):
        sentence = f"checks.{check} must map stages to block, warn or off "
        raise v.fail(key, sentence + f"(e.g. {{pre-push: block}}), not {_show(value)}.")
    row = dict(_DEFAULT_CHECKS[check])
    for stage, sev in value.items():
        if stage not in CHECK_STAGES[check]:
            where = ", ".join(CHECK_STAGES[check])
            sentence = f"check {check} cannot run at stage {stage!r}; it runs at: "
            raise v.fail((*key, str(stage)), sentence + where + ".")
        row[stage] = _severity(v, (*key, stage), sev)
    return row


def _severity(v: _Validator, key: Key, value: object) -> Severity:
    # YAML 1.1 reads a bare ``off`` as false; it means off here.
    if value is False:
        return "off"
    return v.choice(key, value, SEVERITIES)  # type: ignore[return-value]


Checker = Callable[[_Validator, Key, Any], Any]


def _section(cls: type[Any]) -> Checker:
    return lambda v, key, value: v.section(key, value, cls)


_SECTIONS: dict[str, Checker] = {
    "wandb": _section(WandbPolicy),
    "branches": _section(BranchesPolicy),
    "runs": _section(RunsPolicy),
    "commit_msg": _section(CommitMsgPolicy),
    "checks": _checks,
    "report": _section(ReportPolicy),
    "merge": _section(MergePolicy),
    "post_merge": _section(PostMergePolicy),
    "push": _section(PushPolicy),
}

_FIELDS: dict[tuple[str | int, str], Checker] = {
    ("wandb", "dirs"): lambda v, k, x: tuple(
        _relative_path(v, (*k, i), d, nullable=False)
        for i, d in enumerate(v.strings(k, x))
    ),
    ("wandb", "projects"): lambda v, k, x: v.strings(k, x),
    ("wandb", "stale_after"): lambda v, k, x: v.duration(k, x),
    ("wandb", "entity"): lambda v, k, x: v.string(k, x, nullable=True),
    ("wandb", "project"): lambda v, k, x: v.string(k, x, nullable=True),
    ("wandb", "remote"): lambda v, k, x: v.boolean(k, x),
    ("wandb", "remote_timeout"): lambda v, k, x: v.duration(k, x),
    ("branches", "default"): _branch_name,
    ("branches", "protected"): _branch_globs,
    ("branches", "doc"): _doc_pattern,
    ("branches", "doc_template"): lambda v, k, x: _relative_path(
        v, k, x, nullable=True
    ),
    ("runs", "require_tags"): _tag_globs,
    ("runs", "require_config"): _config_keys,
    ("commit_msg", "min_words"): lambda v, k, x: v.integer(k, x, least=0),
    ("commit_msg", "forbid"): _forbid,
    ("report", "metric"): lambda v, k, x: v.string(k, x, nullable=True),
    ("report", "rows"): lambda v, k, x: v.integer(k, x, least=1),
    ("merge", "metric"): lambda v, k, x: v.string(k, x, nullable=True),
    ("merge", "goal"): lambda v, k, x: v.choice(k, x, ("max", "min")),
    ("merge", "threshold"): lambda v, k, x: v.number(k, x, nullable=True),
    ("merge", "beat_baseline"): lambda v, k, x: v.boolean(k, x),
    ("merge", "min_delta"): lambda v, k, x: v.number(k, x),
    ("merge", "require_synced"): lambda v, k, x: v.boolean(k, x),
    ("merge", "require_doc"): lambda v, k, x: v.boolean(k, x),
    ("post_merge", "validate"): _validate_cmd,
    ("post_merge", "timeout"): lambda v, k, x: v.duration(k, x),
    ("push", "check_tags"): lambda v, k, x: v.boolean(k, x),
}
