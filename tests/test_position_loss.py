"""makemore.position_loss: the loss at each position of a word, the same for windows and whole-word
models, and averaging to the split's loss."""

import math

import pytest
import torch

from conftest import TINY_WORDS
from makemore.data import WordDataset
from makemore.models import create_model
from makemore.models.bigram import BigramCountsConfig
from makemore.models.mlp import MLPConfig
from makemore.models.recurrent import RNNConfig
from makemore.position_loss import loss_by_position
from makemore.train import TrainConfig, evaluate, split_tensors, train

MODELS = {
    "mlp": MLPConfig(n_embd=4, n_hidden=16),  # windows
    "rnn": RNNConfig(n_embd=8, n_hidden=16),  # whole words
    "bigram": BigramCountsConfig(),  # windows, counted
}


@pytest.fixture(scope="module")
def trained():
    dataset = WordDataset("tiny.txt", TINY_WORDS)
    models = {}
    for name, config in MODELS.items():
        model = create_model(name, len(dataset.vocab), config, seed=3)
        train(model, dataset, TrainConfig(max_steps=40, batch_size=16, optimizer="adamw", lr=0.01))
        models[name] = model
    return dataset, models


@pytest.mark.parametrize("name", list(MODELS))
def test_positions_weighted_by_their_words_average_to_the_split_loss(trained, name):
    dataset, models = trained
    model = models[name]
    for split in ("train", "val"):
        positions = loss_by_position(model, dataset, split)
        words = dataset.splits[split]
        assert [p.position for p in positions] == list(range(1, 2 + max(map(len, words))))
        # every word has a 1st prediction; position p is reached by the words of at least p - 1 characters
        assert [p.words for p in positions] == [sum(len(w) + 1 >= p.position for w in words) for p in positions]
        mean = sum(p.loss * p.words for p in positions) / sum(p.words for p in positions)
        assert mean == pytest.approx(evaluate(model, *split_tensors(model, dataset, split)), rel=1e-5)


def test_a_bigram_first_position_is_the_loss_of_the_first_characters(trained):
    dataset, models = trained
    counts = models["bigram"]
    log_probs = counts.probs().log()  # (V, V): row 0 is the distribution of a word's first character
    words = dataset.splits["val"]
    expected = -sum(log_probs[0, dataset.vocab.stoi[w[0]]].item() for w in words) / len(words)
    assert loss_by_position(counts, dataset, "val")[0].loss == pytest.approx(expected, rel=1e-5)


def test_small_chunks_give_the_same_losses_as_one_big_one(trained):
    dataset, models = trained
    for model in models.values():
        whole = loss_by_position(model, dataset, "train", chunk=1_000_000)
        pieces = loss_by_position(model, dataset, "train", chunk=7)
        assert [p.words for p in whole] == [p.words for p in pieces]
        assert all(math.isclose(a.loss, b.loss, rel_tol=1e-5) for a, b in zip(whole, pieces))


def test_the_model_is_left_in_the_mode_it_was_in(trained):
    _, models = trained
    model = models["mlp"]
    model.train()
    loss_by_position(model, trained[0], "val")
    assert model.training
    model.eval()
    with torch.no_grad():
        loss_by_position(model, trained[0], "val")
    assert not model.training
