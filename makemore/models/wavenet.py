"""A WaveNet-like hierarchical MLP (lecture 5; van den Oord et al. 2016, "WaveNet").

Lecture 2's MLP squashes the whole context into one hidden layer at once. With a longer context
that is a lot to squash in one step; the WaveNet fuses it slowly instead, two neighbours at a
time, in a tree: characters into pairs, pairs into quadruples, and so on up to the whole context.

    x = C[idx]                                            (B, 8, n_embd)       the embeddings
    level 1:  x = tanh(BN(join_pairs(x) @ W1))            (B, 4, n_hidden)     from (B, 4, 2 n_embd)
    level 2:  x = tanh(BN(join_pairs(x) @ W2))            (B, 2, n_hidden)     from (B, 2, 2 n_hidden)
    level 3:  x = tanh(BN(join_pairs(x) @ W3))            (B, n_hidden)        from (B, 1, 2 n_hidden)
    logits = x @ W_out + b_out                            (B, vocab_size)

join_pairs is FlattenConsecutive(2): (B, T, C) -> (B, T/2, 2C), each row the concatenation of two
neighbours. W1 is one matrix applied to every pair (`@` broadcasts over B and T): the same weights
read characters 1-2, 3-4, 5-6 and 7-8, as a convolution of width 2 and stride 2 would. A context
of 2^L characters needs L levels. The flat net (`hierarchical=False`) is lecture 2's MLP with
BatchNorm, which lecture 5 starts from:

    x = tanh(BN(C[idx].view(B, -1) @ W1))                 (B, n_hidden)        from (B, context n_embd)

The hidden Linear layers have no bias (BatchNorm subtracts the mean, which would cancel it) and
start at randn / sqrt(fan_in); the output layer starts 10 times smaller, so the first predictions
are nearly uniform (a loss near log(vocab_size)).

Lecture 5's bug: its first BatchNorm1d averaged a (B, T, C) input over dimension 0 only, so each of
the T positions got its own mean and variance, (1, T, C), each from only B numbers. The fix
averages over batch and time, (1, 1, C): `bn_over_time`. See makemore.layers.BatchNorm1d.
"""

from dataclasses import dataclass, field

import torch

from makemore import limits
from makemore.layers import BatchNorm1d, Embedding, Flatten, FlattenConsecutive, Linear, Sequential, Tanh
from makemore.models.loss import next_char_loss

# Context lengths: a hierarchical net needs a power of two (8: three levels, 16: four); 3 is lecture
# 5's starting point, the flat net of lectures 2-3, so it is allowed for the flat net only.
CONTEXTS = (3, 8, 16)
OUT_SCALE = 0.1  # lecture 5's "last layer: make less confident"


@dataclass(frozen=True)
class WaveNetConfig:
    context: int = field(default=8, metadata=dict(
        options=CONTEXTS, label="Context (characters)",
        help="How many previous characters the model reads; the tree has log2(context) levels."))
    n_embd: int = field(default=24, metadata=dict(
        min=1, max=limits.MAX_N_EMBD, step=1, label="Embedding size",
        help="Numbers per character in the embedding table C."))
    n_hidden: int = field(default=128, metadata=dict(
        min=1, max=limits.MAX_N_HIDDEN, step=1, label="Hidden units",
        help="Width of every hidden layer (each level of the tree)."))
    hierarchical: bool = field(default=True, metadata=dict(
        label="Hierarchical (WaveNet)",
        help="Fuse neighbours two at a time, level by level; off: the whole context in one layer, "
             "as lecture 2's MLP."))
    bn_over_time: bool = field(default=True, metadata=dict(
        label="BatchNorm over batch and time (the fix)",
        help="Off: lecture 5's bug, one mean and variance per position, each from the batch alone."))

    def __post_init__(self):
        if self.context not in CONTEXTS:
            raise ValueError(f"context must be one of {', '.join(map(str, CONTEXTS))}, not {self.context}")
        if self.hierarchical and self.context & (self.context - 1):
            raise ValueError(f"a hierarchical net joins pairs, so its context must be a power of two "
                             f"(8 or 16), not {self.context}; use the flat net for {self.context}")

    @property
    def levels(self) -> int:
        """Hidden layers: log2(context) for the tree, one for the flat net."""
        return self.context.bit_length() - 1 if self.hierarchical else 1


# Lecture 5's path, one change at a time, with the validation loss its notebook logs for each
# (200k SGD steps; "performance log" of makemore_part5_cnn1.ipynb).
PRESETS = {
    "context-3": WaveNetConfig(context=3, n_embd=10, n_hidden=200, hierarchical=False),  # 12,097 params
    "context-8": WaveNetConfig(context=8, n_embd=10, n_hidden=200, hierarchical=False),  # 22,097
    "hierarchical-bug": WaveNetConfig(context=8, n_embd=10, n_hidden=68, bn_over_time=False),  # 22,397
    "hierarchical": WaveNetConfig(context=8, n_embd=10, n_hidden=68),  # 22,397
    "scaled-up": WaveNetConfig(context=8, n_embd=24, n_hidden=128),  # 76,579
}
LECTURE_VAL_LOSS = {"context-3": 2.105, "context-8": 2.027, "hierarchical-bug": 2.029,
                    "hierarchical": 2.022, "scaled-up": 1.993}


