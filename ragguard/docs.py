"""Branch docs: where they live, whether they are filled in, and keeping their
generated runs block up to date.

A branch doc is Markdown that people write. ragguard owns only the block
between :data:`BEGIN` and :data:`END`; everything outside it is kept byte for
byte by ``ragguard doc update``.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from ragguard.errors import BadInputError
from ragguard.runs.model import Run

if TYPE_CHECKING:
    from ragguard.config import Policy
    from ragguard.gitrepo import Repo

BRANCH_FIELD = "{branch}"

# Bidirectional overrides make a name render differently from what it is.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAX_PART_BYTES = 255  # the usual file-name limit (ext4, APFS, NTFS)


def doc_path(repo_root: Path, pattern: str, branch: str) -> Path:
    """The branch doc's path: ``pattern`` with ``{branch}`` replaced.

    Slashes in the branch name become folders. Raises :class:`BadInputError`
    for any name or pattern that could leave the repository or write into
    ``.git``: ``..``, absolute paths, backslashes, NUL and control characters.
    """
    _check_pattern(pattern)
    _check_branch(branch)
    _check_parts(tuple(branch.split("/")), f"branch name {branch!r}")
    _check_parts(tuple(pattern.split("/")), repr(pattern))
    parts = tuple(pattern.replace(BRANCH_FIELD, branch).split("/"))
    _check_parts(parts, f"branch name {branch!r}")
    path = repo_root.joinpath(*parts)
    _check_inside(repo_root, path, branch)
    return path


def _check_pattern(pattern: str) -> None:
    if BRANCH_FIELD not in pattern:
        raise BadInputError(
            f"the branch doc pattern {pattern!r} has no {BRANCH_FIELD} field"
        )
    if pattern.startswith("/") or "\\" in pattern or _has_control(pattern):
        raise BadInputError(
            f"the branch doc pattern {pattern!r} must be a relative path "
            "with forward slashes"
        )


def _check_branch(branch: str) -> None:
    if not branch or branch.strip() != branch:
        raise BadInputError(f"branch name {branch!r} is empty or padded with spaces")
    bad = _first_bad_char(branch)
    if bad is not None:
        raise BadInputError(
            f"branch name {branch!r} contains {bad}; refusing to use it in a path"
        )


def _first_bad_char(text: str) -> str | None:
    if "\\" in text:
        return "a backslash"
    if ":" in text:  # a drive letter or an NTFS stream on Windows
        return "a colon"
    if _has_control(text):
        return "a control character"
    return None


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI for ch in text)


def _check_parts(parts: tuple[str, ...], what: str) -> None:
    """Refuse path parts that climb, repeat, vanish or reach into ``.git``."""
    for part in parts:
        if part in ("", ".", ".."):
            raise BadInputError(f"{what} would make a path with {part!r} in it")
        if part.lower() == ".git":
            raise BadInputError(f"{what} would write into .git")
        if len(part.encode("utf-8", "surrogatepass")) > _MAX_PART_BYTES:
            raise BadInputError(
                f"{what} makes a file name longer than {_MAX_PART_BYTES} bytes"
            )


def _check_inside(repo_root: Path, path: Path, branch: str) -> None:
    # Lexical checks above stop `..`; this also stops a symlinked folder in
    # the work tree that points outside it.
    root = repo_root.resolve()
    if not path.resolve().is_relative_to(root):
        raise BadInputError(
            f"the doc path for branch {branch!r} leads outside the repository"
        )


def find_ignoring_case(repo_root: Path, rel: str) -> str | None:
    """The file under ``repo_root`` whose path equals ``rel`` but for case,
    as its folders are really named. Needed where ``core.ignorecase`` is set
    but the file system does not fold case (a checkout copied from macOS or
    Windows); where it does fold case the doc is found as it is, and
    :meth:`~ragguard.gitrepo.Repo.tree_path_icase` finds it in commits."""
    here, found = repo_root, list[str]()
    for part in rel.split("/"):
        try:
            names = os.listdir(here)
        except OSError:
            return None
        exact = part if part in names else None
        match = exact or next(
            (n for n in names if n.casefold() == part.casefold()), None
        )
        if match is None:
            return None
        here, found = here / match, [*found, match]
    return "/".join(found) if here.is_file() else None


# --- is a doc filled in? -----------------------------------------------------

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_PLACEHOLDER = re.compile(
    r"""^(?:[-*+>]\s*)*        # list bullets or quote marks
        (?:(?:todo|tbd|fixme|xxx)\s*(?:[:(\-\u2013\u2014].*)?  # a to-do note
          |\.{3}|\u2026                 # an ellipsis
          |<[^<>]*>                     # <describe the goal here>
          |\[[^\[\]]*\]                 # [describe the goal here]
          |_+|-+                        # a blank to fill
        )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def doc_is_filled(text: str) -> bool:
    """True when a person has written the doc, not just generated it.

    An unfilled template counts as missing. When the doc has a ``Goal``
    heading, the Goal section needs a line of real prose; otherwise any real
    prose outside headings will do. HTML comments (the template's guidance),
    the generated runs block and placeholder lines (``TODO``, ``TBD``, ``...``,
    ``<describe it>``, ``[describe it]``) are not prose.
    """
    sections = _sections(_COMMENT.sub("", _strip_generated(text)))
    goal = [body for title, body in sections if title.lower() == "goal"]
    bodies = goal if goal else [body for _, body in sections]
    return any(_is_prose(line) for body in bodies for line in body)


def _strip_generated(text: str) -> str:
    start = text.find(BEGIN)
    end = text.find(END, start + 1)
    if start < 0 or end < 0:
        return text
    return text[:start] + text[end + len(END) :]


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """Split Markdown into (heading, body lines); text before any heading is ''."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            sections.append((heading.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return sections


def _is_prose(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not _PLACEHOLDER.match(stripped)


# --- the generated block ------------------------------------------------------

BEGIN = "<!-- ragguard:runs:begin -->"
END = "<!-- ragguard:runs:end -->"
_NOTICE = "<!-- generated by `ragguard doc update`; edits here are replaced -->"
_TEMPLATE = "branch-doc.md"
_METRICS_SHOWN = 3


Action = Literal["created", "replaced", "updated", "unchanged"]


@dataclass(frozen=True)
class DocResult:
    """What ``doc init`` or ``doc update`` did to which file."""

    path: Path
    action: Action
    runs: int
    shown: str  # the path relative to the repository root

    def describe(self) -> str:
        runs = f"{self.runs} run" + ("" if self.runs == 1 else "s")
        said = f"{self.action} {self.shown} ({runs})"
        if self.action in ("created", "replaced"):
            # An unfilled template still blocks the push: say what is next.
            said += (
                f"\nnext: write its Goal and Hypothesis, then"
                f" git add -- {shlex.quote(self.shown)} && git commit"
            )
        return said


def render_block(runs: Sequence[Run], policy: Policy, nl: str = "\n") -> str:
    """The text between the markers: a notice and the runs table."""
    lines = [_NOTICE, ""]
    if runs:
        lines += _runs_table(runs, policy)
    else:
        lines.append("_No runs on this branch yet._")
    return nl + nl.join(lines) + nl + nl


def _runs_table(runs: Sequence[Run], policy: Policy) -> list[str]:
    rows = [
        "| Run | State | Sync | Tags | Key metrics |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        cells = (
            _run_cell(run, policy),
            run.state,
            run.sync,
            ", ".join(run.tags),
            _metrics(run, policy.report.metric),
        )
        rows.append("| " + " | ".join(_cell(text) for text in cells) + " |")
    return rows


def _run_cell(run: Run, policy: Policy) -> str:
    url = run_url(run, policy)
    label = f"`{run.id}`" + (f" {run.name}" if run.name else "")
    return f"[{label}]({url})" if url else label


def run_url(run: Run, policy: Policy) -> str | None:
    """The run's W&B page, from the run or else the policy's entity/project."""
    entity = run.entity or policy.wandb.entity
    project = run.project or policy.wandb.project
    if not (entity and project):
        return None
    parts = (entity, project, "runs", run.id)
    return "https://wandb.ai/" + "/".join(quote(part, safe="") for part in parts)


def key_metrics(run: Run, preferred: str | None) -> list[tuple[str, float]]:
    """Up to three numeric summary values: ``preferred`` first, then the others
    by name; wandb's ``_step`` and the like skipped."""
    numeric = {
        key: float(value)
        for key, value in run.summary.items()
        if not key.startswith("_") and _is_number(value)
    }
    keys = [preferred] if preferred in numeric else []
    keys += [key for key in sorted(numeric) if key != preferred]
    return [(key, numeric[key]) for key in keys[:_METRICS_SHOWN]]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metrics(run: Run, preferred: str | None) -> str:
    return ", ".join(f"{key} {value:.4g}" for key, value in key_metrics(run, preferred))


def _cell(text: str) -> str:
    """Keep a table cell on one line, its pipes from splitting the row and its
    ``<`` from opening HTML, or a marker, inside the generated block."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


# --- init and update ---------------------------------------------------------


def template_text(repo_root: Path, policy: Policy) -> str:
    """The policy's template (``branches.doc_template``) or the built-in one."""
    name = policy.branches.doc_template
    if not name:
        return (resources.files("ragguard") / "templates" / _TEMPLATE).read_text(
            encoding="utf-8"
        )
    path = repo_root / name
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInputError(
            f"the branch doc template {name} named in the policy cannot be read: "
            f"{getattr(error, 'strerror', None) or error}"
        ) from error


def render_doc(template: str, branch: str, runs: Sequence[Run], policy: Policy) -> str:
    """A new doc: the template with ``{branch}`` filled in and the runs block."""
    text = template.replace(BRANCH_FIELD, branch)
    if BEGIN not in text and END not in text:
        # A custom template without markers still gets its runs, at the end.
        text = text.rstrip("\n") + f"\n\n## Runs\n\n{BEGIN}\n{END}\n"
    return replace_block(text, runs, policy, where="the branch doc template")


def replace_block(text: str, runs: Sequence[Run], policy: Policy, *, where: str) -> str:
    """``text`` with only the generated block replaced; every other byte kept."""
    start, end = _block_span(text, where)
    nl = "\r\n" if "\r\n" in text else "\n"
    return text[:start] + render_block(runs, policy, nl) + text[end:]


def _block_span(text: str, where: str) -> tuple[int, int]:
    """Where the generated block's contents start and end, or a one-line error."""
    begins, ends = text.count(BEGIN), text.count(END)
    if begins != 1 or ends != 1:
        raise BadInputError(
            f"{where} has broken ragguard markers ({begins} begin, {ends} end; "
            f"one of each expected): fix them by hand, keeping {BEGIN} and {END} "
            "on lines of their own; nothing was written"
        )
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    if end < start:
        raise BadInputError(
            f"{where} has its ragguard end marker before the begin marker; "
            "fix them by hand; nothing was written"
        )
    return start, end


def init_doc(
    repo_root: Path,
    branch: str,
    runs: Sequence[Run],
    policy: Policy,
    *,
    force: bool = False,
) -> DocResult:
    """Write the branch doc from the template; refuse to overwrite without force."""
    path = doc_path(repo_root, policy.branches.doc, branch)
    existed = path.exists()
    if path.is_dir() or (existed and not path.is_file()):
        raise BadInputError(f"{_shown(repo_root, path)} is not a file; move it away")
    if existed and not force:
        raise BadInputError(
            f"{_shown(repo_root, path)} already exists; run `ragguard doc update` "
            "to refresh its runs, or `ragguard doc init --force` to start over"
        )
    text = render_doc(template_text(repo_root, policy), branch, runs, policy)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, text)
    action: Action = "replaced" if existed else "created"
    return DocResult(path, action, len(runs), _shown(repo_root, path))


