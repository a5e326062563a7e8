"""The demo: its corpus, its retrievers, and the narrated protocol end to end."""

from __future__ import annotations

import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

import pytest

from ragguard.cli import main
from ragguard.demo import corpus, experiment, play
from ragguard.errors import Exit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset() -> corpus.Dataset:
    return corpus.build_dataset()


# --- the corpus ---------------------------------------------------------------


def test_corpus_has_a_few_hundred_passages_and_is_deterministic(
    dataset: corpus.Dataset,
) -> None:
    assert 300 <= len(dataset.passages) <= 1000
    assert len(dataset.questions) >= 200
    assert corpus.build_dataset() == dataset


def test_every_question_has_exactly_one_answer_passage(
    dataset: corpus.Dataset,
) -> None:
    ids = [p.id for p in dataset.passages]
    assert len(ids) == len(set(ids))
    assert {q.answer for q in dataset.questions} <= set(ids)
    texts = [q.text.lower() for q in dataset.questions]
    assert len(texts) == len(set(texts))


def test_no_question_is_copied_into_its_answer(dataset: corpus.Dataset) -> None:
    by_id = {p.id: p.text for p in dataset.passages}
    copied = [q for q in dataset.questions if q.text in by_id[q.answer]]
    assert copied == []


def test_split_docstring_takes_the_first_sentence_as_the_question() -> None:
    doc = (
        "Copy a directory tree recursively. Symlinks are kept.\n\n"
        "The destination must not exist yet; it is created along with any "
        "missing parent folders."
    )
    summary, body = corpus.split_docstring(doc) or ("", "")
    assert summary == "Copy a directory tree recursively."
    assert body.startswith("Symlinks are kept. The destination must not exist")


@pytest.mark.parametrize(
    "doc",
    ["", "Too short.", "Return the thing you asked for.", "One two three four."],
)
def test_split_docstring_refuses_docs_without_a_summary_and_a_body(doc: str) -> None:
    assert corpus.split_docstring(doc) is None


# --- the retrievers -----------------------------------------------------------


@pytest.mark.parametrize("config", experiment.CONFIGS, ids=lambda c: c.name)
def test_each_retriever_finds_most_answers(
    config: experiment.RetrieverConfig, dataset: corpus.Dataset
) -> None:
    metrics = experiment.evaluate(config, dataset)
    recalls = [metrics[f"eval/recall@{k}"] for k in experiment.KS]
    assert recalls == sorted(recalls)
    assert recalls[0] <= metrics["eval/mrr"] <= 1.0
    # Chance would find 10 of 391 passages' answers in the top 10: 2.6 %.
    assert recalls[-1] > 0.6


def test_answer_ranks_break_ties_in_passage_order() -> None:
    import numpy as np

    data = corpus.Dataset(
        passages=(corpus.Passage("a", "x"), corpus.Passage("b", "y")),
        questions=(corpus.Question("q1", "a"), corpus.Question("q2", "b")),
    )
    scores = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert experiment.answer_ranks(scores, data).tolist() == [1, 2]
    assert experiment.metrics_of(np.array([1, 2]))["eval/mrr"] == 0.75


def test_tags_and_config_name_the_retriever_and_its_parameters() -> None:
    config = experiment.CONFIGS[0]
    assert config.tags() == ["retriever:bm25", "variant:okapi", "k1:1.2", "b:0.75"]
    assert config.wandb_config()["retriever"] == {
        "type": "bm25",
        "variant": "okapi",
        "k1": 1.2,
        "b": 0.75,
    }


def test_table_lists_the_best_run_first_and_demo_reads_it_back() -> None:
    results = [
        experiment.Result(c, {**_metrics(mrr)}, run_id=f"run{i}")
        for i, (c, mrr) in enumerate(zip(experiment.CONFIGS, (0.2, 0.9), strict=False))
    ]
    table = experiment.format_table(results)
    assert table.splitlines()[1].split()[:2] == [experiment.CONFIGS[1].name, "run1"]
    assert play.best_run_id(f"corpus: 1 passages\n{table}") == "run1"


def _metrics(mrr: float) -> dict[str, float]:
    return {**{f"eval/recall@{k}": mrr for k in experiment.KS}, "eval/mrr": mrr}


