"""The learning-rate finder of lecture 2: one short run whose learning rate grows exponentially
from 10^lo to 10^hi, one step at each rate. The loss first falls faster as the rate grows, then
the steps get too big and it shoots up; a good rate sits in the valley before that.

    sweep = lr_sweep(dataset, "mlp", MLPConfig(), optimizer="sgd", batch_size=32)
    sweep.suggested_lr   # about 0.1 for the lecture's MLP, as the lecture finds
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from makemore.data import WordDataset
from makemore.models import create_model
from makemore.train import TrainConfig, make_optimizer


@dataclass
class LRSweep:
    exponents: list[float]  # log10 of the learning rate at each step
    losses: list[float]  # that step's minibatch loss
    smoothed: list[float]  # exponential moving average of the losses (minibatches are noisy)
    suggested_exponent: float
    lo: float = -3.0  # the exponents it was asked to sweep (it ends early once the loss blows up)
    hi: float = 0.0

    @property
    def suggested_lr(self) -> float:
        return 10**self.suggested_exponent

    @property
    def ended_early(self) -> bool:
        """It stopped before reaching 10^hi, because the loss had blown up (or become nan)."""
        return not self.exponents or self.exponents[-1] < self.hi - 1e-9


def lr_sweep(dataset: WordDataset, model_name: str, model_config, optimizer: str = "sgd",
             batch_size: int = 32, steps: int = 1000, lo: float = -3.0, hi: float = 0.0,
             seed: int = 1337, smoothing: float = 0.98) -> LRSweep:
    if not (lo < hi) or steps < 10:
        raise ValueError("the sweep needs lo < hi and at least 10 steps")
    model = create_model(model_name, len(dataset.vocab), model_config, seed=seed)
    model.train()
    X, Y = dataset.examples("train", model.block_size)
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=10**lo))
    generator = torch.Generator().manual_seed(seed)
    exponents = torch.linspace(lo, hi, steps).tolist()
    losses, smoothed = [], []
    average = 0.0
    for i, exponent in enumerate(exponents):
        for group in opt.param_groups:
            group["lr"] = 10**exponent
        ix = torch.randint(0, len(X), (min(batch_size, len(X)) if batch_size > 0 else len(X),),
                           generator=generator)
        _, loss = model(X[ix], Y[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss = loss.item()
        if not math.isfinite(loss):
            break  # diverged: the rates from here on are useless
        average = smoothing * average + (1 - smoothing) * loss
        losses.append(loss)
        smoothed.append(average / (1 - smoothing ** (i + 1)))  # bias-corrected, as Adam does
        if smoothed[-1] > 4 * min(smoothed):
            break  # blown up: the rest of the sweep would only add noise to the chart
    exponents = exponents[: len(losses)]
    return LRSweep(exponents, losses, smoothed, suggest(exponents, smoothed), lo, hi)


def suggest(exponents: list[float], smoothed: list[float], back_off: float = 0.5) -> float:
    """The exponent of the lowest smoothed loss, moved `back_off` decades lower.

    The minimum of the sweep is where the rate is already close to too big (the loss there is
    about to turn upward), and the sweep's loss lags the rate; training a whole run at a few times
    less is the safe side of the valley.
    """
    if not smoothed:
        return exponents[0] if exponents else -3.0
    best = min(range(len(smoothed)), key=smoothed.__getitem__)
    return max(exponents[0], exponents[best] - back_off)
