"""Lecture 4: the MLP with BatchNorm backpropagated by hand, checked against autograd, trained with
our gradients alone, and the `backprop-check` command."""

import json
import re

import pytest
import torch
import torch.nn.functional as F

import makemore.lesson.backprop as backprop
from makemore.lesson.backprop import (FORMULAS, FUSED, NAMES, PARAMETERS, TOLERANCE, BackpropConfig, batchnorm_backward,
                               compare_all, cross_entropy_backward, forward, init_params, manual_backward,
                               sample_batch, train_both)
from makemore.cli import main
from makemore.data import WordDataset

from conftest import TINY_WORDS


@pytest.fixture(scope="module")
def tiny():
    return WordDataset("tiny", TINY_WORDS)


def one_batch(dataset, config):
    """(params, Xb, Yb) as compare_all draws them."""
    X, Y = dataset.examples("train", config.block_size)
    Xb, Yb = sample_batch(X, Y, config, torch.Generator().manual_seed(config.seed))
    return init_params(len(dataset.vocab), config), Xb, Yb


# --- the network ----------------------------------------------------------------------------------

def test_parameters_are_float32_leaves_with_the_lectures_shapes_and_the_seed_repeats_them():
    config = BackpropConfig(n_hidden=16)
    params = init_params(27, config)
    shapes = {name: tuple(p.shape) for name, p in params.items()}
    assert shapes == {"C": (27, 10), "W1": (30, 16), "b1": (16,), "W2": (16, 27), "b2": (27,),
                      "bngain": (1, 16), "bnbias": (1, 16)}
    assert all(p.dtype == torch.float32 and p.is_leaf and p.requires_grad for p in params.values())
    again, other = init_params(27, config), init_params(27, BackpropConfig(n_hidden=16, seed=7))
    assert all(torch.equal(params[k], again[k]) for k in PARAMETERS)
    assert not torch.equal(params["W1"], other["W1"])
    # none is zero or one, so no gradient can be right by accident: b1 and bnbias small, bngain near 1
    assert 0 < params["b1"].abs().mean() < 0.2 and 0 < params["bnbias"].abs().mean() < 0.2
    assert (params["bngain"] != 1).all() and (params["bngain"] - 1).abs().max() < 0.5


def test_the_forward_pass_is_batchnorm_and_cross_entropy(names_dataset):
    config = BackpropConfig()
    params, Xb, Yb = one_batch(names_dataset, config)
    loss, cache = forward(params, Xb, Yb)
    assert set(NAMES) - set(PARAMETERS) <= set(cache)
    assert loss.item() == pytest.approx(F.cross_entropy(cache["logits"], Yb).item(), abs=1e-6)
    hprebn = cache["hprebn"]
    expected = params["bngain"] * (hprebn - hprebn.mean(0)) / torch.sqrt(hprebn.var(0) + 1e-5) + params["bnbias"]
    assert torch.allclose(cache["hpreact"], expected, atol=1e-5)  # var(0) is Bessel's, as ours
    assert 3.0 < loss.item() < 4.0  # near -log(1/27) = 3.3: the small W2 makes the first guesses nearly uniform


def test_the_minibatch_is_drawn_from_the_generator(names_dataset):
    config = BackpropConfig(batch_size=50)
    X, Y = names_dataset.examples("train", 3)
    Xb, Yb = sample_batch(X, Y, config, torch.Generator().manual_seed(1))
    again, _ = sample_batch(X, Y, config, torch.Generator().manual_seed(1))
    other, _ = sample_batch(X, Y, config, torch.Generator().manual_seed(2))
    assert Xb.shape == (50, 3) and Yb.shape == (50,) and Xb.dtype == Yb.dtype == torch.int64
    assert torch.equal(Xb, again) and not torch.equal(Xb, other)
    assert any(torch.equal(X[i], Xb[0]) and Y[i] == Yb[0] for i in range(len(X)))  # real (context, target) pairs


def test_intermediates_keep_their_gradients_only_when_autograd_is_on(tiny):
    params, Xb, Yb = one_batch(tiny, BackpropConfig(n_hidden=8))
    with torch.no_grad():
        loss, cache = forward(params, Xb, Yb)
    assert not loss.requires_grad and not cache["h"].retains_grad
    loss, cache = forward(params, Xb, Yb)
    loss.backward()
    assert all(cache[name].grad is not None for name in NAMES if name not in PARAMETERS)


