"""Lecture 5: the WaveNet (a hierarchical MLP built of makemore.layers), its presets, the shapes and
the tree the page draws, the BatchNorm bug, and the diagnostics recorded on it."""

import math

import pytest
import torch

from makemore.data import WordDataset
from makemore.diagnostics import Recorder, tanh_layers, weight_matrices
from makemore.layers import BatchNorm1d, Embedding
from makemore.models import count_params
from makemore.estimate.wavenet import estimate_seconds, multiply_adds
from makemore.models.wavenet import (PRESETS, WaveNet, WaveNetConfig, batchnorm_stat_shapes, layer_shapes,
                                     receptive_fields, wavenet_param_count)
from makemore.train import TrainConfig, evaluate, train

from conftest import TINY_WORDS

V = 27


def build(config, seed=1, vocab_size=V):
    return WaveNet(vocab_size, config, generator=torch.Generator().manual_seed(seed))


def batch(n=500, context=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (n, context), generator=g), torch.randint(0, V, (n,), generator=g)


@pytest.fixture(scope="module")
def tiny():
    return WordDataset("tiny", TINY_WORDS)


# --- the model --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, params", [("context-3", 12_097), ("context-8", 22_097),
                                          ("hierarchical-bug", 22_397), ("hierarchical", 22_397),
                                          ("scaled-up", 76_579)])
def test_presets_have_the_lectures_parameter_counts(name, params):
    model = build(PRESETS[name])
    assert count_params(model) == wavenet_param_count(V, PRESETS[name]) == params


@pytest.mark.parametrize("config", [WaveNetConfig(context=16, n_embd=3, n_hidden=7),
                                    WaveNetConfig(context=16, hierarchical=False),
                                    WaveNetConfig(n_embd=1, n_hidden=1, bn_over_time=False)])
def test_parameter_formula_matches_the_built_model(config):
    assert count_params(build(config)) == wavenet_param_count(V, config)


@pytest.mark.parametrize("name", list(PRESETS))
def test_first_loss_is_near_the_uniform_guess(name):
    config = PRESETS[name]
    idx, targets = batch(context=config.context)
    logits, loss = build(config)(idx, targets)
    assert logits.shape == (500, V)
    assert loss.item() == pytest.approx(math.log(V), abs=0.05)  # the output layer starts 10x smaller


def test_the_layer_stack_is_the_lectures():
    def kinds(config):
        return [type(layer).__name__ for layer in build(config).layers]
    level = ["FlattenConsecutive", "Linear", "BatchNorm1d", "Tanh"]
    assert kinds(WaveNetConfig(context=8)) == ["Embedding", *level * 3, "Linear"]
    assert kinds(WaveNetConfig(context=16)) == ["Embedding", *level * 4, "Linear"]
    assert kinds(WaveNetConfig(context=8, hierarchical=False)) == ["Embedding", "Flatten", "Linear", "BatchNorm1d",
                                                                   "Tanh", "Linear"]
    model = build(WaveNetConfig())
    assert all(layer.bias is None for layer in model.layers[2:-1:4])  # BatchNorm follows: no bias
    assert model.layout == "windows" and model.block_size == 8


@pytest.mark.parametrize("kwargs, message", [(dict(context=3), "power of two"), (dict(context=5), "one of"),
                                             (dict(context=32, hierarchical=False), "one of")])
def test_impossible_contexts_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WaveNetConfig(**kwargs)


def test_same_seed_same_weights_whatever_the_global_rng_did():
    torch.manual_seed(0)
    a = build(WaveNetConfig(), seed=7)
    torch.manual_seed(123)
    torch.randn(1000)
    b = build(WaveNetConfig(), seed=7)
    c = build(WaveNetConfig(), seed=8)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.layers[0].weight, c.layers[0].weight)


def test_readable_and_fused_batchnorm_give_the_same_model():
    model = build(WaveNetConfig(n_embd=6, n_hidden=16, bn_over_time=False))
    idx, targets = batch(64)
    _, fused_loss = model(idx, targets)
    fused_loss.backward()
    fused_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for layer in model.layers:
        if isinstance(layer, BatchNorm1d):
            layer.fused = False
    _, readable_loss = model(idx, targets)
    readable_loss.backward()
    assert readable_loss.item() == pytest.approx(fused_loss.item(), abs=1e-5)
    assert all(torch.allclose(p.grad, g, atol=1e-5) for p, g in zip(model.parameters(), fused_grads))


def test_multiply_adds_count_every_levels_linear_at_each_position():
    # context 8, emb 24, hidden 128: 4 pairs x 48 x 128, 2 x 256 x 128, 1 x 256 x 128, then 128 x 27
    assert multiply_adds(V, PRESETS["scaled-up"]) == 4 * 48 * 128 + 2 * 256 * 128 + 256 * 128 + 128 * V
    assert multiply_adds(V, PRESETS["context-3"]) == 30 * 200 + 200 * V


