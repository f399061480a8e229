"""A room's word list: every member trains and compares on the same words. A built-in list (data/)
is kept by its name and fingerprint; an uploaded one by its words too, so that the room still has
them after a restart, on another server, or when the teacher's browser is gone."""

from __future__ import annotations

from pathlib import Path

from makemore.data import DataError, WordDataset

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def builtin_names() -> list[str]:
    return sorted(p.name for p in DATA_DIR.glob("*.txt"))


def room_list(dataset: WordDataset) -> tuple[str, str, str | None]:
    """(name, fingerprint, words) to store with a room: words is None for a built-in list with
    this content, else the words themselves, one a line."""
    path = DATA_DIR / dataset.name
    if dataset.name in builtin_names() and WordDataset.from_file(path).fingerprint == dataset.fingerprint:
        return dataset.name, dataset.fingerprint, None
    return dataset.name, dataset.fingerprint, "\n".join(dataset.words)


def room_dataset(name: str, fingerprint: str, words: str | None) -> WordDataset:
    """The room's words as a dataset (its fingerprint is the one stored); DataError when the
    built-in list it names is gone or has changed since the room was opened."""
    if words is None:
        if name not in builtin_names():
            raise DataError(f"This room trains on {name}, which this server does not have.")
        dataset = WordDataset.from_file(DATA_DIR / name)
    else:
        dataset = WordDataset.from_bytes(words.encode("utf-8"), name)
    if dataset.fingerprint != fingerprint:
        raise DataError(f"This room's list {name} has changed since the room was opened.")
    return dataset
