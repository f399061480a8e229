"""The Recurrent stage: the RNN and GRU language models, their readable cells against torch's fused
ones, the words layout's padding and causality, and the views (hidden states, gates, gradient
norms). Tiny data, hand-built padded batches: fast, no lock needed."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from makemore import limits
from makemore.data import WordDataset
from makemore.models.recurrent import (
    GRUCell, GRUConfig, RecurrentLM, RNNCell, RNNConfig, gate_values, hidden_gradient_norms,
    hidden_states, recurrent_param_count, top_next_chars, word_input,
)

from conftest import TINY_WORDS

CONFIGS = {"rnn": RNNConfig, "gru": GRUConfig}
CELL_AND_LAYERS = [("rnn", 1), ("rnn", 2), ("gru", 1), ("gru", 2)]


@pytest.fixture(scope="module")
def tiny():
    return WordDataset("tiny", TINY_WORDS)


def build(cell, n_layers=1, vocab_size=27, seed=0, n_embd=5, n_hidden=8):
    config = CONFIGS[cell](n_embd=n_embd, n_hidden=n_hidden, n_layers=n_layers)
    return RecurrentLM(vocab_size, config, generator=torch.Generator().manual_seed(seed))


def padded(words, vocab, T=None):
    """The contract's words layout: x = [0, w1..wn, 0, 0...], y = [w1..wn, 0, -1, -1...]."""
    T = T or max(len(w) for w in words) + 1
    X = torch.zeros(len(words), T, dtype=torch.long)
    Y = torch.full((len(words), T), -1, dtype=torch.long)
    for i, word in enumerate(words):
        ids = torch.tensor(vocab.encode(word))
        X[i, 1: len(ids) + 1] = ids
        Y[i, : len(ids)] = ids
        Y[i, len(ids)] = 0
    return X, Y


# --- the interface ------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_words_layout_interface_logits_at_every_position_and_the_contracts_loss(cell, tiny):
    model = build(cell, vocab_size=len(tiny.vocab))
    assert model.layout == "words" and model.block_size == limits.MAX_WORD_LEN + 1
    X, Y = padded(["emma", "ava", "isabella"], tiny.vocab)
    logits, loss = model(X, Y)
    assert logits.shape == (3, X.shape[1], len(tiny.vocab))
    expected = F.cross_entropy(logits.reshape(-1, len(tiny.vocab)), Y.reshape(-1), ignore_index=-1)
    assert torch.equal(loss, expected)
    assert model(X)[1] is None
    longest = torch.randint(0, len(tiny.vocab), (2, model.block_size))  # T = block_size is allowed
    assert model(longest)[0].shape == (2, model.block_size, len(tiny.vocab))


@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
def test_param_count_formula_matches_the_model(cell, n_layers):
    config = CONFIGS[cell](n_embd=7, n_hidden=11, n_layers=n_layers)
    model = RecurrentLM(30, config)
    assert recurrent_param_count(30, config) == sum(p.numel() for p in model.parameters())


def test_each_registry_name_has_its_own_config_and_defaults():
    assert RNNConfig.cell == "rnn" and GRUConfig.cell == "gru"
    assert RNNConfig() != GRUConfig()  # different classes: never the same cache entry
    assert hash(RNNConfig()) == hash(RNNConfig())  # hashable, a cache key
    assert RecurrentLM(27, RNNConfig()).cell == "rnn" and isinstance(RecurrentLM(27, GRUConfig()).recurrent, nn.GRU)


# --- padding and causality ----------------------------------------------------------------------

@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
def test_padding_never_counts_in_the_loss(cell, n_layers, tiny):
    model = build(cell, n_layers, vocab_size=len(tiny.vocab))
    words = ["emma", "olivia", "ava", "charlotte", "mia"]
    X, Y = padded(words, tiny.vocab)
    _, loss = model(X, Y)
    X_more, Y_more = padded(words, tiny.vocab, T=model.block_size)  # padded to 33 instead of 10
    assert torch.allclose(model(X_more, Y_more)[1], loss, atol=1e-6)
    # whatever sits in the inputs after a word's end is never read by a counted position
    X_noise = X_more.clone()
    after_end = Y_more == -1
    X_noise[after_end] = torch.randint(1, len(tiny.vocab), (int(after_end.sum()),))
    assert torch.allclose(model(X_noise, Y_more)[1], loss, atol=1e-6)
    # the loss is the mean over predicted characters (end tokens included), not over positions
    logits, _ = model(X, Y)
    nll = -F.log_softmax(logits, -1).gather(-1, Y.clamp(min=0)[..., None])[..., 0]
    n_targets = sum(len(w) + 1 for w in words)
    assert torch.allclose(loss, nll[Y != -1].sum() / n_targets)


