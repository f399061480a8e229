"""Lecture 7: from a causal bag of words to a small GPT, on whole words (the "words" layout)."""

import math
from dataclasses import fields, replace

import pytest
import torch
import torch.nn.functional as F

from makemore import limits
from makemore.data import Vocab
from makemore.models import transformer as tm
from makemore.models.transformer import (PRESET_CHANGES, PRESETS, BoWConfig, Transformer, TransformerConfig, attention_weights,
                                         causal_mask, explicit_attention, next_char_probs, the_trick,
                                         transformer_param_count)

from conftest import TINY_WORDS

VOCAB = Vocab.from_words(TINY_WORDS)
V = len(VOCAB)


def padded(words):
    """The contract's words layout, built by hand: x = [0, w1..wn, 0, 0...], y = [w1..wn, 0, -1...]."""
    T = max(len(w) for w in words) + 1
    X = torch.zeros(len(words), T, dtype=torch.long)
    Y = torch.full((len(words), T), -1, dtype=torch.long)
    for i, word in enumerate(words):
        ids = torch.tensor(VOCAB.encode(word))
        X[i, 1 : len(ids) + 1] = ids
        Y[i, : len(ids)] = ids
        Y[i, len(ids)] = 0
    return X, Y


def build(config, seed=0):
    return Transformer(V, config, generator=torch.Generator().manual_seed(seed))


SMALL = TransformerConfig(n_embd=16, n_head=4, n_layer=2)


def test_padded_batch_is_the_contracts_layout():
    X, Y = padded(["ava", "mia"])
    a, v = VOCAB.stoi["a"], VOCAB.stoi["v"]
    assert X[0].tolist() == [0, a, v, a] and Y[0].tolist() == [a, v, a, 0]


# --- shapes, sizes, config ------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_gives_logits_for_every_position_and_counts_its_parameters(name):
    model = build(PRESETS[name])
    X, Y = padded(TINY_WORDS[:5])
    logits, loss = model(X, Y)
    assert logits.shape == (5, X.shape[1], V)
    assert loss.item() == pytest.approx(math.log(V), abs=0.05)  # small init: a near-uniform first guess
    assert sum(p.numel() for p in model.parameters()) == transformer_param_count(V, PRESETS[name])
    assert model(X)[1] is None


def test_block_size_is_a_full_word_and_its_start_token():
    model = build(SMALL)
    assert model.layout == "words"
    assert model.block_size == limits.MAX_WORD_LEN + 1 == 33
    assert model.position_embedding.weight.shape == (33, 16)
    assert model(torch.zeros(2, 33, dtype=torch.long))[0].shape == (2, 33, V)
    with pytest.raises(ValueError, match="longer than the block size"):
        model(torch.zeros(1, 34, dtype=torch.long))


@pytest.mark.parametrize("n_embd,n_head", [(64, 3), (30, 4), (8, 16)])
def test_a_head_count_that_does_not_divide_the_embedding_is_rejected(n_embd, n_head):
    with pytest.raises(ValueError, match=f"{n_head} heads do not divide the embedding size {n_embd}") as err:
        build(TransformerConfig(n_embd=n_embd, n_head=n_head))
    assert "\n" not in str(err.value)


def test_the_bag_of_words_has_no_heads_to_divide():
    build(TransformerConfig(n_embd=30, n_head=4, attention=False))  # the average needs no head size


def test_every_config_field_has_ui_text_and_numbers_have_bounds():
    for f in fields(TransformerConfig):
        assert f.metadata.get("label") and f.metadata.get("help"), f.name
        if f.type in ("int", "float"):
            assert f.metadata["min"] <= f.default <= f.metadata["max"], f.name
    meta = {f.name: f.metadata for f in fields(TransformerConfig)}
    assert (meta["n_layer"]["min"], meta["n_layer"]["max"]) == (1, 6)
    assert (meta["n_head"]["min"], meta["n_head"]["max"]) == (1, 8)


def test_configs_are_hashable_and_the_bow_config_defaults_to_averaging():
    assert hash(TransformerConfig()) == hash(TransformerConfig())
    assert len(set(PRESETS.values())) == len(PRESETS)
    assert BoWConfig().attention is False and TransformerConfig().attention is True
    assert {f.name for f in fields(BoWConfig)} == {f.name for f in fields(TransformerConfig)}
    assert BoWConfig() != TransformerConfig(**{f.name: getattr(BoWConfig(), f.name) for f in fields(BoWConfig)})


def test_presets_walk_the_lecture_path_one_switch_at_a_time():
    switches = [(c.attention, c.n_head > 1, c.feed_forward, c.residual, c.layernorm, c.dropout > 0)
                for c in PRESETS.values()]
    for i, row in enumerate(switches):
        assert sum(row) == i  # each step turns one more thing on
    assert [type(b.mix).__name__ for b in build(PRESETS["bow"]).blocks] == ["CausalAverage"]


