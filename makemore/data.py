"""Word lists: loading and checking them, the character vocabulary, splits and context windows.

A dataset is a list of words, one per line. Each word becomes a sequence of
(context, next character) pairs, with a boundary token marking both ends:

    block_size=3, word "emma":   ... -> e,  ..e -> m,  .em -> m,  emm -> a,  mma -> .
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from makemore import limits

# Tried in order: the first that does not occur in the data marks the start and end of a word.
BOUNDARY_CANDIDATES = ".#|~_^$*@%&+=!?;:/<>0123456789·␃"
UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format, unassigned, line breaks
SPLIT_SEED = 42
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


class DataError(ValueError):
    """A word list we cannot use; the message says what was wrong and where."""


# -----------------------------------------------------------------------------------------------
# loading and checking


def too_big(source: str, size: int) -> DataError:
    limit = limits.MAX_FILE_BYTES
    return DataError(f"{source} is {size:,} bytes; the limit is {limit:,} bytes ({limit / 1e6:g} MB).")


def parse_words(raw: bytes, source: str = "the file") -> tuple[list[str], int]:
    """Check raw bytes and return (words, number of duplicate lines).

    Words are kept as written (after Unicode NFC normalisation and trimming of spaces and line
    endings at both ends); blank lines are dropped; duplicates are kept, as the lecture keeps them.
    """
    if len(raw) == 0:
        raise DataError(f"{source} is empty: it needs one word per line.")
    if len(raw) > limits.MAX_FILE_BYTES:
        raise too_big(source, len(raw))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{source} is UTF-16 text; save it as UTF-8 and upload it again.")
    if b"\x00" in raw:
        raise DataError(f"{source} looks like a binary file (it contains NUL bytes), not a text word list.")
    try:
        text = raw.decode("utf-8-sig")  # -sig: drop a byte-order mark some editors add
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{source} is not UTF-8 text: undecodable byte on line {line}.") from None

    words: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # line numbers as editors count them
    for lineno, line in enumerate(lines, start=1):
        word = unicodedata.normalize("NFC", line.strip())
        if not word:
            continue
        if len(word) > limits.MAX_WORD_LEN:
            raise DataError(
                f"line {lineno} of {source} is {len(word)} characters long; "
                f"words may have at most {limits.MAX_WORD_LEN}."
            )
        bad = next((c for c in word if unicodedata.category(c) in UNPRINTABLE), None)
        if bad is not None:
            raise DataError(f"line {lineno} of {source} contains a control character ({bad!r}).")
        words.append(word)
        if len(words) > limits.MAX_WORDS:
            raise DataError(f"{source} has more than {limits.MAX_WORDS:,} words; use a shorter list.")

    if len(words) < limits.MIN_WORDS:
        what = "no usable words" if not words else f"only {len(words)} word{'s' * (len(words) != 1)}"
        raise DataError(f"{source} has {what}; it needs at least {limits.MIN_WORDS}, one per line.")
    total = sum(len(w) for w in words)
    if total > limits.MAX_TOTAL_CHARS:
        raise DataError(
            f"{source} has {total:,} characters in all; the limit is {limits.MAX_TOTAL_CHARS:,}."
        )
    n_chars = len(set("".join(words)))
    if n_chars > limits.MAX_VOCAB:
        raise DataError(
            f"{source} uses {n_chars} distinct characters; the limit is {limits.MAX_VOCAB} "
            "(lower-case the words or drop the rare characters)."
        )
    return words, len(words) - len(set(words))


# -----------------------------------------------------------------------------------------------
# vocabulary


@dataclass(frozen=True)
class Vocab:
    """Characters <-> integer ids. Id 0 is the boundary token that starts and ends every word."""

    chars: tuple[str, ...]  # the characters of the data, sorted
    boundary: str = "."

    @classmethod
    def from_words(cls, words: list[str]) -> Vocab:
        chars = sorted(set("".join(words)))
        boundary = next((b for b in BOUNDARY_CANDIDATES if b not in chars), None)
        if boundary is None:  # unreachable while MAX_VOCAB < len(BOUNDARY_CANDIDATES) + 2
            raise DataError("no character is left to mark the ends of words.")
        return cls(tuple(chars), boundary)

    @cached_property
    def itos(self) -> tuple[str, ...]:
        return (self.boundary, *self.chars)

    @cached_property
    def stoi(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.chars) + 1

    def encode(self, word: str) -> list[int]:
        stoi = self.stoi
        return [stoi[c] for c in word]

    def decode(self, ids) -> str:
        itos = self.itos
        return "".join(itos[int(i)] for i in ids)


# -----------------------------------------------------------------------------------------------
# splits and examples


def split_words(
    words: list[str], seed: int = SPLIT_SEED, fractions=SPLIT_FRACTIONS
) -> dict[str, list[str]]:
    """Shuffle with a fixed seed and cut into train/val/test (80/10/10 by default)."""
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    n1 = int(fractions[0] * len(shuffled))
    n2 = int((fractions[0] + fractions[1]) * len(shuffled))
    return {"train": shuffled[:n1], "val": shuffled[n1:n2], "test": shuffled[n2:]}


def build_examples(words: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (context, next id) pairs of the words: X is (N, block_size), Y is (N,), both int64."""
    xs, ys = [], []
    for word in words:
        context = [0] * block_size
        for ix in vocab.encode(word) + [0]:
            xs.append(context)
            ys.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(xs, dtype=torch.long).view(-1, block_size), torch.tensor(ys, dtype=torch.long)


@dataclass
class WordDataset:
    """A checked word list with its vocabulary and splits; the unit every model trains on."""

    name: str
    words: list[str]
    n_duplicates: int = 0
    vocab: Vocab = field(init=False)
    splits: dict[str, list[str]] = field(init=False)
    fingerprint: str = field(init=False)  # identifies the content, whatever the file was called
    _examples: dict = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self):
        self.vocab = Vocab.from_words(self.words)
        self.splits = split_words(self.words)
        self.fingerprint = hashlib.sha256("\n".join(self.words).encode()).hexdigest()[:16]

    @classmethod
    def from_bytes(cls, raw: bytes, name: str) -> WordDataset:
        words, n_duplicates = parse_words(raw, source=name)
        return cls(name, words, n_duplicates)

    @classmethod
    def from_file(cls, path) -> WordDataset:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file.")
        size = path.stat().st_size
        if size > limits.MAX_FILE_BYTES:  # refuse before reading it into memory
            raise too_big(path.name, size)
        return cls.from_bytes(path.read_bytes(), path.name)

    def examples(self, split: str, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(X, Y) of one split for one context length, built once and kept."""
        key = (split, block_size)
        if key not in self._examples:
            self._examples[key] = build_examples(self.splits[split], self.vocab, block_size)
        return self._examples[key]

    def stats(self) -> dict:
        lengths = [len(w) for w in self.words]
        return {
            "words": len(self.words),
            "distinct words": len(set(self.words)),
            "duplicates": self.n_duplicates,
            "vocabulary": len(self.vocab),
            "shortest": min(lengths),
            "longest": max(lengths),
            "mean length": sum(lengths) / len(lengths),
            **{f"{k} words": len(v) for k, v in self.splits.items()},
        }

    def length_counts(self) -> Counter:
        return Counter(len(w) for w in self.words)

    def char_counts(self) -> Counter:
        return Counter("".join(self.words))

    def position_counts(self) -> tuple[Counter, Counter]:
        """How often each character starts and ends a word."""
        return Counter(w[0] for w in self.words), Counter(w[-1] for w in self.words)
