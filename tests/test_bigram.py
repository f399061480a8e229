"""The two bigram models: counts with add-alpha smoothing, and the neural one-layer bigram."""

import math

import pytest
import torch

from makemore.data import Vocab, build_examples
from makemore.models import MODELS, config_fields, count_params, create_model
from makemore.models.bigram import (BigramCounts, BigramCountsConfig, BigramNN, BigramNNConfig,
                                    learned_vs_counted)
from makemore.train import evaluate

# A list small enough to count by hand. Vocabulary: . a b -> 0 1 2
#   "ab": .a ab b.     "ba": .b ba a.     "a": .a a.
# counts (row = previous, column = next):  .: a2 b1   a: .2 b1   b: .1 a1
HAND_WORDS = ["ab", "ba", "a"]
HAND_COUNTS = [[0, 2, 1], [2, 0, 1], [1, 1, 0]]
HAND_PAIRS = [".a", "ab", "b.", ".b", "ba", "a.", ".a", "a."]


def hand_nll(alpha: float) -> float:
    ids = {".": 0, "a": 1, "b": 2}
    total = 0.0
    for prev, nxt in HAND_PAIRS:
        row = [c + alpha for c in HAND_COUNTS[ids[prev]]]
        total -= math.log(row[ids[nxt]] / sum(row))
    return total / len(HAND_PAIRS)


@pytest.fixture
def hand_fitted():
    vocab = Vocab.from_words(HAND_WORDS)
    X, Y = build_examples(HAND_WORDS, vocab, 1)
    model = create_model("bigram", len(vocab), BigramCountsConfig(alpha=0.0))
    model.fit(X, Y)
    return model, vocab, X, Y


def test_registry_has_both_bigrams_with_their_configs():
    assert {"bigram", "bigram-nn"} <= set(MODELS)
    assert MODELS["bigram"].cls is BigramCounts and MODELS["bigram-nn"].cls is BigramNN
    assert [f.name for f in config_fields("bigram")] == ["alpha"]
    assert [f.name for f in config_fields("bigram-nn")] == ["init_scale"]
    assert MODELS["bigram"].train_defaults == {"max_steps": 0}


# -----------------------------------------------------------------------------------------------
# counts


def test_counts_table_is_the_pair_counts(hand_fitted):
    model, _, X, _ = hand_fitted
    assert model.counts.tolist() == HAND_COUNTS
    assert model.counts.sum().item() == len(X) == 8


def test_counts_nll_equals_hand_computation(hand_fitted):
    model, _, X, Y = hand_fitted
    _, loss = model(X, Y)
    assert loss.item() == pytest.approx(hand_nll(0.0), abs=1e-6)
    # by hand: four pairs at 2/3, two at 1/3, two at 1/2
    assert hand_nll(0.0) == pytest.approx((4 * math.log(3 / 2) + 2 * math.log(3) + 2 * math.log(2)) / 8)
    _, smoothed = model.with_alpha(1.0)(X, Y)
    assert smoothed.item() == pytest.approx(hand_nll(1.0), abs=1e-6)


def test_counts_probabilities_are_normalised_rows(hand_fitted):
    model, *_ = hand_fitted
    for alpha in (0.0, 1.0, 10.0):
        P = model.probs(alpha)
        assert torch.allclose(P.sum(dim=1), torch.ones(3))
    assert model.probs(0.0)[0].tolist() == pytest.approx([0, 2 / 3, 1 / 3])
    assert model.probs(1.0)[2].tolist() == pytest.approx([2 / 5, 2 / 5, 1 / 5])


def test_with_alpha_shares_the_counts_and_changes_only_the_smoothing(hand_fitted):
    model, _, X, Y = hand_fitted
    other = model.with_alpha(5.0)
    assert other.alpha == 5.0 and model.alpha == 0.0
    assert other.counts is model.counts  # nothing recounted
    assert torch.allclose(other.probs(), model.probs(5.0))
    losses = [model.with_alpha(a)(X, Y)[1].item() for a in (0.0, 1.0, 10.0, 100.0)]
    assert losses == sorted(losses)  # smoothing costs training likelihood
    assert losses[-1] < math.log(3) + 1e-6  # and tends to the uniform guess


def test_alpha_zero_gives_infinite_nll_on_an_unseen_pair(hand_fitted):
    model, vocab, _, _ = hand_fitted
    X, Y = build_examples(["aa"], vocab, 1)  # a -> a never occurs in HAND_WORDS
    _, loss = model(X, Y)
    assert math.isinf(loss.item()) and loss.item() > 0
    _, smoothed = model.with_alpha(1.0)(X, Y)
    assert math.isfinite(smoothed.item())


def test_alpha_zero_gives_infinite_not_nan_nll_when_the_previous_char_never_occurred_in_training():
    # 'z' is in the vocabulary (it occurs in the data) but not in the words the model counted, so
    # its whole row of counts is zero. P(data) is 0, so the NLL should be +inf, as for any unseen pair.
    vocab = Vocab.from_words(HAND_WORDS + ["za"])
    model = create_model("bigram", len(vocab), BigramCountsConfig(alpha=0.0))
    model.fit(*build_examples(HAND_WORDS, vocab, 1))
    X, Y = build_examples(["za"], vocab, 1)  # .z (unseen pair), za and a. (row of z is all zeros)
    _, loss = model(X, Y)
    assert not math.isnan(loss.item()), (
        "BUG: BigramCounts with alpha=0 gives NaN (not inf) NLL when a character never seen "
        "in training appears as the previous character: probs() returns a row of zeros for it"
    )
    assert math.isinf(loss.item())