# --- causality and padding -----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_changing_a_later_character_never_changes_an_earlier_positions_logits(name):
    model = build(PRESETS[name]).eval()
    X, _ = padded(TINY_WORDS[:8])
    base, _ = model(X)
    g = torch.Generator().manual_seed(1)
    for t in range(1, X.shape[1]):
        changed = X.clone()
        changed[:, t:] = torch.randint(0, V, changed[:, t:].shape, generator=g)
        logits, _ = model(changed)
        assert torch.equal(logits[:, :t], base[:, :t]), t  # bit for bit: nothing leaks from the future
        assert not torch.allclose(logits[:, t:], base[:, t:])  # and the later positions do see it


def test_padding_never_counts_in_the_loss():
    model = build(SMALL)
    X, Y = padded(["ava", "isabella", "mia"])
    logits, loss = model(X, Y)
    kept = Y != -1
    by_hand = -F.log_softmax(logits, dim=-1)[kept].gather(1, Y[kept][:, None]).mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    # whatever sits in the padded inputs, and however much padding, the loss is the same
    noisy = X.clone()
    noisy[Y == -1] = 5
    wider_X = torch.cat([X, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    wider_Y = torch.cat([Y, torch.full((3, 4), -1)], dim=1)
    assert model(noisy, Y)[1].item() == pytest.approx(loss.item(), rel=1e-6)
    assert model(wider_X, wider_Y)[1].item() == pytest.approx(loss.item(), rel=1e-6)
    # a word alone gives the loss of its own characters, padded or not
    alone = model(*padded(["ava"]))[1]
    assert model(X[:1], Y[:1])[1].item() == pytest.approx(alone.item(), rel=1e-6)


def test_padding_gets_no_gradient_from_the_loss():
    model = build(SMALL)
    X, Y = padded(["ava", "isabella"])
    logits, _ = model(X)
    logits.retain_grad()
    F.cross_entropy(logits.reshape(-1, V), Y.reshape(-1), ignore_index=-1).backward()
    assert torch.all(logits.grad[Y == -1] == 0) and torch.all(logits.grad[Y != -1].abs().sum(-1) > 0)


# --- attention, two ways ---------------------------------------------------------------------------

def test_explicit_attention_matches_scaled_dot_product_attention_outputs_and_gradients():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 4, 12, 8, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    out, scores, weights = explicit_attention(q, k, v)
    fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(out, fused, atol=1e-12)
    upstream = torch.randn(out.shape, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad(out, (q, k, v), upstream)
    fused_grads = torch.autograd.grad(fused, (q, k, v), upstream)
    for a, b in zip(grads, fused_grads):
        assert torch.allclose(a, b, atol=1e-12)
    assert torch.all(torch.isinf(scores[..., ~causal_mask(12)])) and torch.all(weights[..., ~causal_mask(12)] == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 12, dtype=torch.float64))


def test_the_model_trains_the_same_with_fused_or_explicit_attention(monkeypatch):
    X, Y = padded(TINY_WORDS[:10])
    results = []
    for fused in (True, False):
        monkeypatch.setattr(tm, "USE_SDPA", fused)
        model = build(TransformerConfig(n_embd=16, n_head=2, n_layer=2)).double()
        logits, loss = model(X, Y)
        loss.backward()
        results.append((logits, {n: p.grad for n, p in model.named_parameters()}))
    (a, grads_a), (b, grads_b) = results
    assert torch.allclose(a, b, atol=1e-10)
    for name in grads_a:
        assert torch.allclose(grads_a[name], grads_b[name], atol=1e-10), name


# --- training, seeds, dropout ----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_lowers_the_loss_in_a_short_run(name):
    torch.manual_seed(0)  # dropout's masks
    model = build(PRESETS[name])
    X, Y = padded(TINY_WORDS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model.eval()(X, Y)[1].item()
    model.train()
    for _ in range(60):
        _, loss = model(X, Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    last = model.eval()(X, Y)[1].item()
    assert last < first - 0.5, (first, last)


def test_the_same_seed_gives_the_same_weights_whatever_the_global_rng_did():
    torch.manual_seed(0)
    a = build(PRESETS["gpt"], seed=7).state_dict()
    torch.manual_seed(123)
    torch.rand(1000)
    b = build(PRESETS["gpt"], seed=7).state_dict()
    c = build(PRESETS["gpt"], seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["token_embedding.weight"], c["token_embedding.weight"])
    assert a["token_embedding.weight"].std().item() == pytest.approx(1.0, rel=0.1)


def test_a_deep_stack_without_residual_connections_still_passes_a_signal_at_init():
    # fan-in initialisation keeps each layer's output near unit variance; with GPT-2's N(0, 0.02)
    # everywhere, four plain blocks shrank the logits to ~1e-19 and the net could not learn
    model = build(PRESETS["feed-forward"])
    X, _ = padded(TINY_WORDS[:8])
    x = model.token_embedding(X) + model.position_embedding(torch.arange(X.shape[1]))
    for block in model.blocks:
        x = block(x)
    assert x.std().item() > 0.05
    logits, _ = model(X)
    assert logits.std().item() > 1e-3


def test_dropout_is_random_in_training_and_off_in_eval():
    model = build(replace(SMALL, dropout=0.3))
    X, _ = padded(TINY_WORDS[:6])
    model.train()
    assert not torch.equal(model(X)[0], model(X)[0])
    model.eval()
    a, b = model(X)[0], model(X)[0]
    assert torch.equal(a, b)
    without = build(replace(SMALL, dropout=0.0)).eval()
    without.load_state_dict(model.state_dict())  # dropout has no weights: same model without it
    assert torch.equal(without(X)[0], a)


# --- views -----------------------------------------------------------------------------------------

def word_ids(word):
    return [0] + VOCAB.encode(word)


def test_the_trick_for_the_bag_of_words_is_a_uniform_average_of_the_past():
    trick = the_trick(build(PRESETS["bow"]), word_ids("emma"))
    T = 5
    assert torch.equal(trick["mask"], torch.tril(torch.ones(T, T, dtype=torch.bool)))
    assert torch.all(trick["scores"][trick["mask"]] == 0) and torch.all(trick["scores"][~trick["mask"]] == -math.inf)
    expected = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
    assert torch.allclose(trick["weights"], expected)


def test_the_trick_for_attention_shows_the_scores_it_learned():
    torch.manual_seed(0)
    model = build(PRESETS["one-head"])
    X, Y = padded(TINY_WORDS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = model(X, Y)[1]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trick = the_trick(model, word_ids("emma"))
    mask = trick["mask"]
    assert torch.all(trick["weights"][~mask] == 0)
    assert torch.allclose(trick["weights"].sum(-1), torch.ones(5))
    assert trick["scores"][mask].std() > 0.1  # not all equal any more: not a plain average
    assert torch.allclose(trick["weights"], torch.softmax(trick["scores"], dim=-1))


def test_attention_weights_cover_every_layer_and_head_and_do_not_change_the_model():
    model = build(PRESETS["gpt"]).train()
    ids = word_ids("isabella")
    maps = attention_weights(model, ids)
    assert maps.shape == (4, 4, 9, 9)
    assert torch.allclose(maps.sum(-1), torch.ones(4, 4, 9))
    assert torch.all(maps[..., ~causal_mask(9)] == 0)
    assert model.training  # left as it was
    assert not any(hasattr(b.mix, name) for b in model.blocks for name in ("scores", "weights"))  # nothing kept on it
    assert attention_weights(build(PRESETS["bow"]), ids).shape == (1, 1, 9, 9)


def test_a_view_in_one_thread_never_sees_another_threads_forward_pass():
    # the app's trained models are shared by every visitor: one's view must not read another's scores
    import threading

    from makemore.models.transformer import explaining
    model = build(PRESETS["gpt"]).eval()
    short, long_ = torch.tensor([word_ids("ava")]), torch.tensor([word_ids("isabella")])
    inside, other_done = threading.Event(), threading.Event()

    def other_visitor():
        inside.wait()
        with explaining(model):
            model(long_)  # records in its own thread
        with torch.no_grad():
            model(long_)  # a plain forward pass (sampling): records nothing
        other_done.set()

    thread = threading.Thread(target=other_visitor)
    thread.start()
    with explaining(model) as kept:
        model(short)
        inside.set()
        other_done.wait()
        assert all(kept[b.mix][1].shape[-1] == 4 for b in model.blocks)  # still this thread's "ava"
    thread.join()


def test_the_views_read_the_same_weights_the_fused_attention_uses():
    model = build(PRESETS["layernorm"]).eval()
    ids = torch.tensor([word_ids("olivia")])
    with torch.no_grad():
        fused_logits, _ = model(ids)
    probs, _ = next_char_probs(model, ids[0], k=V)
    assert torch.allclose(probs.sum(-1), torch.ones(7), atol=1e-5)
    assert torch.allclose(probs.max(-1).values, torch.softmax(fused_logits[0], -1).max(-1).values, atol=1e-6)


def test_next_char_probs_are_the_likeliest_first_at_each_position():
    model = build(PRESETS["gpt"])
    probs, ids = next_char_probs(model, word_ids("ava"), k=3)
    assert probs.shape == ids.shape == (4, 3)
    assert torch.all(probs[:, :-1] >= probs[:, 1:])
    logits, _ = model.eval()(torch.tensor([word_ids("ava")]))
    full = torch.softmax(logits[0], -1)
    assert torch.allclose(probs, full.gather(1, ids))
    # position 1 has seen ".a" only: what "ava" does later cannot change it
    assert torch.equal(next_char_probs(model, word_ids("ab"), k=3)[1][:2], ids[:2])


def test_the_trick_shows_the_same_weights_as_the_full_map():
    model = build(PRESETS["gpt"])
    ids = word_ids("stella")
    maps = attention_weights(model, ids)
    for layer, head in [(0, 0), (2, 3)]:
        assert torch.equal(the_trick(model, ids, layer, head)["weights"], maps[layer, head])


def test_every_preset_says_what_it_changes():
    assert list(PRESET_CHANGES) == list(PRESETS)
