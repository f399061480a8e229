"""makemore.sample.generate: seeded, bounded, and honest about which words were memorised."""

import pytest
import torch

from makemore.data import WordDataset
from makemore.models import create_model
from makemore.models.bigram import BigramCountsConfig
from makemore.sample import Sample, generate
from makemore.train import TrainConfig, train


def counts_model(dataset, alpha=1.0):
    model = create_model("bigram", len(dataset.vocab), BigramCountsConfig(alpha))
    train(model, dataset, TrainConfig(max_steps=0))
    return model


def greedy_word(model, vocab, max_len=32) -> str:
    """The argmax chain, computed one step at a time without generate()."""
    ids, prev = [], 0
    for _ in range(max_len):
        logits, _ = model(torch.tensor([[prev]]))
        prev = int(logits[0].argmax())
        if prev == 0:
            break
        ids.append(prev)
    return vocab.decode(ids)


@pytest.fixture
def abc_dataset():
    # every train split holds at least six "abc": its argmax chain is "abc", with no ties
    return WordDataset("abc.txt", ["abc"] * 8 + ["b", "c"])


@pytest.fixture(scope="module")
def names_counts(trained_bigrams):
    return trained_bigrams["bigram"][0]


def test_same_seed_gives_the_same_words(names_counts, names_dataset):
    a = generate(names_counts, names_dataset.vocab, num=20, seed=7)
    b = generate(names_counts, names_dataset.vocab, num=20, seed=7)
    assert a == b
    assert len(a) == 20 and all(isinstance(s, Sample) for s in a)
    assert len({s.word for s in a}) > 10  # real sampling, not one word repeated


def test_different_seed_gives_different_words(names_counts, names_dataset):
    a = [s.word for s in generate(names_counts, names_dataset.vocab, num=20, seed=7)]
    b = [s.word for s in generate(names_counts, names_dataset.vocab, num=20, seed=8)]
    assert a != b


def test_sampling_does_not_touch_the_global_rng(names_counts, names_dataset):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    generate(names_counts, names_dataset.vocab, num=5, seed=1)
    assert torch.equal(torch.rand(3), expected)


def test_top_k_1_gives_the_argmax_chain(abc_dataset):
    model = counts_model(abc_dataset)
    assert greedy_word(model, abc_dataset.vocab) == "abc"
    words = [s.word for s in generate(model, abc_dataset.vocab, num=10, seed=3, top_k=1)]
    assert words == ["abc"] * 10


def test_top_k_1_and_low_temperature_give_the_argmax_chain_on_names(names_counts, names_dataset):
    vocab = names_dataset.vocab
    chain = greedy_word(names_counts, vocab)
    assert chain == "a"  # . -> a and a -> . are the most likely steps in the lecture's counts
    assert {s.word for s in generate(names_counts, vocab, num=20, seed=0, top_k=1)} == {chain}
    assert {s.word for s in generate(names_counts, vocab, num=20, seed=0, temperature=1e-3)} == {chain}


def test_top_k_keeps_only_the_k_most_likely_characters(names_counts, names_dataset):
    vocab = names_dataset.vocab
    first = names_counts.probs()[0]
    top2 = {vocab.itos[i] for i in first.topk(2).indices.tolist()}
    samples = generate(names_counts, vocab, num=100, seed=0, top_k=2)
    assert {s.word[0] for s in samples if s.word} == top2


def test_in_train_flags_exactly_the_training_words(names_counts, names_dataset):
    train_words = names_dataset.splits["train"]
    samples = generate(names_counts, names_dataset.vocab, num=200, seed=0, train_words=train_words)
    train_set = set(train_words)
    assert [s.in_train for s in samples] == [s.word in train_set for s in samples]
    assert any(s.in_train for s in samples) and any(not s.in_train for s in samples)
    assert not any(s.in_train for s in generate(names_counts, names_dataset.vocab, num=50, seed=0))


def test_words_never_contain_the_boundary(names_counts, names_dataset):
    for s in generate(names_counts, names_dataset.vocab, num=200, seed=0):
        assert "." not in s.word


