"""Is a trained model memorising its training words? A verdict on a finished training, from the
signs a student can see on its loss chart:

    verdict = memorising(result, uniform=math.log(len(vocab)), bigram=bigram_result.val_loss)
    if verdict is not None:                  # None: no sign of memorising
        verdict.rising, verdict.best_step    # val rose after its best evaluation while train fell
        verdict.above_bigram, verdict.above_uniform

A long run on the lectures' 32,033 names ends with val at most 0.3 % above its best (the shipped
models), train a few percent below val and val far below the bigram: none of that counts. A list
of 200 words trained as long drives train towards 0 and val up from its first evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from makemore.sample import Sample
from makemore.train import TrainResult

RISE = 0.03  # val at the last evaluation this share above its best: rising, not noise
GAP = 0.10  # train this share below val: the model knows its training words better than others
MIN_EVALUATIONS = 3  # fewer validation losses say nothing about a trend


@dataclass(frozen=True)
class Memorising:
    """The signs of memorising seen in one training (at least one of the three is True)."""

    train_loss: float  # of the model as it ends (the restored weights with keep_best)
    val_loss: float
    best_step: int  # the evaluation with the lowest val loss: where val began to rise
    best_val: float
    last_val: float  # val at the last evaluation
    rising: bool  # val rose over RISE above its best after best_step, while the train loss fell
    above_bigram: bool  # val ends above the bigram's, with train clearly below val
    above_uniform: bool  # val ends above the uniform guess log(V), with train clearly below val
    bigram: float | None
    uniform: float
    copied: int | None = None  # how many of the `sampled` samples are training words
    sampled: int = 0

    @property
    def rise(self) -> float:
        """How far val ended above its best, as a share of the best."""
        return self.last_val / self.best_val - 1


def memorising(result: TrainResult, uniform: float, bigram: float | None = None,
               samples: list[Sample] = ()) -> Memorising | None:
    """The verdict on a finished training, or None when it shows no sign of memorising.

    uniform: log(V), the loss of a model that gives every character the same probability; bigram:
    the counting model's val loss on the same list, when known; samples: the model's samples, to
    count the ones copied from the training words."""
    history = result.val_history
    if len(history) < MIN_EVALUATIONS or not result.loss_history:
        return None
    best_step, best_val = min(history, key=lambda point: point[1])
    last_val = history[-1][1]
    rising = last_val > best_val * (1 + RISE) and train_fell_after(result, best_step)
    knows_train_better = result.train_loss < result.val_loss * (1 - GAP)
    above_bigram = knows_train_better and bigram is not None and result.val_loss > bigram
    above_uniform = knows_train_better and result.val_loss > uniform
    if not (rising or above_bigram or above_uniform):
        return None
    return Memorising(result.train_loss, result.val_loss, best_step, best_val, last_val, rising, above_bigram,
                      above_uniform, bigram, uniform, sum(s.in_train for s in samples) if samples else None,
                      len(samples))


def train_fell_after(result: TrainResult, step: int) -> bool:
    """Is the train loss of the run's last steps below its loss around `step`? Each is averaged
    over a twentieth of the run, so that one noisy minibatch decides nothing."""
    losses = result.loss_history
    window = max(1, len(losses) // 20)
    around = losses[max(0, step - window):step] or losses[:window]
    return sum(losses[-window:]) / window < sum(around) / len(around)