# --- the backward pass, by hand -----------------------------------------------------------------

@pytest.mark.parametrize("seed", [42, 7])
@pytest.mark.parametrize("batch_size", [32, 8])
def test_every_gradient_by_hand_matches_autograd_on_the_lecture_names(names_dataset, seed, batch_size):
    config = BackpropConfig(batch_size=batch_size, seed=seed)
    rows = compare_all(names_dataset, config)
    assert [r.name for r in rows] == list(NAMES + FUSED)
    wrong = [(r.name, r.max_diff) for r in rows if not (r.approx and r.max_diff <= TOLERANCE)]
    assert wrong == []
    params, Xb, _ = one_batch(names_dataset, config)
    shapes = {name: tuple(p.shape) for name, p in params.items()}
    shapes.update(logits=(batch_size, 27), emb=(batch_size, 3, 10))
    assert all(r.shape == shapes[r.name] for r in rows if r.name in shapes)
    exact = [r.name for r in rows if r.exact]
    print(f"seed {seed}, batch {batch_size}: exact {exact}")
    # the cross-entropy steps and the output layer repeat autograd's arithmetic bit for bit
    assert set(exact) >= {"logprobs", "probs", "counts", "norm_logits", "logits", "h", "W2", "b2"}
    assert all(r.exact == (r.max_diff == 0) for r in rows)


def test_every_gradient_matches_on_the_tiny_list_with_other_sizes(tiny):
    rows = compare_all(tiny, BackpropConfig(block_size=2, n_embd=3, n_hidden=5, batch_size=8, seed=3))
    assert len(rows) == 28 and all(r.approx for r in rows)
    assert dict((r.name, r.shape) for r in rows)["C"] == (len(tiny.vocab), 3)


def test_the_fused_passes_equal_the_step_by_step_ones(names_dataset):
    params, Xb, Yb = one_batch(names_dataset, BackpropConfig(batch_size=64, seed=3))
    with torch.no_grad():
        _, cache = forward(params, Xb, Yb)
    grads = manual_backward(params, cache, Yb)
    dlogits = cross_entropy_backward(cache["logits"], Yb)
    dhprebn = batchnorm_backward(grads["hpreact"], params["bngain"], cache["bnvar_inv"], cache["bnraw"])
    assert (dlogits - grads["logits"]).abs().max() <= 1e-6
    assert (dhprebn - grads["hprebn"]).abs().max() <= 1e-6
    assert torch.allclose(dlogits.sum(1), torch.zeros(64), atol=1e-7)  # each row's pulls and pushes balance


def test_the_max_that_guards_exp_gets_a_gradient_of_about_zero(names_dataset):
    params, Xb, Yb = one_batch(names_dataset, BackpropConfig())
    with torch.no_grad():
        _, cache = forward(params, Xb, Yb)
    dlogit_maxes = manual_backward(params, cache, Yb)["logit_maxes"]
    assert dlogit_maxes.shape == (32, 1) and dlogit_maxes.abs().max() < 1e-8


def test_a_wrong_gradient_is_caught(tiny, monkeypatch):
    honest = manual_backward

    def off_by_a_bit(params, cache, Yb):
        grads = honest(params, cache, Yb)
        grads["bnvar"] = grads["bnvar"] * 1.01
        return grads

    monkeypatch.setattr(backprop, "manual_backward", off_by_a_bit)
    rows = {r.name: r for r in compare_all(tiny, BackpropConfig(n_hidden=8))}
    assert not rows["bnvar"].approx and not rows["bnvar"].exact and rows["bnvar"].max_diff > TOLERANCE
    assert rows["W2"].approx  # the mistake sits before W2 on the way back: W2 is still right


# --- training with our gradients ------------------------------------------------------------------

def test_training_with_our_gradients_follows_autograd_for_1000_steps(names_dataset):
    result = train_both(names_dataset, BackpropConfig(), steps=1000, lr=0.1)
    assert result.steps == list(range(1, 1001)) and len(result.manual) == len(result.autograd) == 1000
    diffs = [abs(m - a) for m, a in zip(result.manual, result.autograd)]
    assert max(diffs) <= 1e-4 and result.max_diff == max(diffs)
    print(f"train_both: max |manual - autograd| over 1000 steps = {result.max_diff:.1e}")
    assert result.manual[0] == result.autograd[0]  # the same weights and batch: the same first loss
    first, last = sum(result.manual[:50]) / 50, sum(result.manual[-50:]) / 50
    assert last < first - 0.6  # from ~3.3 to ~2.5


