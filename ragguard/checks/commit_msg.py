"""``commit-msg``: a commit message says what changed and why."""

from __future__ import annotations

import re

from ragguard.checks import Context, Finding, quote

CHECK = "commit-msg"
_PASS_PREFIXES = ("Merge ", "Revert ", "fixup! ", "squash! ", "amend! ")
_SCISSORS = "------------------------ >8 ------------------------"
_WORD = re.compile(r"[^\W_](?:[\w'./:@#-]*\w)?")


def message_text(raw: str, comment_char: str = "#") -> str:
    """The message as git will store it: without comment lines and without
    what follows the scissors line of ``commit --verbose``."""
    lines = []
    for line in raw.splitlines():
        if line.startswith(comment_char):
            if _SCISSORS in line:
                break
            continue
        lines.append(line)
    return "\n".join(lines).strip()


def subject(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def check(ctx: Context) -> list[Finding]:
    if ctx.message is None:
        return []
    text = message_text(ctx.message, ctx.comment_char)
    raw = ctx.message.strip()
    if not text and len(raw) > 1 and raw[0] == ctx.comment_char and raw[1] != " ":
        # `git commit -m "#42 ..."` keeps lines that look like comments (only
        # an edited message is stripped), and git's own comments have a space
        # after the comment character: judge "#42 ..." as git stores it.
        text = raw
    if text.startswith(_PASS_PREFIXES):
        return []
    title = subject(text)
    words = _WORD.findall(title)
    problem = _problem(words, ctx)
    if problem is None:
        return []
    return [Finding(CHECK, "block", f"message {title!r}", problem, _fix(ctx))]


def _problem(words: list[str], ctx: Context) -> str | None:
    policy = ctx.policy.commit_msg
    forbidden = set(policy.forbid)
    if words and all(word.lower().strip(".!") in forbidden for word in words):
        said = " ".join(words)
        return f"{said!r} says nothing about the change; say what changed and why"
    if len(words) < policy.min_words:
        count = (
            "no words"
            if not words
            else f"{len(words)} word" + ("s" if len(words) > 1 else "")
        )
        return (
            f"the subject line has {count}; write at least {policy.min_words} "
            "that say what changed"
        )
    return None


def _fix(ctx: Context) -> str:
    if ctx.message_file:
        again = f"--edit --file={quote(ctx.message_file)}"
        if ctx.commit_scope == "-a":
            return f"git commit -a {again}"
        if ctx.commit_scope == "paths":
            return f"git commit {again} -- <the paths you named>"
        return f"git commit {again}"
    return "git commit --edit"
