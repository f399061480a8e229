"""makemore.overfitting: the verdict that a model memorises its training words, on real trainings
(200 made-up words with the MLP page's recipe; the shipped runs on the built-in lists) and on
histories made by hand for each sign."""

import math
import random

import pytest
import torch

from makemore.serving.checkpoint import load_checkpoint
from makemore.serving.cache import SHIPPED_DIR
from makemore.data import WordDataset
from makemore.models import MODELS, create_model
from makemore.overfitting import RISE, memorising
from makemore.sample import Sample, generate
from makemore.train import TrainConfig, TrainResult, train


def made_up_words(count: int = 200, seed: int = 22) -> list[str]:
    """Random strings of 4 to 9 of the letters a-p: nothing to learn but their lengths and letters,
    so whatever a model learns beyond that is the training words themselves."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(4, 9))))
    return sorted(words)


@pytest.fixture(scope="module")
def made_up():
    """The MLP page's default (its network and fast recipe) trained on 200 made-up words (~10-20 s
    on one core), with its samples and the bigram's val loss on the same list."""
    dataset = WordDataset("made-up.txt", made_up_words())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = MODELS["mlp"]
        training = TrainConfig(**spec.train_defaults)
        model = create_model("mlp", len(dataset.vocab), spec.config(), seed=training.seed)
        result = train(model, dataset, training)
        bigram = create_model("bigram", len(dataset.vocab), MODELS["bigram"].config())
        bigram_val = train(bigram, dataset, TrainConfig(**MODELS["bigram"].train_defaults)).val_loss
    finally:
        torch.set_num_threads(threads)
    samples = generate(model, dataset.vocab, num=20, seed=0, train_words=dataset.splits["train"])
    return dataset, result, bigram_val, samples


def test_200_made_up_words_trained_with_the_mlp_default_are_memorised(made_up):
    dataset, r, bigram, samples = made_up
    uniform = math.log(len(dataset.vocab))
    verdict = memorising(r, uniform, bigram, samples)
    assert verdict is not None
    assert r.train_loss < 1.5 and r.val_loss > uniform + 1  # the numbers of the issue: 0.82 against 5.78
    assert verdict.rising and verdict.best_step == r.val_history[0][0]  # val rose from its first evaluation
    assert verdict.best_val == r.val_history[0][1] and verdict.last_val == r.val_history[-1][1]
    assert verdict.rise > 0.2
    assert verdict.above_bigram and verdict.above_uniform
    assert (verdict.bigram, verdict.uniform, verdict.train_loss, verdict.val_loss) == (bigram, uniform, r.train_loss,
                                                                                       r.val_loss)
    assert verdict.sampled == 20 and verdict.copied == sum(s.in_train for s in samples) >= 10
    assert memorising(r, uniform, bigram).copied is None  # no samples given, none counted


def test_the_shipped_runs_on_the_built_in_lists_are_not_memorising():
    checkpoints = [load_checkpoint(path) for path in sorted(SHIPPED_DIR.glob("*.pt"))]
    bigrams = {c.fingerprint: c.result.val_loss for c in checkpoints if c.model_name == "bigram"}
    assert len(checkpoints) > 30 and {"mlp", "mlp-bn", "transformer", "wavenet"} <= {c.model_name for c in checkpoints}
    assert max(c.result.steps for c in checkpoints) == 200_000  # the lectures' long runs among them
    for c in checkpoints:
        verdict = memorising(c.result, math.log(len(c.vocab)), bigrams.get(c.fingerprint))
        assert verdict is None, (c.dataset_name, c.model_name, c.train_config, verdict)


# --- each sign on its own, on histories made by hand ----------------------------------------------

def history(val: list[float], train_start: float = 2.5, train_end: float = 2.0, final_train: float | None = None,
            steps: int = 1000) -> TrainResult:
    """A run whose train loss goes linearly from train_start to train_end, with `val` at evenly
    spaced evaluations; its final losses those of the last evaluation (final_train: of train)."""
    every = steps // len(val)
    losses = [train_start + (train_end - train_start) * i / (steps - 1) for i in range(steps)]
    return TrainResult(params=1, steps=steps, seconds=1.0, train_loss=final_train or train_end, val_loss=val[-1],
                       test_loss=val[-1], step_history=list(range(1, steps + 1)), lr_history=[0.1] * steps,
                       loss_history=losses, val_history=[(every * (i + 1), v) for i, v in enumerate(val)])


def test_a_small_uptick_at_the_end_of_a_long_run_is_noise():
    val = [2.6, 2.4, 2.3, 2.25, 2.2, 2.2 * (1 + RISE * 0.9)]
    assert memorising(history(val), uniform=3.3, bigram=2.45) is None


def test_val_rising_while_train_falls_is_memorising_from_the_best_step():
    verdict = memorising(history([2.6, 2.3, 2.25, 2.3, 2.4, 2.5]), uniform=3.3, bigram=2.6)
    assert verdict.rising and verdict.best_step == 498 and verdict.best_val == 2.25  # steps 166, 332, 498, ...
    assert not verdict.above_bigram and not verdict.above_uniform


def test_val_rising_while_train_rises_too_is_not_memorising():
    # the whole model getting worse (too high a learning rate), not memorising
    assert memorising(history([2.6, 2.3, 2.25, 2.3, 2.4, 2.5], train_end=2.7), uniform=3.3) is None


def test_ending_above_the_bigram_counts_only_when_train_is_clearly_below_val():
    undertrained = history([3.2, 3.0, 2.9, 2.8], train_start=3.3, train_end=2.8)  # a short run, still learning
    assert memorising(undertrained, uniform=3.3, bigram=2.45) is None
    knows_its_words = history([3.0, 2.8, 2.7, 2.6], train_start=3.3, train_end=1.9)
    verdict = memorising(knows_its_words, uniform=3.3, bigram=2.45)
    assert verdict.above_bigram and not verdict.above_uniform and not verdict.rising
    assert memorising(knows_its_words, uniform=3.3) is None  # without the bigram's loss, nothing to compare


def test_ending_above_the_uniform_guess_with_train_far_below():
    verdict = memorising(history([3.4, 3.45, 3.4, 3.5], train_start=3.3, train_end=1.0), uniform=3.3)
    assert verdict.above_uniform and verdict.bigram is None and not verdict.above_bigram


def test_too_few_evaluations_say_nothing():
    assert memorising(history([2.0, 5.0], train_end=0.5), uniform=3.3, bigram=2.45) is None


def test_copied_counts_the_samples_from_the_training_words():
    samples = [Sample("emma", True), Sample("zorblat", False), Sample("ava", True)]
    verdict = memorising(history([2.6, 2.3, 2.25, 2.3, 2.4, 2.5]), uniform=3.3, samples=samples)
    assert (verdict.copied, verdict.sampled) == (2, 3)
