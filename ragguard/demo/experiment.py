"""The demo's retrieval experiment: BM25 and TF-IDF over the docstring corpus.

Each configuration ranks every passage for every question
(:mod:`ragguard.demo.corpus`) and is scored by recall@k (the answer is in the
top k) and MRR (mean reciprocal rank of the answer). With ``--wandb`` each
configuration is one real W&B run, offline unless ``WANDB_MODE`` says
otherwise, tagged and configured with its retriever type and parameters, the
way the team protocol asks.

``python -m ragguard.demo.experiment --help`` runs it by hand. numpy,
scikit-learn, rank_bm25 and wandb are imported only when a run needs them.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragguard.demo.corpus import Dataset, build_dataset

if TYPE_CHECKING:
    import numpy as np

KS: tuple[int, ...] = (1, 5, 10)
METRIC = "eval/mrr"  # the metric the demo's policy ranks runs by
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class RetrieverConfig:
    """One configuration of one retriever: what a W&B run is made of."""

    name: str
    type: str  # "bm25" or "tfidf"
    params: Mapping[str, Any] = field(default_factory=dict)

    def tags(self) -> list[str]:
        return [f"retriever:{self.type}"] + [
            f"{key}:{value}" for key, value in self.params.items()
        ]

    def wandb_config(self) -> dict[str, Any]:
        return {"retriever": {"type": self.type, **self.params}, "eval": {"k": KS}}


CONFIGS: tuple[RetrieverConfig, ...] = (
    RetrieverConfig("bm25-k1.2", "bm25", {"variant": "okapi", "k1": 1.2, "b": 0.75}),
    RetrieverConfig("bm25-k0.9", "bm25", {"variant": "okapi", "k1": 0.9, "b": 0.4}),
    RetrieverConfig("bm25plus", "bm25", {"variant": "plus", "k1": 1.2, "b": 0.75}),
    RetrieverConfig("tfidf", "tfidf", {"ngram": "1-1", "sublinear_tf": True}),
    RetrieverConfig("tfidf-bigram", "tfidf", {"ngram": "1-2", "sublinear_tf": True}),
)


@dataclass(frozen=True)
class Result:
    config: RetrieverConfig
    metrics: Mapping[str, float]
    run_id: str | None = None
    run_dir: str | None = None


def tokenize(text: str) -> list[str]:
    """Lower-case alphanumeric tokens without English stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [t for t in _TOKEN.findall(text.lower()) if t not in ENGLISH_STOP_WORDS]


def score_matrix(config: RetrieverConfig, dataset: Dataset) -> np.ndarray:
    """Scores of every passage (columns) for every question (rows)."""
    scorers: dict[str, Callable[[RetrieverConfig, Dataset], np.ndarray]] = {
        "bm25": _bm25_scores,
        "tfidf": _tfidf_scores,
    }
    return scorers[config.type](config, dataset)


def _bm25_scores(config: RetrieverConfig, dataset: Dataset) -> np.ndarray:
    import numpy as np
    from rank_bm25 import BM25Okapi, BM25Plus

    params = dict(config.params)
    model_class = BM25Plus if params.pop("variant") == "plus" else BM25Okapi
    model = model_class([tokenize(p.text) for p in dataset.passages], **params)
    return np.vstack([model.get_scores(tokenize(q.text)) for q in dataset.questions])


def _tfidf_scores(config: RetrieverConfig, dataset: Dataset) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    low, high = (int(n) for n in str(config.params["ngram"]).split("-"))
    vectorizer = TfidfVectorizer(
        tokenizer=tokenize,
        token_pattern=None,
        lowercase=False,
        ngram_range=(low, high),
        sublinear_tf=bool(config.params.get("sublinear_tf")),
    )
    passages = vectorizer.fit_transform(p.text for p in dataset.passages)
    questions = vectorizer.transform(q.text for q in dataset.questions)
    # Rows are L2-normalised, so the dot product is the cosine similarity.
    return (questions @ passages.T).toarray()


def answer_ranks(scores: np.ndarray, dataset: Dataset) -> np.ndarray:
    """1-based rank of each question's answer; ties go to the earlier passage."""
    import numpy as np

    column = {p.id: i for i, p in enumerate(dataset.passages)}
    answers = np.array([column[q.answer] for q in dataset.questions])
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.argmax(order == answers[:, None], axis=1) + 1


def metrics_of(ranks: np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    found = {f"eval/recall@{k}": float((ranks <= k).mean()) for k in ks}
    return {**found, METRIC: float((1.0 / ranks).mean())}


def evaluate(config: RetrieverConfig, dataset: Dataset) -> dict[str, float]:
    return metrics_of(answer_ranks(score_matrix(config, dataset), dataset))


def run_experiment(
    configs: Sequence[RetrieverConfig],
    *,
    dataset: Dataset | None = None,
    project: str | None = None,
) -> list[Result]:
    """Evaluate each configuration; with a ``project``, log each as a W&B run."""
    data = dataset if dataset is not None else build_dataset()
    results = []
    for config in configs:
        results.append(_logged(config, evaluate(config, data), data, project))
    return results


def _logged(
    config: RetrieverConfig,
    metrics: dict[str, float],
    data: Dataset,
    project: str | None,
) -> Result:
    if project is None:
        return Result(config, metrics)
    import wandb

    run = wandb.init(
        project=project,
        name=config.name,
        tags=config.tags(),
        config={
            **config.wandb_config(),
            "corpus": {
                "passages": len(data.passages),
                "questions": len(data.questions),
                "source": f"stdlib docstrings, Python {sys.version.split()[0]}",
            },
        },
    )
    run.log(metrics)
    run_id, run_dir = run.id, run.dir
    run.finish()
    return Result(config, metrics, run_id, str(run_dir))


def format_table(results: Sequence[Result]) -> str:
    """Results best first by MRR, as a small plain-text table."""
    keys = [f"eval/recall@{k}" for k in KS] + [METRIC]
    header = ["config", "run"] + [k.split("/")[1] for k in keys]
    rows = [header] + [
        [r.config.name, r.run_id or "-"] + [f"{r.metrics[k]:.3f}" for k in keys]
        for r in sorted(results, key=lambda r: -r.metrics[METRIC])
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragguard.demo.experiment",
        description="BM25 and TF-IDF over the standard library's docstrings.",
    )
    names = [c.name for c in CONFIGS]
    parser.add_argument("--config", action="append", choices=names, help="repeat")
    parser.add_argument("--wandb", metavar="PROJECT", help="log each config as a run")
    args = parser.parse_args(argv)
    chosen = [c for c in CONFIGS if not args.config or c.name in args.config]
    dataset = build_dataset()
    print(
        f"corpus: {len(dataset.passages)} passages, "
        f"{len(dataset.questions)} questions (standard-library docstrings)"
    )
    print(format_table(run_experiment(chosen, dataset=dataset, project=args.wandb)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