def test_training_refuses_more_steps_than_a_page_could_ask(tiny):
    with pytest.raises(ValueError, match="5000"):
        train_both(tiny, steps=5001)
    with pytest.raises(ValueError):
        train_both(tiny, steps=0)


# --- the formulas for the page --------------------------------------------------------------------

def test_every_gradient_has_a_one_line_formula():
    assert set(FORMULAS) == set(NAMES) | set(FUSED)
    for name, formula in FORMULAS.items():
        assert "\n" not in formula and "|" not in formula  # a bare | would break the page's table
        assert formula.count("{") == formula.count("}") and formula.count("(") == formula.count(")")
        assert "_" not in re.sub(r"\\_|[_^]\{|_[a-z]\b", "", formula), name  # underscores in names are escaped
    assert FORMULAS["probs"] == r"\mathrm{d}\text{probs} = \mathrm{d}\text{logprobs} \,/\, \text{probs}"
    assert FORMULAS["counts_sum_inv"].startswith(r"\mathrm{d}\text{counts\_sum\_inv} = ")


# --- the command line ---------------------------------------------------------------------------

def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.fixture
def tiny_file(write_words):
    return write_words(TINY_WORDS, "tiny.txt")


def test_backprop_check_prints_a_row_per_gradient_and_passes(capsys, tiny_file):
    code, out, err = cli(capsys, "backprop-check", "--data", tiny_file, "--batch-size", 16)
    assert code == 0 and err == []
    vocab_size = len(WordDataset("tiny", TINY_WORDS).vocab)
    assert len(out) == 1 + 28 + 1 and out[1].split()[:4] == ["logprobs", "(16,", f"{vocab_size})", "yes"]
    assert re.fullmatch(r"all 28 gradients match autograd \(\d+ exact\)", out[-1])


def test_backprop_check_json_says_ok(capsys, tiny_file):
    code, out, err = cli(capsys, "backprop-check", "--data", tiny_file, "--n-hidden", 20, "--seed", 3, "--json")
    assert code == 0 and err == []
    result = json.loads(out[-1])
    assert result["ok"] is True and len(result["rows"]) == 28
    assert result["exact"] == sum(r["exact"] for r in result["rows"]) >= 8
    assert result["config"] == {"block_size": 3, "n_embd": 10, "n_hidden": 20, "batch_size": 32, "seed": 3}
    assert result["rows"][-1] == {**result["rows"][-1], "name": FUSED[1], "shape": [32, 20], "approx": True}


def test_backprop_check_exits_1_and_names_a_wrong_gradient(capsys, monkeypatch, tiny_file):
    honest = manual_backward

    def wrong_sign(params, cache, Yb):
        grads = honest(params, cache, Yb)
        grads["W1"] = -grads["W1"]
        return grads

    monkeypatch.setattr(backprop, "manual_backward", wrong_sign)
    code, out, err = cli(capsys, "backprop-check", "--data", tiny_file)
    assert code == 1 and err == []
    assert out[-1] == "1 gradient differs from autograd: W1"
    assert [line.split()[3:5] for line in out[1:-1] if line.startswith("W1 ")] == [["no", "no"]]
    code, out, _ = cli(capsys, "backprop-check", "--data", tiny_file, "--json")
    assert code == 1 and json.loads(out[-1])["ok"] is False


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "7"], "--batch-size: must be between 8 and 4096"),
    (["--batch-size", "5000"], "--batch-size: must be between 8 and 4096"),
    (["--n-hidden", "0"], "--n-hidden: must be between 1 and 512"),
    (["--seed", "x"], "--seed: must be an integer"),
    (["--data", "no-such-file.txt"], "does not exist"),
])
def test_backprop_check_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, message):
    if argv[0] == "--data":
        argv = ["--data", str(tmp_path / argv[1])]
    code, out, err = cli(capsys, "backprop-check", *argv)
    assert code == 2 and out == [] and len(err) == 1
    assert err[0].startswith("makemore: error: ") and message in err[0]
