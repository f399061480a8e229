"""The layers of lectures 3 and 5, written out so that every line of the math can be read.

They work like torch.nn's Embedding, Flatten, Linear, BatchNorm1d, Tanh and Sequential (and are
nn.Modules, so optimizers, the disk cache and `.train()`/`.eval()` work as usual), with one addition
for teaching: in training mode each keeps its last output in `.out`, so the diagnostics can look
at the activations (and, with `keep_grads`, at the gradients that flowed back into them).

Lecture 5 feeds them 3-D tensors (B, T, C): a batch of B examples, T groups of characters, C
channels. Linear multiplies the last dimension only (`x @ W` broadcasts over B and T), so one
weight matrix serves every group; BatchNorm1d then has to say which dimensions it averages over.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


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


class Embedding(Layer):
    """A table of `num` vectors of size `dim`; row i is character i's embedding (the lectures' C).
    (B, T) int64 ids -> (B, T, dim). Starts from randn, as torch.nn.Embedding does."""

    def __init__(self, num: int, dim: int, generator=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num, dim, generator=generator))

    def forward(self, idx):
        return self.keep(self.weight[idx])

    def extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"


class FlattenConsecutive(Layer):
    """Join every n consecutive vectors into one: (B, T, C) -> (B, T // n, C * n).

    Lecture 5's WaveNet applies it once per level, so that each level sees pairs of what the level
    below made. A time axis of length 1 is dropped, (B, 1, C) -> (B, C): the last level hands a
    plain batch of vectors to the output layer."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x):
        B, T, C = x.shape
        if T % self.n:
            raise ValueError(f"cannot join groups of {self.n} out of {T} positions")
        x = x.reshape(B, T // self.n, C * self.n)  # rows are contiguous, so this joins neighbours
        if x.shape[1] == 1:
            x = x.squeeze(1)
        return self.keep(x)

    def extra_repr(self):
        return str(self.n)


class Flatten(FlattenConsecutive):
    """The whole context as one vector, (B, T, C) -> (B, T * C): lecture 2's `emb.view(B, -1)`,
    the flat MLP's way to read its context. Same as FlattenConsecutive(T) for any T."""

    def __init__(self):
        super().__init__(n=0)

    def forward(self, x):
        return self.keep(x.reshape(len(x), -1))

    def extra_repr(self):
        return ""


class Linear(Layer):
    """x @ W + b. Weights start as randn / sqrt(fan_in): unit-variance inputs give unit-variance
    outputs. Callers scale them further (tanh's gain, a small last layer)."""

    def __init__(self, fan_in: int, fan_out: int, bias: bool = True, generator=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_in, fan_out, generator=generator) / fan_in**0.5)
        self.bias = nn.Parameter(torch.zeros(fan_out)) if bias else None

    def forward(self, x):
        out = x @ self.weight  # (..., fan_in) @ (fan_in, fan_out): every leading dimension kept
        if self.bias is not None:
            out = out + self.bias
        return self.keep(out)

    def extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}, bias={self.bias is not None}"


class BatchNorm1d(Layer):
    """Normalise each feature over the batch, then scale and shift by learned gamma and beta.

        mean = x.mean(dims)     var = ((x - mean)**2).mean(dims)       (biased: divided by n)
        out  = gamma * (x - mean) / sqrt(var + eps) + beta

    Training: the batch's own mean and variance, and an exponential moving average of them kept on
    the side (running_var averages the unbiased variance, var * n / (n - 1)). Evaluation (and
    sampling, one word at a time): that running average instead, and it is left untouched, so
    evaluating never changes the model. This is exactly what torch.nn.BatchNorm1d does. The
    lectures divide by n - 1 in both places (Bessel's correction); normalising by the biased
    variance instead makes the outputs sqrt(n / (n - 1)) larger, 1.6 % at a batch of 32, a
    difference training does not notice.

    Which dimensions are `dims`? For (B, C) input, the batch: dims = (0,), statistics of shape (C,).
    For (B, T, C) input, `time` is T and:
    - over_time=True (the fix): dims = (0, 1), batch and time; statistics (1, 1, C), one per
      channel, as torch.nn.BatchNorm1d does for (B, C, T).
    - over_time=False (lecture 5's bug): dims = (0,) only; statistics (1, T, C), a separate mean
      and variance for every position, each estimated from B numbers instead of B * T.
    The shape of the statistics is fixed when the layer is built, so a trained model's state_dict
    loads into a new one.

    The readable layer teaches and the fused op trains: `fused=True` (the default) computes the
    same with one call of torch.nn.functional.batch_norm (a training step of lecture 3's net is
    15-40 % faster on one core, of the WaveNet about 40 %); `fused=False` runs the readable lines
    below. A test checks that both give the same outputs, gradients and running statistics.
    """

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1, time: int | None = None,
                 over_time: bool = True, fused: bool = True):
        super().__init__()
        self.eps, self.momentum, self.over_time, self.fused = eps, momentum, over_time, fused
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        shape = (dim,) if time is None else (1, 1 if over_time else time, dim)
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))

    def dims(self, x: torch.Tensor) -> tuple[int, ...]:
        """The dimensions averaged over."""
        if x.ndim == 3 and self.running_mean.ndim != 3:
            raise ValueError("this BatchNorm1d was built for (B, C) input; give it `time` for (B, T, C)")
        return (0, 1) if x.ndim == 3 and self.over_time else (0,)

    def forward(self, x):
        dims = self.dims(x)
        if self.fused:
            return self.keep(self.fused_forward(x, dims))
        if self.training:
            n = x.numel() // self.running_mean.numel()  # numbers averaged into each statistic
            if n < 2:
                raise ValueError("BatchNorm needs more than one value per feature to train")
            mean = x.mean(dims, keepdim=True)  # (1, C), (1, 1, C) or (1, T, C)
            diff = x - mean
            var = (diff * diff).mean(dims, keepdim=True)  # biased (/ n), as torch normalises
            with torch.no_grad():  # bookkeeping, not part of the graph
                self.running_mean.lerp_(mean.view_as(self.running_mean), self.momentum)  # += m * (mean - running)
                self.running_var.lerp_(var.view_as(self.running_var) * n / (n - 1), self.momentum)
        else:
            diff, var = x - self.running_mean, self.running_var
        xhat = diff * torch.rsqrt(var + self.eps)  # rsqrt = 1 / sqrt: zero mean, unit variance per feature
        return self.keep(self.gamma * xhat + self.beta)

    def fused_forward(self, x, dims):
        """The same in one kernel. F.batch_norm normalises the columns of (N, F); fold x into that:
        (B*T, C) when averaging over batch and time, (B, T*C) when over the batch only."""
        C = x.shape[-1]
        columns = x.reshape(-1, C) if dims == (0, 1) or x.ndim == 2 else x.reshape(len(x), -1)
        repeats = columns.shape[1] // C  # T when each position has its own statistics, else 1
        gamma = self.gamma if repeats == 1 else self.gamma.repeat(repeats)
        beta = self.beta if repeats == 1 else self.beta.repeat(repeats)
        out = F.batch_norm(columns, self.running_mean.view(-1), self.running_var.view(-1), gamma, beta,
                           self.training, self.momentum, self.eps)  # updates the running views in place
        return out.view_as(x)

    def extra_repr(self):
        return f"{self.gamma.numel()}, stats={tuple(self.running_mean.shape)}"


class Tanh(Layer):
    def forward(self, x):
        return self.keep(torch.tanh(x))


class Sequential(nn.Module):
    """Layers applied one after the other, kept in `.layers` (an nn.ModuleList, so their
    parameters and buffers belong to this module)."""

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)
