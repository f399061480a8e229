"""Bigram models (lecture 1): the next character depends only on the one before it.

Two ways to the same table of probabilities P(next | prev):
- BigramCounts counts every pair in the training words and normalises the rows;
- BigramNN learns a V x V weight matrix W by gradient descent: one-hot(prev) @ W gives the
  logits, so row W[prev] plays the part of log-counts, and softmax turns it into probabilities.
Trained long enough, the network reaches the counts' negative log-likelihood.
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from makemore.models.loss import next_char_loss

# Lecture 1's negative log-likelihood of the counts with add-one smoothing, on its names.txt (the
# app shows it only beside a result on that list: data.WordDataset.is_lecture_list).
LECTURE_COUNTS_NLL = 2.45

@dataclass(frozen=True)
class BigramCountsConfig:
    # add-alpha smoothing: every pair counts as seen alpha more times
    alpha: float = field(default=1.0, metadata=dict(
        min=0.0, max=10.0, step=0.1, label="Smoothing α (add α to every count)",
        help="α = 0 is the raw counts: a pair never seen gets probability 0. A larger α pulls every row "
        "towards uniform."))


class BigramCounts(nn.Module):
    """Probabilities read off a table of pair counts. Fitted by counting, not by gradients."""

    block_size = 1

    def __init__(self, vocab_size: int, config: BigramCountsConfig, generator=None):
        super().__init__()
        self.alpha = config.alpha
        self.register_buffer("counts", torch.zeros(vocab_size, vocab_size))

    def fit(self, X: torch.Tensor, Y: torch.Tensor) -> None:
        V = self.counts.shape[0]
        pairs = X[:, -1] * V + Y  # one integer per (prev, next) pair
        self.counts = torch.bincount(pairs, minlength=V * V).view(V, V).float()

    def with_alpha(self, alpha: float) -> "BigramCounts":
        """The same counts with another smoothing (shares the table; nothing is recounted)."""
        other = BigramCounts(self.counts.shape[0], BigramCountsConfig(alpha))
        other.counts = self.counts
        return other

    def probs(self, alpha: float | None = None) -> torch.Tensor:
        """(V, V): row i is P(next | prev = i) after add-alpha smoothing."""
        N = self.counts + (self.alpha if alpha is None else alpha)
        N[N.sum(dim=1) == 0] = 1.0  # a character never seen before anything: no evidence, so uniform
        return N / N.sum(dim=1, keepdim=True)

    def forward(self, idx, targets=None):
        logits = self.probs().log()[idx[:, -1]]  # log-probabilities are valid logits
        loss = None if targets is None else next_char_loss(logits, targets)
        return logits, loss


@dataclass(frozen=True)
class BigramNNConfig:
    # std of W at initialisation (the lecture uses randn: std 1)
    init_scale: float = field(default=1.0, metadata=dict(
        min=0.0, max=10.0, step=0.1, label="Initial weight scale",
        help="W starts as randn × this; 0 starts from uniform predictions."))


class BigramNN(nn.Module):
    """A single linear layer on one-hot characters, trained by gradient descent."""

    block_size = 1

    def __init__(self, vocab_size: int, config: BigramNNConfig, generator=None):
        super().__init__()
        self.vocab_size = vocab_size
        W = torch.randn(vocab_size, vocab_size, generator=generator) * config.init_scale
        self.W = nn.Parameter(W)
        # True: look the row up (training); False: the lecture's one-hot matrix product (same numbers)
        self.fused = True

    def forward(self, idx, targets=None):
        prev = idx[:, -1]
        if self.fused:
            logits = self.W[prev]  # what the product below computes, without the (B, V) one-hot matrix
        else:
            xenc = F.one_hot(prev, self.vocab_size).float()  # (B, V)
            logits = xenc @ self.W  # (B, V): the one 1 in each row of xenc picks row W[prev]: log-counts
        loss = None if targets is None else next_char_loss(logits, targets)
        return logits, loss


@torch.no_grad()
def learned_vs_counted(net: BigramNN, counts: BigramCounts) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Compare what the network learned with the counts' table.

    Returns (net log-probs, counts log-probs), both (V, V), and the mean total-variation distance
    between their next-character distributions (0: identical rows, 1: disjoint). Log-probabilities,
    not raw W: softmax ignores a constant added to a row, so only log_softmax(W) is comparable.
    """
    net_logprob = torch.log_softmax(net.W, dim=1)
    probs = counts.probs()
    distance = (net_logprob.exp() - probs).abs().sum(dim=1).mean().item() / 2
    return net_logprob, probs.log(), distance
