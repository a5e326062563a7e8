"""Read-only git facts through the git CLI, fast enough for a hook.

Every call runs ``git`` without a shell, with ``GIT_OPTIONAL_LOCKS=0`` so that
nothing (not even ``git status``' index refresh) writes into the repository,
and asks for NUL-separated output where git offers it. Branch names are passed
as full ref names after ``--end-of-options`` and are never interpreted.

Calls for the current repository keep git's hook environment (a hook run by
``git commit -a`` must see the temporary ``GIT_INDEX_FILE``); anything that
targets another repository gets :func:`clean_env`.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ragguard.errors import EnvironmentProblem, NotARepoError

if TYPE_CHECKING:
    from ragguard.config import Policy

log = logging.getLogger(__name__)

HEADS = "refs/heads/"
REMOTES = "refs/remotes/"
TAGS = "refs/tags/"

# Repository-local variables git exports into hooks (`git rev-parse
# --local-env-vars`, plus the ones a hook's parent sets). A child process that
# works on ANOTHER repository must not inherit them.
HOOK_ENV_VARS = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CONFIG",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_DIR",
    "GIT_GRAFT_FILE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_OBJECT_DIRECTORY",
    "GIT_PREFIX",
    "GIT_QUARANTINE_PATH",
    "GIT_REFLOG_ACTION",
    "GIT_REPLACE_REF_BASE",
    "GIT_SHALLOW_FILE",
    "GIT_WORK_TREE",
)


def clean_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without git's hook
    variables, for child processes that do not target the current repository."""
    env = dict(os.environ if base is None else base)
    for name in HOOK_ENV_VARS:
        env.pop(name, None)
    for name in [n for n in env if n.startswith("GIT_CONFIG_KEY_")]:
        env.pop(name, None)
    for name in [n for n in env if n.startswith("GIT_CONFIG_VALUE_")]:
        env.pop(name, None)
    return env


def _repo_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.pop("GIT_EDITOR", None)
    env["LC_ALL"] = env.get("LC_ALL") or "C"
    return env


# What `git rev-parse --git-path` names while an operation is under way.
OPERATIONS = (
    "rebase-merge",
    "rebase-apply",
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "BISECT_LOG",
)


class GitError(EnvironmentProblem):
    """A git command that had to work failed."""


@dataclass(frozen=True)
class Ref:
    """One local branch or remote-tracking ref from ``git for-each-ref``."""

    name: str  # full ref name, e.g. refs/heads/exp/bm25
    oid: str
    upstream: str  # full ref name of the upstream, "" when none
    symref: str  # the target when this ref is symbolic (refs/remotes/origin/HEAD)


