"""makemore.data: checking word lists, the vocabulary, splits and (context, next) examples."""

import re

import pytest
import torch

from makemore import limits
from makemore.data import (DataError, Vocab, WordDataset, build_examples, build_sequences, parse_words, split_words,
                           typed_word)


def ten_words(prefix="w"):
    return [f"{prefix}{c}" for c in "abcdefghij"]


# -----------------------------------------------------------------------------------------------
# loading: good files


def test_file_is_read_one_word_per_line_in_order(write_words, tiny_words):
    ds = WordDataset.from_file(write_words(tiny_words, "girls.txt"))
    assert ds.words == tiny_words
    assert ds.name == "girls.txt"
    assert ds.n_duplicates == 0


def test_crlf_line_endings_and_utf8_bom_are_stripped(write_words):
    words = ten_words()
    raw = b"\xef\xbb\xbf" + "\r\n".join(words).encode() + b"\r\n"
    ds = WordDataset.from_file(write_words(raw))
    assert ds.words == words
    assert "\r" not in ds.vocab.chars and "\ufeff" not in ds.vocab.chars
    assert ds.vocab.chars == tuple(sorted(set("w" + "abcdefghij")))
    # same words, whatever the line endings: same content fingerprint
    assert ds.fingerprint == WordDataset.from_bytes(("\n".join(words)).encode(), "other.txt").fingerprint


def test_blank_lines_and_surrounding_spaces_are_dropped():
    raw = b"\n  anna  \n\n\tbob\n" + b"\n".join(w.encode() for w in ten_words()) + b"\n\n\n"
    words, dups = parse_words(raw, "f.txt")
    assert words == ["anna", "bob", *ten_words()]
    assert dups == 0


def test_duplicates_are_kept_and_counted():
    words = ten_words() + ["wa", "wa", "wb"]
    raw = "\n".join(words).encode()
    parsed, dups = parse_words(raw, "f.txt")
    assert parsed == words  # kept, in order, as the lecture keeps them
    assert dups == 3
    ds = WordDataset.from_bytes(raw, "f.txt")
    stats = ds.stats()
    assert stats["words"] == 13 and stats["distinct words"] == 10 and stats["duplicates"] == 3
    assert sum(len(v) for v in ds.splits.values()) == 13


def test_words_are_nfc_normalised():
    decomposed = "jose\u0301"  # e + combining acute accent
    words, _ = parse_words("\n".join([decomposed] + ten_words()).encode(), "f.txt")
    assert words[0] == "jos\u00e9" and len(words[0]) == 4


def test_fingerprint_depends_on_content_not_on_name():
    a = WordDataset.from_bytes("\n".join(ten_words()).encode(), "a.txt")
    b = WordDataset.from_bytes("\n".join(ten_words()).encode(), "b.txt")
    c = WordDataset.from_bytes("\n".join(ten_words("v")).encode(), "a.txt")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


def test_exactly_the_limits_are_accepted():
    longest = "a" * limits.MAX_WORD_LEN
    words, _ = parse_words("\n".join([longest] + ten_words()).encode(), "f.txt")
    assert words[0] == longest
    alphabet = [chr(0x100 + i) for i in range(limits.MAX_VOCAB)]  # exactly MAX_VOCAB characters
    words, _ = parse_words("\n".join("".join(alphabet[i::10]) for i in range(10)).encode(), "f.txt")
    assert len(set("".join(words))) == limits.MAX_VOCAB


# -----------------------------------------------------------------------------------------------
# loading: every bad file gives a DataError saying what and where


def data_error(raw: bytes, source="bad.txt") -> str:
    with pytest.raises(DataError) as e:
        WordDataset.from_bytes(raw, source)
    message = str(e.value)
    assert source in message, message  # says where
    assert "\n" not in message  # one line
    return message


def test_empty_file_is_refused():
    assert "is empty" in data_error(b"")


def test_file_with_only_blank_lines_has_no_usable_words():
    assert "no usable words" in data_error(b"\n  \r\n\t\n\n")


def test_file_with_too_few_words_says_how_many():
    message = data_error("\n".join(ten_words()[:3]).encode())
    assert "only 3 words" in message and str(limits.MIN_WORDS) in message
    assert "only 1 word;" in data_error(b"onlyone\n")


def test_binary_file_is_refused():
    assert "binary" in data_error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


def test_non_utf8_file_says_which_line():
    raw = "\n".join(ten_words()).encode() + b"\ncaf\xe9\nmore\n"  # latin-1 e-acute on line 11
    message = data_error(raw)
    assert "not UTF-8" in message and "line 11" in message


