"""Lecture 4, "becoming a backprop ninja": every gradient of the MLP with BatchNorm, by hand.

The network of lecture 3 (embeddings, a linear layer, BatchNorm, tanh, the output layer,
cross-entropy) with its forward pass cut into small steps, each simple enough that its backward pass
is one line of calculus: the gradient arriving from above times the step's local derivative.

    emb = C[Xb]                      (n, block_size, n_embd)
    hprebn = embcat @ W1 + b1        (n, n_hidden)      embcat = emb as (n, block_size * n_embd)
    hpreact = BatchNorm(hprebn)      (n, n_hidden)      mean, variance, normalise, scale and shift
    h = tanh(hpreact)                (n, n_hidden)
    logits = h @ W2 + b2             (n, vocab_size)
    loss = cross_entropy(logits, Yb)                    max, exp, sum, divide, log, mean

Going back, three rules do all the work: a sum over an axis becomes a broadcast (and a broadcast a
sum); a matrix product Y = X @ W gives dX = dY @ W.T and dW = X.T @ dY; a value used twice gets the
gradients of both uses added. `compare_all` checks each hand-made gradient against what
`loss.backward()` finds, and `train_both` trains the network with our gradients alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from makemore.data import WordDataset

EPS = 1e-5  # BatchNorm's guard against dividing by a zero variance
TOLERANCE = 1e-6  # float32 rounding: two orders of summation differ by about this much
# Below 8 examples a feature's batch variance can be near 0, and BatchNorm then scales float32 rounding
# (by up to 1/sqrt(EPS)) past TOLERANCE even for correct gradients (measured: batch 4, 2 of 750 runs).
MIN_BATCH_SIZE = 8
MAX_STEPS = 5000  # train_both runs two trainings in the caller's thread; a page bounds it lower


@dataclass(frozen=True)
class BackpropConfig:
    block_size: int = 3
    n_embd: int = 10
    n_hidden: int = 64
    batch_size: int = 32
    seed: int = 42


PARAMETERS = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")
# the order the backward pass reaches them, from the loss back to the embedding table
NAMES: tuple[str, ...] = (
    "logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes",
    "logits", "h", "W2", "b2", "hpreact", "bngain", "bnbias", "bnraw", "bnvar_inv", "bnvar",
    "bndiff2", "bndiff", "bnmeani", "hprebn", "embcat", "W1", "b1", "emb", "C",
)
FUSED: tuple[str, ...] = ("logits (fused cross-entropy)", "hprebn (fused BatchNorm)")


# -----------------------------------------------------------------------------------------------
# the network


def init_params(vocab_size: int, config: BackpropConfig) -> dict[str, torch.Tensor]:
    """The lecture's initialisation for this exercise: every parameter a little random (even b1,
    which BatchNorm makes useless, and the BatchNorm gain and bias), so that no gradient is zero or
    one by accident and a wrong formula cannot hide."""
    g = torch.Generator().manual_seed(config.seed)
    n_in, n_hidden = config.block_size * config.n_embd, config.n_hidden
    params = {
        "C": torch.randn(vocab_size, config.n_embd, generator=g),
        "W1": torch.randn(n_in, n_hidden, generator=g) * (5 / 3) / n_in**0.5,  # tanh's gain / sqrt(fan_in)
        "b1": torch.randn(n_hidden, generator=g) * 0.1,
        "W2": torch.randn(n_hidden, vocab_size, generator=g) * 0.1,
        "b2": torch.randn(vocab_size, generator=g) * 0.1,
        "bngain": torch.randn(1, n_hidden, generator=g) * 0.1 + 1.0,
        "bnbias": torch.randn(1, n_hidden, generator=g) * 0.1,
    }
    return {name: p.requires_grad_() for name, p in params.items()}


def sample_batch(X: torch.Tensor, Y: torch.Tensor, config: BackpropConfig,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """config.batch_size random examples (with replacement) of (X, Y)."""
    ix = torch.randint(0, len(X), (config.batch_size,), generator=generator)
    return X[ix], Y[ix]


def forward(params: dict, Xb: torch.Tensor, Yb: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss, and every intermediate on the way to it (plus Xb, which routes dC back).

    Each intermediate keeps its gradient after loss.backward() (retain_grad), for the comparison;
    under torch.no_grad() nothing is tracked.
    """
    C, W1, b1, W2, b2 = params["C"], params["W1"], params["b1"], params["W2"], params["b2"]
    bngain, bnbias = params["bngain"], params["bnbias"]
    n = len(Xb)
    emb = C[Xb]  # (n, block_size, n_embd)
    embcat = emb.view(n, -1)  # (n, block_size * n_embd)
    hprebn = embcat @ W1 + b1  # (n, n_hidden)
    # BatchNorm, one operation at a time
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)  # (1, n_hidden)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # Bessel's n - 1, as the lecture
    bnvar_inv = (bnvar + EPS) ** -0.5
    bnraw = bndiff * bnvar_inv  # (n, n_hidden): zero mean, unit variance per feature
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)
    logits = h @ W2 + b2  # (n, vocab_size)
    # cross-entropy, one operation at a time
    logit_maxes = logits.max(1, keepdim=True).values  # (n, 1): keeps exp from overflowing
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdim=True)  # (n, 1)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv  # (n, vocab_size)
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()

    cache = dict(emb=emb, embcat=embcat, hprebn=hprebn, bnmeani=bnmeani, bndiff=bndiff, bndiff2=bndiff2,
                 bnvar=bnvar, bnvar_inv=bnvar_inv, bnraw=bnraw, hpreact=hpreact, h=h, logits=logits,
                 logit_maxes=logit_maxes, norm_logits=norm_logits, counts=counts, counts_sum=counts_sum,
                 counts_sum_inv=counts_sum_inv, probs=probs, logprobs=logprobs)
    if loss.requires_grad:
        for t in cache.values():
            t.retain_grad()  # autograd frees an intermediate's gradient unless asked to keep it
    cache["Xb"] = Xb
    return loss, cache


