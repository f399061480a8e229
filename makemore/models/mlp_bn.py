"""A deeper MLP with optional BatchNorm (lecture 3): the network of lecture 2, stacked, with the
initialisations and the normalisation that decide whether it trains at all.

    emb = C[idx].view(B, -1)                             (B, block_size * n_embd)
    n_layers times:  x = tanh(BatchNorm(x @ W + b))      (B, n_hidden)   BatchNorm optional
    logits = x @ W_out + b_out                           (B, vocab_size)

`init` picks how the hidden weights start, the lecture's path from worst to best:
- "randn": every weight and bias from randn (std 1). Pre-activations are huge, tanh saturates.
- "small": randn x 0.2 and biases x 0.01, the lecture's hand-tuned fix for one hidden layer.
- "fan-in": randn / sqrt(fan_in), no gain: each layer keeps unit variance before tanh, but tanh
  squashes, so in a deep net the activations shrink layer after layer.
- "kaiming": (5/3) / sqrt(fan_in): tanh's gain makes up for the squashing (Kaiming He et al. 2015).
`out_scale` shrinks the output layer so that the first predictions are nearly uniform (a loss of
about log(vocab_size)) instead of confidently wrong. With BatchNorm the hidden Linear layers have
no bias: BatchNorm subtracts the mean, which would cancel it.
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from makemore import limits
from makemore.layers import BatchNorm1d, Linear, Tanh
from makemore.models.shared_fields import same_field
from makemore.models.loss import next_char_loss
from makemore.models.mlp import MLPConfig

INITS = ("randn", "small", "fan-in", "kaiming")
TANH_GAIN = 5 / 3
HAND_TUNED_SCALE = 0.2  # lecture 3 found it by looking at the histograms of a 30-input layer


@dataclass(frozen=True)
class MLPBNConfig:
    # lecture 2's MLP, stacked: its settings, with this page's words for them
    block_size: int = same_field(MLPConfig, "block_size")
    n_embd: int = same_field(MLPConfig, "n_embd", help="Numbers per character in the table C; the network reads 3 "
                             "characters of context.")
    n_hidden: int = same_field(MLPConfig, "n_hidden", label="Width", help="Units in every hidden layer.")
    n_layers: int = field(default=1, metadata=dict(
        min=1, max=limits.MAX_N_LAYERS, step=1, label="Hidden layers",
        help="Linear → (BatchNorm) → tanh, this many times, then the output layer."))
    batchnorm: bool = field(default=True, metadata=dict(
        label="BatchNorm after each hidden linear layer",
        help="Normalise each pre-activation over the batch, then scale and shift it by learned γ and β."))
    init: str = field(default="kaiming", metadata=dict(
        choices=INITS, label="Initialisation of the hidden weights",
        choice_labels={"randn": "randn (naive)", "small": "randn × 0.2 (hand-tuned)",
                       "fan-in": "1/√fan_in (no gain)", "kaiming": "(5/3)/√fan_in (Kaiming)"},
        help="How the weights of each hidden linear layer start. fan_in: the number of inputs."))
    out_scale: float = field(default=0.01, metadata=dict(  # 1: no fix
        min=0.001, max=1.0, options=(1.0, 0.3, 0.1, 0.03, 0.01),
        label="Output layer scale (fix the overconfident softmax)",
        help="The output layer's weights are multiplied by this: small values make the first predictions "
        "nearly uniform. 1: no fix."))


# Lecture 3's path, from a net that starts badly to one that trains well, and a deep net
# (5 hidden layers of 100) with and without the fixes. Each step changes one thing.
PRESETS = {
    "naive": MLPBNConfig(batchnorm=False, init="randn", out_scale=1.0),
    "softmax": MLPBNConfig(batchnorm=False, init="randn", out_scale=0.01),
    "tanh": MLPBNConfig(batchnorm=False, init="small", out_scale=0.01),
    "kaiming": MLPBNConfig(batchnorm=False, init="kaiming", out_scale=0.01),
    "batchnorm": MLPBNConfig(batchnorm=True, init="kaiming", out_scale=0.01),
    "deep": MLPBNConfig(n_hidden=100, n_layers=5, batchnorm=False, init="kaiming", out_scale=0.1),
    "deep-no-gain": MLPBNConfig(n_hidden=100, n_layers=5, batchnorm=False, init="fan-in", out_scale=0.1),
    "deep-batchnorm": MLPBNConfig(n_hidden=100, n_layers=5, batchnorm=True, init="fan-in", out_scale=0.1),
}


class MLPBN(nn.Module):
    def __init__(self, vocab_size: int, config: MLPBNConfig, generator=None):
        super().__init__()
        if config.init not in INITS:
            raise ValueError(f"unknown init {config.init!r}; choose one of {', '.join(INITS)}")
        self.block_size = config.block_size
        self.C = nn.Parameter(torch.randn(vocab_size, config.n_embd, generator=generator))
        layers = []
        fan_in = config.block_size * config.n_embd
        for _ in range(config.n_layers):
            layers.append(Linear(fan_in, config.n_hidden, bias=not config.batchnorm, generator=generator))
            if config.batchnorm:
                layers.append(BatchNorm1d(config.n_hidden))
            layers.append(Tanh())
            fan_in = config.n_hidden
        layers.append(Linear(fan_in, vocab_size, generator=generator))
        self.layers = nn.ModuleList(layers)

        with torch.no_grad():
            *hidden, out = [layer for layer in layers if isinstance(layer, Linear)]
            for layer in hidden:  # Linear starts them at randn / sqrt(fan_in); scale that to the init
                root_fan_in = layer.weight.shape[0] ** 0.5
                layer.weight *= {"randn": root_fan_in, "small": root_fan_in * HAND_TUNED_SCALE,
                                 "fan-in": 1.0, "kaiming": TANH_GAIN}[config.init]
                if layer.bias is not None and config.init in ("randn", "small"):
                    scale = 1.0 if config.init == "randn" else 0.01
                    layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator) * scale)
            if config.init == "randn":  # the output layer too: every weight and bias from randn
                out.weight *= out.weight.shape[0] ** 0.5
                out.bias.copy_(torch.randn(out.bias.shape, generator=generator))
            out.weight *= config.out_scale
            out.bias *= config.out_scale

    def forward(self, idx, targets=None):
        x = self.C[idx].view(len(idx), -1)  # (B, block_size * n_embd): the context's embeddings, joined
        for layer in self.layers:
            x = layer(x)
        logits = x  # (B, vocab_size)
        loss = None if targets is None else next_char_loss(logits, targets)
        return logits, loss