def test_control_character_in_a_word_says_which_line():
    raw = "\n".join(ten_words()).encode() + b"\nbad\x07word\n"
    message = data_error(raw)
    assert "control character" in message and "line 11" in message and "\\x07" in message


def test_utf16_file_is_named_as_such():
    raw = "\n".join(ten_words()).encode("utf-16")
    assert "UTF-16" in data_error(raw)


def test_line_numbers_count_newlines_only_as_an_editor_does():
    # a form feed or a Unicode line separator is not a line break: it is reported on its own line
    raw = b"ab\x0ccd\n" + "\n".join(ten_words()).encode() + b"\n" + b"x" * 40 + b"\n"
    assert "line 1 " in data_error(raw)
    raw = "\n".join(ten_words()).encode() + "\nab\u2028cd\n".encode()
    message = data_error(raw)
    assert "line 11" in message and "\\u2028" in message


def test_file_over_the_size_cap_is_refused_from_bytes():
    raw = (b"abcdefghi\n" * (limits.MAX_FILE_BYTES // 10 + 1))
    assert len(raw) > limits.MAX_FILE_BYTES
    message = data_error(raw)
    assert "limit" in message and "MB" in message


def test_file_over_the_size_cap_is_refused_before_reading(write_words, monkeypatch):
    path = write_words(b"abcdefghi\n" * (limits.MAX_FILE_BYTES // 10 + 1), "huge.txt")

    def no_reading(self):
        raise AssertionError("read a file that is over the size cap")

    monkeypatch.setattr(type(path), "read_bytes", no_reading)
    with pytest.raises(DataError) as e:
        WordDataset.from_file(path)
    assert "huge.txt" in str(e.value) and "limit" in str(e.value) and "MB" in str(e.value)


def test_file_with_too_many_words_is_refused():
    raw = "\n".join(f"w{i}" for i in range(limits.MAX_WORDS + 1)).encode()
    assert len(raw) < limits.MAX_FILE_BYTES  # refused for its word count, not its size
    message = data_error(raw)
    assert f"more than {limits.MAX_WORDS:,} words" in message


def test_word_longer_than_the_cap_says_which_line_and_how_long():
    too_long = "a" * (limits.MAX_WORD_LEN + 1)
    message = data_error("\n".join(ten_words() + ["ok", too_long]).encode())
    assert f"line 12 of bad.txt is {limits.MAX_WORD_LEN + 1} characters long" in message
    assert f"at most {limits.MAX_WORD_LEN}" in message


def test_too_many_characters_in_all_is_refused():
    n = limits.MAX_TOTAL_CHARS // 30 + 1  # words of 30 characters, just over the total
    raw = "\n".join(f"{i:030d}" for i in range(n)).encode()
    message = data_error(raw)
    assert f"{n * 30:,} characters in all" in message


def test_more_distinct_characters_than_the_cap_is_refused():
    alphabet = [chr(0x100 + i) for i in range(limits.MAX_VOCAB + 1)]
    words = ["".join(alphabet[i::10]) for i in range(10)]
    message = data_error("\n".join(words).encode())
    assert f"{limits.MAX_VOCAB + 1} distinct characters" in message and f"limit is {limits.MAX_VOCAB}" in message


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(DataError, match="nope.txt does not exist"):
        WordDataset.from_file(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="not a file"):
        WordDataset.from_file(tmp_path)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# -----------------------------------------------------------------------------------------------
# vocabulary


def test_names_vocabulary_is_dot_plus_a_to_z(names_dataset):
    vocab = names_dataset.vocab
    assert vocab.boundary == "."
    assert vocab.chars == tuple("abcdefghijklmnopqrstuvwxyz")
    assert len(vocab) == 27
    assert vocab.itos[0] == "." and vocab.stoi["."] == 0
    assert vocab.stoi["a"] == 1 and vocab.stoi["z"] == 26


def test_boundary_is_another_token_when_dot_occurs_in_the_data():
    vocab = Vocab.from_words(["st.louis", "a.b"])
    assert vocab.boundary == "#"
    assert vocab.boundary not in vocab.chars
    assert vocab.itos[0] == "#" and "." in vocab.chars
    assert Vocab.from_words(["a.b", "c#d"]).boundary == "|"


def test_boundary_is_never_a_character_of_the_data():
    words = [".#|~_^$*@%&", "+=!?;:/<>", "012345678"]  # all candidates up to '9'
    vocab = Vocab.from_words(words)
    assert vocab.boundary == "9"
    assert vocab.boundary not in "".join(words)


def test_id_zero_is_the_boundary_and_ids_follow_sorted_characters():
    vocab = Vocab.from_words(["cab", "bca"])
    assert vocab.itos == (".", "a", "b", "c")
    assert vocab.encode("cab") == [3, 1, 2]
    assert 0 not in vocab.encode("abcabc")


def test_encode_decode_round_trip(tiny_dataset):
    vocab = tiny_dataset.vocab
    for word in tiny_dataset.words:
        ids = vocab.encode(word)
        assert len(ids) == len(word)
        assert vocab.decode(ids) == word
        assert vocab.decode(torch.tensor(ids)) == word  # tensors decode too
    assert vocab.decode([0]) == "."


# -----------------------------------------------------------------------------------------------
# splits


def test_split_is_80_10_10():
    words = [f"w{i}" for i in range(100)]
    splits = split_words(words)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [80, 10, 10]


def test_names_split_sizes(names_dataset):
    assert [len(names_dataset.splits[k]) for k in ("train", "val", "test")] == [25626, 3203, 3204]


def test_minimum_word_count_leaves_a_word_in_every_split():
    splits = split_words([f"w{i}" for i in range(limits.MIN_WORDS)])
    assert all(len(splits[k]) >= 1 for k in ("train", "val", "test"))


def test_split_with_the_same_seed_is_the_same():
    words = [f"w{i}" for i in range(200)]
    assert split_words(words) == split_words(list(words))
    assert WordDataset("a", list(words)).splits == WordDataset("b", list(words)).splits
    assert split_words(words, seed=1) != split_words(words, seed=2)


def test_split_shuffles_and_leaves_the_input_alone():
    words = [f"w{i}" for i in range(200)]
    before = list(words)
    splits = split_words(words)
    assert words == before
    assert splits["train"] != words[:160]


def test_splits_are_disjoint_and_cover_all_words():
    words = [f"w{i}" for i in range(257)]
    s = split_words(words)
    train, val, test = set(s["train"]), set(s["val"]), set(s["test"])
    assert not train & val and not train & test and not val & test
    assert sorted(s["train"] + s["val"] + s["test"]) == sorted(words)


# -----------------------------------------------------------------------------------------------
# (context, next) examples


def test_build_examples_block_size_3_gives_the_docstring_pairs_for_emma():
    vocab = Vocab.from_words(["emma"])  # . a e m -> 0 1 2 3
    X, Y = build_examples(["emma"], vocab, block_size=3)
    assert X.dtype == torch.long and Y.dtype == torch.long
    assert X.shape == (5, 3) and Y.shape == (5,)
    assert X.tolist() == [[0, 0, 0], [0, 0, 2], [0, 2, 3], [2, 3, 3], [3, 3, 1]]
    assert Y.tolist() == [2, 3, 3, 1, 0]
    pairs = [f"{vocab.decode(x)} -> {vocab.decode([y])}" for x, y in zip(X, Y)]
    assert pairs == ["... -> e", "..e -> m", ".em -> m", "emm -> a", "mma -> ."]


def test_build_examples_block_size_1_gives_bigram_pairs():
    vocab = Vocab.from_words(["emma"])
    X, Y = build_examples(["emma"], vocab, block_size=1)
    assert X.shape == (5, 1)
    pairs = [vocab.decode(x) + vocab.decode([y]) for x, y in zip(X, Y)]
    assert pairs == [".e", "em", "mm", "ma", "a."]


def test_build_examples_gives_one_pair_per_character_plus_the_end(tiny_words):
    vocab = Vocab.from_words(tiny_words)
    X, Y = build_examples(tiny_words, vocab, block_size=4)
    assert len(X) == len(Y) == sum(len(w) + 1 for w in tiny_words)
    assert (Y == 0).sum().item() == len(tiny_words)  # one end per word
    assert (X == 0).all(dim=1).sum().item() == len(tiny_words)  # one fresh start per word


def test_build_examples_windows_never_reach_into_the_word_before():
    """Each word's windows start from boundary tokens, however long the word before it was."""
    words = ["ab", "abcabcabc", "c", "bca"]
    vocab = Vocab.from_words(words)
    X, Y = build_examples(words, vocab, block_size=4)
    expected = []
    for word in words:
        padded = "...." + word + "."
        expected += [(padded[i:i + 4], padded[i + 4]) for i in range(len(word) + 1)]
    assert [(vocab.decode(x), vocab.decode([y])) for x, y in zip(X, Y)] == expected
    assert X.is_contiguous()


def test_build_examples_of_no_words_is_empty():
    X, Y = build_examples([], Vocab(tuple("ab")), block_size=3)
    assert X.shape == (0, 3) and Y.shape == (0,)


def test_dataset_examples_are_built_from_the_split_and_kept(tiny_dataset):
    X, Y = tiny_dataset.examples("val", 3)
    assert len(Y) == sum(len(w) + 1 for w in tiny_dataset.splits["val"])
    assert tiny_dataset.examples("val", 3)[0] is X  # built once
    assert tiny_dataset.examples("val", 1)[0].shape[1] == 1


def test_dataset_counts(tiny_dataset):
    words = tiny_dataset.words
    assert tiny_dataset.char_counts()["a"] == "".join(words).count("a")
    starts, ends = tiny_dataset.position_counts()
    assert starts["e"] == sum(w[0] == "e" for w in words)
    assert ends["a"] == sum(w[-1] == "a" for w in words)
    assert tiny_dataset.length_counts()[4] == sum(len(w) == 4 for w in words)
    stats = tiny_dataset.stats()
    assert stats["shortest"] == 3 and stats["longest"] == 9
    assert stats["train words"] + stats["val words"] + stats["test words"] == len(words)


def test_whole_words_are_padded_after_a_start_token_with_no_target_past_the_end():
    vocab = Vocab(tuple("aem"))
    X, Y = build_sequences(["emma", "a"], vocab, length=6)
    e, m, a = vocab.stoi["e"], vocab.stoi["m"], vocab.stoi["a"]
    assert X.tolist() == [[0, e, m, m, a, 0], [0, a, 0, 0, 0, 0]]
    assert Y.tolist() == [[e, m, m, a, 0, -1], [a, 0, -1, -1, -1, -1]]


def test_dataset_words_layout_pads_to_the_longest_word_and_counts_every_character(tiny_dataset):
    X, Y = tiny_dataset.examples("train", 0, "words")
    longest = max(len(w) for w in tiny_dataset.words)
    assert X.shape == Y.shape == (len(tiny_dataset.splits["train"]), longest + 1)
    assert int((Y != -1).sum()) == len(tiny_dataset.examples("train", 3)[1])  # as many targets as windows
    assert tiny_dataset.examples("train", 5, "words")[0] is X  # built once, whatever the block size


def test_an_unknown_layout_is_refused(tiny_dataset):
    with pytest.raises(ValueError, match="layout"):
        tiny_dataset.examples("train", 3, "sideways")


@pytest.mark.parametrize("text, says", [
    ("", "Type a word"), ("   ", "Type a word"), ("a" * 33, "That is 33 characters"),
    ("em.ma", "marks where words start and end"), ("Emma", "try `emma`"), ("em ma", "a space is not among"),
    ("zoë", "`ë` is not among the characters"),
], ids=["empty", "blank", "too long", "boundary", "capitals", "space", "accent"])
def test_a_typed_word_a_model_cannot_read_is_refused_with_what_to_change(tiny_dataset, text, says):
    with pytest.raises(DataError, match=re.escape(says)):
        typed_word(text, tiny_dataset.vocab)


def test_a_typed_word_is_trimmed_normalised_and_encoded(tiny_dataset):
    assert typed_word("  emma ", tiny_dataset.vocab) == ("emma", tiny_dataset.vocab.encode("emma"))
    assert typed_word("a" * 32, tiny_dataset.vocab)[0] == "a" * 32


@pytest.mark.parametrize("text, suggestion", [
    ("Emma", "This list has no capitals: try `emma`."),
    ("zoë", "This list writes its words without accents: try `zoe`."),
    ("Zoë", "This list writes its words without capitals or accents: try `zoe`."),
    ("ZOË", "This list writes its words without capitals or accents: try `zoe`."),
    ("Zoe\u0308", "without capitals or accents: try `zoe`."),  # decomposed: Z, o, e and a combining diaeresis
    ("José-María", None),  # the hyphen is not in the list either: no suggestion can be read
    ("Straße", None),  # ß has no accent to drop
], ids=["capitals", "accent", "both", "upper", "decomposed", "still unreadable", "no accent to drop"])
def test_a_typed_word_with_capitals_or_accents_the_list_lacks_gets_a_readable_suggestion(tiny_dataset, text,
                                                                                        suggestion):
    with pytest.raises(DataError) as refused:
        typed_word(text, tiny_dataset.vocab)
    if suggestion is None:
        assert "try `" not in str(refused.value)
    else:
        assert str(refused.value).endswith(suggestion)
        assert typed_word(suggestion.rsplit("`", 2)[1], tiny_dataset.vocab)  # the suggestion reads


def test_accents_a_list_has_are_kept_in_a_suggestion():
    vocab = WordDataset("accents.txt", ["zoé", "rené", "anna", "zoe"]).vocab
    with pytest.raises(DataError, match=re.escape("This list has no capitals: try `rené`.")):
        typed_word("RENÉ", vocab)  # é is one of the list's characters: lower case is enough
    with pytest.raises(DataError, match=re.escape("without capitals or accents: try `zoe`.")):
        typed_word("ZOË", vocab)  # ë is not: it loses its accent
