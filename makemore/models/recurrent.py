"""Recurrent language models: a vanilla RNN (Mikolov et al. 2010) and a GRU (Cho et al. 2014)
reading a whole word one character at a time.

The MLP sees a fixed window of the last few characters. A recurrent network instead carries a
hidden state h through the word: at every position t it reads the character x_t and its own
previous state h_{t-1}, and predicts the next character from the new state h_t, so what it
predicts may depend on every character so far:

    x = [., w1, ..., wn]            the word's ids after the boundary token 0
    e_t = C[x_t]                                        (n_embd,)
    h_t = cell(e_t, h_{t-1}),  h_{-1} = 0               (n_hidden,)  one cell per layer, stacked
    logits_t = W_out h_t + b_out                        (vocab_size,) scores for w_{t+1} (or the end)

The cells, with [a; b] the two vectors joined and * the elementwise product:

RNN (Elman's cell, the one Mikolov et al. 2010 used for language modelling):

    h_t = tanh(W [x_t; h_{t-1}] + b)

GRU (Cho et al. 2014), in PyTorch's form (see GRUCell for the one place it differs from the paper
and from makemore.py):

    r_t = sigmoid(W_r [x_t; h_{t-1}] + b_r)                  reset gate
    z_t = sigmoid(W_z [x_t; h_{t-1}] + b_z)                  update gate
    n_t = tanh(W_xn x_t + b_xn + r_t * (W_hn h_{t-1} + b_hn))   candidate state
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                     blend: z_t = 1 keeps the old state

The RNN multiplies its gradient by W_hh^T diag(1 - h_t^2) at every step back in time, so the
signal from a late loss to an early state usually shrinks geometrically (vanishing gradients,
Bengio et al. 1994). The GRU's blend adds a path h_{t-1} -> h_t scaled by z_t alone: where the
update gate stays near 1, the state, and its gradient, pass through almost unchanged.

Training runs torch's fused nn.RNN / nn.GRU (one C++ loop over time: 1.1-1.5x the steps per second
of the same cells stepped in Python, on one CPU thread). The readable cells below compute the same numbers from the same
weights (tests/test_recurrent.py checks it) and serve the views: every layer's hidden state, the
GRU's gates, and the gradient of a loss with respect to every hidden state.
"""

from dataclasses import dataclass, field, fields
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from makemore import limits
from makemore.models.shared_fields import same_field
from makemore.models.loss import next_char_loss

CELLS = ("rnn", "gru")

