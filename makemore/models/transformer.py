"""From a bag of words to a small GPT (lecture 7, "Let's build GPT", and makemore.py's BoW and
Transformer), on whole words: every position t of a word predicts the character after it, looking
only at positions 0..t.

    x = token_embedding[idx] + position_embedding[0..T-1]           (B, T, C)
    n_layer times, a block:
        x = x + mix(LayerNorm(x))          mixing ACROSS positions (the only place they talk)
        x = x + MLP(LayerNorm(x))          thinking at each position on its own
    logits = LayerNorm(x) @ W_head + b_head                          (B, T, V)

`mix` is where the lecture's path happens. "The trick": a weighted sum over the earlier
positions, out[t] = sum_{s<=t} w[t, s] v[s], with each row of w a softmax over s of scores that are
-inf for s > t (the future), so w[t, s] = 0 there and the rest of the row sums to 1.
- Bag of words: every score is 0, so w[t, s] = 1/(t+1), the plain average of x[0..t].
- Self-attention: the scores are learned from the data. Each position emits a query q = x Wq ("what
  I look for") and a key k = x Wk ("what I hold"); score[t, s] = q[t].k[s] / sqrt(head_size) (the
  square root keeps the scores near unit variance, so the softmax does not start one-hot), and
  what is summed is a value v = x Wv. Multi-head attention runs n_head such heads of size
  n_embd / n_head side by side and joins their outputs, followed by a projection.

The switches add the lecture's steps one at a time (PRESETS): attention instead of averaging, more
heads, the feed-forward MLP, residual connections (x + f(x): gradients flow straight through the
sum, so deep stacks train), LayerNorm before each sub-layer (pre-norm), and dropout. Without
`residual` a block is x = mix(x) then x = MLP(x); without `layernorm` the norms are identities.

Attention is computed two ways with the same result: the explicit softmax(Q Kᵀ / sqrt(d)) V with
its causal mask, which the views below read, and PyTorch's fused scaled_dot_product_attention,
which is faster for training (USE_SDPA).
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from makemore import limits
from makemore.models.shared_fields import same_field
from makemore.models.loss import next_char_loss


BLOCK_SIZE = limits.MAX_WORD_LEN + 1  # a word of up to 32 characters plus the start token
# The output layer's starting weights: small, so the first guess is nearly uniform (GPT-2's 0.02,
# whose whole initialisation, 0.02 everywhere, trained slower here and starved deep stacks without
# residual connections of any signal: their logits came out near 1e-19).
OUT_STD = 0.02

# Fused attention (F.scaled_dot_product_attention) for training and evaluation; the explicit
# version is kept for the views. Training steps per second on one CPU thread, fused vs explicit:
# 4 blocks of 64, batch 32: 92 vs 82; batch 128: 25.0 vs 22.3; with dropout 17.8 vs 17.3;
# 2 blocks of 48, batch 128: 68 vs 70 (the same, within noise). Never slower, so always on.
USE_SDPA = True


def check_config(config) -> None:
    """One-line ValueErrors for settings that cannot build a model (the CLI exits with status 2)."""
    if config.n_embd < 1 or config.n_layer < 1 or config.n_head < 1:
        raise ValueError("n_embd, n_layer and n_head must be at least 1")
    if config.attention and config.n_embd % config.n_head:
        raise ValueError(f"{config.n_head} heads do not divide the embedding size {config.n_embd}: "
                         f"each head gets n_embd / n_head dimensions")
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {config.dropout}")


@dataclass(frozen=True)
class TransformerConfig:
    # the defaults are the fast recipe's net ("transformer" in the registry): 2 blocks of 48
    n_layer: int = field(default=2, metadata=dict(
        min=1, max=limits.MAX_N_BLOCKS, step=1, label="Blocks",
        help="How many blocks (mixing + MLP) are stacked, one after the other."))
    n_head: int = field(default=4, metadata=dict(
        min=1, max=limits.MAX_N_HEAD, step=1, label="Heads",
        help="Attention heads per block; each has n_embd / n_head dimensions, so it must divide the embedding size."))
    n_embd: int = field(default=48, metadata=dict(
        min=8, max=limits.MAX_N_EMBD_TRANSFORMER, step=8, label="Embedding size",
        help="Size of the vector each position carries through the blocks."))
    attention: bool = field(default=True, metadata=dict(
        label="Self-attention",
        help="Off: each position takes the plain average of the earlier ones (a bag of words); on: learned weights."))
    feed_forward: bool = field(default=True, metadata=dict(
        label="Feed-forward MLP",
        help="After mixing, an MLP (n_embd -> 4 n_embd -> n_embd, GELU) at every position."))
    residual: bool = field(default=True, metadata=dict(
        label="Residual connections",
        help="Each sub-layer adds to its input (x + f(x)) instead of replacing it, so deep stacks train."))
    layernorm: bool = field(default=True, metadata=dict(
        label="LayerNorm",
        help="Normalise each position's vector before every sub-layer and before the output layer (pre-norm)."))
    dropout: float = field(default=0.0, metadata=dict(
        min=0.0, max=limits.MAX_DROPOUT, step=0.05, label="Dropout",
        help="While training, zero this share of activations at random, so the net cannot lean on any one of them."))

    def __post_init__(self):
        check_config(self)  # a config that cannot build a model is refused at once (the page says why)


@dataclass(frozen=True)
class BoWConfig(TransformerConfig):
    """makemore.py's BoW (registry name "bow"): one block that averages the past instead of
    attending, then its MLP, with residual connections; here with LayerNorm too."""

    n_layer: int = same_field(TransformerConfig, "n_layer", 1)
    n_embd: int = same_field(TransformerConfig, "n_embd", 64)
    attention: bool = same_field(TransformerConfig, "attention", False)


# Lecture 7's path, one change per step (n_embd 32 as in the lecture until the last step, which
# scales up to the small GPT). From "feed-forward" on there are 4 blocks: stacking them is what
# makes residual connections and LayerNorm necessary.
_PATH = dict(n_embd=32, n_head=1, n_layer=1, attention=False, feed_forward=False, residual=False,
             layernorm=False, dropout=0.0)
PRESETS = {
    "bow": TransformerConfig(**_PATH),
    "one-head": TransformerConfig(**_PATH | dict(attention=True)),
    "multi-head": TransformerConfig(**_PATH | dict(attention=True, n_head=4)),
    "feed-forward": TransformerConfig(**_PATH | dict(attention=True, n_head=4, feed_forward=True, n_layer=4)),
    "residual": TransformerConfig(**_PATH | dict(attention=True, n_head=4, feed_forward=True, n_layer=4,
                                                 residual=True)),
    "layernorm": TransformerConfig(**_PATH | dict(attention=True, n_head=4, feed_forward=True, n_layer=4,
                                                  residual=True, layernorm=True)),
    "gpt": TransformerConfig(n_embd=64, n_head=4, n_layer=4, dropout=0.1),
}
# What each step changes, in one line (for the page's preset buttons).
PRESET_CHANGES = {
    "bow": "Each position averages the embeddings of the characters so far (a bag of words).",
    "one-head": "One head of self-attention: the weights of the average are learned from queries and keys.",
    "multi-head": "Four heads of 8 dimensions each look for different things, side by side.",
    "feed-forward": "An MLP after the attention at every position, and four such blocks stacked.",
    "residual": "Residual connections: each sub-layer adds to its input, so the deep stack trains.",
    "layernorm": "LayerNorm before each sub-layer (pre-norm) and before the output layer.",
    "gpt": "The small GPT: embedding 64, and dropout 0.1 against overfitting.",
}


# -----------------------------------------------------------------------------------------------
# mixing across positions: "the trick"


def causal_mask(T: int) -> torch.Tensor:
    """(T, T) bool, True where query t may look at key s (s <= t): the lower triangle."""
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def explicit_attention(q, k, v, dropout: nn.Module | None = None):
    """softmax(q kᵀ / sqrt(d), masked to s <= t) v, written out.

    q, k, v: (..., T, d). Returns (out (..., T, d), scores (..., T, T), weights (..., T, T)), the
    scores -inf above the diagonal and the weights 0 there, each row summing to 1.
    """
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T, T): how well query t matches key s
    scores = scores.masked_fill(~causal_mask(T).to(q.device), float("-inf"))  # no looking ahead
    weights = F.softmax(scores, dim=-1)
    out = (dropout(weights) if dropout is not None else weights) @ v  # (..., T, d)
    return out, scores, weights


# What the views record, per thread: one trained model serves every visitor of a server at once, so
# a view's scores must never land on the shared model, where another visitor's forward pass would
# overwrite them. None: this thread is not explaining (training and sampling take the fused path).
_kept = threading.local()


def _recording() -> dict | None:
    return getattr(_kept, "mixers", None)


class Mixer(nn.Module):
    """Hands its scores and weights to `explaining` (the views), for the thread that asked."""

    def keep(self, scores, weights):
        recording = _recording()
        if recording is not None:
            recording[self] = (scores.detach(), weights.detach())


class CausalAverage(Mixer):
    """The bag of words: position t gets the average of x[0..t]. The same softmax as attention,
    over scores that are all 0, so the weights are uniform over the past."""

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        T = x.shape[1]
        scores = torch.zeros(T, T, device=x.device).masked_fill(~causal_mask(T).to(x.device), float("-inf"))
        weights = F.softmax(scores, dim=-1)  # row t: 1/(t+1) for s <= t, 0 after
        self.keep(scores, weights)
        return weights @ x


class CausalSelfAttention(Mixer):
    """n_head heads of self-attention side by side, then a projection back to n_embd."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_head = config.n_head
        self.query = nn.Linear(config.n_embd, config.n_embd)  # all heads' queries at once
        self.key = nn.Linear(config.n_embd, config.n_embd)
        self.value = nn.Linear(config.n_embd, config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout
        self.weights_dropout = nn.Dropout(config.dropout)
        self.out_dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        B, T, C = x.shape

        def heads(t):  # (B, T, C) -> (B, n_head, T, head_size): each head attends on its own
            return t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        if USE_SDPA and _recording() is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                 dropout_p=self.dropout if self.training else 0.0)
        else:
            out, scores, weights = explicit_attention(q, k, v, self.weights_dropout)
            self.keep(scores, weights)
        out = out.transpose(1, 2).reshape(B, T, C)  # the heads' outputs side by side
        return self.out_dropout(self.proj(out))


