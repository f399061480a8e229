"""Imported only by the process that training children are forked from (makemore/serving/jobs.py).

A few steps of a small training, so that every child starts from a process whose torch has
already run forward, backward and an optimizer step once. Children forked from a cold server ran
20-25 % slower for their whole run on our 2-core machines (bench/mlp.py measures it); the cause is
some one-time state inside torch, cheaper to warm than to chase. It costs about 0.1 s, once.
"""

import torch

from makemore import limits
from makemore.models import create_model
from makemore.models.mlp import MLPConfig
from makemore.train import TrainConfig, make_optimizer


def _warm_up(steps: int = 50) -> None:
    torch.set_num_threads(limits.TRAINING_THREADS)
    generator = torch.Generator().manual_seed(0)
    model = create_model("mlp", 27, MLPConfig(), seed=0)
    for optimizer in ("adamw", "sgd"):
        opt = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=1e-3))
        X = torch.randint(0, 27, (512, 3), generator=generator)
        Y = torch.randint(0, 27, (512,), generator=generator)
        for _ in range(steps):
            _, loss = model(X, Y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


_warm_up()
