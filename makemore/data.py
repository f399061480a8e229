"""Word lists: loading and checking them, the character vocabulary, splits and context windows.

A dataset is a list of words, one per line, with a boundary token marking both ends of a word.
A model reads it in one of two layouts (its `layout`, see makemore.models):

- windows: each word becomes (context, next character) pairs, one row per character:

    block_size=3, word "emma":   ... -> e,  ..e -> m,  .em -> m,  emm -> a,  mma -> .

- words: each word becomes one row, the start token then its characters, with the next character
  as the target at every position, padded to the dataset's longest word (-1: no target):

    word "emma", longest word 6:   x = . e m m a . .    y = e m m a . -1 -1
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from makemore import limits

if TYPE_CHECKING:
    import torch

NO_TARGET = -1  # a padded position of a whole-word row: nothing to predict there (the loss skips it)

# Tried in order: the first that does not occur in the data marks the start and end of a word.
BOUNDARY_CANDIDATES = ".#|~_^$*@%&+=!?;:/<>0123456789·␃"
UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format, unassigned, line breaks
# Zero-width (non-)joiners are format characters that real words contain: emoji sequences (👩‍🔬) and
# Indic and Persian scripts. The other format characters (zero-width spaces, bidi overrides) are not.
JOINERS = {"\u200c", "\u200d"}
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}  # files read as tables whatever their content
HEADER_ROWS_CHECKED = 50  # rows under a table's first row that decide whether it is a header
SPLIT_SEED = 42
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
# The lectures' names.txt (data/names.txt), by content: a lecture's figure is shown only beside a
# result on this list, whatever the file was called (tests/test_data.py checks it is the file's).
LECTURE_FINGERPRINT = "0a30b5557f192f32"


class DataError(ValueError):
    """A word list we cannot use; the message says what was wrong and where."""


# -----------------------------------------------------------------------------------------------
# loading and checking


def too_big(source: str, size: int) -> DataError:
    limit = limits.MAX_FILE_BYTES
    return DataError(f"{source} is {size:,} bytes; the limit is {limit:,} bytes ({limit / 1e6:g} MB).")


@dataclass(frozen=True)
class WordList:
    words: list[str]
    n_duplicates: int
    notes: tuple[str, ...] = ()  # what was read beyond one word per line (a table's column), for the user


def parse_words(raw: bytes, source: str = "the file") -> tuple[list[str], int]:
    """(words, number of duplicate lines): read_words without its notes."""
    word_list = read_words(raw, source)
    return word_list.words, word_list.n_duplicates


def read_words(raw: bytes, source: str = "the file") -> WordList:
    """Check raw bytes and return the words, how many repeat, and notes on how they were read.

    Words are kept as written (after Unicode NFC normalisation and trimming of spaces and line
    endings at both ends): upper and lower case stay different characters, as do accented letters
    and emoji. Blank lines are dropped; duplicates are kept, as the lecture keeps them. A table (a
    .csv or .tsv, or a file whose every line has a comma or a tab) gives one column: see
    `table_column`.
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

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # line numbers as editors count them
    notes = []
    delimiter = table_delimiter(lines, source)
    if delimiter is not None:
        lines, note = table_column(lines, delimiter)
        notes.append(f"Read {source} as a {'CSV' if delimiter == ',' else 'tab-separated'} table: {note}")

    words: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        if line is None:  # a table's header row
            continue
        word = line.strip()
        plain_ascii = word.isascii() and word.isprintable()  # most words: already NFC, no control character
        if not plain_ascii:
            word = unicodedata.normalize("NFC", word)
        if not word:
            continue
        if len(word) > limits.MAX_WORD_LEN:
            raise DataError(
                f"line {lineno} of {source} is {len(word)} characters long; "
                f"words may have at most {limits.MAX_WORD_LEN}."
            )
        bad = None if plain_ascii else next(
            (c for c in word if unicodedata.category(c) in UNPRINTABLE and c not in JOINERS), None)
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
    chars = set("".join(words))
    if len(chars) > limits.MAX_VOCAB:
        raise DataError(
            f"{source} uses {len(chars)} distinct characters; the limit is {limits.MAX_VOCAB} "
            "(lower-case the words or drop the rare characters)."
        )
    both_cases = sorted(c for c in chars if c.isupper() and c.lower() in chars)
    if both_cases:
        shown = ", ".join(f"{c} and {c.lower()}" for c in both_cases[:3])
        notes.append(f"Upper and lower case are different characters here ({shown}"
                     f"{', …' if len(both_cases) > 3 else ''}); lower-case the file to merge them.")
    return WordList(words, len(words) - len(set(words)), tuple(notes))