class Repo:
    """One work tree of a git repository, with its facts cached per instance.

    Create it with :meth:`discover`. A hook makes one ``Repo`` and asks it
    everything it needs; each fact costs at most one git process, once.
    """

    def __init__(
        self,
        root: Path,
        git_dir: Path,
        common_dir: Path,
        object_format: str = "sha1",
        shallow: bool = False,
    ) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.object_format = object_format
        self.shallow = shallow
        self._env = _repo_env()
        self._operation_paths: list[Path] | None = None
        self._head_log: Path | None = None  # HEAD's reflog, with the files backend
        self._rev_lists: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
        self._commits_present: set[str] = set()  # a commit, once found, stays

    def __repr__(self) -> str:
        return f"Repo({str(self.root)!r})"

    @classmethod
    def discover(cls, cwd: Path | None = None) -> Repo:
        """The repository containing ``cwd`` (default: the current directory)."""
        args = [
            "rev-parse",
            "--path-format=absolute",
            "--show-toplevel",
            "--git-dir",
            "--git-common-dir",
            "--show-object-format",
            "--is-shallow-repository",
        ]
        for name in (*OPERATIONS, "logs/HEAD"):  # asked now: no extra process
            args += ["--git-path", name]
        result = _run(args, cwd=cwd, env=_repo_env())
        if result.returncode != 0:
            where = cwd or Path.cwd()
            raise NotARepoError(
                f"{where} is not inside a git work tree; run ragguard in a "
                "clone of the repository."
            )
        lines = result.stdout.split("\n")
        root, git_dir, common, fmt, shallow = lines[:5]
        repo = cls(Path(root), Path(git_dir), Path(common), fmt, shallow == "true")
        ops = lines[5 : 5 + len(OPERATIONS)]
        if len(ops) == len(OPERATIONS):
            repo._operation_paths = [Path(line) for line in ops]
        head_log = lines[5 + len(OPERATIONS) : 6 + len(OPERATIONS)]
        repo._head_log = Path(head_log[0]) if head_log and head_log[0] else None
        return repo

    # --- running git ---------------------------------------------------------

    def git(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run git on this repository; raise :class:`GitError` on failure
        unless ``check`` is false."""
        result = _run(args, cwd=self.root, env=self._env, input=input)
        if check and result.returncode != 0:
            message = result.stderr.strip().splitlines()
            detail = message[-1] if message else f"exit status {result.returncode}"
            raise GitError(f"git {args[0]} failed: {detail}")
        return result

    def git_z(self, *args: str, input: str | None = None) -> list[str]:
        """The NUL-separated fields of a git command's output (``-z``)."""
        out = self.git(*args, input=input).stdout
        return [item for item in out.split("\0") if item]

    # --- identity ------------------------------------------------------------

    @property
    def zero_oid(self) -> str:
        return "0" * self.oid_length

    @property
    def oid_length(self) -> int:
        return 64 if self.object_format == "sha256" else 40

    def git_path(self, name: str) -> Path:
        """``git rev-parse --git-path NAME``: right in worktrees and submodules."""
        out = self.git("rev-parse", "--path-format=absolute", "--git-path", name)
        return Path(out.stdout.rstrip("\n"))

    def git_paths(self, names: Sequence[str]) -> list[Path]:
        """Several ``--git-path`` lookups in one git process."""
        args = ["rev-parse", "--path-format=absolute"]
        for name in names:
            args += ["--git-path", name]
        out = self.git(*args).stdout.rstrip("\n").split("\n")
        return [Path(line) for line in out]

    # --- HEAD and branches --------------------------------------------------

    @cached_property
    def head_ref(self) -> str | None:
        """The full ref HEAD points at (also when unborn); ``None`` if detached."""
        result = self.git("symbolic-ref", "-q", "HEAD", check=False)
        name = result.stdout.rstrip("\n")
        return name if result.returncode == 0 and name else None

    def current_branch(self) -> str | None:
        """The checked-out branch name; ``None`` on a detached HEAD."""
        ref = self.head_ref
        return ref[len(HEADS) :] if ref and ref.startswith(HEADS) else None

    @cached_property
    def head_oid(self) -> str | None:
        """The commit HEAD names; ``None`` before the first commit."""
        result = self.git("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        oid = result.stdout.strip()
        return oid if result.returncode == 0 and oid else None

    @cached_property
    def refs(self) -> Mapping[str, Ref]:
        """Local branches and remote-tracking refs, by full name (one git call)."""
        fmt = "%(refname)%00%(objectname)%00%(upstream)%00%(symref)%00"
        out = self.git("for-each-ref", f"--format={fmt}", HEADS, REMOTES).stdout
        found: dict[str, Ref] = {}
        for record in out.split("\0\n"):
            fields = record.split("\0")
            if len(fields) == 4:
                found[fields[0]] = Ref(*fields)
        return found

    def branch_oid(self, branch: str) -> str | None:
        ref = self.refs.get(HEADS + branch)
        return ref.oid if ref else None

    def upstream_of(self, branch: str) -> str | None:
        """The full name of ``branch``'s upstream ref, when it has one that exists."""
        ref = self.refs.get(HEADS + branch)
        if ref is None or not ref.upstream or ref.upstream not in self.refs:
            return None
        return ref.upstream

    @cached_property
    def remotes(self) -> tuple[str, ...]:
        return tuple(self.git("remote").stdout.split())

    def primary_remote(self) -> str | None:
        """``origin`` when it exists, else the only remote, else ``None``."""
        if any(name.startswith(f"{REMOTES}origin/") for name in self.refs):
            return "origin"  # known from the refs, without asking `git remote`
        names = self.remotes
        if "origin" in names or not names:
            return "origin" if names else None
        return names[0] if len(names) == 1 else None

    def remote_for_url(self, url: str) -> str | None:
        """The configured remote whose URL is ``url`` (a push to a URL)."""
        result = self.git(
            "config", "-z", "--get-regexp", r"^remote\..*\.url$", check=False
        )
        for entry in result.stdout.split("\0"):
            key, _, value = entry.partition("\n")
            if value == url and key.startswith("remote.") and key.endswith(".url"):
                return key[len("remote.") : -len(".url")]
        return None

    def config_get(self, key: str) -> str | None:
        result = self.git("config", "--get", "--", key, check=False)
        return result.stdout.rstrip("\n") if result.returncode == 0 else None

    def default_branch(self, policy: Policy | None = None) -> str:
        """The team's default branch: the policy's ``branches.default``, else the
        remote's HEAD, else ``init.defaultBranch``, ``main`` or ``master``."""
        if policy is not None and policy.branches.default:
            return policy.branches.default
        remote = self.primary_remote()
        if remote:
            head = self.refs.get(f"{REMOTES}{remote}/HEAD")
            prefix = f"{REMOTES}{remote}/"
            if head and head.symref.startswith(prefix):
                return head.symref[len(prefix) :]
        return self._fallback_default

    @cached_property
    def _fallback_default(self) -> str:
        """Asked once per instance, as :attr:`refs` is read once."""
        configured = self.config_get("init.defaultBranch")
        candidates = [name for name in (configured, "main", "master") if name]
        for name in candidates:
            if HEADS + name in self.refs or self._remote_has(name):
                return name
        # None of them exists (a new repository): the branch being born is it.
        return self.current_branch() or candidates[0]

    def _remote_has(self, branch: str) -> bool:
        remote = self.primary_remote()
        return bool(remote) and f"{REMOTES}{remote}/{branch}" in self.refs

    def default_ref(self, policy: Policy | None = None) -> str | None:
        """The ref the default branch is compared with: its remote-tracking ref
        when there is one, else the local branch, else ``None``."""
        name = self.default_branch(policy)
        remote = self.primary_remote()
        if remote and f"{REMOTES}{remote}/{name}" in self.refs:
            return f"{REMOTES}{remote}/{name}"
        return HEADS + name if HEADS + name in self.refs else None

    def head_moved_by(self) -> str:
        """The newest entry of HEAD's reflog (``checkout: moving from A to
        B`` for a switch, ``rebase (start): ...`` for a rebase); ``""`` when
        HEAD keeps no reflog. Read from the reflog file where there is one,
        as every checkout asks it; else (reftable) from git."""
        if self._head_log is not None:
            try:
                last = _last_line(self._head_log)
            except OSError:
                pass
            else:
                return last.partition("\t")[2].strip()
        result = self.git("log", "-g", "-1", "--format=%gs", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def just_created(self, branch: str) -> bool:
        """Whether ``branch``'s reflog holds only its creation
        (``git switch -c``): no commit was made on it yet."""
        result = self.git(
            "log",
            "-g",
            "-2",
            "--format=%gs",
            "--end-of-options",
            HEADS + branch,
            check=False,
        )
        entries = result.stdout.splitlines()
        return len(entries) == 1 and entries[0].startswith("branch: Created from")

    @cached_property
    def ignores_case(self) -> bool:
        """``core.ignorecase``: the checkout's file system folds case, so a
        path git records may differ in case from the one ragguard builds."""
        result = self.git(
            "config", "--type=bool", "--get", "core.ignorecase", check=False
        )
        return result.stdout.strip() == "true"

    def tree_path_icase(self, commit: str, path: str) -> str | None:
        """The path in ``commit`` equal to ``path`` but for case (one ``git
        ls-tree`` of the whole commit, compared case-folded here: any folder
        of the path may be recorded in another case)."""
        args = ["ls-tree", "-r", "-z", "--name-only", commit]
        result = self.git(*args, check=False)
        wanted = path.casefold()
        found = [p for p in result.stdout.split("\0") if p.casefold() == wanted]
        return found[0] if found else None

    def commit_log(self, oids: Iterable[str]) -> list[CommitInfo]:
        """Each commit's parents, message and the paths it adds or changes,
        empty and deleting commits included; a merge's paths are those its
        resolution brought that no parent had (``--cc``). Two git processes,
        NUL-separated, so no path or message is misread."""
        wanted = sorted(set(oids))
        if not wanted:
            return []
        stdin = "\n".join(wanted) + "\n"
        log = ("log", "-z", "--no-walk=unsorted", "--stdin", "--no-show-signature")
        out = self.git(*log, "--format=%H%x00%P%x00%B", input=stdin).stdout
        fields = out.split("\0")
        paths = self._changed_paths(stdin)
        return [
            CommitInfo(oid, tuple(parents.split()), message, paths.get(oid, ()))
            for oid, parents, message in zip(
                fields[0::3], fields[1::3], fields[2::3], strict=False
            )
        ]

    def _changed_paths(self, stdin: str) -> dict[str, tuple[str, ...]]:
        """Commit id -> the paths it adds or changes (``git diff-tree``)."""
        args = ("diff-tree", "--stdin", "-r", "-z", "--root", "--cc", "--no-renames")
        out = self.git(*args, "--name-status", "--no-relative", input=stdin).stdout
        found: dict[str, list[str]] = {}
        tokens = iter(out.split("\0"))
        current: list[str] = []
        for token in tokens:
            if token.isalpha() and token.isupper():  # a status: A, M, D, T, MM
                path = next(tokens, "")
                if "D" not in token:
                    current.append(path)
            elif token:  # a commit id: the paths of the next commit follow
                current = found.setdefault(token, [])
        return {oid: tuple(paths) for oid, paths in found.items()}

    def previous_branch(self) -> str | None:
        """The branch checked out before the last switch (``@{-1}``)."""
        result = self.git(
            "rev-parse", "-q", "--symbolic-full-name", "@{-1}", check=False
        )
        name = result.stdout.strip()
        return name[len(HEADS) :] if name.startswith(HEADS) else None

    # --- commits -------------------------------------------------------------

    def rev_list(
        self, include: Iterable[str], exclude: Iterable[str] = ()
    ) -> list[str]:
        """Commits reachable from ``include`` and not from ``exclude``.

        Revisions go through standard input, so nothing in them is read as an
        option or a pattern. Asked in commit ids only, the answer cannot
        change and is kept: a push asks the same twice (its runs, then its
        commits' messages).
        """
        positive = [rev for rev in include if rev]
        if not positive:
            return []
        negative = [rev for rev in exclude if rev]
        key = (tuple(positive), tuple(negative))
        if key in self._rev_lists:
            return list(self._rev_lists[key])
        lines = [*positive, *(f"^{rev}" for rev in negative)]
        out = self.git("rev-list", "--stdin", input="\n".join(lines) + "\n").stdout
        if all(map(is_full_oid, key[0] + key[1])):
            self._rev_lists[key] = out.split()
        return out.split()

    def remote_tips(self, remote: str | None) -> list[str]:
        """Tips of the remote-tracking refs of ``remote`` (``--remotes=R``
        without letting a remote name act as a glob)."""
        if not remote:
            return []
        prefix = f"{REMOTES}{remote}/"
        return [r.oid for r in self.refs.values() if r.name.startswith(prefix)]

    @cached_property
    def all_tips(self) -> tuple[str, ...]:
        """The objects every ref points at (``--all`` without HEAD)."""
        out = self.git("for-each-ref", "--format=%(objectname)").stdout
        tips = set(out.split())
        if self.head_oid:
            tips.add(self.head_oid)
        return tuple(sorted(tips))

    def blob_text(self, commit: str, path: str) -> str | None:
        """The text of ``path`` in ``commit``; ``None`` when it has no such
        file. The argument starts with the commit, so git never takes it for
        an option."""
        result = self.git("cat-file", "blob", f"{commit}:{path}", check=False)
        return result.stdout if result.returncode == 0 else None

    def existing_commits(self, oids: Iterable[str]) -> set[str]:
        """The ids in ``oids`` that name commits present in this repository.
        Those found are kept (a push asks about the remote's old id for its
        runs, its commits and the merge gate); those missing are asked again."""
        asked = {oid for oid in oids if is_full_oid(oid)}
        wanted = sorted(asked - self._commits_present)
        if wanted:
            out = self.git(
                "cat-file",
                "--batch-check=%(objectname) %(objecttype)",
                input="\n".join(wanted) + "\n",
            ).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == "commit":
                    self._commits_present.add(parts[0])
        return asked & self._commits_present

    def parents(self, oids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each commit's parents, for commits known to exist (one git call)."""
        wanted = sorted(set(oids))
        if not wanted:
            return {}
        out = self.git(
            "rev-list",
            "--no-walk=unsorted",
            "--parents",
            "--stdin",
            input="\n".join(wanted) + "\n",
        ).stdout
        result = {}
        for line in out.splitlines():
            first, *rest = line.split()
            result[first] = tuple(rest)
        return result

    # --- the work tree -------------------------------------------------------

    def staged_paths(self) -> list[str]:
        """Paths added or changed in the index (deletions are not additions)."""
        born = self.head_ref is None or self.head_ref in self.refs
        if not born:
            # Before the first commit everything in the index is being added.
            return self.git_z("ls-files", "-z", "--cached")
        return self.git_z(
            "diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=d"
        )

    def uncommitted(self) -> list[str]:
        """``git status`` entries (``XY path``) of the work tree, read-only."""
        entries = self.git_z(
            "status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=normal"
        )
        return [entry for entry in entries if len(entry) > 3 and entry[2] == " "]

    def operation_in_progress(self) -> str | None:
        """The name of a rebase, merge, cherry-pick, revert or bisect under way."""
        return next((name for name in OPERATIONS if self.in_progress(name)), None)

    def in_progress(self, name: str) -> bool:
        """Whether the operation ``name`` (one of :data:`OPERATIONS`) is under way."""
        if self._operation_paths is None:
            self._operation_paths = self.git_paths(OPERATIONS)
        return self._operation_paths[OPERATIONS.index(name)].exists()


@dataclass(frozen=True)
class CommitInfo:
    """One commit as a push or the gate judges it."""

    oid: str
    parents: tuple[str, ...]
    message: str
    paths: tuple[str, ...]  # added or changed (not deleted)


def _last_line(path: Path, tail: int = 65536) -> str:
    """The last line of ``path``, read from its end (a reflog only grows)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - tail))
        lines = handle.read().splitlines()
    return lines[-1].decode("utf-8", "replace") if lines else ""


def is_full_oid(text: str) -> bool:
    """A whole object id, SHA-1 or SHA-256, in lower-case hex."""
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def is_zero_oid(text: str) -> bool:
    """git's null id, of 40 or 64 zeros: a ref that does not exist (yet)."""
    return bool(text) and set(text) == {"0"}


def _run(
    args: Sequence[str],
    *,
    cwd: Path | None,
    env: Mapping[str, str],
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    log.debug("git %s", " ".join(args))
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            check=False,
        )
    except FileNotFoundError as error:
        raise EnvironmentProblem(
            "git was not found on PATH; install git or fix PATH for hooks."
        ) from error
