"""micrograd's nn: a tiny MLP of scalar Values, trained on the lecture's four toy examples.

A neuron is tanh(w · x + b), with every weight a `Value` of makemore/lesson/engine.py; a layer is neurons
side by side, an MLP layers in a row. `train_toy` does plain gradient descent on the sum of squared
errors: forward all 4 examples, zero the grads, `loss.backward()`, then p.data -= lr * p.grad.
Named ScalarNeuron / ScalarLayer / ScalarMLP to keep them apart from the tensor modules
makemore.layers.Layer and makemore.models.mlp.MLP.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from makemore.lesson.engine import Value


class ScalarNeuron:
    """tanh(w · x + b), with weights and bias drawn uniform in (-1, 1)."""

    def __init__(self, n_inputs: int, rng: random.Random, nonlinear: bool = True):
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_inputs)]
        self.b = Value(rng.uniform(-1, 1))
        self.nonlinear = nonlinear

    def __call__(self, xs) -> Value:
        act = sum((wi * xi for wi, xi in zip(self.w, xs)), self.b)
        return act.tanh() if self.nonlinear else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class ScalarLayer:
    """n_outputs neurons, each looking at the same inputs."""

    def __init__(self, n_inputs: int, n_outputs: int, rng: random.Random, nonlinear: bool = True):
        self.neurons = [ScalarNeuron(n_inputs, rng, nonlinear) for _ in range(n_outputs)]

    def __call__(self, xs):
        outs = [neuron(xs) for neuron in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class ScalarMLP:
    """Layers of tanh neurons, as in the lecture: with targets of +-1, a tanh output fits them."""

    def __init__(self, n_inputs: int, sizes: list[int], seed: int = 0):
        rng = random.Random(seed)
        widths = [n_inputs] + list(sizes)
        self.layers = [ScalarLayer(widths[i], widths[i + 1], rng) for i in range(len(sizes))]

    def __call__(self, xs):
        for layer in self.layers:
            xs = layer(xs)
        return xs

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]


# the lecture's toy data set: 4 examples of 3 inputs, each with a target of +1 or -1
TOY_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
TOY_YS = [1.0, -1.0, -1.0, 1.0]
MAX_TOY_STEPS = 1000  # pure-Python steps: 1000 of the default net take about half a second
MAX_TOY_WIDTH = 16  # neurons per layer: 1000 steps of the largest net allowed take about 10 s
MAX_TOY_LAYERS = 4


@dataclass
class ToyRun:
    losses: list[float]  # sum of squared errors over the 4 examples, before each step
    predictions: list[list[float]]  # the 4 outputs before each step
    n_params: int


def train_toy(steps: int = 20, lr: float = 0.05, seed: int = 0, sizes: tuple = (4, 4, 1)) -> ToyRun:
    """Plain gradient descent on the toy data: forward all 4, loss, zero grads, backward, update."""
    if not 0 <= steps <= MAX_TOY_STEPS:
        raise ValueError(f"steps must be between 0 and {MAX_TOY_STEPS}, got {steps}")
    widths_ok = all(1 <= size <= MAX_TOY_WIDTH for size in sizes)
    if not (1 <= len(sizes) <= MAX_TOY_LAYERS and widths_ok and sizes[-1] == 1):
        raise ValueError(f"sizes must be 1 to {MAX_TOY_LAYERS} layers of 1 to {MAX_TOY_WIDTH} neurons, "
                         f"the last of 1 (one output per example), got {sizes}")
    model = ScalarMLP(len(TOY_XS[0]), list(sizes), seed)
    params = model.parameters()
    losses, predictions = [], []
    for _ in range(steps):
        ypred = [model(xs) for xs in TOY_XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(TOY_YS, ypred))
        losses.append(loss.data)
        predictions.append([y.data for y in ypred])
        for p in params:
            p.grad = 0.0  # backward() adds into .grad: without this, old gradients pile up
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
    return ToyRun(losses, predictions, len(params))