def table_delimiter(lines: list[str], source: str) -> str | None:
    """The column separator if the file is a table (by its name, or a comma or a tab on every
    line), else None: a word list has no commas or tabs in its words."""
    suffix = Path(source).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return TABLE_SUFFIXES[suffix]
    filled = [line for line in lines if line.strip()]
    for delimiter in (",", "\t"):
        if filled and all(delimiter in line for line in filled):
            return delimiter
    return None


def table_column(lines: list[str], delimiter: str) -> tuple[list[str | None], str]:
    """The word column of a table, line for line (None for the header row), and a note saying which.

    The words are the first column that does not hold numbers (so `rank,name,count` gives the
    names). The first row is a header, and skipped, when some column holds numbers below it but
    not in it (`name,count` above `emma,20355`), or values of one length below it but not in it
    (`name,sex` above `emma,F`); the test Python's csv.Sniffer makes.
    """
    cells = [next(csv.reader([line], delimiter=delimiter), []) if line.strip() else [] for line in lines]
    cells = [[c.strip() for c in row] for row in cells]
    rows = [i for i, row in enumerate(cells) if any(row)]
    if not rows:
        return lines, "it has no rows."
    first, below = cells[rows[0]], [cells[i] for i in rows[1: 1 + HEADER_ROWS_CHECKED]]
    width = max(len(cells[i]) for i in rows)

    def column(j):
        return [row[j] for row in below if len(row) > j and row[j]]

    header = any(looks_like_header_cell(first[j] if j < len(first) else "", column(j)) for j in range(width))
    word_column = next((j for j in range(width) if column(j) and not all(map(is_number, column(j)))), 0)
    words: list[str | None] = [row[word_column] if len(row) > word_column else "" for row in cells]
    name = f"column {word_column + 1}"
    if header:
        words[rows[0]] = None
        name += f" (“{first[word_column]}”)" if word_column < len(first) and first[word_column] else ""
    note = f"the words are {name}" + (", under a header row, which is skipped." if header else
                                       " (the first row did not look like a header, so it is a word).")
    return words, note


def looks_like_header_cell(cell: str, below: list[str]) -> bool:
    if not below:
        return False
    if all(map(is_number, below)) and not is_number(cell):
        return True
    lengths = {len(c) for c in below}
    return len(lengths) == 1 and len(cell) not in lengths


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text.replace(",", "")))  # "nan" and "inf" are words here
    except ValueError:
        return False


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


def shown_char(c: str) -> str:
    return {" ": "a space", "`": "a backtick"}.get(c, f"`{c}`")


def typed_word(text: str, vocab: Vocab) -> tuple[str, list[int]]:
    """A word a student typed, as a model reads it: (the word, trimmed and NFC as the lists are, and
    its ids). DataError, saying what to change, when no model of this vocabulary can read it."""
    word = unicodedata.normalize("NFC", text or "").strip()
    if not word:
        raise DataError("Type a word (one character or more) to see how the model reads it.")
    if len(word) > limits.MAX_WORD_LEN:
        raise DataError(f"That is {len(word)} characters; the models read words of up to {limits.MAX_WORD_LEN}, "
                        "as long as a word of a list may be. Type a shorter one.")
    if vocab.boundary in word:
        raise DataError(f"{shown_char(vocab.boundary)} marks where words start and end in this list, so it cannot "
                        "be inside a word. Type the word without it.")
    unknown = list(dict.fromkeys(c for c in word if c not in vocab.stoi))
    if unknown:
        one = len(unknown) == 1
        message = (f"{', '.join(shown_char(c) for c in unknown)} {'is' if one else 'are'} not among the characters "
                   f"of this word list ({''.join(vocab.chars)}), so the model has never seen {'it' if one else 'them'}.")
        readable = readable_form(word, vocab)
        if readable == word.lower():
            message += f" This list has no capitals: try `{readable}`."
        elif readable is not None:
            lacks = "capitals or accents" if word != word.lower() else "accents"
            message += f" This list writes its words without {lacks}: try `{readable}`."
        raise DataError(message)
    return word, vocab.encode(word)