# -----------------------------------------------------------------------------------------------
# the backward pass, by hand


@torch.no_grad()
def manual_backward(params: dict, cache: dict, Yb: torch.Tensor) -> dict[str, torch.Tensor]:
    """d(loss)/d(everything), one forward step at a time, from the loss back to C."""
    c = cache
    W1, W2, bngain = params["W1"], params["W2"], params["bngain"]
    n = len(Yb)
    # loss = -mean of logprobs at the targets: each of those n entries gets -1/n, the rest nothing
    dlogprobs = torch.zeros_like(c["logprobs"])  # (n, vocab_size)
    dlogprobs[range(n), Yb] = -1.0 / n
    dprobs = dlogprobs / c["probs"]  # d log(x) = 1/x
    dcounts_sum_inv = (c["counts"] * dprobs).sum(1, keepdim=True)  # (n, 1): broadcast forward, sum back
    dcounts = c["counts_sum_inv"] * dprobs  # counts' first use ...
    dcounts_sum = -c["counts_sum"] ** -2 * dcounts_sum_inv  # d x^-1 = -x^-2
    dcounts = dcounts + dcounts_sum  # ... plus its second, through the sum: each count adds to it
    dnorm_logits = c["counts"] * dcounts  # d exp(x) = exp(x)
    dlogit_maxes = -dnorm_logits.sum(1, keepdim=True)  # (n, 1): ~0, the max does not change the loss
    dlogits = dnorm_logits + F.one_hot(c["logits"].max(1).indices, c["logits"].shape[1]) * dlogit_maxes
    # the output layer: logits = h @ W2 + b2
    dh = dlogits @ W2.T  # (n, n_hidden)
    dW2 = c["h"].T @ dlogits  # (n_hidden, vocab_size)
    db2 = dlogits.sum(0)  # (vocab_size,)
    dhpreact = (1.0 - c["h"] ** 2) * dh  # d tanh(x) = 1 - tanh(x)^2
    # BatchNorm, backwards: hpreact = bngain * bnraw + bnbias
    dbngain = (c["bnraw"] * dhpreact).sum(0, keepdim=True)  # (1, n_hidden)
    dbnbias = dhpreact.sum(0, keepdim=True)
    dbnraw = bngain * dhpreact  # (n, n_hidden)
    dbnvar_inv = (c["bndiff"] * dbnraw).sum(0, keepdim=True)  # (1, n_hidden)
    dbnvar = -0.5 * (c["bnvar"] + EPS) ** -1.5 * dbnvar_inv
    dbndiff2 = torch.ones_like(c["bndiff2"]) / (n - 1) * dbnvar  # (n, n_hidden)
    dbndiff = c["bnvar_inv"] * dbnraw + 2 * c["bndiff"] * dbndiff2  # used twice: bnraw and bndiff2
    dbnmeani = -dbndiff.sum(0, keepdim=True)  # (1, n_hidden)
    dhprebn = dbndiff + torch.ones_like(c["hprebn"]) / n * dbnmeani  # through bndiff and bnmeani
    # the first layer: hprebn = embcat @ W1 + b1
    dembcat = dhprebn @ W1.T  # (n, block_size * n_embd)
    dW1 = c["embcat"].T @ dhprebn  # (block_size * n_embd, n_hidden)
    db1 = dhprebn.sum(0)  # (n_hidden,)
    demb = dembcat.view(c["emb"].shape)  # (n, block_size, n_embd)
    # emb = C[Xb]: each row of demb goes back to the row of C it was read from; repeats add up
    dC = torch.zeros_like(params["C"]).index_add_(0, c["Xb"].view(-1), demb.view(-1, demb.shape[-1]))
    return {"logprobs": dlogprobs, "probs": dprobs, "counts_sum_inv": dcounts_sum_inv,
            "counts_sum": dcounts_sum, "counts": dcounts, "norm_logits": dnorm_logits,
            "logit_maxes": dlogit_maxes, "logits": dlogits, "h": dh, "W2": dW2, "b2": db2,
            "hpreact": dhpreact, "bngain": dbngain, "bnbias": dbnbias, "bnraw": dbnraw,
            "bnvar_inv": dbnvar_inv, "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff,
            "bnmeani": dbnmeani, "hprebn": dhprebn, "embcat": dembcat, "W1": dW1, "b1": db1,
            "emb": demb, "C": dC}


