"""A retrieval corpus built from the standard library's own docstrings.

Every Python install carries these texts, so the demo needs no download and no
network. Each public function, class or method with a docstring of at least a
summary sentence and a body yields one passage and one question:

* the **question** is the docstring's first sentence, the summary a person
  wrote to say what the object does;
* the **passage** is the object's dotted name followed by the *rest* of the
  docstring, which never contains that first sentence.

So a retriever must find the detailed description from its one-line summary:
the words they share are the ones the author happened to reuse, not a copied
string. Summaries that occur more than once are dropped as questions (they have
no single right answer) but their passages stay in the corpus as distractors.

The corpus is deterministic for a given Python version; docstrings change
between versions, so scores do too.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType

# Pure-Python modules present on every CPython build, chosen for prose-rich
# docstrings; C-accelerated modules document little.
MODULES: tuple[str, ...] = (
    "argparse",
    "base64",
    "calendar",
    "configparser",
    "contextlib",
    "csv",
    "difflib",
    "email.message",
    "email.utils",
    "fnmatch",
    "fractions",
    "ftplib",
    "glob",
    "gzip",
    "imaplib",
    "ipaddress",
    "json",
    "logging",
    "mailbox",
    "optparse",
    "pathlib",
    "pprint",
    "queue",
    "random",
    "shlex",
    "shutil",
    "smtplib",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "urllib.parse",
    "uuid",
    "zipfile",
)

MIN_SUMMARY_WORDS = 4
MIN_BODY_WORDS = 12
MAX_BODY_WORDS = 150

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True)
class Passage:
    id: str  # the documented object's dotted name
    text: str


@dataclass(frozen=True)
class Question:
    text: str
    answer: str  # id of the one passage that answers it


@dataclass(frozen=True)
class Dataset:
    passages: tuple[Passage, ...]
    questions: tuple[Question, ...]


def build_dataset(modules: Sequence[str] = MODULES) -> Dataset:
    """Split the named modules' docstrings into passages and questions."""
    pairs = sorted(_pairs(modules))
    counts = Counter(summary.lower() for _, summary, _ in pairs)
    passages = tuple(Passage(name, f"{name}. {body}") for name, _, body in pairs)
    questions = tuple(
        Question(summary, name)
        for name, summary, _ in pairs
        if counts[summary.lower()] == 1
    )
    return Dataset(passages, questions)


def _pairs(modules: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    seen: set[str] = set()
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, obj in _documented(module):
            split = split_docstring(inspect.cleandoc(obj.__doc__ or ""))
            if split and name not in seen:
                seen.add(name)
                yield name, split[0], split[1]


def _documented(module: ModuleType) -> Iterator[tuple[str, object]]:
    """Public functions and classes defined in ``module``, and their methods."""
    for attr in sorted(_public_names(module)):
        obj = getattr(module, attr, None)
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # re-exported from elsewhere
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{attr}", obj
        elif inspect.isclass(obj):
            yield f"{module.__name__}.{attr}", obj
            for meth_name, meth in sorted(vars(obj).items()):
                if not meth_name.startswith("_") and inspect.isfunction(meth):
                    yield f"{module.__name__}.{attr}.{meth_name}", meth


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def split_docstring(doc: str) -> tuple[str, str] | None:
    """``(summary, body)`` of a docstring, or None when either is too short.

    The summary is the first sentence of the first paragraph; the body is all
    the rest, whitespace-normalised and cut to ``MAX_BODY_WORDS`` words.
    """
    words = doc.split()
    if not words:
        return None
    first_para, _, rest = doc.partition("\n\n")
    first_para = " ".join(first_para.split())
    sentence, tail = (*_SENTENCE_END.split(first_para, maxsplit=1), "")[:2]
    summary = sentence.strip()
    body_words = f"{tail} {rest}".split()[:MAX_BODY_WORDS]
    if len(summary.split()) < MIN_SUMMARY_WORDS or len(body_words) < MIN_BODY_WORDS:
        return None
    return summary, " ".join(body_words)