@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
@pytest.mark.parametrize("fused", [True, False])
def test_changing_a_later_character_never_changes_earlier_logits(cell, n_layers, fused):
    model = build(cell, n_layers)
    model.fused = fused
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(1, 27, (4, 12), generator=g)
    logits = model(idx)[0]
    for t in (0, 5, 11):
        changed = idx.clone()
        changed[:, t] = (changed[:, t] % 26) + 1  # a different character at position t
        new_logits = model(changed)[0]
        assert torch.equal(new_logits[:, :t], logits[:, :t])
        assert not torch.allclose(new_logits[:, t], logits[:, t])  # and position t does read it


# --- readable cells against torch's --------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_one_readable_step_equals_torchs_cell_with_the_same_weights(cell):
    torch.manual_seed(0)
    torch_cell = nn.RNNCell(5, 8) if cell == "rnn" else nn.GRUCell(5, 8)
    readable = (RNNCell if cell == "rnn" else GRUCell)(
        torch_cell.weight_ih, torch_cell.weight_hh, torch_cell.bias_ih, torch_cell.bias_hh)
    x, h = torch.randn(6, 5), torch.randn(6, 8)
    h_new, gates = readable(x, h)
    assert torch.allclose(h_new, torch_cell(x, h), atol=1e-6)
    if cell == "gru":  # the gates, written out from torch's documented equations
        W_ir, W_iz, _ = torch_cell.weight_ih.chunk(3)
        W_hr, W_hz, _ = torch_cell.weight_hh.chunk(3)
        b_ir, b_iz, _ = torch_cell.bias_ih.chunk(3)
        b_hr, b_hz, _ = torch_cell.bias_hh.chunk(3)
        assert torch.allclose(gates["reset"], torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr), atol=1e-6)
        assert torch.allclose(gates["update"], torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz), atol=1e-6)


@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
def test_readable_cells_give_the_fused_models_outputs_states_and_gradients(cell, n_layers, tiny):
    model = build(cell, n_layers, vocab_size=len(tiny.vocab), n_hidden=16)
    X, Y = padded(TINY_WORDS[:8], tiny.vocab)

    model.fused = True
    logits, loss = model(X, Y)
    _, h_last = model.recurrent(model.wte(X))  # (n_layers, B, H): every layer's state after the last position
    loss.backward()
    fused_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()

    model.fused = False
    readable_logits, readable_loss = model(X, Y)
    readable_loss.backward()
    assert torch.allclose(readable_logits, logits, atol=1e-5)
    assert torch.allclose(readable_loss, loss, atol=1e-6)
    for layer, states in enumerate(model.unroll(X)["hidden"]):
        assert torch.allclose(states[-1], h_last[layer], atol=1e-5)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, fused_grads[name], atol=1e-5), name


# --- initialisation and config ------------------------------------------------------------------

@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
def test_same_seed_gives_the_same_weights_whatever_the_global_rng_did(cell, n_layers):
    torch.manual_seed(1)
    a = build(cell, n_layers, seed=7)
    torch.manual_seed(2)
    b = build(cell, n_layers, seed=7)
    c = build(cell, n_layers, seed=8)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name


def test_initial_weights_follow_torchs_distributions_and_the_first_loss_is_near_uniform(tiny):
    model = build("gru", 2, vocab_size=len(tiny.vocab), n_hidden=64, n_embd=16)
    k = 64 ** -0.5
    assert abs(model.wte.weight.std().item() - 1) < 0.15  # N(0, 1), as nn.Embedding
    for name, p in [*model.recurrent.named_parameters(), *model.lm_head.named_parameters()]:
        assert p.abs().max() <= k and p.abs().max() > 0.9 * k, name  # U(-1/sqrt(H), 1/sqrt(H))
    X, Y = padded(TINY_WORDS, tiny.vocab)
    _, loss = model(X, Y)
    assert abs(loss.item() - torch.log(torch.tensor(len(tiny.vocab))).item()) < 0.3