@torch.no_grad()
def cross_entropy_backward(logits: torch.Tensor, Yb: torch.Tensor) -> torch.Tensor:
    """dlogits in one line: the predicted probabilities minus 1 at the target, over n. Eight
    backward steps collapse into this, and it costs one softmax."""
    return (F.softmax(logits, dim=1) - F.one_hot(Yb, logits.shape[1])) / len(Yb)


@torch.no_grad()
def batchnorm_backward(dhpreact: torch.Tensor, bngain: torch.Tensor, bnvar_inv: torch.Tensor,
                       bnraw: torch.Tensor) -> torch.Tensor:
    """dhprebn in one expression (the lecture's): BatchNorm's nine backward steps, simplified on
    paper. n / (n - 1) is Bessel's correction of the variance showing through."""
    n = len(dhpreact)
    return bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0)
                                     - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))


# -----------------------------------------------------------------------------------------------
# the check against autograd


@dataclass
class Comparison:
    name: str
    shape: tuple[int, ...]
    exact: bool  # torch.equal(manual, autograd): the same float32 bits
    approx: bool  # max_diff <= TOLERANCE
    max_diff: float  # max |manual - autograd|


def compare(name: str, manual: torch.Tensor, autograd: torch.Tensor) -> Comparison:
    max_diff = (manual - autograd).abs().max().item()
    return Comparison(name, tuple(manual.shape), torch.equal(manual, autograd), max_diff <= TOLERANCE, max_diff)


def compare_all(dataset: WordDataset, config: BackpropConfig = BackpropConfig()) -> list[Comparison]:
    """One minibatch (drawn by a generator seeded with config.seed), its gradients by
    loss.backward() and by hand: one row per name of NAMES, then the two fused passes."""
    X, Y = dataset.examples("train", config.block_size)
    params = init_params(len(dataset.vocab), config)
    Xb, Yb = sample_batch(X, Y, config, torch.Generator().manual_seed(config.seed))
    loss, cache = forward(params, Xb, Yb)
    loss.backward()
    ours = manual_backward(params, cache, Yb)
    theirs = {name: t.grad for name, t in {**params, **cache}.items() if name in NAMES}
    rows = [compare(name, ours[name], theirs[name]) for name in NAMES]
    dlogits = cross_entropy_backward(cache["logits"], Yb)
    dhprebn = batchnorm_backward(ours["hpreact"], params["bngain"], cache["bnvar_inv"], cache["bnraw"])
    rows.append(compare(FUSED[0], dlogits, theirs["logits"]))
    rows.append(compare(FUSED[1], dhprebn, theirs["hprebn"]))
    return rows


@dataclass
class TrainingComparison:
    steps: list[int]
    manual: list[float]  # the minibatch loss at each step, trained with manual gradients only
    autograd: list[float]  # the same run (same init, same batches) trained with loss.backward()
    max_diff: float  # max |manual - autograd| over the steps


