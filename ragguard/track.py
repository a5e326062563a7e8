"""``ragguard.track.init``: ``wandb.init`` that makes a compliant run the default.

W&B records a run's commit but never its branch, and nothing stops a run from
starting without the tags and config keys the team requires; the push hook
only finds out hours of compute later. This wrapper, before ``wandb.init``:

- records the branch (config ``git_branch``, tag ``branch:<name>``) and the
  commit (config ``git_commit``);
- checks the policy's ``runs.require_tags`` and ``runs.require_config`` and
  refuses (:class:`RunMetadataError`) or warns (:class:`PolicyWarning`) as the
  ``run-metadata`` check is configured for ``pre-push``, where such a run
  would be stopped anyway;

then calls ``wandb.init`` with the same arguments and returns its run.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragguard.errors import NotARepoError, RagguardError
from ragguard.runs.model import Run

if TYPE_CHECKING:
    from ragguard.config import Policy

log = logging.getLogger(__name__)

CHECK = "run-metadata"
STAGE = "pre-push"  # the stage whose severity the helper follows
BRANCH_TAG = "branch:"
_MAX_TAG = 64  # wandb refuses longer tags


class RunMetadataError(RagguardError):
    """The run would start without the tags or config the policy requires."""


class PolicyWarning(UserWarning):
    """The run breaks the policy, which only warns about it."""


@dataclass(frozen=True)
class GitFacts:
    branch: str | None
    commit: str | None
    root: Path | None


def init(**kwargs: Any) -> Any:
    """``wandb.init(**kwargs)`` with the branch recorded and the policy checked
    first. Raises :class:`RunMetadataError` before any run starts when the
    policy blocks runs without its required tags or config keys."""
    import wandb

    facts = git_facts(Path.cwd())
    policy = _policy(facts.root)
    kwargs = prepared_kwargs(kwargs, facts)
    enforce(policy, kwargs["tags"], _checked_config(kwargs["config"]))
    return wandb.init(**kwargs)


def git_facts(cwd: Path) -> GitFacts:
    """The branch and commit of the repository around ``cwd``, when there is one."""
    from ragguard.gitrepo import Repo

    try:
        repo = Repo.discover(cwd)
    except NotARepoError:
        log.warning("not in a git repository: the run records no branch")
        return GitFacts(None, None, None)
    return GitFacts(repo.current_branch(), repo.head_oid, repo.root)


def _policy(root: Path | None) -> Policy:
    from ragguard.config import DEFAULT_POLICY, load_policy

    return load_policy(root) if root else DEFAULT_POLICY


def prepared_kwargs(kwargs: Mapping[str, Any], facts: GitFacts) -> dict[str, Any]:
    """The arguments for ``wandb.init`` with the git facts added.

    ``config`` becomes the dict wandb itself would build from it (a dict, an
    argparse namespace, absl flags, a YAML path); the deprecated
    ``config_include_keys``/``config_exclude_keys`` are applied here, so that
    they cannot filter out ``git_branch``. Values the caller set win.
    """
    from wandb.sdk import wandb_helper

    kwargs = dict(kwargs)
    config = dict(
        wandb_helper.parse_config(
            kwargs.pop("config", None) or {},
            include=kwargs.pop("config_include_keys", None),
            exclude=kwargs.pop("config_exclude_keys", None),
        )
    )
    for key, value in (("git_branch", facts.branch), ("git_commit", facts.commit)):
        if value is not None:
            config.setdefault(key, value)
    kwargs["config"] = config
    kwargs["tags"] = _with_branch_tag(kwargs.get("tags"), facts.branch)
    return kwargs


def _with_branch_tag(tags: Sequence[str] | None, branch: str | None) -> list[str]:
    result = list(tags or ())
    if branch is None:
        return result
    tag = BRANCH_TAG + branch
    if len(tag) > _MAX_TAG:
        log.warning("branch name too long for a W&B tag; recorded in config only")
    elif tag not in result:
        result.append(tag)
    return result


def _checked_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the run's config will hold: ``config-defaults.yaml``, a sweep's or
    launch's values, then the caller's, as wandb layers them."""
    layers: dict[str, Any] = {}
    for layer in (_defaults_file(), _setup_config(), config):
        layers.update(layer)
    return layers


def _defaults_file() -> dict[str, Any]:
    from wandb.sdk.lib import config_util

    try:
        return dict(config_util.dict_from_config_file("config-defaults.yaml") or {})
    except Exception:  # wandb reports a broken file itself, at init
        return {}


def _setup_config() -> dict[str, Any]:
    # A sweep agent or launch hands its values to wandb.init through the
    # setup singleton; the caller's config does not contain them.
    try:
        from wandb.sdk import wandb_setup

        setup = wandb_setup.singleton()
        values = dict(getattr(setup, "config", None) or {})
        values.update(getattr(setup, "_sweep_config", None) or {})  # set by .config
        return values
    except Exception:
        return {}


def missing_metadata(
    policy: Policy, tags: Sequence[str], config: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """The required tag patterns and config keys the run would lack."""
    probe = Run(
        id="", path="", mode="offline", state="running", sync="unsynced", config=config
    )
    all_tags = [*tags, *_env_tags()]
    patterns = [
        pattern
        for pattern in policy.runs.require_tags
        if not any(fnmatchcase(tag, pattern) for tag in all_tags)
    ]
    keys = [key for key in policy.runs.require_config if not probe.has_config(key)]
    return patterns, keys


def _env_tags() -> list[str]:
    return [t.strip() for t in os.environ.get("WANDB_TAGS", "").split(",") if t.strip()]


def enforce(policy: Policy, tags: Sequence[str], config: Mapping[str, Any]) -> None:
    """Refuse or warn, as the policy says, when required metadata is missing."""
    severity = policy.severity(CHECK, STAGE)
    if severity == "off":
        return
    patterns, keys = missing_metadata(policy, tags, config)
    if not (patterns or keys):
        return
    message = _message(policy, patterns, keys, severity)
    if severity == "block":
        raise RunMetadataError(message)
    warnings.warn(message, PolicyWarning, stacklevel=3)


def _message(
    policy: Policy, patterns: list[str], keys: list[str], severity: str
) -> str:
    missing = []
    if patterns:
        missing.append("tags matching " + ", ".join(map(repr, patterns)))
    if keys:
        missing.append("config keys " + ", ".join(keys))
    source = str(policy.path.name) if policy.path else "the default policy"
    verdict = "refusing to start" if severity == "block" else "starting anyway"
    example = []
    if patterns:
        values = [p.replace("*", "<value>").replace("?", "<c>") for p in patterns]
        example.append(f"tags={json.dumps(values)}")
    if keys:
        example.append("config={" + ", ".join(f'"{k}": ...' for k in keys) + "}")
    return (
        f"this run lacks the {' and '.join(missing)} that {source} requires "
        f"({CHECK} {severity}s at {STAGE}); {verdict}: pass "
        f"ragguard.track.init({', '.join(example)})"
    )