@pytest.mark.parametrize("config_class", [RNNConfig, GRUConfig])
@pytest.mark.parametrize("bad, field_name", [
    (dict(n_layers=3), "n_layers"), (dict(n_layers=0), "n_layers"), (dict(n_hidden=0), "n_hidden"),
    (dict(n_hidden=limits.MAX_N_HIDDEN + 1), "n_hidden"), (dict(n_hidden=7), "n_hidden"),
    (dict(n_embd=65), "n_embd"), (dict(n_embd=1), "n_embd"),
    (dict(n_embd=2.5), "n_embd"), (dict(n_hidden="64"), "n_hidden"), (dict(n_layers=True), "n_layers"),
])
def test_bad_config_values_are_refused_with_a_clear_value_error(config_class, bad, field_name):
    with pytest.raises(ValueError, match=field_name):
        config_class(**bad)


def test_a_config_without_a_known_cell_is_refused():
    class Strange:
        cell, n_embd, n_hidden, n_layers = "lstm", 4, 4, 1
    with pytest.raises(ValueError, match="unknown cell 'lstm'"):
        RecurrentLM(27, Strange())


# --- training -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_a_short_training_lowers_the_loss(cell, tiny):
    model = build(cell, vocab_size=len(tiny.vocab), n_embd=8, n_hidden=32, seed=3)
    X, Y = padded(tiny.splits["train"], tiny.vocab)
    first = model(X, Y)[1].item()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.02)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only waits on a busy machine
    try:
        for _ in range(80):
            _, loss = model(X, Y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    last = model(X, Y)[1].item()
    assert first > 3.0 and last < 1.5  # from about log(27) = 3.3 to well below: it learns the 32 names


# --- views --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
def test_hidden_states_and_next_characters_of_a_typed_word(cell, n_layers, tiny):
    model = build(cell, n_layers, vocab_size=len(tiny.vocab))
    ids = tiny.vocab.encode("emma")
    H = hidden_states(model, ids)
    assert H.shape == (n_layers, 8, 5)  # layers, units, positions (the start token and 4 letters)
    top_layer, _ = model.recurrent(model.wte(word_input(model, ids)))
    assert torch.allclose(H[-1], top_layer[0].T, atol=1e-5)  # the fused model's states, transposed
    probs, chars = top_next_chars(model, ids, k=4)
    assert probs.shape == chars.shape == (5, 4)
    full = F.softmax(model(word_input(model, ids))[0][0], -1)
    assert torch.allclose(probs, full.gather(1, chars)) and torch.all(probs[:, :-1] >= probs[:, 1:])
    assert torch.allclose(probs[:, 0], full.max(-1).values)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_gru_gates_are_the_readable_cells_and_explain_the_state(n_layers, tiny):
    model = build("gru", n_layers, vocab_size=len(tiny.vocab))
    ids = tiny.vocab.encode("ava")
    gates = gate_values(model, ids)
    assert set(gates) == {"update", "reset"}
    for values in gates.values():
        assert values.shape == (n_layers, 8, 4) and values.min() > 0 and values.max() < 1
    # the blend, layer 0, position 1: h_1 = (1 - z_1) * n_1 + z_1 * h_0, with n_1 from the reset gate
    H = hidden_states(model, ids)
    cell = model.readable_cells()[0]
    x1 = model.wte.weight[ids[0]]
    with torch.no_grad():
        n1 = torch.tanh(cell.W_xn @ x1 + cell.b_xn + gates["reset"][0, :, 1] * (cell.W_hn @ H[0, :, 0] + cell.b_hn))
    z1 = gates["update"][0, :, 1]
    assert torch.allclose(H[0, :, 1], (1 - z1) * n1 + z1 * H[0, :, 0], atol=1e-6)


def test_the_rnn_has_no_gates_and_words_out_of_bounds_are_refused(tiny):
    model = build("rnn")
    with pytest.raises(ValueError, match="no gates"):
        gate_values(model, [1, 2])
    with pytest.raises(ValueError, match="at most 32"):
        hidden_states(model, [1] * 33)
    with pytest.raises(ValueError, match="between 1 and 26"):
        top_next_chars(model, [0, 5])
    assert hidden_states(model, []).shape == (1, 8, 1)  # the empty word: only the start token


def loss_from_state(model, idx, position, layer, t, state):
    """The loss of the prediction at `position`, with layer `layer`'s state at time t replaced by
    `state`, computed with torch's fused single-layer modules: an independent path to d loss / d h_t."""
    cell = nn.RNN if model.cell == "rnn" else nn.GRU
    layers = []
    for k in range(model.recurrent.num_layers):
        module = cell(model.recurrent.input_size if k == 0 else model.recurrent.hidden_size,
                      model.recurrent.hidden_size, batch_first=True)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(module, f"{name}_l0").data.copy_(getattr(model.recurrent, f"{name}_l{k}"))
        layers.append(module)

    def run(inputs, states):  # the stack over a stretch of positions from the given states
        finals = []
        for module, h0 in zip(layers, states):
            inputs, h_n = module(inputs, h0)
            finals.append(h_n)
        return inputs, finals

    emb = model.wte(idx)  # (1, T, E)
    H = model.recurrent.hidden_size
    states = [torch.zeros(1, 1, H) for _ in layers]
    if t > 0:
        _, states = run(emb[:, :t], states)
    inputs, after_t = emb[:, t: t + 1], []
    for k, (module, h0) in enumerate(zip(layers, states)):  # time t, with layer's state swapped in
        if k == layer:
            inputs, h_n = state.view(1, 1, H), state.view(1, 1, H)
        else:
            inputs, h_n = module(inputs, h0)
        after_t.append(h_n)
    if position > t:
        inputs, _ = run(emb[:, t + 1: position + 1], after_t)
    logits = model.lm_head(inputs[0, -1])
    target = idx[0, position + 1] if position + 1 < idx.size(1) else torch.tensor(0)
    return F.cross_entropy(logits, target)


@pytest.mark.parametrize("cell, n_layers", CELL_AND_LAYERS)
@pytest.mark.parametrize("position", [None, 3])
def test_hidden_gradient_norms_equal_autograd_through_torchs_fused_cells(cell, n_layers, position, tiny):
    model = build(cell, n_layers, vocab_size=len(tiny.vocab), n_hidden=16, seed=5)
    ids = tiny.vocab.encode("isabella")
    norms = hidden_gradient_norms(model, ids, position)
    T = len(ids) + 1
    assert norms.shape == (n_layers, T)
    p = T - 1 if position is None else position
    states = hidden_states(model, ids)  # (L, H, T)
    idx = word_input(model, ids)
    for layer in range(n_layers):
        for t in range(T):
            if t > p:
                assert norms[layer, t] == 0  # a later state cannot affect an earlier prediction
                continue
            state = states[layer, :, t].clone().requires_grad_()
            loss = loss_from_state(model, idx, p, layer, t, state)
            (grad,) = torch.autograd.grad(loss, state)
            assert norms[layer, t].item() == pytest.approx(grad.norm().item(), rel=1e-4, abs=1e-7), (layer, t)
    assert all(p.grad is None for p in model.parameters())  # the view leaves the model untouched


def test_an_rnns_gradient_fades_going_back_from_the_last_prediction():
    # with small recurrent weights every step back multiplies the signal by less than 1
    model = build("rnn", n_hidden=32, seed=0)
    with torch.no_grad():
        model.recurrent.weight_hh_l0.mul_(0.5)
    norms = hidden_gradient_norms(model, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])[0]
    assert torch.all(norms[:-1] < norms[1:])
    assert norms[0] < 1e-3 * norms[-1]


def test_the_registrys_runs_build_and_estimates_grow_with_the_work():
    from makemore.estimate.recurrent import estimate_seconds
    from makemore.models import MODELS
    runs = [run for name in ("rnn", "gru") for run in MODELS[name].runs().values()]
    assert MODELS["rnn"].default_run().model_config == RNNConfig() and MODELS["gru"].default_run().model_config == GRUConfig()
    for config in {run.model_config for run in runs}:
        RecurrentLM(27, config)
        short = estimate_seconds(27, config, 1000, 64)
        assert 0 < short < estimate_seconds(27, config, 2000, 64)
        assert short < estimate_seconds(27, config, 1000, 128) and short < estimate_seconds(27, config, 1000, 64, positions=32)
    assert estimate_seconds(27, RNNConfig(n_hidden=64), 1000, 64) < estimate_seconds(27, GRUConfig(n_hidden=64), 1000, 64)
