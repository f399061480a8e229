"""The character MLP of lecture 2 (Bengio et al. 2003, "A Neural Probabilistic Language Model").

Each of the last `block_size` characters is looked up in an embedding table C, the embeddings are
concatenated into one vector, and one tanh hidden layer maps it to logits for the next character:

    emb = C[idx]                                  (B, block_size, n_embd)
    h = tanh(emb.view(B, -1) @ W1 + b1)           (B, n_hidden)
    logits = h @ W2 + b2                          (B, vocab_size)

Characters used in similar contexts end up near each other in C: the model shares what it learns
between them, which a table of counts cannot do.
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from makemore import limits
from makemore.models.loss import next_char_loss

INITS = ("naive", "scaled")


@dataclass(frozen=True)
class MLPConfig:
    block_size: int = field(default=3, metadata=dict(
        min=1, max=limits.MAX_BLOCK_SIZE, step=1, label="Block size (context characters)",
        help="How many previous characters the model sees."))
    n_embd: int = field(default=10, metadata=dict(
        min=2, max=limits.MAX_N_EMBD, step=1, label="Embedding size",
        help="Numbers per character in the table C. With 2 the page draws the table itself."))
    n_hidden: int = field(default=200, metadata=dict(
        min=16, max=limits.MAX_N_HIDDEN, step=8, label="Hidden width", help="tanh units in the hidden layer."))
    # "naive": every weight from randn, as the lecture starts; "scaled": Kaiming-scaled hidden layer
    # and a small output layer, so the first loss is near -log(1/V) instead of far above it
    init: str = field(default="scaled", metadata=dict(
        choices=INITS, label="Initialisation",
        help="**naive**: every weight from randn, the lecture's first try; it starts with confident, wrong "
        "predictions and saturated tanh units. **scaled**: Kaiming-scaled hidden layer and a small output "
        "layer; it starts near the uniform guess."))


class MLP(nn.Module):
    def __init__(self, vocab_size: int, config: MLPConfig, generator=None):
        super().__init__()
        if config.init not in INITS:
            raise ValueError(f"unknown init {config.init!r}; choose one of {', '.join(INITS)}")
        self.block_size = config.block_size
        n_in = config.block_size * config.n_embd

        def randn(*shape):
            return torch.randn(*shape, generator=generator)

        C = randn(vocab_size, config.n_embd)
        W1, b1 = randn(n_in, config.n_hidden), randn(config.n_hidden)
        W2, b2 = randn(config.n_hidden, vocab_size), randn(vocab_size)
        if config.init == "scaled":
            # tanh's gain 5/3 over sqrt(fan_in) keeps the pre-activations near unit std (no
            # saturation); a small W2 and zero b2 make the first predictions nearly uniform
            W1 *= (5 / 3) / n_in**0.5
            b1 *= 0.01
            W2 *= 0.01
            b2 *= 0
        self.C = nn.Parameter(C)
        self.W1, self.b1 = nn.Parameter(W1), nn.Parameter(b1)
        self.W2, self.b2 = nn.Parameter(W2), nn.Parameter(b2)

    def forward(self, idx, targets=None):
        emb = self.C[idx]  # (B, block_size, n_embd)
        h = torch.tanh(emb.view(len(idx), -1) @ self.W1 + self.b1)  # (B, n_hidden)
        logits = h @ self.W2 + self.b2  # (B, vocab_size)
        loss = None if targets is None else next_char_loss(logits, targets)
        return logits, loss


@torch.no_grad()
def project_2d(C: torch.Tensor) -> tuple[torch.Tensor, str, float]:
    """Points to draw an embedding table (V, n_embd) in 2-D.

    Returns (V, 2) coordinates, how they were made, and the share of the variance they show. With
    two dimensions they are the table itself; with more, the first two principal components.
    """
    C = C.detach().float()
    if C.shape[1] == 1:
        return torch.cat([C, torch.zeros_like(C)], dim=1), "the single dimension", 1.0
    if C.shape[1] == 2:
        return C.clone(), "the two embedding dimensions", 1.0
    centred = C - C.mean(dim=0)
    _, S, Vh = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ Vh[:2].T
    # the sign of a principal axis is arbitrary: fix it so that a retrain does not mirror the plot
    signs = torch.sign(coords[coords.abs().argmax(dim=0), torch.arange(2)])
    coords = coords * torch.where(signs == 0, 1.0, signs)
    variance = S**2
    share = (variance[:2].sum() / variance.sum()).item() if variance.sum() > 0 else 1.0
    return coords, "the first two principal components (PCA)", share


@torch.no_grad()
def nearest(C: torch.Tensor, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """For each character, the k others closest to it in embedding space (Euclidean distance).

    Returns (distances, indices), both (V, k), nearest first.
    """
    d = torch.cdist(C.detach().float(), C.detach().float())
    d.fill_diagonal_(float("inf"))
    k = min(k, len(C) - 1)
    return torch.topk(d, k, dim=1, largest=False)