def readable_form(word: str, vocab: Vocab) -> str | None:
    """The word in this vocabulary's characters when only capitals or accents it lacks stand in the
    way ("Zoë" -> "zoe" for the names); None when that does not make it readable. A character the
    vocabulary has is kept as it is, accented or not."""
    def fitted(c: str) -> str:
        if c in vocab.stoi:
            return c
        if c.lower() in vocab.stoi:
            return c.lower()
        bare = "".join(part for part in unicodedata.normalize("NFKD", c) if not unicodedata.combining(part))
        return unicodedata.normalize("NFC", bare).lower()

    form = "".join(fitted(c) for c in word)
    return form if all(c in vocab.stoi for c in form) else None


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


# torch is imported where tensors are made, not at the top: reading and checking a word list (the
# sidebar, the home page's statistics) then needs no torch, and a cold server's first page comes a
# second sooner.


def build_examples(words: list[str], vocab: Vocab, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (context, next id) pairs of the words: X is (N, block_size), Y is (N,), both int64."""
    import torch

    # Each word becomes block_size boundary tokens, its ids and a closing boundary, all in one stream;
    # an example is a window of block_size ids and the id after it. Indexing the stream once is ten
    # times faster than building the windows in Python (0.5 s for the lectures' training words).
    stream, starts = [], []
    for word in words:
        ids = vocab.encode(word)
        starts.extend(range(len(stream), len(stream) + len(ids) + 1))
        stream += [0] * block_size + ids + [0]
    stream = torch.tensor(stream, dtype=torch.long)
    starts = torch.tensor(starts, dtype=torch.long)
    X = stream[starts.unsqueeze(1) + torch.arange(block_size)]
    return X.view(-1, block_size), stream[starts + block_size]


def build_sequences(words: list[str], vocab: Vocab, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole words padded to `length` positions: X and Y are (N, length) int64, X starting with the
    boundary token, Y the next id at each position and NO_TARGET (-1) past the word's end."""
    import torch

    X = torch.zeros(len(words), length, dtype=torch.long)  # padding reads as boundary tokens
    Y = torch.full((len(words), length), NO_TARGET, dtype=torch.long)
    for i, word in enumerate(words):
        ids = vocab.encode(word)
        X[i, 1 : len(ids) + 1] = torch.tensor(ids, dtype=torch.long)
        Y[i, : len(ids) + 1] = torch.tensor(ids + [0], dtype=torch.long)
    return X, Y


@dataclass
class WordDataset:
    """A checked word list with its vocabulary and splits; the unit every model trains on."""

    name: str
    words: list[str]
    n_duplicates: int = 0
    notes: tuple[str, ...] = ()  # how the file was read, when it was more than one word per line
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
        word_list = read_words(raw, source=name)
        return cls(name, word_list.words, word_list.n_duplicates, word_list.notes)

    @classmethod
    def from_file(cls, path) -> WordDataset:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file.")
        size = path.stat().st_size
        if size > limits.MAX_FILE_BYTES:  # refuse before reading it into memory
            raise too_big(path.name, size)
        return cls.from_bytes(path.read_bytes(), path.name)

    @property
    def is_lecture_list(self) -> bool:
        """Whether these are the lectures' names, so that the lectures' figures apply to it."""
        return self.fingerprint == LECTURE_FINGERPRINT

    @property
    def sequence_length(self) -> int:
        """Positions of a row in the words layout: the start token and the longest word."""
        return 1 + max(len(w) for w in self.words)

    def examples(self, split: str, block_size: int, layout: str = "windows") -> tuple[torch.Tensor, torch.Tensor]:
        """(X, Y) of one split in one layout (see the module's docstring), built once and kept.
        block_size is the windows' context length; whole words need no more than the longest one."""
        key = (split, block_size if layout == "windows" else layout)
        if key not in self._examples:
            if layout == "windows":
                self._examples[key] = build_examples(self.splits[split], self.vocab, block_size)
            elif layout == "words":
                self._examples[key] = build_sequences(self.splits[split], self.vocab, self.sequence_length)
            else:
                raise ValueError(f"unknown layout {layout!r}")
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