def test_estimate_grows_with_steps_batch_depth_and_width():
    base = estimate_seconds(V, WaveNetConfig(), 1000, 256)
    start = estimate_seconds(V, WaveNetConfig(), 0, 256)
    assert base > start > 0
    assert estimate_seconds(V, WaveNetConfig(), 2000, 256) - start == pytest.approx(2 * (base - start))
    assert estimate_seconds(V, WaveNetConfig(), 1000, 256, evaluated=200_000) > base
    assert estimate_seconds(V, WaveNetConfig(), 1000, 1024) > base
    assert estimate_seconds(V, WaveNetConfig(context=16), 1000, 256) > base
    assert estimate_seconds(V, WaveNetConfig(n_hidden=256), 1000, 256) > base
    assert estimate_seconds(V, WaveNetConfig(), 1000, 256, optimizer="sgd") < base


# --- what the page shows ----------------------------------------------------------------------------

def test_walking_the_shapes_of_a_context_8_net():
    model = build(WaveNetConfig(context=8, n_embd=24, n_hidden=128))
    assert [shape for _, shape in layer_shapes(model, torch.zeros(32, 8, dtype=torch.long))] == [
        (32, 8), (32, 8, 24),
        (32, 4, 48), (32, 4, 128), (32, 4, 128), (32, 4, 128),
        (32, 2, 256), (32, 2, 128), (32, 2, 128), (32, 2, 128),
        (32, 256), (32, 128), (32, 128), (32, 128),
        (32, V)]
    names = [name for name, _ in layer_shapes(model)]
    assert names[:4] == ["input", "Embedding(27, 24)", "FlattenConsecutive(2)", "Linear(48, 128, bias=False)"]


def test_walking_the_shapes_of_a_context_16_net_and_a_flat_one():
    shapes = [shape for _, shape in layer_shapes(build(WaveNetConfig(context=16, n_embd=4, n_hidden=10)))]
    assert shapes[2:-1:4] == [(4, 8, 8), (4, 4, 20), (4, 2, 20), (4, 20)]  # each level halves time
    assert shapes[-1] == (4, V)
    flat = [shape for _, shape in layer_shapes(build(PRESETS["context-8"]))]
    assert flat == [(4, 8), (4, 8, 10), (4, 80), (4, 200), (4, 200), (4, 200), (4, V)]


def test_walking_the_shapes_leaves_the_model_as_it_was():
    model = build(WaveNetConfig())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layer_shapes(model, batch(64)[0])
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("context", [8, 16])
def test_the_tree_joins_neighbours_until_one_unit_sees_the_whole_context(context):
    rows = receptive_fields(context)
    levels = int(math.log2(context))
    assert [sum(r["level"] == lv for r in rows) for lv in range(levels + 1)] == [context >> lv for lv in range(levels + 1)]
    by_key = {(r["level"], r["unit"]): r for r in rows}
    for r in rows:
        assert r["last"] - r["first"] + 1 == 2 ** r["level"]  # a unit of level l sees 2^l characters
        if r["level"]:
            kids = [by_key[(r["level"] - 1, k)] for k in r["children"]]
            assert len(kids) == 2 and kids[0]["first"] == r["first"] and kids[1]["last"] == r["last"]
    root = by_key[(levels, 0)]
    assert (root["first"], root["last"]) == (0, context - 1)


def test_the_flat_net_has_one_unit_reading_every_character():
    rows = receptive_fields(3, hierarchical=False)
    assert rows[-1] == dict(level=1, unit=0, first=0, last=2, center=1.0, children=[0, 1, 2])
    with pytest.raises(ValueError):
        receptive_fields(3)


def test_batchnorm_statistics_per_position_with_the_bug_and_per_channel_with_the_fix():
    buggy = build(PRESETS["hierarchical-bug"])
    fixed = build(PRESETS["hierarchical"])
    assert batchnorm_stat_shapes(buggy) == [("level 1", (1, 4, 68)), ("level 2", (1, 2, 68)), ("level 3", (68,))]
    assert batchnorm_stat_shapes(fixed) == [("level 1", (1, 1, 68)), ("level 2", (1, 1, 68)), ("level 3", (68,))]
    idx, targets = batch()
    buggy(idx, targets), fixed(idx, targets)  # training keeps the shapes it was built with
    assert batchnorm_stat_shapes(buggy)[0][1] == (1, 4, 68)
    assert batchnorm_stat_shapes(fixed)[0][1] == (1, 1, 68)


# --- training ---------------------------------------------------------------------------------------

