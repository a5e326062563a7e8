"""Branch docs: safe paths, "filled in", and ``ragguard doc init|update``.

The run folders are real offline wandb runs, made once per session in a real
repository; each test works on its own copy of that repository.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wandbgen
from conftest import git, isolated, make_repo
from ragguard.cli import main
from ragguard.config import DEFAULT_POLICY
from ragguard.docs import (
    BEGIN,
    END,
    doc_is_filled,
    doc_path,
    render_doc,
    replace_block,
    template_text,
)
from ragguard.errors import BadInputError, Exit
from ragguard.runs.model import Run

GOLDEN = Path(__file__).parent / "golden"
DOC = Path("docs/branches/exp/bm25.md")
POLICY = "wandb:\n  entity: team\n  project: rag\n"


# --- doc_path ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("bm25", "docs/branches/bm25.md"),
        ("exp/bm25", "docs/branches/exp/bm25.md"),
        ("exp/dense/e5-large", "docs/branches/exp/dense/e5-large.md"),
        ("exp/ünïcode-検索", "docs/branches/exp/ünïcode-検索.md"),
        ("v1.2", "docs/branches/v1.2.md"),
        ("a..b", "docs/branches/a..b.md"),  # git refuses it; as a path it is harmless
    ],
)
def test_doc_path_maps_slashes_to_folders(
    tmp_path: Path, branch: str, expected: str
) -> None:
    path = doc_path(tmp_path, "docs/branches/{branch}.md", branch)
    assert path == tmp_path / expected


@pytest.mark.parametrize(
    "branch",
    [
        "",
        "..",
        ".",
        "../outside",
        "exp/../../outside",
        "exp/./x",
        "/etc/passwd",
        "exp//x",
        "exp/",
        "a\\..\\b",
        "C:evil",
        "nul\0byte",
        "new\nline",
        "tab\tbed",
        "del\x7f",
        "bidi\u202eevil",
        ".git",
        "x/.git/hooks/pre-commit",
        ".GIT",
        " padded",
        "x" * 300,
    ],
)
def test_doc_path_refuses_names_that_escape(tmp_path: Path, branch: str) -> None:
    with pytest.raises(BadInputError) as caught:
        doc_path(tmp_path, "docs/branches/{branch}.md", branch)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    "pattern",
    ["/abs/{branch}.md", "../{branch}.md", "docs\\{branch}.md", "docs/plain.md"],
)
def test_doc_path_refuses_bad_patterns(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(BadInputError):
        doc_path(tmp_path, pattern, "exp/x")


def test_doc_path_refuses_a_symlink_out_of_the_repository(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / "docs").mkdir(parents=True)
    outside.mkdir()
    (root / "docs" / "branches").symlink_to(outside)
    with pytest.raises(BadInputError, match="outside the repository"):
        doc_path(root, "docs/branches/{branch}.md", "exp/x")


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(branch=st.text(max_size=40))
def test_doc_path_never_leaves_the_repository(branch: str) -> None:
    root = Path("/nonexistent/repo")
    try:
        path = doc_path(root, "docs/{branch}/README.md", branch)
    except BadInputError:
        return
    relative = path.relative_to(root)
    assert ".." not in relative.parts
    assert ".git" not in [part.lower() for part in relative.parts]
    assert relative.parts[0] == "docs"


# --- doc_is_filled -------------------------------------------------------------


def test_the_bare_template_is_not_filled() -> None:
    text = render_doc(template_text(Path("."), DEFAULT_POLICY), "x", [], DEFAULT_POLICY)
    assert not doc_is_filled(text)


def test_a_goal_line_fills_the_template() -> None:
    text = render_doc(template_text(Path("."), DEFAULT_POLICY), "x", [], DEFAULT_POLICY)
    goal = "## Goal\n\n"
    filled = text.replace(goal, goal + "Beat BM25 recall@5 with a dense retriever.\n")
    assert doc_is_filled(filled)


@pytest.mark.parametrize(
    "goal",
    [
        "",
        "<!-- say it -->",
        "TODO",
        "TODO: write the goal",
        "TBD",
        "...",
        "…",
        "<describe the goal>",
        "[describe the goal]",
        "- TODO",
        "___",
    ],
)
def test_placeholders_do_not_fill_the_goal(goal: str) -> None:
    text = f"# Branch x\n\n## Goal\n\n{goal}\n\n## Decision\n\nMerge it.\n"
    assert not doc_is_filled(text)


def test_run_names_cannot_break_the_markers_or_the_table() -> None:
    run = Run(
        id="abc",
        path="/x",
        mode="offline",
        state="finished",
        sync="synced",
        name=f"evil {END} | <b>",
        tags=("a|b",),
    )
    text = replace_block(f"{BEGIN}\n{END}\n", [run], DEFAULT_POLICY, where="doc")
    assert text.count(END) == 1 and text.count(BEGIN) == 1
    row = next(line for line in text.splitlines() if "abc" in line)
    assert row.count(" | ") == 4  # five cells: the pipes in them are escaped
    assert "&lt;b>" in row
    assert replace_block(text, [run], DEFAULT_POLICY, where="doc") == text


def test_the_generated_block_does_not_fill_a_doc() -> None:
    text = f"# Notes\n\n{BEGIN}\n| run | finished |\n{END}\n"
    assert not doc_is_filled(text)


def test_a_doc_without_a_goal_heading_needs_any_prose() -> None:
    assert doc_is_filled("# Notes\n\nWe tried BM25 with k=5.\n")
    assert not doc_is_filled("# Notes\n\n## Results\n\n<!-- later -->\n")
    assert not doc_is_filled("")


# --- real runs, once per session ------------------------------------------------


@pytest.fixture(scope="session")
def runs_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A repository whose branch ``exp/bm25`` has two real runs and whose
    ``main`` has one. Made once; tests get copies (:func:`work`)."""
    base = tmp_path_factory.mktemp("docs-runs")
    with isolated(base / "home"):
        yield _make_runs_repo(base)