def check_fields(config) -> None:
    """Refuse a config whose fields are not whole numbers within their metadata's bounds."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{f.name} must be a whole number, not {value!r}")
        if not meta["min"] <= value <= meta["max"]:
            raise ValueError(f"{f.name} must be between {meta['min']} and {meta['max']}, not {value}")


# Two configs, one per registry name ("rnn", "gru"), so each name has its own defaults and the
# CLI, the cache and the page need no special case. The cell is a class attribute, not a field:
# no slider or --flag can turn a model registered as "rnn" into a GRU.
@dataclass(frozen=True)
class RNNConfig:
    cell: ClassVar[str] = "rnn"
    n_embd: int = field(default=24, metadata=dict(
        min=2, max=limits.MAX_SEQUENCE_N_EMBD, step=1, label="Embedding size",
        help="Dimensions of each character's learned vector, the cell's input."))
    n_hidden: int = field(default=128, metadata=dict(
        min=8, max=limits.MAX_N_HIDDEN, step=8, label="Hidden size",
        help="Units in the hidden state that carries the word so far from one character to the next."))
    n_layers: int = field(default=1, metadata=dict(
        min=1, max=limits.MAX_RECURRENT_LAYERS, step=1, label="Layers",
        help="Recurrent layers stacked: each reads the hidden states of the one below."))

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class GRUConfig:
    cell: ClassVar[str] = "gru"
    n_embd: int = same_field(RNNConfig, "n_embd")
    n_hidden: int = same_field(RNNConfig, "n_hidden", 96)
    n_layers: int = same_field(RNNConfig, "n_layers")

    def __post_init__(self):
        check_fields(self)


# -----------------------------------------------------------------------------------------------
# the readable cells


class RNNCell:
    """One step of the vanilla RNN:

        h_t = tanh(W [x_t; h_{t-1}] + b)

    W (n_hidden, n_in + n_hidden) is torch's weight_ih and weight_hh side by side; torch keeps two
    biases (b_ih, b_hh) where one would do, so b is their sum. The cell holds views of the model's
    parameters: gradients through it reach them.
    """

    def __init__(self, weight_ih, weight_hh, bias_ih, bias_hh):
        self.W = torch.cat([weight_ih, weight_hh], dim=1)  # (H, n_in + H)
        self.b = bias_ih + bias_hh  # (H,)

    def __call__(self, x, h):
        """x (B, n_in), h (B, H) -> the new state (B, H) and the gates (none for this cell)."""
        xh = torch.cat([x, h], dim=1)  # (B, n_in + H)
        return torch.tanh(xh @ self.W.T + self.b), {}


class GRUCell:
    """One step of the GRU, in torch's form (so that it matches nn.GRU for the same weights):

        r_t = sigmoid(W_r [x_t; h_{t-1}] + b_r)                     reset gate
        z_t = sigmoid(W_z [x_t; h_{t-1}] + b_z)                     update gate
        n_t = tanh(W_xn x_t + b_xn + r_t * (W_hn h_{t-1} + b_hn))   candidate state
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}                       blend

    The reset gate decides how much of the old state the candidate may use; the update gate how
    much of the old state to keep as it is. Two differences from makemore.py's GRUCell: there the
    reset gate multiplies h_{t-1} before its matrix (W_hn (r_t * h_{t-1})), here the product
    W_hn h_{t-1} + b_hn, as torch (and cuDNN) compute it; and there z_t weighs the candidate, here
    the old state, as in Cho et al. 2014 and torch. torch stacks each weight's blocks in the
    order (reset, update, candidate).
    """

    def __init__(self, weight_ih, weight_hh, bias_ih, bias_hh):
        W_xr, W_xz, W_xn = weight_ih.chunk(3)  # each (H, n_in)
        W_hr, W_hz, W_hn = weight_hh.chunk(3)  # each (H, H)
        b_xr, b_xz, b_xn = bias_ih.chunk(3)
        b_hr, b_hz, b_hn = bias_hh.chunk(3)
        self.W_r, self.b_r = torch.cat([W_xr, W_hr], dim=1), b_xr + b_hr  # (H, n_in + H), (H,)
        self.W_z, self.b_z = torch.cat([W_xz, W_hz], dim=1), b_xz + b_hz
        self.W_xn, self.b_xn = W_xn, b_xn
        self.W_hn, self.b_hn = W_hn, b_hn  # kept apart: the reset gate multiplies this sum

    def __call__(self, x, h):
        """x (B, n_in), h (B, H) -> the new state (B, H) and the gates {"update", "reset"} (B, H)."""
        xh = torch.cat([x, h], dim=1)  # (B, n_in + H)
        r = torch.sigmoid(xh @ self.W_r.T + self.b_r)
        z = torch.sigmoid(xh @ self.W_z.T + self.b_z)
        n = torch.tanh(x @ self.W_xn.T + self.b_xn + r * (h @ self.W_hn.T + self.b_hn))
        h_new = (1 - z) * n + z * h
        return h_new, {"update": z, "reset": r}


READABLE_CELLS = {"rnn": RNNCell, "gru": GRUCell}


# -----------------------------------------------------------------------------------------------
# the model


class RecurrentLM(nn.Module):
    """Embedding -> 1 or 2 recurrent layers (RNN or GRU) -> a linear layer to logits at every
    position. Words layout: idx (B, T) -> logits (B, T, vocab_size).

    The state before the word, h_{-1}, is zero, not learned (makemore.py learns one). What a
    learned start state is for, a word-independent starting point learned from the data, the
    model has already: the first input is always the boundary token, whose embedding is learned,
    so h_0 = cell(C[.], 0) is learned and the same for every word. A learned h_{-1} would only add
    n_hidden parameters per layer of extra freedom in that one state; zero is also what the fused
    op assumes when given none, so the readable and fused paths start alike.
    """

    layout = "words"

    def __init__(self, vocab_size: int, config: RNNConfig | GRUConfig, generator: torch.Generator | None = None):
        super().__init__()
        if getattr(config, "cell", None) not in CELLS:
            raise ValueError(f"unknown cell {getattr(config, 'cell', None)!r}; choose one of {', '.join(CELLS)}")
        self.config = config
        self.cell = config.cell
        self.block_size = limits.MAX_WORD_LEN + 1  # the start token and a word of up to 32 characters
        # True: torch's fused nn.RNN / nn.GRU; False: the readable cells (same numbers, slower)
        self.fused = True
        self.wte = nn.Embedding(vocab_size, config.n_embd)
        fused_class = nn.RNN if config.cell == "rnn" else nn.GRU
        self.recurrent = fused_class(config.n_embd, config.n_hidden, num_layers=config.n_layers, batch_first=True)
        self.lm_head = nn.Linear(config.n_hidden, vocab_size)

        # torch drew these from the global RNG; draw them again from the generator, with torch's
        # own distributions: embeddings N(0, 1), every other weight and bias U(-k, k), k = 1/sqrt(H)
        with torch.no_grad():
            self.wte.weight.normal_(generator=generator)
            k = config.n_hidden ** -0.5
            for p in [*self.recurrent.parameters(), *self.lm_head.parameters()]:
                p.uniform_(-k, k, generator=generator)

    def readable_cells(self) -> list:
        """One readable cell per layer, bottom first, made of views of the fused module's weights."""
        cell_class = READABLE_CELLS[self.cell]
        return [cell_class(*(getattr(self.recurrent, f"{name}_l{layer}")
                             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
                for layer in range(self.recurrent.num_layers)]

    def unroll(self, idx) -> dict:
        """Run the readable cells over idx (B, T), one position at a time, keeping everything.

        Returns {"hidden": [n_layers lists of T states (B, H)], "gates": {name: [n_layers lists of
        T (B, H)]} (the GRU's "update" and "reset"; empty for the RNN), "logits": (B, T, V)}. The
        states are the very tensors the next step reads, so autograd.grad with respect to them is
        the total derivative d loss / d h_t.
        """
        x = self.wte(idx)  # (B, T, n_embd)
        B, T, _ = x.shape
        hidden, gates = [], {}
        for layer, cell in enumerate(self.readable_cells()):
            h = x.new_zeros(B, self.config.n_hidden)  # h_{-1} = 0
            states = []
            for t in range(T):
                h, step_gates = cell(x[:, t], h)
                states.append(h)
                for name, value in step_gates.items():
                    gates.setdefault(name, [[] for _ in range(self.recurrent.num_layers)])[layer].append(value)
            hidden.append(states)
            x = torch.stack(states, dim=1)  # (B, T, H): the next layer's input
        return {"hidden": hidden, "gates": gates, "logits": self.lm_head(x)}

    def forward(self, idx, targets=None):
        if self.fused:
            h, _ = self.recurrent(self.wte(idx))  # (B, T, H): the top layer's state at every position
            logits = self.lm_head(h)  # (B, T, V)
        else:
            logits = self.unroll(idx)["logits"]
        loss = None if targets is None else next_char_loss(logits, targets)  # padding (-1) never counts
        return logits, loss


def recurrent_param_count(vocab_size: int, config: RNNConfig | GRUConfig) -> int:
    """Parameters of RecurrentLM(vocab_size, config), from the shapes: the embedding table, each
    layer's input and hidden weights with their two biases (three blocks of them for the GRU),
    and the output layer."""
    E, H, L = config.n_embd, config.n_hidden, config.n_layers
    gates = 1 if config.cell == "rnn" else 3
    recurrent = gates * ((E + H + 2) * H + (L - 1) * (H + H + 2) * H)
    return vocab_size * E + recurrent + (H + 1) * vocab_size


# -----------------------------------------------------------------------------------------------
# views for the page: one typed word at a time


def word_input(model: RecurrentLM, ids: list[int]) -> torch.Tensor:
    """The model's input for one word: (1, T) = [0, w1, ..., wn], T = n + 1. Position t reads x_t
    and predicts the next character (w_{t+1}, or the end at t = n)."""
    ids = [int(i) for i in ids]
    if len(ids) + 1 > model.block_size:
        raise ValueError(f"a word may have at most {model.block_size - 1} characters, not {len(ids)}")
    vocab_size = model.wte.num_embeddings
    if any(not 0 < i < vocab_size for i in ids):
        raise ValueError(f"character ids must be between 1 and {vocab_size - 1} (0 is the boundary)")
    return torch.tensor([[0, *ids]], dtype=torch.long)


@torch.no_grad()
def hidden_states(model: RecurrentLM, ids: list[int]) -> torch.Tensor:
    """Every layer's hidden state at every position of the word: (n_layers, n_hidden, T), units by
    positions (a heatmap per layer), T = len(ids) + 1."""
    hidden = model.unroll(word_input(model, ids))["hidden"]
    return torch.stack([torch.stack(states, dim=-1)[0] for states in hidden])


@torch.no_grad()
def gate_values(model: RecurrentLM, ids: list[int]) -> dict[str, torch.Tensor]:
    """The GRU's gates at every position, from the readable cell: {"update": (n_layers, n_hidden,
    T), "reset": (n_layers, n_hidden, T)}. An update gate near 1 keeps that unit's old state; a
    reset gate near 0 lets the candidate ignore it. A ValueError for the RNN (it has no gates)."""
    if model.cell != "gru":
        raise ValueError(f"the {model.cell.upper()} has no gates; only the GRU does")
    gates = model.unroll(word_input(model, ids))["gates"]
    return {name: torch.stack([torch.stack(per_t, dim=-1)[0] for per_t in per_layer])
            for name, per_layer in gates.items()}


@torch.no_grad()
def top_next_chars(model: RecurrentLM, ids: list[int], k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """The k likeliest next characters at every position, likeliest first: (probs (T, k),
    char_ids (T, k)). Row t is what the model expects after reading x_0..x_t; id 0 is the end."""
    logits, _ = model(word_input(model, ids))
    probs = F.softmax(logits[0], dim=-1)  # (T, V)
    top = torch.topk(probs, min(k, probs.size(-1)), dim=-1)
    return top.values, top.indices


def hidden_gradient_norms(model: RecurrentLM, ids: list[int], position: int | None = None) -> torch.Tensor:
    """How far back a prediction's error signal reaches: ||d loss / d h_t|| for every layer and
    position, (n_layers, T), T = len(ids) + 1.

    The loss is that of ONE prediction: by default the last, the end token after the whole word
    (or the prediction at `position`), -log p(target). One prediction, not the whole word's mean,
    because the whole word's loss gives every h_t a large direct term from its own prediction,
    which hides how the signal from later predictions fades; with one loss, d loss / d h_t for
    t < position is the product of the Jacobians d h_{s+1} / d h_s back from it, the quantity that
    vanishes (or explodes). The derivative is the total one (through every later step and the
    layers above); states after `position` do not affect the loss, and get 0.

    Computed with the readable cells; the model's parameters get no gradient.
    """
    idx = word_input(model, ids)
    T = idx.size(1)
    position = T - 1 if position is None else position
    if not -T <= position < T:
        raise ValueError(f"position must be between 0 and {T - 1}, not {position}")
    position %= T
    target = idx[0, position + 1] if position + 1 < T else torch.tensor(0)  # the next id, or the end
    with torch.enable_grad():
        out = model.unroll(idx)
        loss = F.cross_entropy(out["logits"][0, position], target)
        states = [h for layer in out["hidden"] for h in layer]
        grads = torch.autograd.grad(loss, states, allow_unused=True)
    norms = [0.0 if g is None else g.norm().item() for g in grads]
    return torch.tensor(norms).view(len(out["hidden"]), T)
