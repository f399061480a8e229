"""The layers of lecture 3, written out so that every line of the math can be read.

They work like torch.nn's Linear, BatchNorm1d and Tanh (and are nn.Modules, so optimizers, the
disk cache and `.train()`/`.eval()` work as usual), with one addition for teaching: in training
mode each keeps its last output in `.out`, so the diagnostics can look at the activations (and,
with `keep_grads`, at the gradients that flowed back into them).
"""

import torch
import torch.nn as nn


class Layer(nn.Module):
    """Keeps its last training-mode output. In eval mode nothing is kept: an evaluation runs over
    a whole split in big chunks, and holding those would cost memory for nothing."""

    keep_grads = False  # set by the diagnostics for the one step they record

    def keep(self, out: torch.Tensor) -> torch.Tensor:
        if self.training:
            if self.keep_grads and out.requires_grad:
                out.retain_grad()  # an intermediate's .grad is freed after backward unless asked for
            self.out = out
        return out


class Linear(Layer):
    """x @ W + b. Weights start as randn / sqrt(fan_in): unit-variance inputs give unit-variance
    outputs. Callers scale them further (tanh's gain, a small last layer)."""

    def __init__(self, fan_in: int, fan_out: int, bias: bool = True, generator=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_in, fan_out, generator=generator) / fan_in**0.5)
        self.bias = nn.Parameter(torch.zeros(fan_out)) if bias else None

    def forward(self, x):
        out = x @ self.weight
        if self.bias is not None:
            out = out + self.bias
        return self.keep(out)


class BatchNorm1d(Layer):
    """Normalise each feature over the batch, then scale and shift by learned gamma and beta.

    Training: the batch's own mean and variance, and an exponential moving average of them kept
    on the side. Evaluation (and sampling, one word at a time): that running average instead, and
    it is left untouched, so evaluating never changes the model.
    """

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x):
        if self.training:
            mean = x.mean(0)  # (dim,): each feature's mean over the batch
            diff = x - mean
            var = (diff * diff).sum(0) / (len(x) - 1)  # unbiased (n - 1), as the lectures do
            with torch.no_grad():  # bookkeeping, not part of the graph
                self.running_mean.lerp_(mean, self.momentum)  # += momentum * (mean - running_mean)
                self.running_var.lerp_(var, self.momentum)
        else:
            diff, var = x - self.running_mean, self.running_var
        xhat = diff * torch.rsqrt(var + self.eps)  # rsqrt = 1 / sqrt: zero mean, unit variance per feature
        return self.keep(self.gamma * xhat + self.beta)


class Tanh(Layer):
    def forward(self, x):
        return self.keep(torch.tanh(x))
