"""The stages of the playground, in lecture order. Adding a stage: one model module in
makemore/models, one page in app/stages, one entry here (and tests)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    page: str  # page file, relative to app/
    title: str
    icon: str
    lecture: str
    teaches: str
    models: tuple[str, ...]  # CLI names of the models the page trains


STAGES = [
    Stage(
        page="stages/bigram.py",
        title="Bigram",
        icon=":material/grid_on:",
        lecture="1 · bigram language model",
        teaches="Counting character pairs, likelihood and negative log-likelihood, smoothing; "
        "the same model as a one-layer neural net trained by gradient descent.",
        models=("bigram", "bigram-nn"),
    ),
    Stage(
        page="stages/mlp.py",
        title="MLP",
        icon=":material/hub:",
        lecture="2 · MLP (Bengio et al. 2003)",
        teaches="Character embeddings, a hidden layer, minibatches, finding a learning rate, "
        "train/val/test splits; the lecture's recipe next to a much faster one.",
        models=("mlp",),
    ),
    Stage(
        page="stages/batchnorm.py",
        title="BatchNorm",
        icon=":material/equalizer:",
        lecture="3 · activations, gradients, BatchNorm",
        teaches="Why deep nets fail to train: the initial loss, saturated tanh units, vanishing activations and "
        "gradients; Kaiming init and Batch Normalization as fixes, with the lecture's diagnostics live.",
        models=("mlp-bn",),
    ),
    Stage(
        page="stages/backprop.py",
        title="Backprop",
        icon=":material/account_tree:",
        lecture="1 & 4 · micrograd, backprop by hand",
        teaches="The chain rule on a graph of scalars, step by step; then every gradient of the MLP with "
        "BatchNorm written by hand, checked against autograd, and trained without it.",
        models=(),
    ),
    Stage(
        page="stages/wavenet.py",
        title="WaveNet",
        icon=":material/lan:",
        lecture="5 · WaveNet, a hierarchical MLP",
        teaches="A longer context fused two characters at a time, level by level; layers as torch.nn-like "
        "blocks, the tensor shapes through them, and lecture 5's BatchNorm bug on 3-D inputs.",
        models=("wavenet",),
    ),
    Stage(
        page="stages/recurrent.py",
        title="RNN & GRU",
        icon=":material/repeat:",
        lecture="makemore.py · recurrent nets",
        teaches="Reading a whole word one character at a time with a hidden state: the vanilla RNN and the "
        "GRU's gates, what the state holds for a typed name, and why gradients vanish without the gate.",
        models=("rnn", "gru"),
    ),
    Stage(
        page="stages/transformer.py",
        title="Transformer",
        icon=":material/visibility:",
        lecture="7 · Let's build GPT",
        teaches="From averaging the past (a bag of words) to self-attention, heads, the MLP, residual connections "
        "and LayerNorm, step by step; the attention weights of every head for a typed name.",
        models=("bow", "transformer"),
    ),
]