class FeedForward(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        norm = (lambda: nn.LayerNorm(config.n_embd)) if config.layernorm else nn.Identity
        self.ln1, self.ln2 = norm(), norm()
        self.mix = CausalSelfAttention(config) if config.attention else CausalAverage()
        self.mlp = FeedForward(config) if config.feed_forward else None
        self.residual = config.residual

    def forward(self, x):
        if self.residual:
            x = x + self.mix(self.ln1(x))
            if self.mlp is not None:
                x = x + self.mlp(self.ln2(x))
        else:
            x = self.mix(self.ln1(x))
            if self.mlp is not None:
                x = self.mlp(self.ln2(x))
        return x


class Transformer(nn.Module):
    layout = "words"

    def __init__(self, vocab_size: int, config: TransformerConfig, generator: torch.Generator | None = None):
        super().__init__()
        check_config(config)
        self.config = config
        self.block_size = BLOCK_SIZE
        self.token_embedding = nn.Embedding(vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(BLOCK_SIZE, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd) if config.layernorm else nn.Identity()
        self.lm_head = nn.Linear(config.n_embd, vocab_size)
        self.init_weights(generator)

    @torch.no_grad()
    def init_weights(self, generator=None):
        """Every number drawn from `generator`. Embeddings from N(0, 1) and each Linear's weights
        from N(0, 1/fan_in), biases 0: unit-variance inputs give unit-variance outputs, so the
        signal survives a stack of blocks even without residual connections (torch.nn's default
        does about the same). With residual connections, the projections that add into the
        stream are scaled by 1/sqrt(2 n_layer), so its variance does not grow with depth (GPT-2).
        The output layer starts small, so the first guess is nearly uniform (a loss of log V)."""
        for name, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                std = 1.0 if isinstance(module, nn.Embedding) else module.in_features**-0.5
                if name.endswith("proj") and self.config.residual:
                    std /= math.sqrt(2 * self.config.n_layer)
                if name == "lm_head":
                    std = OUT_STD
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()

    def forward(self, idx, targets=None):
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"a sequence of {T} positions is longer than the block size {self.block_size}")
        positions = torch.arange(T, device=idx.device)
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None if targets is None else next_char_loss(logits, targets)  # padding (-1) never counts
        return logits, loss


def transformer_param_count(vocab_size: int, config: TransformerConfig) -> int:
    """Parameters of Transformer(vocab_size, config), from the shapes."""
    C, L = config.n_embd, config.n_layer
    per_block = 0
    if config.attention:
        per_block += 4 * (C * C + C)  # query, key, value, proj
    if config.feed_forward:
        per_block += (C * 4 * C + 4 * C) + (4 * C * C + C)
    if config.layernorm:
        per_block += 2 * 2 * C
    final_norm = 2 * C if config.layernorm else 0
    return vocab_size * C + BLOCK_SIZE * C + L * per_block + final_norm + C * vocab_size + vocab_size


# -----------------------------------------------------------------------------------------------
# views for the page: one typed word, ids starting with the start token 0


def _as_batch(ids) -> torch.Tensor:
    idx = torch.as_tensor(ids, dtype=torch.long).reshape(1, -1)  # (1, T)
    if idx.shape[1] == 0:
        raise ValueError("give at least the start token")
    return idx


@contextmanager
def explaining(model: Transformer):
    """No gradients, explicit attention, and every mixer's (scores, weights) kept for this thread:
    yields {mixer: (scores, weights)}, filled by the forward passes inside. The model itself is not
    touched (the app's models are shared by every visitor, and already in eval mode)."""
    was_training = model.training
    if was_training:
        model.eval()
    kept, outer = {}, _recording()
    _kept.mixers = kept
    try:
        with torch.no_grad():
            yield kept
    finally:
        _kept.mixers = outer
        if was_training:
            model.train()


def attention_weights(model: Transformer, ids) -> torch.Tensor:
    """Every layer's and head's weights for one word: (n_layer, n_head, T, T), query x key; for
    the bag of words (n_layer, 1, T, T), uniform over the past.

    Row t is how much position t takes from each position s <= t (0 above the diagonal, rows sum
    to 1)."""
    idx = _as_batch(ids)
    with explaining(model) as kept:
        model(idx)
        maps = []
        for block in model.blocks:
            _, w = kept[block.mix]  # (1, n_head, T, T) for attention, (T, T) for the average
            maps.append(w[0] if w.dim() == 4 else w[None])
    return torch.stack(maps)


def the_trick(model: Transformer, ids, layer: int = 0, head: int = 0) -> dict:
    """The lecture's trick for one word in one layer and head: the lower-triangular mask, the
    scores (query x key; -inf where masked) and the softmax weights, each (T, T)."""
    idx = _as_batch(ids)
    T = idx.shape[1]
    with explaining(model) as kept:
        model(idx)
        scores, weights = kept[model.blocks[layer].mix]
        if scores.dim() == 4:
            scores, weights = scores[0, head], weights[0, head]
        return {"mask": causal_mask(T), "scores": scores.clone(), "weights": weights.clone()}


@torch.no_grad()
def next_char_probs(model: Transformer, ids, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """The k likeliest next characters at each position of one word: (probs (T, k), ids (T, k)),
    likeliest first. Position t has seen ids[0..t]."""
    idx = _as_batch(ids)
    was_training = model.training
    model.eval()
    logits, _ = model(idx)
    model.train(was_training)
    probs = F.softmax(logits[0], dim=-1)  # (T, V)
    top = torch.topk(probs, min(k, probs.shape[-1]), dim=-1)
    return top.values, top.indices
