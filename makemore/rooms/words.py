"""A room's word list: a built-in list (data/*.txt) is kept by its name, any other list by its words,
so that every member of a room trains and compares on the same words."""

from __future__ import annotations

from pathlib import Path

from makemore.data import WordDataset

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def room_list(dataset: WordDataset) -> dict:
    """What create_room and set_words store for this list: its name, fingerprint and (for a list
    that is not built in) its words."""
    builtin = DATA_DIR / dataset.name
    is_builtin = (builtin.parent == DATA_DIR and builtin.is_file()
                  and WordDataset.from_file(builtin).fingerprint == dataset.fingerprint)
    return {"dataset": dataset.name, "fingerprint": dataset.fingerprint,
            "words": None if is_builtin else "\n".join(dataset.words)}


def room_dataset(room) -> WordDataset:
    """The words a room trains on."""
    if room.words is None:
        return WordDataset.from_file(DATA_DIR / room.dataset)
    return WordDataset.from_bytes(room.words.encode("utf-8"), room.dataset)