def update_doc(
    repo_root: Path, branch: str, runs: Sequence[Run], policy: Policy
) -> DocResult:
    """Refresh the generated runs block of an existing branch doc."""
    path = doc_path(repo_root, policy.branches.doc, branch)
    shown = _shown(repo_root, path)
    try:
        old = path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        raise BadInputError(
            f"{shown} does not exist; create it with `ragguard doc init {branch}`"
        ) from None
    except OSError as error:
        raise BadInputError(f"{shown} cannot be read: {error.strerror}") from None
    new = replace_block(old, runs, policy, where=shown)
    if new == old:
        return DocResult(path, "unchanged", len(runs), shown)
    _write(path, new)
    return DocResult(path, "updated", len(runs), shown)


def _shown(repo_root: Path, path: Path) -> str:
    return path.relative_to(repo_root).as_posix()


def _write(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a crash leaves the old doc or the new one."""
    from ragguard.atomic import write_atomic

    target = path.resolve()
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    write_atomic(target, text.encode("utf-8", "surrogateescape"), mode=mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- the commands ------------------------------------------------------------


def doc_command(
    action: Literal["init", "update"],
    branch: str | None = None,
    *,
    force: bool = False,
    cwd: Path | None = None,
) -> DocResult:
    """``ragguard doc init|update [BRANCH]`` in the repository around ``cwd``."""
    from ragguard.config import load_policy
    from ragguard.gitrepo import Repo

    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    name = _branch_or_current(repo, branch)
    runs = branch_runs(repo, name, policy)
    if action == "init":
        return init_doc(repo.root, name, runs, policy, force=force)
    return update_doc(repo.root, name, runs, policy)


def _branch_or_current(repo: Repo, branch: str | None) -> str:
    current = repo.current_branch()
    if branch is None:
        if current is None:
            raise BadInputError(
                "HEAD is detached, so there is no current branch; name one: "
                "ragguard doc init BRANCH"
            )
        return current
    if branch != current and repo.branch_oid(branch) is None:
        raise BadInputError(f"branch {branch!r} does not exist in this repository")
    return branch


def branch_runs(repo: Repo, branch: str, policy: Policy) -> list[Run]:
    """The branch's runs from the run index, newest first."""
    from ragguard.selection import local_runs, runs_of_branch

    return runs_of_branch(repo, branch, local_runs(repo, policy), policy)