def test_training_lowers_the_loss_and_a_trained_model_reloads_exactly(tiny):
    config = WaveNetConfig(n_embd=8, n_hidden=32, bn_over_time=False)
    model = WaveNet(len(tiny.vocab), config, torch.Generator().manual_seed(3))
    X, Y = tiny.examples("train", model.block_size)
    before = evaluate(model, X, Y)
    result = train(model, tiny, TrainConfig(max_steps=200, batch_size=32, optimizer="adamw", lr=0.01))
    assert result.train_loss < before - 0.5
    assert not model.training  # the loop hands it back in eval mode
    fresh = WaveNet(len(tiny.vocab), config)
    fresh.load_state_dict(model.state_dict())  # what the disk cache does
    fresh.eval()
    assert torch.equal(fresh(X)[0], model(X)[0])


def test_same_seed_trains_to_the_same_numbers(tiny):
    config = TrainConfig(max_steps=30, batch_size=16, optimizer="adamw", lr=0.01, seed=5)
    runs = [train(WaveNet(len(tiny.vocab), WaveNetConfig(n_embd=4, n_hidden=16), torch.Generator().manual_seed(5)),
                  tiny, config) for _ in range(2)]
    assert runs[0].loss_history == runs[1].loss_history and runs[0].val_loss == runs[1].val_loss


def test_sampling_reads_a_context_of_8(tiny):
    from makemore.sample import generate
    model = WaveNet(len(tiny.vocab), WaveNetConfig(n_embd=4, n_hidden=16), torch.Generator().manual_seed(1))
    model.eval()
    samples = generate(model, tiny.vocab, num=5, seed=1)
    assert len(samples) == 5 and all(isinstance(s.word, str) for s in samples)


@pytest.fixture
def one_thread():
    """One torch thread, as the app trains: two threads on a busy 2-core machine run many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_short_run_on_the_lecture_names_learns(names_dataset, one_thread):
    # 1,500 AdamW steps of the scaled net (~6 s on one core): from log(27) = 3.30 to below 2.2
    model = WaveNet(len(names_dataset.vocab), PRESETS["scaled-up"], torch.Generator().manual_seed(1337))
    result = train(model, names_dataset, TrainConfig(max_steps=1500, batch_size=256, optimizer="adamw", lr=0.003,
                                                     schedule="cosine"), diagnostics=False)
    assert result.params == 76_579 and result.val_loss < 2.2, result.val_loss


# --- diagnostics ------------------------------------------------------------------------------------

def test_the_recorder_names_the_wavenets_layers_and_weights():
    model = build(WaveNetConfig(n_embd=4, n_hidden=16))
    assert [name for name, _ in tanh_layers(model)] == ["layer 1", "layer 2", "layer 3"]
    weights = dict(weight_matrices(model))
    assert list(weights) == ["C", "W1", "W2", "W3", "W_out"]
    assert weights["C"] is next(layer for layer in model.layers if isinstance(layer, Embedding)).weight


def test_the_recorder_measures_3d_activations_whole(tiny):
    model = WaveNet(len(tiny.vocab), WaveNetConfig(n_embd=4, n_hidden=16), torch.Generator().manual_seed(4))
    recorder = Recorder(model, max_steps=1)
    idx, targets = tiny.examples("train", 8)
    _, loss = model(idx[:64], targets[:64])
    loss.backward()
    recorder.after_step(1)
    d = recorder.diagnostics
    first = tanh_layers(model)[0][1].out  # (64, 4, 16): batch, positions, channels
    assert first.shape == (64, 4, 16)
    assert d["act_std"][0][0] == pytest.approx(first.std().item())
    assert sum(d["act_hist"][0][0]) == first.numel()  # every value of the batch, all positions
    assert d["grad_std"][0][0] == pytest.approx(first.grad.std().item())
    C = dict(weight_matrices(model))["C"]
    assert d["grad_data"][0][0] == pytest.approx((C.grad.std() / C.std()).item())


def test_training_a_wavenet_records_finite_diagnostics(tiny):
    model = WaveNet(len(tiny.vocab), WaveNetConfig(n_embd=4, n_hidden=16), torch.Generator().manual_seed(2))
    d = train(model, tiny, TrainConfig(max_steps=50, batch_size=32, lr=0.1)).diagnostics
    assert d["layers"] == ["layer 1", "layer 2", "layer 3"] and d["weights"] == ["C", "W1", "W2", "W3", "W_out"]
    assert d["steps"][0] == 1 and d["steps"][-1] == 50
    for name in ("act_mean", "act_std", "saturation", "grad_std", "grad_data", "update_data"):
        assert all(all(math.isfinite(v) for v in row) for row in d[name]), name
