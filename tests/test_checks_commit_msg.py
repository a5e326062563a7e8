"""commit-msg: messages that say something."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragguard.checks import Context
from ragguard.checks.commit_msg import check, message_text
from ragguard.config import DEFAULT_POLICY, parse_policy


def verdict(message: str, policy=DEFAULT_POLICY, char: str = "#") -> list:
    ctx = Context(
        stage="commit-msg",
        policy=policy,
        root=Path("/r"),
        message=message,
        message_file=".git/COMMIT_EDITMSG",
        comment_char=char,
    )
    return check(ctx)


@pytest.mark.parametrize(
    "message",
    [
        "Tune BM25 k1 to 1.2 for recall",
        "Add a dense retriever baseline\n\nWhy: BM25 misses paraphrases.",
        "Merge branch 'exp/bm25'",
        'Revert "Use a larger chunk size"',
        "fixup! Tune BM25",
        "squash! wip",
        "Fix the chunker off-by-one",  # a forbidden word inside a real message
        "# only a comment\nUse 512-token chunks everywhere\n",
    ],
)
def test_good_messages_pass(message: str) -> None:
    assert verdict(message) == []


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("wip", "says nothing"),
        ("WIP.\n", "says nothing"),
        ("fix fix", "says nothing"),
        ("update\n# Please enter the commit message\n", "says nothing"),
        ("Tuned BM25", "has 2 words"),
        ("", "has no words"),
        ("# just comments\n", "has no words"),
    ],
)
def test_bad_messages_block_with_the_fix(message: str, words: str) -> None:
    found = verdict(message)
    assert len(found) == 1
    assert found[0].severity == "block" and words in found[0].message
    assert found[0].fix == "git commit --edit --file=.git/COMMIT_EDITMSG"


def test_forbidden_word_alone_blocks_even_with_min_words_one() -> None:
    policy = parse_policy("commit_msg: {min_words: 1, forbid: [tmp]}\n")
    assert verdict("tmp", policy)
    assert verdict("wip", policy) == []


def test_scissors_and_comment_char() -> None:
    scissors = "# " + "-" * 24 + " >8 " + "-" * 24
    text = f"Use hybrid search\n{scissors}\ndiff"
    assert message_text(text) == "Use hybrid search"
    assert verdict("; note\nDocument the retriever choice", char=";") == []
    assert verdict("; note\nwip", char=";")


def test_a_message_given_with_m_may_start_with_the_comment_char() -> None:
    assert verdict("#42 improve BM25 recall on long passages\n") == []


def test_the_fix_repeats_commit_a_and_uses_the_absolute_path() -> None:
    ctx = Context(
        stage="commit-msg",
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        message="wip\n",
        message_file="/r/.git/COMMIT_EDITMSG",
        commit_scope="-a",
    )
    (found,) = check(ctx)
    assert found.fix == "git commit -a --edit --file=/r/.git/COMMIT_EDITMSG"