def _make_runs_repo(base: Path) -> Path:
    work = make_repo(base)
    wandbgen.write_run(work, run_id="main0001", summary={"recall@5": 0.5})
    git(work, "switch", "-q", "-c", "exp/bm25")
    (work / "retriever.py").write_text("K = 5\n")
    git(work, "add", "retriever.py")
    git(work, "commit", "-q", "-m", "Try BM25 with k=5")
    wandbgen.write_run(
        work,
        run_id="bm25fail",
        ending="exception",
        tags=["retriever:bm25"],
        config={"retriever": {"type": "bm25", "k": 5}},
    )
    wandbgen.write_run(
        work,
        run_id="bm25good",
        name="bm25-k5",
        tags=["retriever:bm25", "k:5"],
        config={"retriever": {"type": "bm25", "k": 5}},
        summary={"recall@5": 0.8123, "mrr": 0.61, "latency|ms": 12, "_step": 3},
    )
    return work


@pytest.fixture
def work(runs_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the session repository, as the current directory.

    The run folders keep their absolute paths inside their logs; nothing here
    depends on that, and the copy's own ``wandb/`` is what the index reads.
    """
    copy = tmp_path / "work"
    shutil.copytree(runs_repo, copy, symlinks=True)
    (copy / ".ragguard.yaml").write_text(POLICY)
    monkeypatch.chdir(copy)
    return copy


def _add_run(work: Path, run_id: str, **kwargs: object) -> None:
    wandbgen.write_run(work, run_id=run_id, **kwargs)  # type: ignore[arg-type]


# --- doc init -----------------------------------------------------------------


def test_doc_init_writes_the_golden_doc(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doc", "init"]) == 0
    assert capsys.readouterr().out == (
        f"created {DOC.as_posix()} (2 runs)\n"
        "next: write its Goal and Hypothesis, then"
        f" git add -- {DOC.as_posix()} && git commit\n"
    )
    written = (work / DOC).read_text(encoding="utf-8")
    golden = GOLDEN / "branch_doc.md"
    if os.environ.get("RAGGUARD_UPDATE_GOLDEN"):
        golden.write_text(written, encoding="utf-8")
    assert written == golden.read_text(encoding="utf-8")
    assert not doc_is_filled(written)


def test_doc_init_names_another_branch(work: Path) -> None:
    git(work, "switch", "-q", "main")
    assert main(["doc", "init", "exp/bm25"]) == 0
    assert "bm25good" in (work / DOC).read_text(encoding="utf-8")
    assert main(["doc", "init"]) == 0
    main_doc = (work / "docs/branches/main.md").read_text(encoding="utf-8")
    assert "bm25good" not in main_doc


def test_doc_init_refuses_to_overwrite_without_force(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / DOC).parent.mkdir(parents=True)
    (work / DOC).write_bytes(b"# mine\n")
    assert main(["doc", "init"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err
    assert (work / DOC).read_bytes() == b"# mine\n"
    assert main(["doc", "init", "--force"]) == 0
    assert "replaced" in capsys.readouterr().out
    assert BEGIN in (work / DOC).read_text(encoding="utf-8")


def test_doc_init_uses_the_policy_template(work: Path) -> None:
    (work / "tpl").mkdir()
    (work / "tpl/doc.md").write_text(
        f"# {{branch}}\n\n## Goal\n\n## Runs\n\n{BEGIN}\n{END}\n\nTeam footer\n"
    )
    (work / ".ragguard.yaml").write_text(
        POLICY + "branches:\n  doc_template: tpl/doc.md\n"
    )
    assert main(["doc", "init"]) == 0
    text = (work / DOC).read_text(encoding="utf-8")
    assert text.startswith("# exp/bm25\n") and text.endswith("\nTeam footer\n")
    assert "bm25good" in text


def test_a_template_without_markers_gets_a_runs_section(work: Path) -> None:
    (work / "doc.md").write_text("# {branch}\n\n## Goal\n")
    (work / ".ragguard.yaml").write_text("branches:\n  doc_template: doc.md\n")
    assert main(["doc", "init"]) == 0
    text = (work / DOC).read_text(encoding="utf-8")
    assert text.index("## Goal") < text.index("## Runs") < text.index(BEGIN)


def test_a_missing_template_is_one_line(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / ".ragguard.yaml").write_text("branches:\n  doc_template: nope.md\n")
    assert main(["doc", "init"]) == Exit.BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1
    assert not (work / DOC).exists()


def test_doc_init_on_a_missing_branch_or_detached_head(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doc", "init", "exp/none"]) == Exit.BAD_INPUT
    assert "does not exist" in capsys.readouterr().err
    git(work, "switch", "-q", "--detach", "HEAD")
    assert main(["doc", "init"]) == Exit.BAD_INPUT
    assert "detached" in capsys.readouterr().err
    assert not (work / "docs").exists()


def test_doc_init_refuses_a_branch_that_would_escape(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doc", "init", "../../escape"]) == Exit.BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1
    assert not (work.parent / "escape.md").exists()


# --- doc update ---------------------------------------------------------------

_HUMAN_BEFORE = (
    b"# Branch `exp/bm25`  \r\n"  # CRLF and trailing spaces must survive
    b"\r\n## Goal\r\n\r\nBeat dense recall@5 by 2 points.\t\r\n"
    b"\r\n## Runs\r\n\r\n"
) + b"caf\xe9 is latin-1, not UTF-8\r\n"
_HUMAN_AFTER = "\r\n## Decision\r\n\r\nMerge — if mrr holds.".encode()  # no final EOL


def test_doc_update_keeps_human_text_byte_for_byte(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = f"{BEGIN}\r\nold table\r\n{END}".encode()
    (work / DOC).parent.mkdir(parents=True)
    (work / DOC).write_bytes(_HUMAN_BEFORE + stale + _HUMAN_AFTER)
    _add_run(work, "bm25late", tags=["retriever:bm25"], summary={"recall@5": 0.83})

    assert main(["doc", "update"]) == 0
    assert capsys.readouterr().out == f"updated {DOC.as_posix()} (3 runs)\n"

    data = (work / DOC).read_bytes()
    assert data.startswith(_HUMAN_BEFORE + BEGIN.encode())
    assert data.endswith(END.encode() + _HUMAN_AFTER)
    block = data[len(_HUMAN_BEFORE) : -len(_HUMAN_AFTER)].decode()
    assert "old table" not in block
    assert "bm25late" in block and "bm25good" in block and "main0001" not in block
    assert "\n" not in block.replace("\r\n", "")  # the doc's own line endings
    assert doc_is_filled(data.decode("utf-8", "surrogateescape"))


def test_doc_update_twice_changes_nothing(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doc", "init"]) == 0
    before = (work / DOC).read_bytes()
    assert main(["doc", "update"]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert (work / DOC).read_bytes() == before


@pytest.mark.parametrize(
    "body",
    [
        f"{BEGIN}\nno end\n",
        f"no begin\n{END}\n",
        f"{END}\nreversed\n{BEGIN}\n",
        f"{BEGIN}\n{BEGIN}\n{END}\n",
        f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n",
        "no markers at all\n",
    ],
)
def test_broken_markers_are_one_line_and_write_nothing(
    work: Path, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    original = f"# Branch\n\n## Goal\n\nKeep me.\n\n{body}".encode()
    (work / DOC).parent.mkdir(parents=True)
    (work / DOC).write_bytes(original)
    os.utime(work / DOC, (1_000_000_000, 1_000_000_000))

    assert main(["doc", "update"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and DOC.as_posix() in err
    assert (work / DOC).read_bytes() == original
    assert (work / DOC).stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in (work / DOC).parent.iterdir()) == ["bm25.md"]


def test_doc_update_without_a_doc_points_at_init(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doc", "update"]) == Exit.BAD_INPUT
    assert "ragguard doc init" in capsys.readouterr().err


def test_a_folder_where_the_doc_should_be_is_a_one_line_error(tmp_path: Path) -> None:
    from ragguard.config import DEFAULT_POLICY
    from ragguard.docs import init_doc, update_doc
    from ragguard.errors import BadInputError

    (tmp_path / "docs" / "branches" / "exp" / "a.md").mkdir(parents=True)
    with pytest.raises(BadInputError, match="is not a file"):
        init_doc(tmp_path, "exp/a", [], DEFAULT_POLICY, force=True)
    with pytest.raises(BadInputError, match="cannot be read"):
        update_doc(tmp_path, "exp/a", [], DEFAULT_POLICY)
