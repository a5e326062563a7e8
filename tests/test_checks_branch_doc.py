"""branch-doc: every branch but the default is documented."""

from __future__ import annotations

from pathlib import Path

from ragguard.checks import Context, DocState
from ragguard.checks.branch_doc import check
from ragguard.config import DEFAULT_POLICY

FILLED = "# exp/a\n\n## Goal\n\nFind out whether BM25 beats dense retrieval here.\n"
TEMPLATE = "# exp/a\n\n## Goal\n\n<!-- what do you want to learn? -->\nTODO\n"


def verdict(branch: str | None, doc: DocState | None) -> list:
    ctx = Context(
        stage="pre-push",
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        branch=branch,
        default_branch="main",
        doc=doc,
    )
    return check(ctx)


def test_default_branch_and_detached_head_need_no_doc() -> None:
    assert verdict("main", DocState("docs/branches/main.md", None)) == []
    assert verdict(None, None) == []


def test_missing_doc_blocks_with_doc_init() -> None:
    [f] = verdict("exp/a", DocState("docs/branches/exp/a.md", None))
    assert f.severity == "block" and f.fix == "ragguard doc init exp/a"
    assert f.message == "has no doc at docs/branches/exp/a.md"


def test_unfilled_template_counts_as_missing() -> None:
    [f] = verdict("exp/a", DocState("docs/branches/exp/a.md", TEMPLATE))
    assert "unfilled template" in f.message
    assert f.fix == "${EDITOR:-vi} docs/branches/exp/a.md"
    assert verdict("exp/a", DocState("docs/branches/exp/a.md", FILLED)) == []


def test_doc_in_the_work_tree_but_not_in_the_pushed_commit() -> None:
    doc = DocState(
        "docs/branches/exp/a.md", None, where="the pushed commit", in_work_tree=True
    )
    [f] = verdict("exp/a", doc)
    assert "not committed" in f.message
    assert f.fix == (
        "git add -- docs/branches/exp/a.md && git commit -m 'Document branch exp/a'"
    )


def test_a_branch_name_that_cannot_be_a_path() -> None:
    [f] = verdict(
        "a:b", DocState("", None, problem="branch name 'a:b' contains a colon")
    )
    assert f.severity == "warn" and "colon" in f.message