def train_both(dataset: WordDataset, config: BackpropConfig = BackpropConfig(), steps: int = 1000,
               lr: float = 0.1) -> TrainingComparison:
    """Train the network twice with plain SGD from the same weights on the same minibatches: once
    with loss.backward(), once with manual_backward (the step-by-step pass) and no autograd at all.
    The losses can only drift apart by float32 rounding."""
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")
    X, Y = dataset.examples("train", config.block_size)
    ours, theirs = init_params(len(dataset.vocab), config), init_params(len(dataset.vocab), config)
    generator = torch.Generator().manual_seed(config.seed)
    manual_losses, autograd_losses = [], []
    for _ in range(steps):
        Xb, Yb = sample_batch(X, Y, config, generator)
        with torch.no_grad():
            loss, cache = forward(ours, Xb, Yb)
            grads = manual_backward(ours, cache, Yb)
            for name, p in ours.items():
                p -= lr * grads[name]
        manual_losses.append(loss.item())

        loss, _ = forward(theirs, Xb, Yb)
        for p in theirs.values():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in theirs.values():
                p -= lr * p.grad
        autograd_losses.append(loss.item())
    max_diff = max(abs(m - a) for m, a in zip(manual_losses, autograd_losses))
    return TrainingComparison(list(range(1, steps + 1)), manual_losses, autograd_losses, max_diff)


# -----------------------------------------------------------------------------------------------
# the formulas, for the page


def _tex(formula: str) -> str:
    """Plain names to LaTeX: `dbnvar` -> d\\text{bnvar}, `bnvar_inv` -> \\text{bnvar\\_inv}; the
    rest of the formula is LaTeX already. Only the names of NAMES are touched, never \\commands."""
    names = "|".join(sorted(NAMES, key=len, reverse=True))  # longest first: counts_sum_inv before counts

    def typeset(match):
        d, name = match.groups()
        return (r"\mathrm{d}" if d else "") + r"\text{" + name.replace("_", r"\_") + "}"

    return re.sub(rf"(?<![\\\w])(d?)({names})(?![A-Za-z0-9]|_[A-Za-z])", typeset, formula)


FORMULAS: dict[str, str] = {name: _tex(formula) for name, formula in {
    "logprobs": r"dlogprobs = -\tfrac{1}{n}\,\mathrm{onehot}(y)",
    "probs": r"dprobs = dlogprobs \,/\, probs",
    "counts_sum_inv": r"dcounts_sum_inv = \textstyle\sum_j counts \odot dprobs",
    "counts_sum": r"dcounts_sum = -counts_sum^{-2} \odot dcounts_sum_inv",
    "counts": r"dcounts = counts_sum_inv \odot dprobs + dcounts_sum",
    "norm_logits": r"dnorm_logits = counts \odot dcounts",
    "logit_maxes": r"dlogit_maxes = -\textstyle\sum_j dnorm_logits \approx 0",
    "logits": r"dlogits = dnorm_logits + \mathrm{onehot}(\arg\max_j logits) \odot dlogit_maxes",
    "h": r"dh = dlogits \, W2^\top",
    "W2": r"dW2 = h^\top dlogits",
    "b2": r"db2 = \textstyle\sum_i dlogits",
    "hpreact": r"dhpreact = (1 - h^2) \odot dh",
    "bngain": r"dbngain = \textstyle\sum_i bnraw \odot dhpreact",
    "bnbias": r"dbnbias = \textstyle\sum_i dhpreact",
    "bnraw": r"dbnraw = bngain \odot dhpreact",
    "bnvar_inv": r"dbnvar_inv = \textstyle\sum_i bndiff \odot dbnraw",
    "bnvar": r"dbnvar = -\tfrac{1}{2}(bnvar + \epsilon)^{-3/2} \odot dbnvar_inv",
    "bndiff2": r"dbndiff2 = \tfrac{1}{n-1}\, dbnvar",
    "bndiff": r"dbndiff = bnvar_inv \odot dbnraw + 2\, bndiff \odot dbndiff2",
    "bnmeani": r"dbnmeani = -\textstyle\sum_i dbndiff",
    "hprebn": r"dhprebn = dbndiff + \tfrac{1}{n}\, dbnmeani",
    "embcat": r"dembcat = dhprebn \, W1^\top",
    "W1": r"dW1 = embcat^\top dhprebn",
    "b1": r"db1 = \textstyle\sum_i dhprebn",
    "emb": r"demb = dembcat \text{ as } (n, \text{block\_size}, \text{n\_embd})",
    "C": r"dC[x] = \textstyle\sum_{(i,t):\, X_{it} = x} demb_{it}",
    FUSED[0]: r"dlogits = (\mathrm{softmax}(logits) - \mathrm{onehot}(y)) \,/\, n",
    FUSED[1]: r"dhprebn = \tfrac{bngain \odot bnvar_inv}{n} \big(n\, dhpreact - \textstyle\sum_i dhpreact"
              r" - \tfrac{n}{n-1}\, bnraw \odot \textstyle\sum_i dhpreact \odot bnraw\big)",
}.items()}