def test_counts_logits_are_log_probabilities_of_the_last_context_char(hand_fitted):
    model, *_ = hand_fitted
    idx = torch.tensor([[0], [1], [2]])
    logits, loss = model(idx)
    assert loss is None
    assert torch.allclose(logits.exp(), model.probs())


def test_counts_model_has_no_trainable_parameters_and_counts_its_table():
    model = create_model("bigram", 27)
    assert not any(p.requires_grad for p in model.parameters())
    assert count_params(model) == 27 * 27
    assert model.block_size == 1


def test_counts_model_round_trips_through_state_dict(hand_fitted):
    model, *_ = hand_fitted
    fresh = create_model("bigram", 3, BigramCountsConfig(alpha=0.0))
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.counts, model.counts)


# -----------------------------------------------------------------------------------------------
# neural


def test_neural_bigram_logits_are_rows_of_w():
    model = create_model("bigram-nn", 5, seed=3)
    idx = torch.tensor([[4], [0], [2]])
    logits, loss = model(idx)
    assert loss is None
    assert torch.allclose(logits, model.W[[4, 0, 2]])
    _, loss = model(idx, torch.tensor([1, 1, 1]))
    expected = -torch.log_softmax(model.W[[4, 0, 2]], dim=1)[:, 1].mean()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def test_the_row_lookup_that_trains_equals_the_lectures_one_hot_product_and_its_gradient():
    model = create_model("bigram-nn", 27, seed=3)
    idx, targets = torch.randint(0, 27, (500, 1)), torch.randint(0, 27, (500,))
    results = []
    for fused in (True, False):
        model.fused = fused
        model.zero_grad()
        logits, loss = model(idx, targets)
        loss.backward()
        results.append((logits.detach(), loss.item(), model.W.grad.clone()))
    (a_logits, a_loss, a_grad), (b_logits, b_loss, b_grad) = results
    assert torch.equal(a_logits, b_logits) and a_loss == b_loss
    assert torch.allclose(a_grad, b_grad, atol=1e-7) and a_grad.abs().sum() > 0


def test_neural_bigram_initialisation_is_seeded_and_scaled():
    a = create_model("bigram-nn", 27, seed=7)
    b = create_model("bigram-nn", 27, seed=7)
    c = create_model("bigram-nn", 27, seed=8)
    assert torch.equal(a.W, b.W) and not torch.equal(a.W, c.W)
    assert count_params(a) == 27 * 27
    scaled = create_model("bigram-nn", 27, BigramNNConfig(init_scale=0.1), seed=7)
    assert torch.allclose(scaled.W, a.W * 0.1)
    assert create_model("bigram-nn", 27, BigramNNConfig(init_scale=0.0)).W.abs().sum().item() == 0


def test_counts_on_lecture_names_match_the_lecture(trained_bigrams, names_dataset):
    model, result = trained_bigrams["bigram"]
    X, Y = names_dataset.examples("train", 1)
    assert model.counts.sum().item() == len(Y)
    assert result.steps == 0 and result.params == 729
    assert result.train_loss == pytest.approx(2.455, abs=0.005)  # the lecture's ~2.45
    assert result.val_loss < 2.47


def test_neural_bigram_reaches_the_counts_nll_on_lecture_names(trained_bigrams, names_dataset):
    counts, counts_result = trained_bigrams["bigram"]
    net, net_result = trained_bigrams["bigram-nn"]
    X, Y = names_dataset.examples("train", 1)
    mle = evaluate(counts.with_alpha(0.0), X, Y)  # the lowest train NLL any bigram table can reach
    assert net_result.steps == MODELS["bigram-nn"].train_defaults["max_steps"]
    assert mle - 1e-4 <= net_result.train_loss < mle + 0.01
    assert abs(net_result.train_loss - counts_result.train_loss) < 0.01
    assert abs(net_result.val_loss - counts_result.val_loss) < 0.01
    # softmax of each well-used row of W is that row of the counts' probabilities
    P_net = torch.softmax(net.W.detach(), dim=1)
    common = counts.counts.sum(dim=1) > 1000
    assert common.sum().item() >= 20
    assert (P_net[common] - counts.probs()[common]).abs().max().item() < 0.01


def test_learned_vs_counted_is_zero_distance_for_a_network_holding_the_log_counts(hand_fitted):
    counts = hand_fitted[0].with_alpha(1.0)
    net = create_model("bigram-nn", counts.counts.shape[0])
    with torch.no_grad():
        net.W.copy_(counts.probs().log() + 3.0)  # a constant per row changes nothing after softmax
    net_lp, count_lp, distance = learned_vs_counted(net, counts)
    assert distance < 1e-6 and torch.allclose(net_lp, count_lp, atol=1e-5)
    with torch.no_grad():
        net.W.zero_()  # uniform rows are far from the counts
    assert learned_vs_counted(net, counts)[2] > 0.1
