"""What lecture 3 looks at to tell whether a deep net trains well, recorded while it trains.

    recorder = Recorder(model, max_steps=4000)   # train() makes one for models built of makemore.layers
    ...                                          # recorder.after_step(step) after every optimizer step
    recorder.diagnostics                          # plain lists: charts, JSON and the disk cache take them

At a few dozen evenly spaced steps (and at the first, the initialisation) it records, cheaply:
- per tanh layer: the activations' mean, std and saturation (the share with |tanh| > 0.97, where
  the gradient through tanh, 1 - tanh², is nearly zero), and histograms of the activations and of
  the gradients flowing back into them;
- per weight matrix: std(grad) / std(weight), how big the gradient is next to the weight itself;
- per weight matrix: log10(std(update) / std(weight)), how much one optimizer step changes it. For
  SGD the update is lr * grad; for AdamW it is what the optimizer really did (the change itself).

Recording a step costs about half a training step, so recording every `every` steps costs about
1/(2 every) of the run (bench/batchnorm.py measures it).
"""

from __future__ import annotations

import math

import torch

from makemore.layers import Embedding, Layer, Linear, Tanh

SATURATED = 0.97  # |tanh| above this: the local gradient 1 - tanh² is below 0.06
SNAPSHOTS = 50  # recorded steps per run, besides the first
ACTIVATION_BINS = 40  # tanh outputs, on a fixed range [-1, 1]
GRADIENT_BINS = 40  # gradients, on a range fitted to each snapshot (shared by its layers)
# A histogram is drawn from the batch's first examples, up to this many values: plenty for 40 bins,
# and counting all of a big batch cost more than a training step (the statistics use every value).
HISTOGRAM_VALUES = 16_384


def layers_of(model) -> list[Layer]:
    """The model's makemore.layers in the order they were built (the order they run in): a
    `layers` list (MLPBN) or a Sequential (WaveNet) alike."""
    return [module for module in model.modules() if isinstance(module, Layer)]


def tanh_layers(model) -> list[tuple[str, Tanh]]:
    """("layer 1", its Tanh), ... for a model built of makemore.layers. A (B, T, C) activation (a
    WaveNet's lower levels) is taken whole: its statistics and histograms pool batch and time."""
    tanhs = [layer for layer in layers_of(model) if isinstance(layer, Tanh)]
    return [(f"layer {i + 1}", layer) for i, layer in enumerate(tanhs)]


def weight_matrices(model) -> list[tuple[str, torch.Tensor]]:
    """The 2-D parameters by their lecture names: C (the model's `C`, or its Embedding's table), then
    W1, W2, ... and W_out for the last layer."""
    layers = layers_of(model)
    if isinstance(getattr(model, "C", None), torch.Tensor):
        named = [("C", model.C)]
    else:
        named = [("C", layer.weight) for layer in layers if isinstance(layer, Embedding)][:1]
    linears = [layer for layer in layers if isinstance(layer, Linear)]
    for i, layer in enumerate(linears):
        named.append(("W_out" if i == len(linears) - 1 else f"W{i + 1}", layer.weight))
    return named


def histogram(x: torch.Tensor, lo: float, hi: float, bins: int) -> list[int]:
    """Counts of x's values in `bins` equal bins over [lo, hi] (values outside are not counted),
    from its first rows: a minibatch is in random order, so they are a random sample."""
    rows = max(1, HISTOGRAM_VALUES // max(1, x[0].numel()))
    return torch.histc(x[:rows].float(), bins=bins, min=lo, max=hi).long().tolist()


class Recorder:
    def __init__(self, model, max_steps: int, snapshots: int = SNAPSHOTS):
        self.every = max(1, max_steps // snapshots)
        self.max_steps = max_steps
        self.tanhs = tanh_layers(model)
        self.weights = weight_matrices(model)
        self.diagnostics = dict(
            layers=[name for name, _ in self.tanhs], weights=[name for name, _ in self.weights],
            saturated_above=SATURATED, activation_edges=edges(-1.0, 1.0, ACTIVATION_BINS),
            steps=[], act_mean=[], act_std=[], saturation=[], act_hist=[], grad_std=[], grad_hist=[],
            grad_edges=[], grad_data=[], update_data=[],
        )
        self._arm()  # step 1 is recorded: the network as initialised

    def records(self, step: int) -> bool:
        return step == 1 or step % self.every == 0 or step == self.max_steps

    def _arm(self) -> None:
        for _, layer in self.tanhs:  # only the gradients charted: each kept one costs a copy
            layer.keep_grads = True
        self._before = [w.detach().clone() for _, w in self.weights]

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """Call after the optimizer step of `step` (1-based), before the next forward pass."""
        if self._before is not None:
            self._record(step)
            for _, layer in self.tanhs:
                layer.keep_grads = False
            self._before = None
        if step < self.max_steps and self.records(step + 1):
            self._arm()

    def _record(self, step: int) -> None:
        d = self.diagnostics
        d["steps"].append(step)
        outs = [layer.out.detach() for _, layer in self.tanhs]
        grads = [layer.out.grad for _, layer in self.tanhs]
        d["act_mean"].append([o.mean().item() for o in outs])
        d["act_std"].append([o.std().item() for o in outs])
        d["saturation"].append([(o.abs() > SATURATED).float().mean().item() for o in outs])
        d["act_hist"].append([histogram(o, -1.0, 1.0, ACTIVATION_BINS) for o in outs])
        grad_std = [g.std().item() if g is not None else math.nan for g in grads]
        d["grad_std"].append(grad_std)
        limit = 3 * max((s for s in grad_std if math.isfinite(s)), default=0.0) or 1e-12
        d["grad_edges"].append(edges(-limit, limit, GRADIENT_BINS))
        d["grad_hist"].append([histogram(g, -limit, limit, GRADIENT_BINS) if g is not None
                               else [0] * GRADIENT_BINS for g in grads])
        d["grad_data"].append([ratio(w.grad, w) if w.grad is not None else math.nan for _, w in self.weights])
        d["update_data"].append([log10_ratio(w - before, w) for (_, w), before in zip(self.weights, self._before)])


def edges(lo: float, hi: float, bins: int) -> list[float]:
    return torch.linspace(lo, hi, bins + 1).tolist()


def ratio(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.std() / b.std()).item()


def log10_ratio(update: torch.Tensor, data: torch.Tensor) -> float:
    r = ratio(update, data)
    return math.log10(r) if r > 0 else math.nan  # a weight that did not move at all: no ratio
