"""``ragguard runs`` option handling: values that mean nothing are refused
with one line and exit 6, before any run is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragguard.cli import main
from ragguard.errors import Exit


def runs(
    args: list[str],
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = main(["runs", *args])
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("value", ["-5", "-0.5", "nan", "inf", "-inf"])
def test_stale_after_must_be_a_finite_number_of_seconds(
    value: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = runs(["--stale-after", value], repo, monkeypatch, capsys)
    assert code == Exit.BAD_INPUT
    assert err.startswith("ragguard: --stale-after ") and err.count("\n") == 1
    assert "give a number of seconds, 0 or more." in err


@pytest.mark.parametrize("value", ["0", "0.5", "900"])
def test_stale_after_zero_or_more_is_accepted(
    value: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert runs(["--stale-after", value], repo, monkeypatch, capsys) == (0, "")


@pytest.mark.parametrize("value", ["zzz", "abc", "", "HEAD", "abcd-1234", "a" * 65])
def test_commit_must_be_4_to_64_hex_digits(
    value: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = runs(["--commit", value], repo, monkeypatch, capsys)
    assert code == Exit.BAD_INPUT
    assert err == (
        f"ragguard: --commit {value!r}: give a commit id or a prefix of it, "
        "4 to 64 hexadecimal digits.\n"
    )


@pytest.mark.parametrize("value", ["abcd", "ABCD12", "0" * 40, "f" * 64])
def test_hex_commit_prefixes_are_accepted(
    value: str,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert runs(["--commit", value], repo, monkeypatch, capsys) == (0, "")


def test_dir_that_is_a_file_is_not_a_folder(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = runs(["--dir", "README.md"], repo, monkeypatch, capsys)
    assert (code, err) == (
        Exit.BAD_INPUT,
        "ragguard: --dir README.md: is not a folder; give the folder of runs.\n",
    )
    code, err = runs(["--dir", "missing"], repo, monkeypatch, capsys)
    assert (code, err) == (Exit.BAD_INPUT, "ragguard: --dir missing: no such folder.\n")
    (repo / "gone").symlink_to("nowhere")
    code, err = runs(["--dir", "gone"], repo, monkeypatch, capsys)
    assert err == "ragguard: --dir gone: no such folder.\n"