def test_experiment_writes_one_real_offline_wandb_run_per_config(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ragguard.demo.experiment", "--config", "tfidf"]
        + ["--wandb", "demo-test"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = play.best_run_id(proc.stdout)
    assert run_id
    (folder,) = (tmp_path / "wandb").glob(f"offline-run-*-{run_id}")
    log = folder / f"run-{run_id}.wandb"
    assert log.read_bytes()[:4] == b":W&B"
    assert not log.with_name(log.name + ".synced").exists()

    from ragguard.runs.index import load_runs

    (run,) = load_runs([tmp_path / "wandb"])
    assert (run.id, run.state, run.sync) == (run_id, "finished", "unsynced")
    assert run.project == "demo-test"
    assert "retriever:tfidf" in run.tags and "ngram:1-1" in run.tags
    assert run.config_value("retriever.type") == "tfidf"
    assert 0.0 < run.summary["eval/mrr"] <= 1.0


# --- the narrated protocol ----------------------------------------------------


def test_fill_doc_turns_the_template_into_a_filled_doc() -> None:
    from ragguard.docs import doc_is_filled

    template = (ROOT / "ragguard" / "templates" / "branch-doc.md").read_text()
    assert not doc_is_filled(template)
    filled = play.fill_doc(template)
    assert doc_is_filled(filled)
    assert play.GOAL in filled.split("## Goal", 1)[1].split("##", 1)[0]


def test_demo_policy_is_valid_and_ranks_runs_by_the_experiments_metric() -> None:
    from ragguard.config import parse_policy

    policy = parse_policy(play.POLICY)
    assert policy.report.metric == experiment.METRIC
    tags = experiment.CONFIGS[0].tags()
    assert all(any(fnmatch(t, p) for t in tags) for p in policy.runs.require_tags)


def test_demo_env_drops_git_hook_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/somewhere/.git")
    monkeypatch.setenv("GIT_INDEX_FILE", "/somewhere/.git/index")
    monkeypatch.setenv("RAGGUARD_SKIP", "all")
    monkeypatch.setenv("WANDB_DIR", "/elsewhere")
    env = play.demo_env()
    assert "GIT_DIR" not in env and "GIT_INDEX_FILE" not in env
    assert "RAGGUARD_SKIP" not in env and "WANDB_DIR" not in env
    assert env["WANDB_MODE"] == "offline"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"


def test_demo_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    assert main(["demo", str(tmp_path), "--keep-going"]) == Exit.BAD_INPUT
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_demo_says_how_to_install_its_extras_when_they_are_missing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(play, "DEMO_MODULES", ("no_such_module_for_the_demo",))
    assert main(["demo", str(tmp_path / "d"), "--keep-going"]) == Exit.ENVIRONMENT
    assert "pip install 'ragguard[demo]'" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def _fake_steps(
    results: list[str | None],
) -> list[tuple[str, object]]:
    return [(f"step {i}", lambda r=r: r) for i, r in enumerate(results)]


@pytest.mark.parametrize(
    ("keep_going", "played", "pauses"),
    [(False, 2, 1), (True, 3, 0)],
)
def test_demo_stops_at_a_failing_step_unless_told_to_keep_going(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    keep_going: bool,
    played: int,
    pauses: int,
) -> None:
    monkeypatch.setattr(
        play.Demo, "steps", lambda self: _fake_steps([None, "broke", None])
    )
    lines: list[str] = []
    paused: list[int] = []
    code = play.play(
        tmp_path / "d",
        keep_going=keep_going,
        echo=lines.append,
        pause=lambda: paused.append(1),
    )
    assert code == 1
    assert sum(line.startswith("\n== ") for line in lines) == played + 1
    assert "!! step 1 FAILED: broke" in lines
    assert len(paused) == pauses


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, float]:
    """One real demo, played through the CLI with no terminal attached."""
    root = tmp_path_factory.mktemp("demo") / "project"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ragguard", "demo", str(root), "--keep-going"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - started


def test_demo_plays_every_step_as_the_protocol_says(
    transcript: tuple[int, str, float],
) -> None:
    code, out, _ = transcript
    assert "FAILED" not in out, out
    assert code == 0, out
    assert "every step went as the protocol says" in out


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("1. Run the retrieval experiment", ["$ python retrieve.py", "bm25-k1.2"]),
        ("2. Commit without the run folders", ["staged-runs", "git rm -r"]),
        ("3. Document the experiment branch", ["branch-doc", "$ ragguard doc init"]),
        ("4. Push only synced runs", ["runs-synced", "wandb sync ", "no W&B server"]),
        ("5. Switch branches", ["$ git switch exp/bm25-k1", "exp/tfidf-bigrams"]),
    ],
)
def test_each_step_shows_the_command_and_ragguards_own_output(
    transcript: tuple[int, str, float], step: str, expected: list[str]
) -> None:
    _, out, _ = transcript
    section = out.split(f"== {step} ==", 1)[1].split("\n== ", 1)[0]
    for text in expected:
        assert text in section, section
    assert "\n-> " in section  # one line of narration


def test_demo_leaves_its_project_for_the_user(
    transcript: tuple[int, str, float],
) -> None:
    _, out, _ = transcript
    work = Path(out.split("throwaway RAG project in ", 1)[1].split("\n", 1)[0])
    assert (work / ".git" / "hooks" / "pre-push").exists()
    assert len(list((work / "wandb").glob("offline-run-*"))) == 6
    assert (work.parent / "origin.git").is_dir()


def test_demo_finishes_within_a_minute(transcript: tuple[int, str, float]) -> None:
    _, _, seconds = transcript
    assert seconds < 60  # about 6 s on a laptop; the margin is for a busy CI


def test_switch_summary_lists_the_arrived_branchs_runs_best_first(
    transcript: tuple[int, str, float],
) -> None:
    _, out, _ = transcript
    table = out.split("$ python retrieve.py\n", 1)[1].split("\n$ ", 1)[0]
    ids = [line.split()[1] for line in table.splitlines()[2:]]  # best first
    assert len(ids) == 5
    summary = out.split("$ git switch exp/bm25-k1\n", 1)[1]
    positions = [summary.find(run_id) for run_id in ids]
    assert min(positions) >= 0
    assert positions[0] == min(positions)