class WaveNet(Sequential):
    layout = "windows"

    def __init__(self, vocab_size: int, config: WaveNetConfig, generator: torch.Generator | None = None):
        E, H = config.n_embd, config.n_hidden
        layers = [Embedding(vocab_size, E, generator=generator)]
        if config.hierarchical:
            T, width = config.context, E
            for _ in range(config.levels):
                T //= 2  # positions left after joining pairs; the last level leaves one (squeezed)
                layers += [FlattenConsecutive(2), Linear(2 * width, H, bias=False, generator=generator),
                           BatchNorm1d(H, time=T if T > 1 else None, over_time=config.bn_over_time), Tanh()]
                width = H
        else:
            layers += [Flatten(), Linear(config.context * E, H, bias=False, generator=generator),
                       BatchNorm1d(H), Tanh()]
        layers.append(Linear(H, vocab_size, generator=generator))
        super().__init__(*layers)
        self.block_size = config.context
        with torch.no_grad():
            self.layers[-1].weight *= OUT_SCALE

    def forward(self, idx, targets=None):
        logits = super().forward(idx)  # (B, vocab_size)
        loss = None if targets is None else next_char_loss(logits, targets)
        return logits, loss


def wavenet_param_count(vocab_size: int, config: WaveNetConfig) -> int:
    """Parameters of WaveNet(vocab_size, config), from the shapes: C, each level's W and
    BatchNorm gamma and beta, W_out and b_out."""
    E, H = config.n_embd, config.n_hidden
    if config.hierarchical:
        hidden = 2 * E * H + (config.levels - 1) * 2 * H * H
    else:
        hidden = config.context * E * H
    return vocab_size * E + hidden + config.levels * 2 * H + (H + 1) * vocab_size


# -----------------------------------------------------------------------------------------------
# for the page: the shapes, the tree, the BatchNorm statistics


def describe(layer) -> str:
    """"Linear(48, 128, bias=False)": the layer's class and settings, as torch prints them."""
    return f"{type(layer).__name__}({layer.extra_repr()})"


@torch.no_grad()
def layer_shapes(model: WaveNet, idx: torch.Tensor | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """[(layer, output shape)] from the input through every layer, as lecture 5 prints them:
    ("input", (B, 8)), ("Embedding(27, 24)", (B, 8, 24)), ("FlattenConsecutive(2)", (B, 4, 48)),
    ... ("Linear(128, 27, bias=True)", (B, 27)). idx defaults to a batch of 4 empty contexts.
    Runs in eval mode, so the model (its BatchNorm statistics) is left as it was."""
    x = torch.zeros(4, model.block_size, dtype=torch.long) if idx is None else idx
    rows = [("input", tuple(x.shape))]
    was_training = model.training
    model.eval()
    try:
        for layer in model.layers:
            x = layer(x)
            rows.append((describe(layer), tuple(x.shape)))
    finally:
        model.train(was_training)
    return rows


def receptive_fields(context: int, hierarchical: bool = True) -> list[dict]:
    """The tree of a WaveNet as rows, one per unit (a position of a level's output), for a chart.

    Level 0 holds the input characters, positions 0 .. context-1 (the last is the character just
    before the one predicted). A unit of level l reads `children` (units of level l-1) and sees the
    input positions `first` .. `last`; `center` is where to draw it. A flat net has one level
    whose single unit reads every character.

        receptive_fields(8)[8] == dict(level=1, unit=0, first=0, last=1, center=0.5, children=[0, 1])
    """
    if hierarchical and context & (context - 1):
        raise ValueError(f"a hierarchical net needs a power-of-two context, not {context}")
    rows = [dict(level=0, unit=i, first=i, last=i, center=float(i), children=[]) for i in range(context)]
    below = rows
    level = 1
    while len(below) > 1:
        group = 2 if hierarchical else len(below)
        units = []
        for unit in range(len(below) // group):
            kids = below[unit * group:(unit + 1) * group]
            first, last = kids[0]["first"], kids[-1]["last"]
            units.append(dict(level=level, unit=unit, first=first, last=last, center=(first + last) / 2,
                              children=[k["unit"] for k in kids]))
        rows += units
        below, level = units, level + 1
    return rows


def batchnorm_stat_shapes(model: WaveNet) -> list[tuple[str, tuple[int, ...]]]:
    """[("level 1", (1, 4, 68)), ...]: the shape of each BatchNorm's running mean and variance.
    With the bug, (1, T, C): one statistic per position and channel; fixed, (1, 1, C); the last
    level sees (B, C) and keeps (C,)."""
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm1d)]
    return [(f"level {i + 1}", tuple(bn.running_mean.shape)) for i, bn in enumerate(norms)]
