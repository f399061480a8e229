"""makemore.train: the one training loop, its schedules, its history and its stopping."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from makemore.models import create_model, next_char_loss
from makemore.models.mlp import MLPConfig
from makemore.train import Progress, TrainConfig, TrainResult, evaluate, resolve_device, train


def run(dataset, seed=1337, model="bigram-nn", callback=None, **overrides):
    config = TrainConfig(**overrides)
    m = create_model(model, len(dataset.vocab), seed=seed)
    return m, train(m, dataset, config, callback=callback)


# -----------------------------------------------------------------------------------------------
# learning


def test_loss_goes_down_on_a_small_dataset(tiny_dataset):
    model, r = run(tiny_dataset, max_steps=100, batch_size=0, optimizer="adamw", lr=0.1)
    initial = r.loss_history[0]
    assert initial > 3.0  # random W with std 1 over ~24 characters
    assert r.loss_history[-1] < initial - 1.0
    assert r.train_loss < 2.6
    assert sum(r.loss_history[-10:]) < sum(r.loss_history[:10])
    assert r.steps == 100 and len(r.loss_history) == len(r.step_history) == len(r.lr_history) == 100
    assert r.step_history == list(range(1, 101))
    assert not r.stopped_early


def test_train_result_losses_are_the_splits_losses_of_the_trained_model(tiny_dataset):
    model, r = run(tiny_dataset, max_steps=20, batch_size=16, lr=1.0)
    assert r.train_loss == pytest.approx(evaluate(model, *tiny_dataset.examples("train", 1)), abs=1e-6)
    assert r.val_loss == pytest.approx(evaluate(model, *tiny_dataset.examples("val", 1)), abs=1e-6)
    assert r.test_loss == pytest.approx(evaluate(model, *tiny_dataset.examples("test", 1)), abs=1e-6)
    assert r.params == len(tiny_dataset.vocab) ** 2
    assert r.device == "cpu" and model.W.device.type == "cpu"
    assert r.seconds > 0 and r.steps_per_sec == pytest.approx(20 / r.seconds)


def test_same_config_and_seed_give_identical_history_and_losses(tiny_dataset):
    _, a = run(tiny_dataset, max_steps=40, batch_size=8, lr=0.5, eval_interval=10)
    _, b = run(tiny_dataset, max_steps=40, batch_size=8, lr=0.5, eval_interval=10)
    assert a.loss_history == b.loss_history
    assert a.val_history == b.val_history
    assert (a.train_loss, a.val_loss, a.test_loss) == (b.train_loss, b.val_loss, b.test_loss)


def test_another_seed_gives_another_history(tiny_dataset):
    _, a = run(tiny_dataset, max_steps=20, batch_size=8, lr=0.5, seed=1)
    _, b = run(tiny_dataset, max_steps=20, batch_size=8, lr=0.5, seed=2)
    assert a.loss_history != b.loss_history


def test_minibatch_order_follows_the_train_seed(tiny_dataset):
    # same initial weights, different TrainConfig.seed: only the minibatches differ
    _, a = run(tiny_dataset, seed=5, max_steps=10, batch_size=8, lr=0.5)
    m = create_model("bigram-nn", len(tiny_dataset.vocab), seed=5)
    b = train(m, tiny_dataset, TrainConfig(max_steps=10, batch_size=8, lr=0.5, seed=99))
    assert a.loss_history != b.loss_history


def test_full_batch_when_batch_size_is_zero(tiny_dataset):
    Xtr, Ytr = tiny_dataset.examples("train", 1)
    initial = evaluate(create_model("bigram-nn", len(tiny_dataset.vocab), seed=5), Xtr, Ytr)
    _, full = run(tiny_dataset, seed=5, max_steps=10, batch_size=0, lr=0.5)
    assert full.loss_history[0] == pytest.approx(initial, abs=1e-5)  # the loss of the whole split
    # no minibatches drawn: the train seed changes nothing
    m = create_model("bigram-nn", len(tiny_dataset.vocab), seed=5)
    other_seed = train(m, tiny_dataset, TrainConfig(max_steps=10, batch_size=0, lr=0.5, seed=99))
    assert other_seed.loss_history == full.loss_history
    # a batch as big as the split is the full batch too
    _, big = run(tiny_dataset, seed=5, max_steps=10, batch_size=len(Xtr), lr=0.5)
    assert big.loss_history == full.loss_history


def test_sgd_steps_use_the_scheduled_learning_rate(tiny_dataset):
    Xtr, Ytr = tiny_dataset.examples("train", 1)
    model, r = run(tiny_dataset, seed=3, max_steps=4, batch_size=0, lr=2.0, schedule="step")
    assert r.lr_history == [2.0, 2.0, 0.2, 0.2]
    W = create_model("bigram-nn", len(tiny_dataset.vocab), seed=3).W.detach().clone()
    for lr in r.lr_history:  # plain gradient descent by hand
        W.requires_grad_(True)
        loss = F.cross_entropy(W[Xtr[:, 0]], Ytr)
        (grad,) = torch.autograd.grad(loss, W)
        W = (W - lr * grad).detach()
    assert torch.allclose(model.W.detach(), W, atol=1e-5)


# -----------------------------------------------------------------------------------------------
# schedules


def test_constant_schedule():
    c = TrainConfig(max_steps=10, lr=0.3)
    assert [c.lr_at(i) for i in range(10)] == [0.3] * 10


def test_step_schedule_divides_by_ten_for_the_last_half():
    c = TrainConfig(max_steps=10, lr=1.0, schedule="step")
    assert [c.lr_at(i) for i in range(10)] == [1.0] * 5 + [0.1] * 5
    c = TrainConfig(max_steps=7, lr=1.0, schedule="step")
    assert [c.lr_at(i) for i in range(7)] == [1.0] * 3 + [0.1] * 4


def test_cosine_schedule_goes_from_lr_to_a_tenth():
    c = TrainConfig(max_steps=11, lr=1.0, schedule="cosine")
    lrs = [c.lr_at(i) for i in range(11)]
    assert lrs[0] == pytest.approx(1.0)
    assert lrs[5] == pytest.approx(0.55)  # half way: the mean of lr and lr/10
    assert lrs[10] == pytest.approx(0.1)
    assert lrs[2] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.2)))
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert TrainConfig(max_steps=1, lr=1.0, schedule="cosine").lr_at(0) == pytest.approx(1.0)


def test_train_records_the_schedule_in_lr_history(tiny_dataset):
    _, r = run(tiny_dataset, max_steps=9, batch_size=8, lr=0.5, schedule="cosine")
    config = TrainConfig(max_steps=9, lr=0.5, schedule="cosine")
    assert r.lr_history == [config.lr_at(i) for i in range(9)]


# -----------------------------------------------------------------------------------------------
# evaluation and callbacks


def test_eval_interval_gives_validation_at_those_steps_and_the_last(tiny_dataset):
    model, r = run(tiny_dataset, max_steps=25, batch_size=8, lr=0.5, eval_interval=10)
    assert [s for s, _ in r.val_history] == [10, 20, 25]
    assert r.val_history[-1][1] == pytest.approx(r.val_loss, abs=1e-6)  # same model at the end
    assert all(math.isfinite(v) for _, v in r.val_history)


def test_automatic_eval_interval_evaluates_twenty_times_a_run(tiny_dataset):
    _, r = run(tiny_dataset, max_steps=40, batch_size=8, lr=0.5)  # eval_interval=0: automatic
    assert [s for s, _ in r.val_history] == list(range(2, 41, 2))
    assert TrainConfig(max_steps=4000).eval_every == 200 and TrainConfig(max_steps=5).eval_every == 1


def test_an_eval_interval_past_the_run_evaluates_only_at_the_end(tiny_dataset):
    _, r = run(tiny_dataset, max_steps=25, batch_size=8, lr=0.5, eval_interval=1000)
    assert [s for s, _ in r.val_history] == [25]
    assert math.isfinite(r.val_loss)


def test_callback_sees_every_step_with_val_loss_on_eval_steps(tiny_dataset):
    seen: list[Progress] = []
    _, r = run(tiny_dataset, max_steps=6, batch_size=8, lr=0.5, eval_interval=4, callback=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4, 5, 6]
    assert all(p.max_steps == 6 for p in seen)
    assert [p.val_loss is not None for p in seen] == [False, False, False, True, False, True]
    assert [p.loss for p in seen] == r.loss_history
    assert [p.lr for p in seen] == r.lr_history
    assert all(b.seconds >= a.seconds for a, b in zip(seen, seen[1:]))


def test_callback_returning_true_stops_early(tiny_dataset):
    steps = []

    def stop_at_5(p):
        steps.append(p.step)
        return p.step == 5

    _, r = run(tiny_dataset, max_steps=50, batch_size=8, lr=0.5, callback=stop_at_5)
    assert r.stopped_early is True
    assert r.steps == 5 < 50
    assert steps == [1, 2, 3, 4, 5]
    assert len(r.loss_history) == 5
    assert all(math.isfinite(x) for x in (r.train_loss, r.val_loss, r.test_loss))  # still evaluated


def test_callback_stopping_on_the_last_step_is_not_early(tiny_dataset):
    _, r = run(tiny_dataset, max_steps=5, batch_size=8, lr=0.5, callback=lambda p: p.step == 5)
    assert r.steps == 5 and r.stopped_early is False


def test_divergent_learning_rate_raises_floating_point_error(tiny_dataset):
    with pytest.raises(FloatingPointError, match="learning rate .* is too high"):
        run(tiny_dataset, max_steps=20, batch_size=0, lr=1e38)


def test_counts_model_is_fitted_without_steps(tiny_dataset):
    calls = []
    model, r = run(tiny_dataset, model="bigram", max_steps=0, callback=calls.append)
    assert r.steps == 0 and r.loss_history == [] and calls == []
    assert model.counts.sum().item() == len(tiny_dataset.examples("train", 1)[1])
    assert math.isfinite(r.train_loss) and r.params == len(tiny_dataset.vocab) ** 2


@pytest.mark.parametrize("bad", [dict(schedule="cosin"), dict(device="tpu"), dict(max_steps=-1),
                                 dict(lr=0.0), dict(lr=float("nan"))])
def test_config_refuses_nonsense_at_once(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_unknown_optimizer_is_a_value_error(tiny_dataset):
    with pytest.raises(ValueError, match="unknown optimizer 'adam'"):
        run(tiny_dataset, max_steps=1, optimizer="adam")


# -----------------------------------------------------------------------------------------------
# devices, evaluation, results


def test_cuda_when_unavailable_is_a_value_error(tiny_dataset, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="cuda"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        run(tiny_dataset, max_steps=1, device="cuda")


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_evaluate_in_chunks_equals_one_pass_and_keeps_the_mode(tiny_dataset):
    model = create_model("bigram-nn", len(tiny_dataset.vocab))
    X, Y = tiny_dataset.examples("train", 1)
    whole = F.cross_entropy(model(X)[0], Y).item()
    assert evaluate(model, X, Y, chunk=7) == pytest.approx(whole, abs=1e-5)
    assert model.training
    model.eval()
    evaluate(model, X, Y)
    assert not model.training


def test_keep_best_ends_with_the_weights_of_the_lowest_validation_loss(tiny_dataset):
    # 32 names, a constant rate: val is lowest early and rises as the net memorises them
    config = TrainConfig(max_steps=300, batch_size=16, optimizer="adamw", lr=0.01, eval_interval=25, keep_best=True)
    mlp = MLPConfig(n_hidden=64)
    model = create_model("mlp", len(tiny_dataset.vocab), mlp, seed=config.seed)
    r = train(model, tiny_dataset, config)
    best_step, best_val = min(r.val_history, key=lambda point: point[1])
    assert r.kept_step == best_step < r.steps and r.val_history[-1][1] > best_val  # the last weights were worse
    assert r.val_loss == best_val  # the losses are the restored weights'
    assert r.val_loss == evaluate(model, *tiny_dataset.examples("val", mlp.block_size))
    # the very weights of that step: a run that ends there (the same minibatches, the same rate)
    shorter = create_model("mlp", len(tiny_dataset.vocab), mlp, seed=config.seed)
    s = train(shorter, tiny_dataset, dataclasses.replace(config, max_steps=best_step, keep_best=False))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), shorter.state_dict().values()))
    assert (r.train_loss, r.test_loss) == (s.train_loss, s.test_loss) and s.kept_step is None


def test_without_keep_best_the_run_ends_with_its_last_weights(tiny_dataset):
    _, r = run(tiny_dataset, max_steps=40, batch_size=8, lr=0.5, eval_interval=10)
    assert r.kept_step is None and r.val_loss == pytest.approx(r.val_history[-1][1], abs=1e-6)


def test_train_result_round_trips_through_a_dict(tiny_dataset):
    _, r = run(tiny_dataset, max_steps=5, batch_size=8, lr=0.5, eval_interval=2)
    d = r.to_dict()
    assert d["steps_per_sec"] == r.steps_per_sec
    assert TrainResult.from_dict(d) == r
    assert TrainResult.from_dict({**d, "val_history": [list(p) for p in d["val_history"]]}) == r
    assert TrainResult(params=1, steps=0, seconds=0.0, train_loss=1, val_loss=1, test_loss=1).steps_per_sec == 0.0


# -----------------------------------------------------------------------------------------------
# whole words: a model with layout "words" trains through the same loop


class WordsBigram(torch.nn.Module):
    """The smallest whole-word model: each position's logits are a row of W picked by its own
    character (so it is causal), for batches of padded words."""

    layout = "words"
    block_size = 33

    def __init__(self, vocab_size, generator=None):
        super().__init__()
        self.W = torch.nn.Parameter(torch.randn(vocab_size, vocab_size, generator=generator) * 0.1)

    def forward(self, idx, targets=None):
        logits = self.W[idx]  # (B, T, V)
        return logits, None if targets is None else next_char_loss(logits, targets)


def test_evaluate_counts_only_predicted_characters_of_padded_words(tiny_dataset):
    model = WordsBigram(len(tiny_dataset.vocab), torch.Generator().manual_seed(0))
    X, Y = tiny_dataset.examples("val", 0, "words")
    by_hand = []
    for word in tiny_dataset.splits["val"]:
        ids = [0] + tiny_dataset.vocab.encode(word) + [0]
        logp = torch.log_softmax(model.W[ids[:-1]], dim=-1)
        by_hand += [-logp[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
    assert evaluate(model, X, Y, chunk=16) == pytest.approx(sum(by_hand) / len(by_hand), rel=1e-5)


def test_a_words_model_trains_and_evaluates_through_the_one_loop(tiny_dataset):
    model = WordsBigram(len(tiny_dataset.vocab), torch.Generator().manual_seed(0))
    r = train(model, tiny_dataset, TrainConfig(max_steps=60, batch_size=8, optimizer="adamw", lr=0.1))
    assert r.loss_history[-1] < r.loss_history[0] and math.isfinite(r.val_loss)
    assert r.val_history[-1][1] == pytest.approx(r.val_loss, abs=1e-6)
