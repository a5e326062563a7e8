"""``branch-doc``: every branch but the default one is documented."""

from __future__ import annotations

from ragguard.checks import Context, Finding, quote

CHECK = "branch-doc"


def check(ctx: Context) -> list[Finding]:
    if ctx.branch is None or ctx.branch == ctx.default_branch or ctx.doc is None:
        return []
    doc, subject = ctx.doc, f"branch {ctx.branch}"
    if doc.problem:
        return [Finding(CHECK, "warn", subject, doc.problem, "rename the branch")]
    if doc.text is None:
        return [_missing(ctx, subject)]
    from ragguard.docs import doc_is_filled

    if not doc_is_filled(doc.text):
        message = f"{doc.path} is an unfilled template; write at least its Goal"
        return [Finding(CHECK, "block", subject, message, _edit(ctx))]
    return []


def _missing(ctx: Context, subject: str) -> Finding:
    assert ctx.doc is not None
    doc = ctx.doc
    if doc.where != "work tree" and doc.in_work_tree:
        message = f"{doc.path} is not committed, so {doc.where} has no doc"
        fix = f"git add -- {quote(doc.path)} && git commit -m 'Document branch "
        fix += f"{_plain(ctx.branch)}'"
        return Finding(CHECK, "block", subject, message, fix)
    message = f"has no doc at {doc.path}"
    # Name the branch: a push may be of another branch than the current one.
    fix = f"ragguard doc init {quote(ctx.branch or '')}"
    return Finding(CHECK, "block", subject, message, fix)


def _edit(ctx: Context) -> str:
    assert ctx.doc is not None
    return f"${{EDITOR:-vi}} {quote(ctx.doc.path)}"


def _plain(text: str | None) -> str:
    return (text or "").replace("'", "")