def test_words_never_contain_another_boundary_but_may_contain_dots():
    ds = WordDataset("dots.txt", ["st.ann", "a.b", "mr.x", "j.r.r", "dr.no", "ab", "ba", "x.y", "o.k", "b.b"])
    assert ds.vocab.boundary == "#"
    words = [s.word for s in generate(counts_model(ds), ds.vocab, num=200, seed=0)]
    assert not any("#" in w for w in words)
    assert any("." in w for w in words)


def test_words_respect_max_len(names_counts, names_dataset):
    words = [s.word for s in generate(names_counts, names_dataset.vocab, num=200, seed=0, max_len=3)]
    assert max(len(w) for w in words) == 3  # long ones are cut at 3
    assert min(len(w) for w in words) < 3  # short ones end on their own


def test_a_word_that_never_ends_is_cut_at_max_len(abc_dataset):
    # a made-up table in which 'a' always follows 'a' and the boundary is never drawn after it
    model = counts_model(abc_dataset, alpha=0.0)
    counts = torch.zeros_like(model.counts)
    counts[0, 1] = 1  # . -> a
    counts[1, 1] = 1  # a -> a
    counts[2:, 0] = 1  # other rows end (unused)
    model.counts = counts
    assert [s.word for s in generate(model, abc_dataset.vocab, num=3, seed=0, max_len=5)] == ["aaaaa"] * 3


def test_neural_model_samples_and_keeps_its_mode(tiny_dataset):
    model = create_model("bigram-nn", len(tiny_dataset.vocab))
    train(model, tiny_dataset, TrainConfig(max_steps=30, batch_size=0, optimizer="adamw", lr=0.1))
    model.train()
    samples = generate(model, tiny_dataset.vocab, num=10, seed=1)
    assert model.training
    assert len(samples) == 10
    assert all(set(s.word) <= set(tiny_dataset.vocab.chars) for s in samples)
    assert samples == generate(model, tiny_dataset.vocab, num=10, seed=1)


def test_temperature_must_be_positive(names_counts, names_dataset):
    for t in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            generate(names_counts, names_dataset.vocab, num=1, temperature=t)


class CountsAsWords(torch.nn.Module):
    """A counts bigram read as a whole-word model: logits (B, T, V) at every position. It samples
    exactly what the windows bigram samples, so the two layouts can be checked against each other."""

    layout = "words"
    block_size = 33

    def __init__(self, counts_model):
        super().__init__()
        self.counts_model = counts_model
        self.seen_lengths = []

    def forward(self, idx, targets=None):
        self.seen_lengths.append(idx.shape[1])
        B, T = idx.shape
        logits, _ = self.counts_model(idx.reshape(-1, 1))
        return logits.view(B, T, -1), None


def test_a_words_model_sees_the_whole_word_so_far_and_samples_like_its_windows_twin(names_counts, names_dataset):
    as_words = CountsAsWords(names_counts)
    words = generate(as_words, names_dataset.vocab, num=50, seed=3)
    assert words == generate(names_counts, names_dataset.vocab, num=50, seed=3)
    assert as_words.seen_lengths == list(range(1, len(as_words.seen_lengths) + 1))  # start token, then +1


def test_a_words_model_ends_every_word_at_the_end_token_or_the_length_limit(abc_dataset):
    model = counts_model(abc_dataset, alpha=0.0)
    counts = torch.zeros_like(model.counts)
    counts[0, 1] = counts[1, 1] = counts[1, 0] = 1  # . -> a; a -> a or the end
    model.counts = counts
    as_words = CountsAsWords(model)
    words = [s.word for s in generate(as_words, abc_dataset.vocab, num=100, seed=0, max_len=32)]
    assert all(set(w) <= {"a"} and 1 <= len(w) <= 32 for w in words)
    assert max(as_words.seen_lengths) <= as_words.block_size
    cut = [s.word for s in generate(CountsAsWords(model), abc_dataset.vocab, num=100, seed=0, max_len=4)]
    assert max(map(len, cut)) == 4 and min(map(len, cut)) < 4
